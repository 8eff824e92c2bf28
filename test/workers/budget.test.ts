// Cost budgets per tenant, inside workerd with real TenantBudget objects, the real queue and D1:
// concurrent charges never overspend, a short budget routes to a cheaper target or answers 402,
// and the monitor settles reservations with the actual cost of each run.

import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { BudgetAccount, TenantBudget } from "../../durable-objects/tenant-budget.ts";
import { consumeMessages } from "../../worker/monitor/consumer.ts";
import { settleCharges } from "../../worker/tenancy/settle.ts";
import {
  call,
  type ErrorBody,
  expectError,
  heartbeat,
  type RouteAnswer,
  register,
  site,
  validHeartbeat,
} from "./fixtures/fleet-api.ts";
import { tenantWithKeys } from "./fixtures/tenants.ts";
import { deps, messages, outcome, QUEUE } from "./helpers/monitor-harness.ts";

const DUBLIN = { lat: 53.35, lon: -6.26 };
const REYKJAVIK = { lat: 64.15, lon: -21.94 };
const TALLINN = { lat: 59.44, lon: 24.75 };
const LIVE = `${inject("budgetSiteUrl")}/v1`;

function account(tenant: string, limitUsd: number): Promise<BudgetAccount> {
  return env.TENANT_BUDGET.getByName(tenant).status(limitUsd, "month");
}

describe("TenantBudget", () => {
  it("grants exactly what fits to 200 concurrent charges", async () => {
    const stub = env.TENANT_BUDGET.getByName(`direct-${crypto.randomUUID()}`);
    const cost = 0.0137;
    const limit = cost * 50.5;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        stub.charge({ id: `r-${i}`, costUsd: cost, limitUsd: limit, period: "month" }),
      ),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(50);
    const after = await stub.status(limit, "month");
    expect(after.reservedUsd).toBeCloseTo(50 * cost, 9);
    expect(after.spentUsd).toBe(0);
    expect(after.reservedUsd).toBeLessThanOrEqual(limit);
    // A repeated charge of a granted id is not charged twice; settling is idempotent.
    expect(
      (await stub.charge({ id: "r-0", costUsd: cost, limitUsd: limit, period: "month" })).granted,
    ).toBe(true);
    const granted = results.flatMap((r, i) => (r.granted ? [`r-${i}`] : []));
    const entries = granted.map((id) => ({ id, actualUsd: cost / 2 }));
    expect(await stub.settle(entries)).toEqual({ settled: 50 });
    expect(await stub.settle(entries)).toEqual({ settled: 0 });
    const settled = await stub.status(limit, "month");
    expect(settled.reservedUsd).toBe(0);
    expect(settled.spentUsd).toBeCloseTo(25 * cost, 9);
  });

  it("starts each calendar period afresh and keeps the old one's account", async () => {
    const stub = env.TENANT_BUDGET.getByName(`period-${crypto.randomUUID()}`);
    const at = (t: number) =>
      runInDurableObject(stub, (instance: TenantBudget) => {
        instance.now = () => t;
      });
    await at(Date.UTC(2026, 10, 30, 23, 59));
    const charge = (id: string) => stub.charge({ id, costUsd: 0.6, limitUsd: 1, period: "day" });
    expect((await charge("a")).granted).toBe(true);
    expect((await charge("b")).granted).toBe(false);
    await at(Date.UTC(2026, 11, 1, 0, 1));
    const next = await charge("c");
    expect(next).toMatchObject({ granted: true, period: "2026-12-01", reservedUsd: 0.6 });
    // A late settlement of the old day's reservation lands on the old day.
    await stub.settle([{ id: "a", actualUsd: 0.5 }]);
    expect(await stub.status(1, "day")).toMatchObject({ spentUsd: 0, reservedUsd: 0.6 });
    await at(Date.UTC(2026, 10, 30, 12));
    expect(await stub.status(1, "day")).toMatchObject({ spentUsd: 0.5, reservedUsd: 0 });
  });
});

