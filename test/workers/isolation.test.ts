// Tenant isolation over HTTP inside workerd, through the real queue and D1 migrations: three
// tenants each decide, reserve and report outcomes; then, for every ordered pair, nothing one
// tenant can read or change by id reaches the other's data: analytics, leases, decisions'
// outcomes, keys, the tenant itself. The platform's operator sees each tenant apart.

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  call,
  expectError,
  OPERATOR_KEY,
  type RouteAnswer,
  register,
  routeBody,
  site,
} from "./fixtures/fleet-api.ts";
import { tenantWithKeys } from "./fixtures/tenants.ts";

const VIENNA = { lat: 48.21, lon: 16.37 };
/** A live demo site, so the site stays healthy through its probes for the whole file. */
const ENDPOINT = `${inject("demoSiteUrl")}/v1`;
const DECISIONS_EACH = 3;

type Tenant = Awaited<ReturnType<typeof tenantWithKeys>> & { decisionIds: string[] };

interface PolicyStats {
  tenant?: string;
  variants: { variant: string; decisions: number; outcomes: number; errors: number }[];
}

const tenants: Tenant[] = [];

async function decide(key: string, reserve = false): Promise<RouteAnswer> {
  const res = await call("POST", "/v1/route", { key, body: routeBody("AT", VIENNA, reserve) });
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as RouteAnswer;
}

async function stats(key: string, query = ""): Promise<PolicyStats> {
  const res = await call("GET", `/v1/analytics/policies${query}`, { key });
  expect(res.status).toBe(200);
  return (await res.json()) as PolicyStats;
}

function totals(s: PolicyStats) {
  return s.variants.reduce(
    (t, v) => ({
      decisions: t.decisions + v.decisions,
      outcomes: t.outcomes + v.outcomes,
      errors: t.errors + v.errors,
    }),
    { decisions: 0, outcomes: 0, errors: 0 },
  );
}

