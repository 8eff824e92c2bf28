// The analytics API inside workerd, on D1 with the real migrations: history seeded through the
// real queue consumer (events → raw rows → rollups) and anomalies through SQL into the real
// schema; aggregates checked against the events by hand, over windows, bucket steps and limits;
// the decision explorer on the raw rows; the live fleet from registered sites; Nova usage from
// usage events, and from a real Nova Pro call on /v1/route through the queue.

import { createMessageBatch } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type {
  DecisionDetailAnswer,
  DecisionsAnswer,
  FleetAnswer,
  LatencyAnswer,
  NovaAnswer,
  SiteStatusAnswer,
  SummaryAnswer,
  TargetsAnswer,
  TimeseriesAnswer,
} from "../../shared/analytics-api.ts";
import {
  type DecisionExplanation,
  type MonitorEvent,
  type NovaUsageEvent,
  novaUsageEvent,
} from "../../shared/events.ts";
import { consumeMessages } from "../../worker/monitor/consumer.ts";
import { DEAD_ENDPOINT, LARGE, register, SMALL, site } from "./fixtures/fleet-api.ts";
import { decision, deps, messages, outcome, QUEUE, resetDb } from "./helpers/monitor-harness.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** An hour boundary two to three hours ago: the window [B, B + 1 h) is wholly in the past. */
const B = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
let calls = 0;
/**
 * The window [B, B + 1 h), spelled differently on every call: `to` just under B + 1 h is widened
 * to the step's grid, so the answer is the same window while the cache key (answers are cached
 * per caller for seconds) is new, and each test reads its own data.
 */
function win(): string {
  calls++;
  return `from=${B}&to=${B + HOUR - calls}`;
}
const OPERATOR = { authorization: "Bearer dev-operator-key" };
const DEVICE = { authorization: "Bearer dev-device-key" };

const BERLIN = { tier: "mec", target: "site:berlin-1", model: LARGE } as const;
const CLOUD = { tier: "cloud", target: "cloud:eu-central-1", model: "nova-lite" } as const;
const DEVICE_T = { tier: "device", target: "device", model: "llama-3.2-1b" } as const;

async function deliver(events: readonly MonitorEvent[]): Promise<void> {
  // The consumer's clock is the harness's (an hour ago); events here are older than that but
  // well inside the retention.
  const batch = createMessageBatch(QUEUE, messages(events));
  await consumeMessages(batch.messages, deps({ now: () => Date.now() }));
}

function get(path: string, headers: Record<string, string> = OPERATOR) {
  return exports.default.fetch(`http://router.test/v1/analytics${path}`, { headers });
}