describe("settlement by the monitor", () => {
  it("retries a batch whose settlement failed, and settles a redelivered outcome once", async () => {
    const tenant = `settle-${crypto.randomUUID().slice(0, 8)}`;
    const decisionId = crypto.randomUUID();
    const stub = env.TENANT_BUDGET.getByName(tenant);
    await stub.charge({ id: decisionId, costUsd: 0.5, limitUsd: 1, period: "month" });
    const event = outcome({ decisionId, tenant, charged: true, costUsd: 0.2 });
    // An outcome without `charged` (a device's own report) settles nothing.
    const uncharged = outcome({ decisionId, tenant, costUsd: 0 });

    const failing = createMessageBatch(QUEUE, messages([event, uncharged]));
    await consumeMessages(
      failing.messages,
      deps({
        settle: async () => {
          throw new Error("budget object unreachable");
        },
      }),
    );
    const failed = await getQueueResult(failing, createExecutionContext());
    expect(failed.retryMessages).toHaveLength(2);
    expect(failed.explicitAcks).toEqual([]);
    expect((await stub.status(1, "month")).reservedUsd).toBe(0.5);

    for (let delivery = 0; delivery < 2; delivery++) {
      const batch = createMessageBatch(QUEUE, messages([event, uncharged], 2));
      await consumeMessages(batch.messages, deps({ settle: (e) => settleCharges(env, e) }));
      const result = await getQueueResult(batch, createExecutionContext());
      expect(result.retryMessages).toEqual([]);
      expect(await stub.status(1, "month")).toMatchObject({ reservedUsd: 0, spentUsd: 0.2 });
    }
  });
});