/** Waits until `sql` (a `count(*) AS n`) reaches `n`: the monitor stores events after the response. */
async function countReaches(sql: string, binds: unknown[], n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const row = await env.DB.prepare(sql)
      .bind(...binds)
      .first<{ n: number }>();
    if ((row?.n ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`${sql}: ${row?.n} of ${n}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function pairs<T>(xs: readonly T[]): [T, T][] {
  return xs.flatMap((a) => xs.filter((b) => b !== a).map((b) => [a, b] as [T, T]));
}

beforeAll(async () => {
  await register(
    site("vie-1", "AT", VIENNA, {
      endpoint: ENDPOINT,
      capacity: { maxConcurrent: 64, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
    }),
  );
  for (const label of ["alpha", "bravo", "charlie"]) {
    const t = await tenantWithKeys(label);
    const decisionIds: string[] = [];
    for (let i = 0; i < DECISIONS_EACH - 1; i++)
      decisionIds.push((await decide(t.device)).decisionId);
    decisionIds.push((await decide(t.device, true)).decisionId);
    // One failed outcome per tenant, reported on its own first decision.
    const res = await call("POST", "/v1/outcomes", {
      key: t.device,
      body: { decisionId: decisionIds[0], ok: false, latencyMs: 900 },
    });
    expect(res.status).toBe(202);
    tenants.push({ ...t, decisionIds });
  }
  for (const t of tenants) {
    await countReaches(
      "SELECT count(*) AS n FROM decisions WHERE tenant_id = ?",
      [t.id],
      DECISIONS_EACH,
    );
    await countReaches("SELECT count(*) AS n FROM outcomes WHERE tenant_id = ?", [t.id], 1);
  }
}, 60_000);

describe("every tenant sees its own history only", () => {
  it("policy analytics count each tenant's decisions and outcomes, nobody else's", async () => {
    for (const t of tenants) {
      const s = await stats(t.operator);
      expect(s.tenant).toBe(t.id);
      expect(totals(s)).toEqual({ decisions: DECISIONS_EACH, outcomes: 1, errors: 1 });
    }
  });

  it("the platform sees them all, and each one apart", async () => {
    const all = totals(await stats(OPERATOR_KEY));
    expect(all.decisions).toBeGreaterThanOrEqual(DECISIONS_EACH * tenants.length);
    for (const t of tenants) {
      const s = await stats(OPERATOR_KEY, `?tenant=${t.id}`);
      expect(totals(s)).toEqual({ decisions: DECISIONS_EACH, outcomes: 1, errors: 1 });
    }
  });
});

describe("fleet-wide analytics", () => {
  it("answer platform keys only: they add up every tenant's traffic", async () => {
    for (const path of ["summary", "timeseries", "latency", "targets", "nova"]) {
      await expectError(
        await call("GET", `/v1/analytics/${path}`, { key: tenants[0]?.operator ?? "" }),
        403,
        "forbidden",
      );
      expect((await call("GET", `/v1/analytics/${path}`, { key: OPERATOR_KEY })).status).toBe(200);
    }
  });

  it("the explorer shows a tenant its own decisions with their outcome", async () => {
    const t = tenants[0] as Tenant;
    const first = t.decisionIds[0] as string;
    const res = await call("GET", `/v1/analytics/decisions/${first}`, { key: t.operator });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { outcomes: { ok: boolean }[] };
    expect(body.outcomes.map((o) => o.ok)).toEqual([false]);
  });
});

describe.each(pairs([0, 1, 2]))("tenant %i against tenant %i", (i, j) => {
  const me = () => tenants[i] as Tenant;
  const other = () => tenants[j] as Tenant;

  it("cannot read the other's analytics", async () => {
    await expectError(
      await call("GET", `/v1/analytics/policies?tenant=${other().id}`, { key: me().operator }),
      404,
      "not_found",
    );
    await expectError(
      await call("GET", `/v1/analytics/decisions?tenant=${other().id}`, { key: me().operator }),
      404,
      "not_found",
    );
    for (const id of other().decisionIds) {
      await expectError(
        await call("GET", `/v1/analytics/decisions/${id}`, { key: me().operator }),
        404,
        "not_found",
      );
    }
    const listed = (await (
      await call("GET", "/v1/analytics/decisions?range=1h&limit=200", { key: me().operator })
    ).json()) as { decisions: { id: string }[] };
    const ids = listed.decisions.map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining(me().decisionIds));
    expect(ids.some((id) => other().decisionIds.includes(id))).toBe(false);
  });

  it("cannot read, rotate or revoke the other's keys, nor read the tenant", async () => {
    for (const id of other().keyIds) {
      for (const [method, path] of [
        ["GET", `/v1/keys/${id}`],
        ["POST", `/v1/keys/${id}/rotate`],
        ["POST", `/v1/keys/${id}/revoke`],
      ] as const) {
        await expectError(await call(method, path, { key: me().operator }), 404, "not_found");
      }
    }
    await expectError(
      await call("GET", `/v1/keys?tenant=${other().id}`, { key: me().operator }),
      404,
      "not_found",
    );
    await expectError(
      await call("GET", `/v1/tenants/${other().id}`, { key: me().operator }),
      404,
      "not_found",
    );
    const mine = (await (await call("GET", "/v1/keys", { key: me().operator })).json()) as {
      keys: { id: string; tenant: string }[];
    };
    expect(mine.keys.every((k) => k.tenant === me().id)).toBe(true);
    expect(mine.keys.some((k) => other().keyIds.includes(k.id))).toBe(false);
  });

  it("cannot release the other's lease, nor count an outcome on the other's decision", async () => {
    const outcomesOf = async (key: string, query = "") => {
      const { outcomes, errors } = totals(await stats(key, query));
      return { outcomes, errors };
    };
    const before = await outcomesOf(other().operator);
    const lease = (await decide(other().device, true)).lease;
    if (!lease) throw new Error("expected a lease");
    const res = await call("POST", "/v1/outcomes", {
      key: me().device,
      body: { leaseId: lease.id, decisionId: other().decisionIds[1], ok: false },
    });
    expect(res.status).toBe(202);
    // Answered exactly like an unknown lease: nothing was released ...
    expect(await res.json()).toEqual({ accepted: true, released: false });
    // ... and it is still the other's to release.
    const own = await call("POST", "/v1/outcomes", {
      key: other().device,
      body: { leaseId: lease.id, ok: true, latencyMs: 100 },
    });
    expect(await own.json()).toEqual({ accepted: true, released: true });
    // The forged outcome is stored under the reporter's tenant and joins no decision of the other.
    await countReaches(
      "SELECT count(*) AS n FROM outcomes WHERE decision_id = ? AND tenant_id = ?",
      [other().decisionIds[1], me().id],
      1,
    );
    expect(await outcomesOf(other().operator)).toEqual(before);
    expect(await outcomesOf(OPERATOR_KEY, `?tenant=${other().id}`)).toEqual(before);
  }, 30_000);
});