async function json<T>(path: string): Promise<T> {
  const res = await get(path);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

/** A sketch percentile: within the sketch's 1 % relative accuracy of the exact value. */
function within(got: number | null, want: number) {
  expect(got).not.toBeNull();
  expect(Math.abs((got ?? Number.NaN) - want)).toBeLessThanOrEqual(0.01 * want);
}

async function expect400(path: string, field: string) {
  const res = await get(path);
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
  expect(body.error.code).toBe("invalid_request");
  expect(body.error.details.map((d) => d.path)).toContain(field);
}

function outcomeAt(
  time: number,
  place: { tier: "mec" | "cloud" | "device"; target: string; model: string },
  o: Partial<Parameters<typeof outcome>[0]> = {},
) {
  return outcome({
    time,
    ...place,
    finalTier: place.tier,
    finalTarget: place.target,
    finalModel: place.model,
    ...o,
  });
}

/**
 * The hand-checked history: within [B, B + 1 h) six decisions and five outcomes (one error, one
 * failover from Berlin to the cloud), and one decision on each side of the window.
 */
function history(): MonitorEvent[] {
  return [
    decision({ time: B - 1, ...BERLIN }),
    decision({ time: B + 10, ...BERLIN }),
    decision({ time: B + 20, ...BERLIN }),
    decision({ time: B + 30, ...BERLIN }),
    decision({ time: B + 40, ...CLOUD }),
    outcomeAt(B + 1_000, BERLIN, { latencyMs: 100, slaMet: true, costUsd: 0.01 }),
    outcomeAt(B + 2_000, BERLIN, { latencyMs: 200, slaMet: true, costUsd: 0.01 }),
    outcomeAt(B + 3_000, BERLIN, {
      ok: false,
      errorClass: "http_5xx",
      latencyMs: 50,
      slaMet: false,
      costUsd: 0,
    }),
    decision({ time: B + 7 * MINUTE, ...BERLIN }),
    outcome({
      time: B + 7 * MINUTE + 500,
      ...BERLIN,
      finalTier: "cloud",
      finalTarget: CLOUD.target,
      finalModel: CLOUD.model,
      latencyMs: 900,
      attempts: 2,
      slaMet: false,
      costUsd: 0.002,
    }),
    decision({ time: B + 31 * MINUTE, ...DEVICE_T }),
    outcomeAt(B + 31 * MINUTE + 100, DEVICE_T, { latencyMs: 40, slaMet: undefined, costUsd: 0 }),
    decision({ time: B + HOUR, ...BERLIN }),
  ];
}

beforeEach(async () => {
  await resetDb();
  await env.DB.prepare("DELETE FROM anomalies").run();
});

describe("access", () => {
  const paths = [
    "/summary",
    "/timeseries",
    "/latency",
    "/targets",
    "/nova",
    "/anomalies",
    "/decisions",
    `/decisions/${crypto.randomUUID()}`,
    "/fleet",
    "/fleet/berlin-1",
    "/policies",
  ];

  it("answers 401 without a key or session and 403 to a device key", async () => {
    for (const path of paths) {
      const anonymous = await get(path, {});
      expect(anonymous.status, path).toBe(401);
      const device = await get(path, DEVICE);
      expect(device.status, path).toBe(403);
      expect(((await device.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    }
  });
});

describe("windows and limits", () => {
  it("refuses bad windows with the field named", async () => {
    await expect400("/summary?range=2d", "range");
    await expect400(`/summary?range=1h&from=${B}`, "range");
    await expect400(`/summary?from=${B}&to=${B - MINUTE}`, "from");
    await expect400(`/summary?from=${B}&to=${B + 30_000}`, "to");
    await expect400(`/summary?from=${B - 8 * 24 * HOUR}&to=${B}`, "from");
    await expect400("/summary?from=yesterday", "from");
    await expect400("/summary?from=-5", "from");
    await expect400("/timeseries?range=7d&step=1m", "step");
    await expect400("/timeseries?step=7m", "step");
    await expect400("/timeseries?tier=edge", "tier");
    await expect400("/timeseries?target=site:Berlin", "target");
    await expect400("/summary?rnage=1h", "rnage");
    await expect400("/latency?metric=p99", "metric");
  });

  it("refuses limits out of bounds", async () => {
    await expect400("/targets?limit=0", "limit");
    await expect400("/targets?limit=201", "limit");
    await expect400("/anomalies?limit=501", "limit");
    await expect400("/decisions?limit=201", "limit");
    await expect400("/decisions?limit=2.5", "limit");
    await expect400("/decisions?before=yesterday", "before");
    await expect400("/decisions?outcome=maybe", "outcome");
  });

  it("picks a step per range: at most 120 aligned buckets, the last holding this minute", async () => {
    const expected = { "15m": 1, "1h": 1, "6h": 5, "24h": 15, "7d": 120 } as const;
    for (const [range, stepMin] of Object.entries(expected)) {
      const before = Date.now();
      const { window: w, t } = await json<TimeseriesAnswer>(`/timeseries?range=${range}`);
      expect(w.stepMs, range).toBe(stepMin * MINUTE);
      expect(w.points).toBeLessThanOrEqual(120);
      expect(t).toHaveLength(w.points);
      expect(w.from % w.stepMs).toBe(0);
      expect(w.to % w.stepMs).toBe(0);
      expect(w.to).toBeGreaterThan(before);
      expect(t[1] === undefined || t[1] - (t[0] ?? 0) === w.stepMs).toBe(true);
    }
  });
});

describe("aggregates over the rollups", () => {
  beforeEach(() => deliver(history()));

  it("summary: totals, per tier, rates", async () => {
    const s = await json<SummaryAnswer>(`/summary?${win()}`);
    expect(s.window).toEqual({ from: B, to: B + HOUR, stepMs: MINUTE, points: 60 });
    expect(s.totals).toEqual({
      decisions: 6,
      outcomes: 5,
      errors: 1,
      slaMet: 2,
      slaKnown: 4,
      costUsd: expect.closeTo(0.022, 12),
      failovers: 1,
      attempts: 6,
      errorRate: 0.2,
      slaAttainment: 0.5,
      meanLatencyMs: (100 + 200 + 50 + 900 + 40) / 5,
    });
    // The failed-over outcome counts where it ended (cloud), its decision where it chose (mec).
    expect(s.tiers.mec).toMatchObject({ decisions: 4, outcomes: 3, errors: 1, failovers: 0 });
    expect(s.tiers.cloud).toMatchObject({ decisions: 1, outcomes: 1, failovers: 1, attempts: 2 });
    expect(s.tiers.device).toMatchObject({ decisions: 1, outcomes: 1, slaAttainment: null });
    // Successful outcomes only: 40, 100, 200, 900.
    expect(s.latency.count).toBe(4);
    within(s.latency.p50, 100);
    within(s.latency.p99, 200);
    expect(s.nova).toEqual({ calls: 0, costUsd: 0, fallbacks: 0 });
  });

  it("timeseries: every bucket of the step, sums where the events fell, zeros elsewhere", async () => {
    const ts = await json<TimeseriesAnswer>(`/timeseries?${win()}&step=5m`);
    expect(ts.window).toEqual({ from: B, to: B + HOUR, stepMs: 5 * MINUTE, points: 12 });
    expect(ts.t).toEqual(Array.from({ length: 12 }, (_, i) => B + i * 5 * MINUTE));
    const zeros = (at: Record<number, number>) => Array.from({ length: 12 }, (_, i) => at[i] ?? 0);
    expect(ts.total.decisions).toEqual(zeros({ 0: 4, 1: 1, 6: 1 }));
    expect(ts.total.outcomes).toEqual(zeros({ 0: 3, 1: 1, 6: 1 }));
    expect(ts.tiers.mec.decisions).toEqual(zeros({ 0: 3, 1: 1 }));
    expect(ts.tiers.cloud.decisions).toEqual(zeros({ 0: 1 }));
    expect(ts.tiers.cloud.failovers).toEqual(zeros({ 1: 1 }));
    expect(ts.tiers.device.outcomes).toEqual(zeros({ 6: 1 }));
    expect(ts.total.errorRate[0]).toBeCloseTo(1 / 3, 12);
    expect(ts.total.slaAttainment[0]).toBeCloseTo(2 / 3, 12);
    expect(ts.total.slaAttainment[6]).toBeNull();
    expect(ts.total.meanLatencyMs[1]).toBe(900);
    expect(ts.total.errorRate[2]).toBeNull();
    // A window not on the step's grid is widened to it.
    const odd = await json<TimeseriesAnswer>(
      `/timeseries?from=${B + 7 * MINUTE}&to=${B + 13 * MINUTE}&step=5m`,
    );
    expect(odd.window).toMatchObject({ from: B + 5 * MINUTE, to: B + 15 * MINUTE, points: 2 });
    expect(odd.total.decisions).toEqual([1, 0]);
  });

  it("timeseries: one target or one tier", async () => {
    const berlin = await json<TimeseriesAnswer>(
      `/timeseries?${win()}&step=30m&target=site:berlin-1`,
    );
    expect(berlin.total.decisions).toEqual([4, 0]);
    expect(berlin.total.outcomes).toEqual([3, 0]);
    const cloud = await json<TimeseriesAnswer>(`/timeseries?${win()}&step=1h&tier=cloud`);
    expect(cloud.total.decisions).toEqual([1]);
    expect(cloud.tiers.mec.decisions).toEqual([0]);
  });

  it("targets: per target, busiest first, limited", async () => {
    const all = await json<TargetsAnswer>(`/targets?${win()}`);
    expect(all.truncated).toBe(false);
    expect(all.targets.map((t) => t.target)).toEqual([
      "site:berlin-1",
      "cloud:eu-central-1",
      "device",
    ]);
    expect(all.targets[0]).toMatchObject({
      tier: "mec",
      decisions: 4,
      outcomes: 3,
      errorRate: 1 / 3,
      latency: { count: 2 },
    });
    const one = await json<TargetsAnswer>(`/targets?${win()}&limit=1`);
    expect(one.targets).toHaveLength(1);
    expect(one.truncated).toBe(true);
    const cloud = await json<TargetsAnswer>(`/targets?${win()}&tier=cloud`);
    expect(cloud.targets.map((t) => [t.target, t.latency.count])).toEqual([
      ["cloud:eu-central-1", 1],
    ]);
  });
});

describe("latency percentiles", () => {
  it("per tier and over the window, within 1 % of the exact values", async () => {
    // 300 successful outcomes at Berlin (1…300 ms) and 100 in the cloud (1,000…1,990 ms), over
    // ten minutes; a failure, which is counted but never timed.
    const events: MonitorEvent[] = [];
    for (let i = 1; i <= 300; i++) {
      events.push(outcomeAt(B + (i % 10) * MINUTE, BERLIN, { latencyMs: i, ttftMs: i / 2 }));
    }
    for (let i = 0; i < 100; i++) {
      events.push(outcomeAt(B + (i % 10) * MINUTE, CLOUD, { latencyMs: 1_000 + 10 * i }));
    }
    events.push(outcomeAt(B, BERLIN, { ok: false, errorClass: "timeout", latencyMs: 99_999 }));
    for (let i = 0; i < events.length; i += 100) await deliver(events.slice(i, i + 100));

    const l = await json<LatencyAnswer>(`/latency?${win()}&step=5m`);
    const exact = (values: number[], q: number) =>
      [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? NaN;
    const berlin = Array.from({ length: 300 }, (_, i) => i + 1);
    const cloud = Array.from({ length: 100 }, (_, i) => 1_000 + 10 * i);
    within(l.overall.tiers.mec.p50, exact(berlin, 0.5));
    within(l.overall.tiers.mec.p99, exact(berlin, 0.99));
    within(l.overall.tiers.cloud.p95, exact(cloud, 0.95));
    within(l.overall.p99, exact([...berlin, ...cloud], 0.99));
    expect(l.overall.count).toBe(400);
    expect(l.overall.tiers.device).toEqual({ count: 0, p50: null, p95: null, p99: null });
    // Per bucket: minutes 0–4 and 5–9 hold half of each; later buckets are empty.
    expect(l.tiers.mec.count).toEqual([150, 150, ...new Array(10).fill(0)]);
    const firstHalf = berlin.filter((v) => v % 10 < 5);
    within(l.tiers.mec.p95[0] ?? null, exact(firstHalf, 0.95));
    expect(l.tiers.mec.p50[2]).toBeNull();

    const ttft = await json<LatencyAnswer>(`/latency?${win()}&metric=ttft`);
    expect(ttft.overall.count).toBe(300);
    within(
      ttft.overall.p50,
      exact(
        berlin.map((v) => v / 2),
        0.5,
      ),
    );
    const one = await json<LatencyAnswer>(`/latency?${win()}&target=cloud:eu-central-1`);
    expect(one.overall.count).toBe(100);
  });
});

describe("Nova usage", () => {
  function nova(o: Partial<NovaUsageEvent> & Pick<NovaUsageEvent, "role" | "outcome">) {
    return novaUsageEvent({
      time: B + 2 * MINUTE,
      model: o.role === "micro" ? "amazon.nova-micro-v1:0" : "eu.amazon.nova-pro-v1:0",
      latencyMs: 400,
      inputTokens: 1_000,
      outputTokens: 100,
      ...o,
    });
  }

  it("per role: calls, fallbacks by outcome, tokens and cost; redelivery counts once", async () => {
    const events = [
      nova({ role: "pro", outcome: "ok" }),
      nova({ role: "pro", outcome: "ok", time: B + 40 * MINUTE }),
      nova({ role: "pro", outcome: "timeout", inputTokens: 0, outputTokens: 0, latencyMs: 1_500 }),
      nova({ role: "pro", outcome: "breaker_open", inputTokens: 0, outputTokens: 0, latencyMs: 0 }),
      nova({ role: "micro", outcome: "ok" }),
      nova({ role: "review", outcome: "invalid" }),
    ];
    await deliver(events);
    await deliver(events);
    const n = await json<NovaAnswer>(`/nova?${win()}&step=30m`);
    const pro = n.totals.find((t) => t.role === "pro");
    expect(pro).toMatchObject({
      calls: 3,
      fallbacks: 2,
      byOutcome: { ok: 2, timeout: 1, breaker_open: 1, budget: 0, error: 0 },
      inputTokens: 2_000,
      outputTokens: 200,
      meanLatencyMs: (400 + 400 + 1_500) / 3,
      models: ["eu.amazon.nova-pro-v1:0"],
    });
    // Nova Pro: $0.80 / $3.20 per 1M tokens.
    expect(pro?.costUsd).toBeCloseTo(2 * (0.0008 + 0.00032), 12);
    expect(n.totals.find((t) => t.role === "micro")).toMatchObject({ calls: 1, fallbacks: 0 });
    expect(n.totals.find((t) => t.role === "review")).toMatchObject({
      calls: 1,
      fallbacks: 1,
      byOutcome: { invalid: 1 },
    });
    expect(n.totals.find((t) => t.role === "lite")).toMatchObject({ calls: 0, costUsd: 0 });
    expect(n.t).toEqual([B, B + 30 * MINUTE]);
    expect(n.roles.pro.calls).toEqual([2, 1]);
    expect(n.roles.pro.fallbacks).toEqual([2, 0]);
    const s = await json<SummaryAnswer>(`/summary?${win()}`);
    expect(s.nova.calls).toBe(5);
    expect(s.nova.fallbacks).toBe(3);
  });

  it("a Nova Pro call on /v1/route reaches the rollups through the queue", async () => {
    const res = await exports.default.fetch("http://router.test/v1/route", {
      method: "POST",
      headers: { "content-type": "application/json", ...DEVICE },
      body: JSON.stringify({
        task: { modality: "text", inputTokens: 321, maxOutputTokens: 64 },
        // A residency list of its own: no other test's decision cache answers this one.
        constraints: { latencySlaMs: 60_000, dataResidency: ["DE", "EU", "EEA"] },
        location: { lat: 50.11, lon: 8.68 },
        reasoning: "force",
      }),
    });
    expect(res.status).toBe(200);
    await res.json();
    const deadline = Date.now() + 15_000;
    let row: { role: string; model: string; calls: number } | null = null;
    while (!row && Date.now() < deadline) {
      row = await env.DB.prepare(
        "SELECT role, model, sum(calls) AS calls FROM nova_usage_rollups WHERE role = 'pro' GROUP BY role, model",
      ).first();
      if (!row) await new Promise((r) => setTimeout(r, 200));
    }
    expect(row).toMatchObject({ role: "pro", model: "amazon.nova-pro-v1:0" });
    expect(row?.calls).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

const EXPLAIN: DecisionExplanation = {
  rationale: [
    { factor: "classification", detail: "simple text request (complexity 0.2): needs quality ≥ 1" },
    { factor: "latency", detail: "site:berlin-1 predicted 300 ms (complete) of 2000 ms SLA" },
    { factor: "privacy" },
  ],
  rejected: [
    {
      target: "cloud:eu-central-1",
      reason: "privacy",
      detail: "strict privacy never leaves for the cloud",
    },
    { target: "site:paris-1", reason: "residency" },
  ],
  rejectedTotal: 2,
  plan: [
    {
      tier: "mec",
      target: "site:berlin-1",
      model: LARGE,
      predictedLatencyMs: 300,
      predictedCostUsd: 0.0001,
      timeoutMs: 2_000,
    },
    {
      tier: "mec",
      target: "site:munich-1",
      model: SMALL,
      predictedLatencyMs: 350,
      predictedCostUsd: 0.0001,
      timeoutMs: 2_000,
    },
  ],
};

describe("decision explorer", () => {
  const ids = Array.from({ length: 5 }, () => crypto.randomUUID());

  beforeEach(async () => {
    await deliver([
      // Newest last: ids[4] is the newest.
      decision({ id: ids[0], time: B + 1 * MINUTE, ...CLOUD }),
      decision({ id: ids[1], time: B + 2 * MINUTE, ...BERLIN, explain: EXPLAIN }),
      decision({ id: ids[2], time: B + 3 * MINUTE, ...BERLIN }),
      decision({ id: ids[3], time: B + 4 * MINUTE, ...BERLIN, model: SMALL }),
      decision({ id: ids[4], time: B + 5 * MINUTE, ...DEVICE_T }),
      // ids[1] failed over to Munich after a 5xx; ids[2] failed; ids[3] ran where planned.
      outcome({
        decisionId: ids[1],
        time: B + 2 * MINUTE + 900,
        ...BERLIN,
        finalTier: "mec",
        finalTarget: "site:munich-1",
        finalModel: SMALL,
        latencyMs: 800,
        attempts: 2,
        attemptLog: [
          {
            target: "site:berlin-1",
            tier: "mec",
            ok: false,
            errorClass: "http_5xx",
            latencyMs: 120,
          },
          { target: "site:munich-1", tier: "mec", ok: true, latencyMs: 650 },
        ],
      }),
      outcome({
        decisionId: ids[2],
        time: B + 3 * MINUTE + 900,
        ...BERLIN,
        finalTier: "mec",
        finalTarget: BERLIN.target,
        finalModel: LARGE,
        ok: false,
        errorClass: "timeout",
        costUsd: 0,
      }),
      outcome({
        decisionId: ids[3],
        time: B + 4 * MINUTE + 900,
        ...BERLIN,
        model: SMALL,
        finalTier: "mec",
        finalTarget: BERLIN.target,
        finalModel: SMALL,
      }),
    ]);
  });

  it("lists decisions newest first with their latest outcome, filtered", async () => {
    const all = await json<DecisionsAnswer>(`/decisions?${win()}`);
    expect(all.decisions.map((d) => d.id)).toEqual([...ids].reverse());
    expect(all.next).toBeNull();
    const failed = all.decisions.find((d) => d.id === ids[1]);
    expect(failed?.outcome).toMatchObject({
      ok: true,
      finalTarget: "site:munich-1",
      failover: true,
      attempts: 2,
    });
    expect(all.decisions.find((d) => d.id === ids[4])?.outcome).toBeNull();
    expect(all.decisions[0]).toMatchObject({ tier: "device", policyVariant: "default" });

    const pick = async (q: string) =>
      (await json<DecisionsAnswer>(`/decisions?${win()}&${q}`)).decisions.map((d) => d.id);
    expect(await pick("tier=cloud")).toEqual([ids[0]]);
    expect(await pick("target=site:berlin-1")).toEqual([ids[3], ids[2], ids[1]]);
    expect(await pick(`model=${SMALL}`)).toEqual([ids[3]]);
    expect(await pick("outcome=failover")).toEqual([ids[1]]);
    expect(await pick("outcome=error")).toEqual([ids[2]]);
    expect(await pick("outcome=ok")).toEqual([ids[3], ids[1]]);
    expect(await pick("outcome=none")).toEqual([ids[4], ids[0]]);
    // [from, to): the decision at `to` is out.
    const narrow = await json<DecisionsAnswer>(
      `/decisions?from=${B + 3 * MINUTE}&to=${B + 5 * MINUTE}`,
    );
    expect(narrow.decisions.map((d) => d.id)).toEqual([ids[3], ids[2]]);
  });

  it("pages with a cursor", async () => {
    const seen: string[] = [];
    let path = `/decisions?${win()}&limit=2`;
    for (let page = 0; page < 5; page++) {
      const answer = await json<DecisionsAnswer>(path);
      expect(answer.decisions.length).toBeLessThanOrEqual(2);
      seen.push(...answer.decisions.map((d) => d.id));
      if (!answer.next) break;
      path = `/decisions?${win()}&limit=2&before=${answer.next}`;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it("explains one decision: rationale, rejections, plan, outcomes with attempts", async () => {
    const { decision: d, outcomes } = await json<DecisionDetailAnswer>(`/decisions/${ids[1]}`);
    expect(d).toMatchObject({
      id: ids[1],
      tier: "mec",
      target: "site:berlin-1",
      request: { modality: "text", latencySlaMs: 2_000, residencyCount: 0, hasLocation: true },
      rationale: EXPLAIN.rationale,
      rejected: EXPLAIN.rejected,
      rejectedTotal: 2,
      plan: EXPLAIN.plan,
      outcome: { failover: true },
    });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]?.attemptLog).toEqual([
      { target: "site:berlin-1", tier: "mec", ok: false, errorClass: "http_5xx", latencyMs: 120 },
      { target: "site:munich-1", tier: "mec", ok: true, latencyMs: 650 },
    ]);
    // A row without an explanation still names its factors.
    const plain = await json<DecisionDetailAnswer>(`/decisions/${ids[2]}`);
    expect(plain.decision.rationale).toEqual([
      { factor: "classification" },
      { factor: "latency" },
      { factor: "cost" },
    ]);
    expect(plain.decision.plan).toBeNull();
    expect(plain.outcomes[0]).toMatchObject({ ok: false, errorClass: "timeout", attemptLog: null });

    expect((await get(`/decisions/${crypto.randomUUID()}`)).status).toBe(404);
    await expect400("/decisions/not-a-uuid", "id");
  });

  it("refuses a window longer than 7 days even for the explorer", async () => {
    await expect400(`/decisions?from=0&to=${B}`, "from");
  });
});

describe("anomalies", () => {
  it("lists them newest first with their evidence; open ones only on request", async () => {
    const insert = env.DB.prepare(
      `INSERT INTO anomalies (id, detected_at, minute, kind, tier, target, model, metric, observed,
         expected, score, severity, detail, resolved_at)
       VALUES (?, ?, ?, 'shift', 'mec', 'site:berlin-1', ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const evidence = { baseline: { mean: 120, sd: 15 }, samples: 40, threshold: 4 };
    await env.DB.batch([
      insert.bind(
        "a1",
        B + 11 * MINUTE,
        B + 10 * MINUTE,
        LARGE,
        "latency",
        640,
        120,
        9.1,
        "high",
        JSON.stringify(evidence),
        null,
      ),
      insert.bind(
        "a2",
        B + 21 * MINUTE,
        B + 20 * MINUTE,
        LARGE,
        "error_rate",
        0.4,
        0.01,
        6,
        "high",
        null,
        B + 30 * MINUTE,
      ),
      insert.bind("a3", B - 1, B - 2 * MINUTE, LARGE, "latency", 500, 120, 5, "low", null, null),
    ]);
    const all = await json<{ anomalies: { id: string; detail: unknown }[] }>(`/anomalies?${win()}`);
    expect(all.anomalies.map((a) => a.id)).toEqual(["a2", "a1"]);
    expect(all.anomalies[1]?.detail).toEqual(evidence);
    const open = await json<{ anomalies: { id: string }[] }>(`/anomalies?${win()}&open=true`);
    expect(open.anomalies.map((a) => a.id)).toEqual(["a1"]);
    const limited = await json<{ anomalies: unknown[] }>(`/anomalies?${win()}&limit=1`);
    expect(limited.anomalies).toHaveLength(1);
    const s = await json<SummaryAnswer>(`/summary?${win()}`);
    expect(s.anomalies).toEqual({ open: 1, total: 2 });
  });
});

describe("fleet", () => {
  it("lists registered sites with health, breaker, load, residency and location", async () => {
    const OSLO = { lat: 59.91, lon: 10.75 };
    await register(
      site("an-oslo", "NO", OSLO, {
        models: [{ model: LARGE }, { model: SMALL }],
        residentModels: [SMALL],
        endpoint: DEAD_ENDPOINT,
      }),
    );
    const f = await json<FleetAnswer>("/fleet");
    const oslo = f.sites.find((s) => s.id === "an-oslo");
    expect(oslo).toMatchObject({
      name: "Site an-oslo",
      location: OSLO,
      country: "NO",
      breaker: "closed",
      draining: false,
      models: [LARGE, SMALL],
      residentModels: [SMALL],
      capacity: { maxConcurrent: 16, maxQueue: 32 },
      load: { running: 0, waiting: 0, utilization: 0 },
    });
    expect(f.counts.sites).toBe(f.sites.length);
    expect(f.counts.breakers.closed + f.counts.breakers.open + f.counts.breakers.half_open).toBe(
      f.sites.length,
    );

    await deliver([
      decision({
        time: Date.now() - 2 * MINUTE,
        tier: "mec",
        target: "site:an-oslo",
        model: SMALL,
      }),
      outcomeAt(
        Date.now() - 2 * MINUTE,
        { tier: "mec", target: "site:an-oslo", model: SMALL },
        {
          latencyMs: 250,
        },
      ),
    ]);
    const one = await json<SiteStatusAnswer>("/fleet/an-oslo");
    expect(one.site.id).toBe("an-oslo");
    expect(one.agent.leases).toBe(0);
    expect(one.agent.cache).toBeTypeOf("object");
    expect(one.recent.totals).toMatchObject({ decisions: 1, outcomes: 1 });
    expect(one.recent.latency.count).toBe(1);
    expect((await get("/fleet/nowhere-1")).status).toBe(404);
    await expect400("/fleet/Not_A_Site", "siteId");
  });
});
