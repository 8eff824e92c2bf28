// Tenants and issued keys over HTTP inside workerd (real D1 migrations): the operator API, the
// authentication matrix (missing, malformed, unknown, revoked, rotated-out, expired, suspended,
// wrong scope), per-site keys, and per-key rate limits through the rate-limiting binding.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256, toHex } from "../../shared/api-key.ts";
import {
  call,
  DEVICE_KEY,
  expectError,
  heartbeat,
  OPERATOR_KEY,
  register,
  SITE_KEY,
  site,
  validHeartbeat,
} from "./fixtures/fleet-api.ts";
import {
  createTenant,
  type IssuedKey,
  issueKey,
  tenantName,
  tenantWithKeys,
} from "./fixtures/tenants.ts";

const ROUTE = {
  task: { modality: "text", inputTokens: 100, maxOutputTokens: 16 },
  constraints: { latencySlaMs: 10_000 },
};

/** A call every scope may make, for authentication alone. */
function catalog(key: string | null, headers: Record<string, string> = {}) {
  return call("GET", "/v1/catalog", { key, headers });
}

describe("tenants", () => {
  it("are created, listed, read and changed by the platform", async () => {
    const id = tenantName("acme");
    const created = await call("POST", "/v1/tenants", {
      body: { id, name: "Acme Mobile", budget: { limitUsd: 25, period: "day" } },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      tenant: {
        id,
        name: "Acme Mobile",
        status: "active",
        budget: { limitUsd: 25, period: "day" },
      },
    });
    await expectError(
      await call("POST", "/v1/tenants", { body: { id, name: "again" } }),
      409,
      "conflict",
    );

    const one = await call("GET", `/v1/tenants/${id}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({
      tenant: { id },
      spending: { limitUsd: 25, spentUsd: 0, reservedUsd: 0, remainingUsd: 25 },
    });

    const patched = await call("PATCH", `/v1/tenants/${id}`, {
      body: { name: "Acme", budget: null },
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ tenant: { id, name: "Acme", budget: null } });

    const list = await call("GET", "/v1/tenants?limit=500");
    const { tenants } = (await list.json()) as { tenants: { id: string }[] };
    expect(tenants.map((t) => t.id)).toContain(id);
  });

  it("refuse bad ids, the reserved platform id, and unknown fields", async () => {
    for (const body of [
      { id: "Upper", name: "x" },
      { id: "platform", name: "x" },
      { id: "ok-id", name: "" },
      { id: "ok-id", name: "x", budget: { limitUsd: -1 } },
      { id: "ok-id", name: "x", extra: true },
    ]) {
      await expectError(await call("POST", "/v1/tenants", { body }), 400, "invalid_request");
    }
    await expectError(await call("GET", "/v1/tenants/nope-404"), 404, "not_found");
  });

  it("are the platform's business: a tenant's operator reads only its own", async () => {
    const a = await tenantWithKeys("own");
    const b = await tenantWithKeys("other");
    await expectError(
      await call("POST", "/v1/tenants", {
        key: a.operator,
        body: { id: tenantName("x"), name: "x" },
      }),
      403,
      "forbidden",
    );
    await expectError(await call("GET", "/v1/tenants", { key: a.operator }), 403, "forbidden");
    await expectError(
      await call("PATCH", `/v1/tenants/${a.id}`, { key: a.operator, body: { status: "active" } }),
      403,
      "forbidden",
    );
    expect((await call("GET", `/v1/tenants/${a.id}`, { key: a.operator })).status).toBe(200);
    await expectError(
      await call("GET", `/v1/tenants/${b.id}`, { key: a.operator }),
      404,
      "not_found",
    );
  });
});

describe("keys", () => {
  it("are shown once; lists and reads give the prefix, never the secret or its hash", async () => {
    const t = tenantName("keys");
    await createTenant(t);
    const issued = await issueKey({ tenant: t, scope: "device", name: "android 4.2" });
    expect(issued).toMatchObject({ tenant: t, scope: "device", status: "active" });
    expect(issued.key.startsWith(`${issued.prefix}_`)).toBe(true);
    const hash = toHex(await sha256(issued.key));
    const secret = issued.key.slice(issued.prefix.length + 1);

    const list = await call("GET", `/v1/keys?tenant=${t}`);
    const one = await call("GET", `/v1/keys/${issued.id}`);
    for (const res of [list, one]) {
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain(issued.prefix);
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hash);
    }
    // Only the hash is stored.
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(issued.id).first();
    expect(row?.hash).toBe(hash);
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it("a tenant's operator manages its own keys, and another tenant's are not found", async () => {
    const a = await tenantWithKeys("mgr-a");
    const b = await tenantWithKeys("mgr-b");
    const own = await issueKey({ scope: "device" }, a.operator);
    expect(own.tenant).toBe(a.id);
    const listed = (await (await call("GET", "/v1/keys", { key: a.operator })).json()) as {
      keys: IssuedKey[];
    };
    expect(new Set(listed.keys.map((k) => k.tenant))).toEqual(new Set([a.id]));
    expect(listed.keys.map((k) => k.id)).toContain(own.id);

    const [bKey] = b.keyIds;
    for (const [method, path, body] of [
      ["GET", `/v1/keys/${bKey}`, undefined],
      ["POST", `/v1/keys/${bKey}/rotate`, {}],
      ["POST", `/v1/keys/${bKey}/revoke`, undefined],
      ["GET", `/v1/keys?tenant=${b.id}`, undefined],
      ["POST", "/v1/keys", { tenant: b.id, scope: "device" }],
    ] as const) {
      await expectError(await call(method, path, { key: a.operator, body }), 404, "not_found");
    }
    // b's keys still work.
    expect((await catalog(b.device)).status).toBe(200);
    await expectError(
      await call("POST", "/v1/keys", { key: a.operator, body: { scope: "site", site: "x" } }),
      403,
      "forbidden",
    );
  });

  it("refuse bad bodies: unknown scope, a site on a device key, a past expiry, the platform tenant", async () => {
    const t = tenantName("bad");
    await createTenant(t);
    for (const body of [
      { tenant: t, scope: "admin" },
      { tenant: t, scope: "device", site: "berlin" },
      { tenant: t, scope: "device", expiresAt: Date.now() - 1 },
      { tenant: "platform", scope: "operator" },
      { scope: "site" },
      { tenant: t, scope: "device", name: "x".repeat(65) },
    ]) {
      await expectError(await call("POST", "/v1/keys", { body }), 400, "invalid_request");
    }
    await expectError(
      await call("POST", "/v1/keys", { body: { tenant: "no-such-tenant", scope: "device" } }),
      404,
      "not_found",
    );
  });
});

describe("authentication", () => {
  it("refuses missing and malformed credentials with 401", async () => {
    const t = await tenantWithKeys("auth");
    const cases: Record<string, string>[] = [
      {},
      { authorization: "Bearer" },
      { authorization: `Basic ${btoa("user:pass")}` },
      { authorization: `Bearer ${t.device} extra` },
      { authorization: `Bearer ${"k".repeat(600)}` },
    ];
    for (const headers of cases) {
      const res = await catalog(null, headers);
      await expectError(res, 401, "unauthorized");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });

  it("refuses unknown keys, in the issued format or not, and a tampered secret", async () => {
    const t = await tenantWithKeys("unknown");
    const tampered = `${t.device.slice(0, -1)}${t.device.endsWith("A") ? "B" : "A"}`;
    for (const key of [
      "dev-device-key-2",
      `mec_device_${"a".repeat(16)}_${"B".repeat(43)}`,
      tampered,
      t.device.replace("mec_device_", "mec_operator_"),
    ]) {
      await expectError(await catalog(key), 401, "unauthorized");
    }
    expect((await catalog(t.device)).status).toBe(200);
  });

  it("refuses a revoked key at once, and revoking again changes nothing", async () => {
    const t = await tenantWithKeys("revoke");
    const extra = await issueKey({ tenant: t.id, scope: "device" });
    expect((await catalog(extra.key)).status).toBe(200);
    const revoked = await call("POST", `/v1/keys/${extra.id}/revoke`, { key: t.operator });
    expect(revoked.status).toBe(200);
    const body = (await revoked.json()) as IssuedKey & { revokedAt: number };
    expect(body.status).toBe("revoked");
    await expectError(await catalog(extra.key), 401, "unauthorized");
    const again = await call("POST", `/v1/keys/${extra.id}/revoke`, { key: t.operator });
    expect(((await again.json()) as { revokedAt: number }).revokedAt).toBe(body.revokedAt);
    await expectError(
      await call("POST", `/v1/keys/${extra.id}/rotate`, { key: t.operator }),
      409,
      "conflict",
    );
  });

  it("rotates with overlap: both keys work until the chosen time, then only the new one", async () => {
    const t = await tenantWithKeys("rotate");
    const old = await issueKey({ tenant: t.id, scope: "device", name: "ios" });
    const before = Date.now();
    const res = await call("POST", `/v1/keys/${old.id}/rotate`, {
      key: t.operator,
      body: { overlapSeconds: 3600 },
    });
    expect(res.status).toBe(201);
    const rotated = (await res.json()) as IssuedKey & {
      name: string;
      replaces: { id: string; expiresAt: number };
    };
    expect(rotated).toMatchObject({ tenant: t.id, scope: "device", name: "ios" });
    expect(rotated.replaces.id).toBe(old.id);
    expect(rotated.replaces.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect((await catalog(old.key)).status).toBe(200);
    expect((await catalog(rotated.key)).status).toBe(200);
    await expectError(
      await call("POST", `/v1/keys/${old.id}/rotate`, { key: t.operator }),
      409,
      "conflict",
    );

    // Rotating the new one without overlap ends it at once.
    const res2 = await call("POST", `/v1/keys/${rotated.id}/rotate`, {
      key: t.operator,
      body: { overlapSeconds: 0 },
    });
    expect(res2.status).toBe(201);
    const third = (await res2.json()) as IssuedKey;
    await expectError(await catalog(rotated.key), 401, "unauthorized");
    expect((await catalog(third.key)).status).toBe(200);
    const view = (await (await call("GET", `/v1/keys/${rotated.id}`)).json()) as IssuedKey;
    expect(view.status).toBe("expired");
  });

  it("refuses a key after its expiry and every key of a suspended tenant", async () => {
    const t = await tenantWithKeys("expiry");
    const expiresAt = Date.now() + 3_000;
    const shortLived = await issueKey({ tenant: t.id, scope: "device", expiresAt });
    expect((await catalog(shortLived.key)).status).toBe(200);
    // The expiry is checked against the clock on every request, cached or not.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
    await expectError(await catalog(shortLived.key), 401, "unauthorized");

    expect((await catalog(t.device)).status).toBe(200);
    const suspend = await call("PATCH", `/v1/tenants/${t.id}`, { body: { status: "suspended" } });
    expect(suspend.status).toBe(200);
    await expectError(await catalog(t.device), 401, "unauthorized");
    await expectError(await catalog(t.operator), 401, "unauthorized");
    await call("PATCH", `/v1/tenants/${t.id}`, { body: { status: "active" } });
    expect((await catalog(t.device)).status).toBe(200);
  });

  it("refuses a key of the wrong scope with 403", async () => {
    const t = await tenantWithKeys("scope");
    const res = await call("POST", "/v1/route", { key: t.operator, body: ROUTE });
    expect(res.status).toBe(200);
    await expectError(await call("GET", "/v1/keys", { key: t.device }), 403, "forbidden");
    await expectError(
      await call("GET", "/v1/analytics/policies", { key: t.device }),
      403,
      "forbidden",
    );
    await expectError(
      await call("POST", "/v1/route", { key: SITE_KEY, body: ROUTE }),
      403,
      "forbidden",
    );
    // Fleet changes are the platform's, not a tenant operator's.
    await expectError(
      await call("PUT", "/v1/sites/tenant-site", {
        key: t.operator,
        body: site("tenant-site", "PT", { lat: 38.7, lon: -9.14 }),
      }),
      403,
      "forbidden",
    );
    await expectError(
      await call("GET", "/v1/policy/proposals", { key: t.operator }),
      403,
      "forbidden",
    );
    expect((await call("GET", "/v1/sites", { key: t.operator })).status).toBe(200);
  });

  it("keeps the platform's dev keys working for every role", async () => {
    expect((await catalog(DEVICE_KEY)).status).toBe(200);
    expect((await catalog(OPERATOR_KEY)).status).toBe(200);
    expect((await catalog(SITE_KEY)).status).toBe(200);
  });
});

describe("site keys", () => {
  const LISBON = { lat: 38.72, lon: -9.14 };

  it("heartbeat their own site only; the platform's site key any", async () => {
    await register(site("lis-1", "PT", LISBON), site("lis-2", "PT", LISBON));
    const key = await issueKey({ scope: "site", site: "lis-1" });
    expect(key).toMatchObject({ tenant: "platform", scope: "site" });
    expect((await heartbeat("lis-1", validHeartbeat, key.key)).status).toBe(200);
    const other = await heartbeat("lis-2", validHeartbeat, key.key);
    const body = await expectError(other, 403, "forbidden");
    expect(body.error.message).toContain("lis-1");
    expect((await heartbeat("lis-2", validHeartbeat, SITE_KEY)).status).toBe(200);
    await expectError(
      await call("POST", "/v1/route", { key: key.key, body: ROUTE }),
      403,
      "forbidden",
    );
  });

  it("are only made for a registered site", async () => {
    await expectError(
      await call("POST", "/v1/keys", { body: { scope: "site", site: "nowhere-1" } }),
      404,
      "not_found",
    );
  });
});

describe("rate limits", () => {
  it("answer 429 with Retry-After once a key passes its limit, and no other key is held back", async () => {
    const t = await tenantWithKeys("rate");
    // The operator limit is 120 a minute, counted in windows aligned to the clock: 241 calls
    // inside one minute pass at most two windows' worth.
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 241; i++) {
      const res = await catalog(t.operator);
      statuses.push(res.status);
      if (res.status === 429 && !refused) refused = res;
      else await res.body?.cancel();
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(240);
    if (!refused) throw new Error("expected a refusal");
    const body = await expectError(refused, 429, "rate_limited");
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(body.error.details).toEqual({ retryAfterS: 60 });
    // Per key: the tenant's device key and the platform's operator key are not affected.
    expect((await catalog(t.device)).status).toBe(200);
    expect((await catalog(OPERATOR_KEY)).status).toBe(200);
  });
});