describe("over HTTP", () => {
  beforeAll(async () => {
    await register(
      site("dub-1", "IE", DUBLIN, {
        capacity: { maxConcurrent: 400, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
      }),
      site("rey-1", "IS", REYKJAVIK),
      site("tal-1", "EE", TALLINN, { endpoint: LIVE }),
    );
  });

  const reserveBody = (country: string, at: { lat: number; lon: number }, extra = {}) => ({
    task: { modality: "text", model: "llama-3.2-3b", inputTokens: 300, maxOutputTokens: 128 },
    constraints: { latencySlaMs: 30_000, privacy: "strict", dataResidency: [country] },
    location: at,
    reserve: true,
    ...extra,
  });

  it("200 concurrent reservations of one tenant never overspend its budget", async () => {
    expect((await heartbeat("dub-1", validHeartbeat)).status).toBe(200);
    // What one reservation costs at this site, from a platform decision (no budget).
    const probe = await call("POST", "/v1/route", {
      key: "dev-device-key",
      body: { ...reserveBody("IE", DUBLIN), reserve: false },
    });
    const cost = ((await probe.json()) as RouteAnswer).predicted.costUsd;
    expect(cost).toBeGreaterThan(0);
    const limitUsd = cost * 50.5;
    const t = await tenantWithKeys("spender", { limitUsd });

    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        call("POST", "/v1/route", { key: t.device, body: reserveBody("IE", DUBLIN) }),
      ),
    );
    const granted: number[] = [];
    const needed: number[] = [];
    for (const res of answers) {
      if (res.status === 200) {
        const d = (await res.json()) as RouteAnswer;
        expect(d.lease?.siteId).toBe("dub-1");
        granted.push(d.plan.primary.predictedCostUsd);
      } else {
        const body = (await expectError(res, 402, "budget_exhausted")) as ErrorBody & {
          error: { details: { neededUsd: number; budget: BudgetAccount } };
        };
        expect(body.error.details.neededUsd).toBeGreaterThan(
          body.error.details.budget.remainingUsd,
        );
        needed.push(body.error.details.neededUsd);
      }
    }
    const spent = granted.reduce((a, b) => a + b, 0);
    const after = await account(t.id, limitUsd);
    expect(granted.length + needed.length).toBe(200);
    expect(needed.length).toBeGreaterThan(0);
    // Nano-USD accounting rounds each charge up by less than 1e-9.
    expect(after.spentUsd + after.reservedUsd).toBeCloseTo(spent, 6);
    expect(spent).toBeLessThanOrEqual(limitUsd + 1e-9);
    // Nothing was refused that the budget could still have paid for.
    expect(after.remainingUsd).toBeLessThan(Math.min(...needed));
    // The operator sees the same account.
    const view = await call("GET", `/v1/tenants/${t.id}`, { key: t.operator });
    expect(((await view.json()) as { spending: BudgetAccount }).spending.remainingUsd).toBeCloseTo(
      after.remainingUsd,
      6,
    );
  }, 60_000);

  it("routes to a cheaper target when the budget is short, else answers 402", async () => {
    expect((await heartbeat("rey-1", validHeartbeat)).status).toBe(200);
    const t = await tenantWithKeys("broke", { limitUsd: 0 });
    // The phone could run it too, but hot and low on battery it is the worse choice.
    const device = {
      models: ["llama-3.2-3b-q4"],
      batteryPct: 12,
      charging: false,
      thermal: "serious",
      class: "high",
      memoryFreeMb: 6000,
    };
    const body = reserveBody("IS", REYKJAVIK, { device });
    const advice = await call("POST", "/v1/route", {
      key: t.device,
      body: { ...body, reserve: false },
    });
    expect(advice.status).toBe(200);
    expect(((await advice.json()) as RouteAnswer).tier).toBe("mec");

    const cheaper = await call("POST", "/v1/route", { key: t.device, body });
    expect(cheaper.status).toBe(200);
    const d = (await cheaper.json()) as RouteAnswer;
    expect(d.tier).toBe("device");
    expect(d.lease).toBeUndefined();
    expect(d.rationale.some((r) => r.factor === "budget")).toBe(true);

    const refused = await call("POST", "/v1/route", {
      key: t.device,
      body: reserveBody("IS", REYKJAVIK),
    });
    const err = await expectError(refused, 402, "budget_exhausted");
    expect(err.error.message).toMatch(/budget/);
    expect(refused.headers.get("retry-after")).toBeNull();
  });

  it("settles each run's reservation with its actual cost through the monitor", async () => {
    expect((await heartbeat("tal-1", validHeartbeat)).status).toBe(200);
    expect((await heartbeat("rey-1", validHeartbeat)).status).toBe(200);
    const limitUsd = 5;
    const t = await tenantWithKeys("settle", { limitUsd });
    const chat = (country: string, at: { lat: number; lon: number }) =>
      call("POST", "/v1/chat/completions", {
        key: t.device,
        body: {
          model: "llama-3.2-3b",
          messages: [{ role: "user", content: "What is a MEC site?" }],
          max_tokens: 16,
          mec: {
            location: at,
            constraints: { privacy: "strict", latencySlaMs: 20_000, dataResidency: [country] },
          },
        },
      });
    const ok = await chat("EE", TALLINN);
    expect(ok.status).toBe(200);
    await ok.json();
    const okId = ok.headers.get("x-mec-decision-id") as string;
    // Nothing listens at Reykjavik's endpoint: the run fails and costs nothing.
    const failed = await chat("IS", REYKJAVIK);
    expect(failed.status).toBeGreaterThanOrEqual(502);
    await failed.body?.cancel();

    const deadline = Date.now() + 30_000;
    let after = await account(t.id, limitUsd);
    while (after.reservedUsd > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      after = await account(t.id, limitUsd);
    }
    expect(after.reservedUsd).toBe(0);
    const row = await env.DB.prepare(
      "SELECT cost_usd, tenant_id FROM outcomes WHERE decision_id = ? AND ok = 1",
    )
      .bind(okId)
      .first<{ cost_usd: number; tenant_id: string }>();
    expect(row?.tenant_id).toBe(t.id);
    expect(row?.cost_usd).toBeGreaterThan(0);
    expect(after.spentUsd).toBeCloseTo(row?.cost_usd ?? -1, 6);
  }, 60_000);
});
