// Operator sessions for the dashboard (worker/session.ts, worker/routes/session.ts) inside
// workerd: login with an operator key sets a __Host- cookie (HttpOnly, Secure, SameSite=Strict)
// that opens the analytics API and the operator GET routes; logout, expiry, a revoked key, a
// tampered token, a missing secret, cross-origin and header-less state changes are refused; and
// the edge cache never answers one caller with another's entry.
//
// Keys other than the dev keys are added by running the app under an env built here (`as(...)`),
// which is how a key is revoked: the same request under an env without it.

import { createExecutionContext, createMessageBatch } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import type { SummaryAnswer } from "../../shared/analytics-api.ts";
import { app } from "../../worker/app.ts";
import { authenticate } from "../../worker/auth.ts";
import { AppError } from "../../worker/errors.ts";
import { consumeMessages } from "../../worker/monitor/consumer.ts";
import {
  CSRF_HEADER,
  issueSession,
  readSession,
  requireRoleOrSession,
} from "../../worker/session.ts";
import type { AppEnv } from "../../worker/types.ts";
import { tenantWithKeys } from "./fixtures/tenants.ts";
import { decision, deps, messages, QUEUE, resetDb } from "./helpers/monitor-harness.ts";

const ORIGIN = "http://router.test";
const COOKIE = "__Host-mec_session";
const SECOND_KEY = "second-operator-key";

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The worker's env with a second operator key. */
async function withSecondKey(): Promise<Env> {
  return { ...env, API_KEYS: `${env.API_KEYS},operator:${await sha256(SECOND_KEY)}` };
}

/** A request to the app under `e` (the worker's env unless given). */
function as(e: Env, path: string, init: RequestInit = {}): Promise<Response> {
  return Promise.resolve(
    app.fetch(new Request(`${ORIGIN}${path}`, init), e, createExecutionContext()),
  );
}

function login(key: string, headers: Record<string, string> = {}, e: Env = env) {
  return as(e, "/v1/session", {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN, [CSRF_HEADER]: "1", ...headers },
    body: JSON.stringify({ key }),
  });
}

/** The session token a login answer set. */
function tokenOf(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  const match = new RegExp(`${COOKIE}=([^;]+)`).exec(set);
  expect(match?.[1]).toBeTruthy();
  return match?.[1] ?? "";
}

const cookie = (token: string) => ({ cookie: `${COOKIE}=${token}` });

beforeEach(resetDb);

