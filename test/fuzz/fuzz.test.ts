// The fuzz suite: 10⁵ requests per run (FUZZ_RUNS; `npm run fuzz -- --runs N` for more) made by
// fast-check from valid seeds of every route, mutated, plus generic requests to every route the
// app lists (a route added later is covered without a change here) and requests to nowhere.
// Each answer must be one of the documented statuses with the typed error body, never a 500;
// no background task may fail, no promise may go unhandled, and the worker must still answer
// its health check at the end.
//
// Requests go to the worker's own fetch inside workerd (each its own invocation, as in
// production), CONCURRENCY at a time, against the suite's own demo MEC sites, Converse stand-in
// and kinesalite (test/fuzz/global-setup.ts), so other test files' counters stay theirs. Cases
// come from fast-check samples of CHUNK, seeded from FUZZ_SEED: a failure names the case, and
// FUZZ_CASE replays it alone.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { app } from "../../worker/app.ts";
import { type FuzzCase, fuzzCase, type RouteInfo } from "./cases.ts";
import { callerKeys, type FuzzContext, KEYS, registration, SITE_IDS, seeds } from "./seeds.ts";

const RUNS = inject("fuzzRuns");
const SEED = inject("fuzzSeed");
/** Cases drawn per fast-check sample. */
const CHUNK = 1_000;
/**
 * Cases in flight at any time. The test runtime runs the Durable Objects in this test's own
 * isolate: with 64 or 128 in flight it now and then stopped sending the Durable Objects' outbound
 * requests (site probes, model-load control calls) for the rest of the run — they reached the
 * demo sites only once the load ended, while the worker's own requests kept flowing. At 32 the
 * suite answers as many cases per second (the machine's cores are the limit) and that never
 * happened.
 */
const CONCURRENCY = 32;
const ONLY = inject("fuzzCase");
const PER_CASE_TIMEOUT_MS = 60_000;

/** The statuses the API may answer (README, Limits). */
const ALLOWED = new Set([400, 401, 403, 404, 413, 415, 422, 429, 503]);
/**
 * Documented beyond those: a tenant's exhausted budget, a method MCP's stateless transport does
 * not offer, a state conflict, and an upstream failing a request it executes.
 */
const ALLOWED_CODES = new Map<number, Set<string>>([
  [402, new Set(["budget_exhausted"])],
  [405, new Set(["method_not_allowed"])],
  [409, new Set(["conflict", "model_not_loaded"])],
  [502, new Set(["upstream_error"])],
  [504, new Set(["upstream_timeout"])],
]);
/** MCP's transport answers its own mistakes as JSON-RPC errors: these statuses (meta.ts). */
const MCP_ALLOWED = new Set([400, 406, 413, 415]);

/** Every route the app serves, from the app itself. */
function appRoutes(): RouteInfo[] {
  const seen = new Map<string, RouteInfo>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  }
  return [...seen.values()];
}

let unhandled: unknown[] = [];
addEventListener("unhandledrejection", (event) => {
  unhandled.push(event.reason);
});

/**
 * Routes whose handler may call out of the worker (a MEC site or Bedrock to execute, Nova to
 * reconsider a decision, a site's control API through its agent to load a model) go through the
 * worker's own fetch: each case its own invocation, with
 * its own subrequest and connection limits, as in production. The rest go straight into the same
 * app, with their background work (`waitUntil`) awaited and required to succeed. So does /mcp,
 * though its dry runs may ask Nova: its route loads the MCP server with `import()`, which under
 * the test runner fetches modules over a connection of the test's own invocation, and another
 * invocation's `import()` now and then hangs on it (cloudflare/workers-sdk#5387; a deployed
 * bundle has the module inline).
 */
const CALLS_OUT = /^POST \/v1\/(chat\/completions|infer|route|sites\/[^/]+\/models)\b/;

/**
 * Cases in flight, and how to fail each: one watchdog for all of them. (The test runner wraps
 * `setTimeout` in a stack capture, which cost more than many a case when each case set one.)
 */
const inFlight = new Set<{ since: number; fail: (err: Error) => void }>();