describe("login", () => {
  it("exchanges an operator key for a __Host- cookie: HttpOnly, Secure, SameSite=Strict", async () => {
    const before = Date.now();
    const res = await login("dev-operator-key");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const set = res.headers.get("set-cookie") ?? "";
    expect(set).toMatch(new RegExp(`^${COOKIE}=`));
    for (const attr of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=3600"]) {
      expect(set).toContain(attr);
    }
    expect(set).not.toMatch(/Domain=/i);
    const body = (await res.json()) as {
      session: { keyId: string; role: string; expiresAt: number };
    };
    expect(body.session.role).toBe("operator");
    expect(body.session.keyId).toMatch(/^[0-9a-f]{12}$/);
    expect(body.session.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    // Neither the key nor anything from which it follows is in the cookie or the answer.
    expect(set).not.toContain("dev-operator-key");
    expect(JSON.stringify(body)).not.toContain("dev-operator-key");
  });

  it("opens the analytics API and the operator GET routes; GET /v1/session names it", async () => {
    const token = tokenOf(await login("dev-operator-key"));
    for (const path of [
      "/v1/analytics/summary?range=15m",
      "/v1/analytics/fleet",
      "/v1/analytics/policies",
      "/v1/sites",
      "/v1/anomalies",
      "/v1/policy/proposals",
      "/v1/session",
    ]) {
      const res = await exports.default.fetch(`${ORIGIN}${path}`, { headers: cookie(token) });
      expect(res.status, path).toBe(200);
    }
    const me = await exports.default.fetch(`${ORIGIN}/v1/session`, { headers: cookie(token) });
    expect(((await me.json()) as { session: unknown }).session).toMatchObject({
      role: "operator",
      tenantId: "platform",
      platform: true,
    });
  });

  it("works for a tenant's issued operator key and names its tenant", async () => {
    const tenant = await tenantWithKeys("dash");
    const token = tokenOf(await login(tenant.operator));
    const me = await exports.default.fetch(`${ORIGIN}/v1/session`, { headers: cookie(token) });
    expect(((await me.json()) as { session: unknown }).session).toMatchObject({
      role: "operator",
      tenantId: tenant.id,
      platform: false,
    });
    // Its own decisions and the shared fleet, not the fleet-wide aggregates.
    for (const [path, status] of [
      ["/v1/analytics/decisions?range=15m", 200],
      ["/v1/analytics/fleet", 200],
      ["/v1/analytics/summary?range=15m", 403],
    ] as const) {
      const res = await exports.default.fetch(`${ORIGIN}${path}`, { headers: cookie(token) });
      expect(res.status, path).toBe(status);
    }
  });

  it("does not open routes that change state", async () => {
    const token = tokenOf(await login("dev-operator-key"));
    const res = await exports.default.fetch(`${ORIGIN}/v1/sites/any-site/drain`, {
      method: "POST",
      headers: { ...cookie(token), origin: ORIGIN, [CSRF_HEADER]: "1" },
    });
    expect(res.status).toBe(401);
  });

  it("refuses a wrong key (401), a device or site key (403), and a bad body (400/415)", async () => {
    expect((await login("not-a-key")).status).toBe(401);
    const device = await login("dev-device-key");
    expect(device.status).toBe(403);
    expect(device.headers.get("set-cookie")).toBeNull();
    expect((await login("dev-site-key")).status).toBe(403);
    const empty = await as(env, "/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN, [CSRF_HEADER]: "1" },
      body: JSON.stringify({ key: "" }),
    });
    expect(empty.status).toBe(400);
    const form = await as(env, "/v1/session", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", [CSRF_HEADER]: "1" },
      body: "key=dev-operator-key",
    });
    expect(form.status).toBe(415);
  });

  it("refuses a cross-origin login and one without the CSRF header", async () => {
    const foreign = await login("dev-operator-key", { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("set-cookie")).toBeNull();
    const bare = await as(env, "/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN },
      body: JSON.stringify({ key: "dev-operator-key" }),
    });
    expect(bare.status).toBe(403);
  });

  it("answers 503 when SESSION_SECRET is missing or too short", async () => {
    for (const secret of ["", "short"]) {
      const res = await login("dev-operator-key", {}, { ...env, SESSION_SECRET: secret });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        "sessions_disabled",
      );
    }
  });
});

describe("a session ends", () => {
  it("on logout: the cookie is cleared (DELETE needs this origin and the CSRF header)", async () => {
    const token = tokenOf(await login("dev-operator-key"));
    const bare = await as(env, "/v1/session", { method: "DELETE", headers: cookie(token) });
    expect(bare.status).toBe(403);
    const foreign = await as(env, "/v1/session", {
      method: "DELETE",
      headers: { ...cookie(token), origin: "https://evil.example", [CSRF_HEADER]: "1" },
    });
    expect(foreign.status).toBe(403);
    const out = await as(env, "/v1/session", {
      method: "DELETE",
      headers: { ...cookie(token), origin: ORIGIN, [CSRF_HEADER]: "1" },
    });
    expect(out.status).toBe(204);
    const set = out.headers.get("set-cookie") ?? "";
    expect(set).toMatch(new RegExp(`^${COOKIE}=;`));
    expect(set).toContain("Max-Age=0");
  });

  it("at expiry", async () => {
    const principal = await authenticate(env, "dev-operator-key");
    if (!principal) throw new Error("dev operator key not configured");
    const { token } = await issueSession(env, principal, Date.now() - 120_000, 60);
    expect(await readSession(env, token, Date.now())).toBeUndefined();
    const res = await as(env, "/v1/analytics/summary", { headers: cookie(token) });
    expect(res.status).toBe(401);
    // The same token was valid inside its minute.
    expect(await readSession(env, token, Date.now() - 90_000)).toMatchObject({ principal });
  });

  it("when its key is revoked, and when the secret rotates", async () => {
    const withSecond = await withSecondKey();
    const token = tokenOf(await login(SECOND_KEY, {}, withSecond));
    expect((await as(withSecond, "/v1/analytics/fleet", { headers: cookie(token) })).status).toBe(
      200,
    );
    // The same request once the key is gone from API_KEYS.
    expect((await as(env, "/v1/analytics/fleet", { headers: cookie(token) })).status).toBe(401);
    const rotated = { ...withSecond, SESSION_SECRET: "another-session-secret-0123456789abcdef" };
    expect((await as(rotated, "/v1/analytics/fleet", { headers: cookie(token) })).status).toBe(401);
  });

  it("when the token is tampered with", async () => {
    const token = tokenOf(await login("dev-operator-key"));
    const [v, keyId, expires, nonce, sig] = token.split(".");
    const later = `${v}.${keyId}.${Number(expires) + 3_600_000}.${nonce}.${sig}`;
    const flipped = `${v}.${keyId}.${expires}.${nonce}.${sig?.startsWith("A") ? "B" : "A"}${sig?.slice(1)}`;
    for (const bad of [later, flipped, "v1.garbage", `${token}x`, "x".repeat(300)]) {
      const res = await as(env, "/v1/analytics/fleet", { headers: cookie(bad) });
      expect(res.status, bad).toBe(401);
    }
  });

  it("and GET /v1/session says so with 200 and a null session, not an error", async () => {
    // The dashboard asks on every page load; a 401 would be logged as an error by browsers.
    const principal = await authenticate(env, "dev-operator-key");
    if (!principal) throw new Error("dev operator key not configured");
    const { token: expired } = await issueSession(env, principal, Date.now() - 120_000, 60);
    for (const headers of [{}, cookie(expired), cookie("v1.garbage")]) {
      const res = await as(env, "/v1/session", { headers });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ session: null });
    }
  });
});