function startWatchdog(): () => void {
  const timer = setInterval(() => {
    const now = Date.now();
    for (const entry of inFlight) {
      if (now - entry.since <= PER_CASE_TIMEOUT_MS) continue;
      inFlight.delete(entry);
      entry.fail(new Error("no answer in time"));
    }
  }, 1_000);
  return () => clearInterval(timer);
}

const encoder = new TextEncoder();

async function send(c: FuzzCase) {
  let headers = c.headers;
  let body: Uint8Array | undefined;
  if (c.body !== undefined) {
    body = typeof c.body === "string" ? encoder.encode(c.body) : c.body;
    // Clients send a length; a chunked upload has none, and is measured as it streams in.
    if (!c.chunked) headers = [...headers, ["content-length", String(body.length)]];
  }
  const request = new Request(`http://router.test${c.path}`, {
    method: c.method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  let entry: { since: number; fail: (err: Error) => void } | undefined;
  const timeout = new Promise<never>((_, reject) => {
    entry = { since: Date.now(), fail: reject };
    inFlight.add(entry);
  });
  try {
    const t0 = performance.now();
    const direct = !CALLS_OUT.test(`${c.method} ${new URL(request.url).pathname}`);
    const ctx = direct ? createExecutionContext() : undefined;
    const res = await Promise.race([
      ctx ? app.fetch(request, env, ctx) : exports.default.fetch(request),
      timeout,
    ]);
    const text = await Promise.race([res.text(), timeout]);
    const ms = performance.now() - t0;
    if (ctx) await Promise.race([waitOnExecutionContext(ctx), timeout]);
    return { res, text, ms };
  } finally {
    if (entry) inFlight.delete(entry);
  }
}

/** What is wrong with an answer, or undefined. */
function problem(c: FuzzCase, res: Response, text: string): string | undefined {
  const { status } = res;
  if (status === 500) return "500";
  if (status >= 200 && status < 300) {
    if (status === 204 || c.method === "HEAD") return undefined;
    const type = res.headers.get("content-type") ?? "";
    if (type.startsWith("text/event-stream")) {
      return text.endsWith("data: [DONE]\n\n") ? undefined : "stream without [DONE]";
    }
    // The reference page; MCP notifications, accepted without a body.
    if (type.startsWith("text/html"))
      return text.startsWith("<!doctype html>") ? undefined : "html";
    if (status === 202 && text === "") return undefined;
    try {
      JSON.parse(text);
      return undefined;
    } catch {
      return "2xx body is not JSON";
    }
  }
  if (c.method === "HEAD") {
    return ALLOWED.has(status) || ALLOWED_CODES.has(status) ? undefined : `status ${status}`;
  }
  const jsonRpc = mcpError(c, res, text);
  if (jsonRpc !== undefined) return jsonRpc || undefined;
  let code: unknown;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    code = body.error?.code;
    if (typeof code !== "string" || typeof body.error?.message !== "string") {
      return "error body without code and message";
    }
  } catch {
    return "error body is not JSON";
  }
  if (!(res.headers.get("content-type") ?? "").startsWith("application/json")) {
    return "error is not application/json";
  }
  if (/\.[jt]s:\d/.test(text) && /\bat .*\.(ts|js):\d+/.test(text)) {
    return "stack trace in the answer";
  }
  if (status === 401 && !res.headers.get("www-authenticate")) return "401 without www-authenticate";
  if (status === 503 && !res.headers.get("retry-after")) return "503 without retry-after";
  if (status === 405 && !res.headers.get("allow")) return "405 without allow";
  if (ALLOWED.has(status)) return undefined;
  if (ALLOWED_CODES.get(status)?.has(code as string)) return undefined;
  return `status ${status} (${String(code)})`;
}

/**
 * For a POST to /mcp that got past the key: "" when the answer is a JSON-RPC error of the
 * transport with an allowed status, the problem otherwise; undefined for every other request.
 */
function mcpError(c: FuzzCase, res: Response, text: string): string | undefined {
  if (c.method !== "POST" || !/^\/mcp(\?|$)/.test(c.path)) return undefined;
  let body: { jsonrpc?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (body.jsonrpc !== "2.0") return undefined;
  if (typeof body.error?.code !== "number" || typeof body.error.message !== "string") {
    return "JSON-RPC error without code and message";
  }
  return MCP_ALLOWED.has(res.status) ? "" : `JSON-RPC status ${res.status}`;
}

function describeCase(c: FuzzCase): string {
  const body =
    c.body === undefined
      ? "(none)"
      : typeof c.body === "string"
        ? JSON.stringify(
            c.body.length > 600 ? `${c.body.slice(0, 600)}… (${c.body.length})` : c.body,
          )
        : `bytes [${[...c.body.slice(0, 32)].join(",")}] (${c.body.length})`;
  const headers = c.headers.map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…` : v}`);
  return `${c.method} ${c.path.length > 200 ? `${c.path.slice(0, 200)}…` : c.path}\n  ${headers.join("\n  ")}\n  body ${body}`;
}

/** Fixed, so the same seed makes the same cases in every run. */
const PROPOSALS = ["5b0f9a58-7c1e-4d2b-9f3a-2e6c8d1b4a70", "c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f"];

let ctx: FuzzContext;

/** A call made to set the suite up, required to answer `status`. */
async function setupCall(
  method: string,
  path: string,
  body: unknown,
  status: number,
  headers: Record<string, string> = { authorization: `Bearer ${KEYS.operator}` },
): Promise<Response> {
  const res = await exports.default.fetch(`http://router.test${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBe(status);
  return res;
}

async function issue(body: object): Promise<{ key: string; id: string }> {
  return (await setupCall("POST", "/v1/keys", body, 201).then((r) => r.json())) as {
    key: string;
    id: string;
  };
}

beforeAll(async () => {
  const tenant = "fz-t";
  // A budget of about one request a day: the rest go cheaper, or answer 402.
  await setupCall(
    "POST",
    "/v1/tenants",
    {
      id: tenant,
      name: "Fuzz tenant",
      budget: { limitUsd: 0.000001, period: "day" },
    },
    201,
  );
  const device = await issue({ tenant, scope: "device" });
  const operator = await issue({ tenant, scope: "operator" });
  const spare = [];
  for (let i = 0; i < 3; i++) spare.push((await issue({ tenant, scope: "device" })).id);
  const login = await setupCall("POST", "/v1/session", { key: KEYS.operator }, 200, {
    "x-mec-csrf": "1",
  });
  const cookie = (login.headers.get("set-cookie") ?? "").split(";", 1)[0] ?? "";
  ctx = {
    siteA: inject("fuzzSiteAUrl"),
    siteB: inject("fuzzSiteBUrl"),
    proposals: [],
    tenant,
    tenantKeys: { device: device.key, operator: operator.key },
    spareKeyIds: spare,
    cookie,
    decisionId: "",
  };
  // Two policy proposals, so approve and reject reach D1 (and their conflicts).
  for (const id of PROPOSALS) {
    await env.DB.prepare(
      `INSERT INTO policy_proposals (id, created_at, model, prompt_version, summary, weights,
         rationale, confidence, status) VALUES (?, ?, 'nova-pro', 'v1', '{}', '{}', 'r', 0.5, 'proposed')`,
    )
      .bind(id, Date.now())
      .run();
    ctx.proposals.push(id);
  }
  for (const id of SITE_IDS) await setupCall("PUT", `/v1/sites/${id}`, registration(ctx, id), 200);
  const decided = await setupCall(
    "POST",
    "/v1/route",
    seeds(ctx)["POST /v1/route"]?.[0]?.body,
    200,
    {
      authorization: `Bearer ${KEYS.device}`,
    },
  );
  ctx.decisionId = ((await decided.json()) as { decisionId: string }).decisionId;
});

describe("fuzz", () => {
  it(
    `answers ${RUNS} fuzzed requests only with documented statuses and typed errors, and stays up`,
    async () => {
      const routes = appRoutes();
      const seedMap = seeds(ctx);
      const unseeded = routes.filter((r) => !seedMap[`${r.method} ${r.path}`]);
      if (unseeded.length > 0) {
        console.log(
          `fuzz: generic cases only for ${unseeded.map((r) => `${r.method} ${r.path}`).join(", ")}`,
        );
      }
      const arbitrary = fuzzCase(routes, seedMap, callerKeys(ctx));
      // Case i is element i % CHUNK of the sample drawn with seed SEED + ⌊i / CHUNK⌋: the same
      // seed gives the same cases, and FUZZ_CASE replays one.
      const caseAt = (i: number): FuzzCase => {
        const k = Math.floor(i / CHUNK);
        if (chunk?.k !== k) {
          const n = Math.min(CHUNK, RUNS - k * CHUNK);
          chunk = { k, cases: fc.sample(arbitrary, { numRuns: n, seed: SEED + k }) };
        }
        return chunk.cases[i % CHUNK] as FuzzCase;
      };
      let chunk: { k: number; cases: FuzzCase[] } | undefined;
      const only = ONLY >= 0 ? [ONLY] : undefined;

      const stats = new Map<string, { ms: number; byStatus: Map<number, number> }>();
      const failures: string[] = [];
      unhandled = [];
      // The worker's own log lines, kept out of the test output: only unexpected errors count.
      const errors: string[] = [];
      const quiet = (line: unknown) => {
        if (typeof line === "string" && line.includes('"event":"error"')) errors.push(line);
      };
      const methods = ["log", "info", "warn", "error", "debug"] as const;
      const saved = methods.map((m) => console[m]);
      for (const m of methods) console[m] = quiet;
      const started = Date.now();
      let next = 0;
      let done = 0;
      const total = only ? only.length : RUNS;
      const lane = async () => {
        while (next < total && failures.length === 0) {
          const i = only ? (only[next++] as number) : next++;
          const c = caseAt(i);
          const answer = await send(c).then(
            (a) => ({ ...a, error: undefined }),
            (error: unknown) => ({ res: undefined, text: "", ms: 0, error }),
          );
          done++;
          const where = `case ${i} (seed ${SEED})`;
          const { res, text, ms, error } = answer;
          if (!res) {
            failures.push(`${where}: ${String(error)}\n${describeCase(c)}`);
            continue;
          }
          const row = stats.get(c.label) ?? { ms: 0, byStatus: new Map<number, number>() };
          row.byStatus.set(res.status, (row.byStatus.get(res.status) ?? 0) + 1);
          row.ms += ms;
          stats.set(c.label, row);
          const wrong = problem(c, res, text);
          if (wrong) {
            failures.push(`${where}: ${wrong}\n${describeCase(c)}\nanswer ${text.slice(0, 500)}`);
          }
        }
      };
      const stopWatchdog = startWatchdog();
      await Promise.all(Array.from({ length: CONCURRENCY }, lane));
      stopWatchdog();
      methods.forEach((m, i) => {
        console[m] = saved[i] as (typeof console)[typeof m];
      });
      const seconds = (Date.now() - started) / 1000;
      const table = [...stats]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([label, { ms, byStatus }]) => {
          const counts = [...byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
          const n = [...byStatus.values()].reduce((a, b) => a + b, 0);
          return `  ${label.padEnd(40)} ${(ms / n).toFixed(1).padStart(6)} ms  ${counts.join(" ")}`;
        });
      console.log(
        `fuzz: ${done} cases in ${seconds.toFixed(1)} s (${Math.round(done / seconds)}/s), seed ${SEED}\n${table.join("\n")}`,
      );
      // Replay one with FUZZ_SEED and FUZZ_CASE (`npm run fuzz -- --seed S --case I`).
      expect(failures).toEqual([]);
      expect(done).toBe(total);
      expect(unhandled).toEqual([]);
      expect(errors).toEqual([]);
      const health = await exports.default.fetch("http://router.test/healthz");
      expect(health.status).toBe(200);
    },
    Math.max(900_000, RUNS * 20),
  );
});