describe("state-changing requests made with a session", () => {
  // A route of the kind the dashboard may add: the middleware decides, the handler only answers.
  const probe = new Hono<AppEnv>();
  probe.post("/act", requireRoleOrSession("operator"), (c) => c.json({ by: c.get("principal") }));
  probe.onError((err, c) => c.json({}, err instanceof AppError ? err.status : 500));

  function act(token: string, headers: Record<string, string>) {
    return Promise.resolve(
      probe.fetch(
        new Request(`${ORIGIN}/act`, { method: "POST", headers: { ...cookie(token), ...headers } }),
        env,
        createExecutionContext(),
      ),
    );
  }

  it("need this origin and the CSRF header; a bearer key needs neither", async () => {
    const token = tokenOf(await login("dev-operator-key"));
    expect((await act(token, {})).status).toBe(403);
    expect((await act(token, { origin: ORIGIN })).status).toBe(403);
    expect((await act(token, { origin: "https://evil.example", [CSRF_HEADER]: "1" })).status).toBe(
      403,
    );
    expect((await act(token, { origin: ORIGIN, [CSRF_HEADER]: "1" })).status).toBe(200);
    expect((await act(token, { [CSRF_HEADER]: "1" })).status).toBe(200);
    const bearer = await probe.fetch(
      new Request(`${ORIGIN}/act`, {
        method: "POST",
        headers: { authorization: "Bearer dev-operator-key" },
      }),
      env,
      createExecutionContext(),
    );
    expect(bearer.status).toBe(200);
  });
});

describe("edge cache", () => {
  const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
  const path = `/v1/analytics/summary?from=${T}&to=${T + 3_600_000}`;

  async function decisions(n: number) {
    const events = Array.from({ length: n }, (_, i) => decision({ time: T + i }));
    await consumeMessages(createMessageBatch(QUEUE, messages(events)).messages, deps());
  }

  async function summaryFor(e: Env, headers: Record<string, string>) {
    const res = await as(e, path, { headers });
    expect(res.status).toBe(200);
    // No copy in the browser: it would outlive a logout.
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as SummaryAnswer;
    return { cache: res.headers.get("x-mec-cache"), decisions: body.totals.decisions };
  }

  it("answers each caller from its own entry, never another's", async () => {
    const e = await withSecondKey();
    const first = { authorization: "Bearer dev-operator-key" };
    const second = { authorization: `Bearer ${SECOND_KEY}` };
    await decisions(2);
    expect(await summaryFor(e, first)).toEqual({ cache: "miss", decisions: 2 });
    await decisions(3);
    // The first caller gets its cached answer; the second, asking the same URL, its own.
    expect(await summaryFor(e, first)).toEqual({ cache: "hit", decisions: 2 });
    expect(await summaryFor(e, second)).toEqual({ cache: "miss", decisions: 5 });
    // A session is its key's principal: it shares that key's entry.
    const token = tokenOf(await login("dev-operator-key", {}, e));
    expect(await summaryFor(e, cookie(token))).toEqual({ cache: "hit", decisions: 2 });
    // Nobody else gets past authentication to any entry.
    expect(
      (await as(e, path, { headers: { authorization: "Bearer dev-device-key" } })).status,
    ).toBe(403);
    expect((await as(e, path)).status).toBe(401);
  });
});
