// The monitor's learning and anomaly stage (worker/monitor/insights.ts) inside workerd, on D1
// with the real migrations: batches through the consumer on a simulated clock, a latency shift
// at one site flagged within minutes and listed by GET /v1/anomalies, replays that change
// nothing, series read only once a minute has closed, the stage's D1 round trips, a site's decode
// speed learned and taken by its SiteAgent (and pushed again only when it moved or is due), answer
// lengths learned and served by the fleet directory, and the route's validation and keys.

import { createMessageBatch, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { SiteAgent } from "../../durable-objects/site-agent.ts";
import type { MonitorEvent, OutcomeEvent } from "../../shared/events.ts";
import { ANSWERS_NAME, ANSWERS_SCOPE } from "../../worker/monitor/answer-lengths.ts";
import { consumeMessages } from "../../worker/monitor/consumer.ts";
import {
  afterCommit,
  anomalyId,
  DEMAND_NAME,
  estimatorName,
  LEARN_PUSH_REFRESH_MS,
  LEARN_PUSH_TOLERANCE,
} from "../../worker/monitor/insights.ts";
import {
  decision,
  deps,
  MINUTE,
  messages,
  outcome,
  QUEUE,
  resetDb,
  T0,
} from "./helpers/monitor-harness.ts";

const OPERATOR_KEY = "dev-operator-key";
const DEVICE_KEY = "dev-device-key";
/** Simulated time starts three hours ago, on a minute boundary. */
const BASE = T0 - 120 * MINUTE;
const LARGE = "llama-3.1-8b";
const SMALL = "llama-3.2-3b";

/** Deterministic noise in [1 − spread, 1 + spread]. */
function noise(seed: number, spread: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return 1 - spread + (2 * spread * s) / 4_294_967_296;
  };
}

/** Delivers one batch through the consumer at simulated time `now`, with the insights stage. */
async function deliver(bodies: readonly MonitorEvent[], now: number): Promise<void> {
  const batch = createMessageBatch(QUEUE, messages(bodies));
  await consumeMessages(
    batch.messages,
    deps({ now: () => now, insights: (events) => afterCommit(env, events, now) }),
  );
}

/** An outcome of a request served at MEC site `target` by `model`, where it was meant to run. */
function mecOutcome(target: string, model: string, o: Partial<OutcomeEvent> = {}): OutcomeEvent {
  return outcome({
    tier: "mec",
    target,
    model,
    finalTier: "mec",
    finalTarget: target,
    finalModel: model,
    ...o,
  });
}

/** A minute's traffic at `target`: `count` successful outcomes (and their decisions). */
function minuteOfTraffic(
  target: string,
  minute: number,
  count: number,
  latency: () => number,
): MonitorEvent[] {
  const out: MonitorEvent[] = [];
  for (let j = 0; j < count; j++) {
    const time = minute + j * Math.floor(MINUTE / count);
    const d = decision({ time, tier: "mec", target, model: LARGE });
    out.push(d);
    out.push(mecOutcome(target, LARGE, { decisionId: d.id, time, latencyMs: latency() }));
  }
  return out;
}

function call(path: string, key: string): Promise<Response> {
  return exports.default.fetch(`http://router.test${path}`, {
    headers: { authorization: `Bearer ${key}` },
  });
}

async function learnedRows(scope: string) {
  const { results } = await env.DB.prepare(
    "SELECT name, value, samples, version FROM learned_parameters WHERE scope = ? ORDER BY name",
  )
    .bind(scope)
    .all<{ name: string; value: string; samples: number; version: number }>();
  return results;
}

async function anomalyRows(target: string) {
  const { results } = await env.DB.prepare(
    "SELECT id, minute, detected_at, kind, metric FROM anomalies WHERE target = ? ORDER BY minute",
  )
    .bind(target)
    .all<{ id: string; minute: number; detected_at: number; kind: string; metric: string }>();
  return results;
}

beforeEach(async () => {
  await resetDb();
  await env.DB.batch([
    env.DB.prepare("DELETE FROM learned_parameters"),
    env.DB.prepare("DELETE FROM anomalies"),
  ]);
});

describe("anomalies", () => {
  const TARGET = "site:insights-a";
  const SHIFT_AT = 40;
  const MINUTES = 50;
  /** Flagged within this long of the shift's start, in simulated time. */
  const K_MINUTES = 5;

  /** One batch per minute, delivered 40 s after the minute ended; latency triples at SHIFT_AT. */
  function history() {
    const jitter = noise(7, 0.1);
    return Array.from({ length: MINUTES }, (_, i) => {
      const minute = BASE + i * MINUTE;
      const level = i < SHIFT_AT ? 200 : 600;
      return {
        bodies: minuteOfTraffic(TARGET, minute, 20, () => level * jitter()),
        now: minute + MINUTE + 40_000,
      };
    });
  }

  it("flags a latency shift within K minutes, lists it, and a replay duplicates nothing", async () => {
    const batches = history();
    for (const b of batches) await deliver(b.bodies, b.now);

    const rows = await anomalyRows(TARGET);
    expect(rows).toHaveLength(1);
    const [a] = rows;
    const shiftStart = BASE + SHIFT_AT * MINUTE;
    expect(a?.metric).toBe("latency");
    expect(a?.kind).toBe("latency_up");
    expect(a?.minute).toBeGreaterThanOrEqual(shiftStart);
    expect((a?.detected_at ?? 0) - shiftStart).toBeLessThanOrEqual(K_MINUTES * MINUTE);
    expect(a?.id).toBe(anomalyId("latency", TARGET, a?.minute ?? 0));

    const res = await call(
      `/v1/anomalies?target=${TARGET}&from=${BASE}&to=${BASE + 2 * MINUTES * MINUTE}`,
      OPERATOR_KEY,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      anomalies: { id: string; metric: string; target: string; observed: number }[];
    };
    expect(body.anomalies.map((x) => x.id)).toEqual([a?.id]);
    expect(body.anomalies[0]?.observed).toBeGreaterThan(500);

    // The whole history again, as redeliveries at their own times: nothing is judged twice.
    const before = await learnedRows(TARGET);
    for (const b of batches) await deliver(b.bodies, b.now);
    expect(await anomalyRows(TARGET)).toEqual(rows);
    const after = await learnedRows(TARGET);
    const series = (rs: typeof before) => rs.filter((r) => r.name.startsWith("anomaly:"));
    expect(series(after)).toEqual(series(before));

    // A redelivery of the latest batches (what a crash before the acks causes) teaches the
    // estimators nothing twice either: not a single state is rewritten.
    const late = batches.at(-1);
    if (!late) throw new Error("no batches");
    for (const b of batches.slice(-10)) await deliver(b.bodies, late.now + MINUTE);
    expect(await learnedRows(TARGET)).toEqual(after);
    expect(await anomalyRows(TARGET)).toEqual(rows);
  });

  it("flags nothing on a steady series", async () => {
    const jitter = noise(11, 0.1);
    for (let i = 0; i < MINUTES; i++) {
      const minute = BASE + i * MINUTE;
      await deliver(
        minuteOfTraffic("site:insights-c", minute, 20, () => 200 * jitter()),
        minute + MINUTE + 40_000,
      );
    }
    expect(await anomalyRows("site:insights-c")).toEqual([]);
    const rows = await learnedRows("site:insights-c");
    expect(rows.map((r) => r.name)).toEqual([
      "anomaly:error_rate",
      "anomaly:latency",
      // The site's demand profile, from the decisions (patterns.test.ts).
      DEMAND_NAME,
      estimatorName(LARGE, "any"),
      estimatorName(LARGE, "excellent"),
    ]);
    expect(rows.find((r) => r.name === "anomaly:latency")?.samples).toBe(MINUTES);
  });

  it("reads a series again only once a minute after its last judged one has closed", async () => {
    const target = "site:insights-f";
    const jitter = noise(5, 0.1);
    for (let i = 0; i < 5; i++) {
      const minute = BASE + i * MINUTE;
      await deliver(
        minuteOfTraffic(target, minute, 10, () => 200 * jitter()),
        minute + MINUTE + 40_000,
      );
    }
    const series = async () =>
      (await learnedRows(target)).filter((r) => r.name.startsWith("anomaly:"));
    expect((await series()).map((r) => r.samples)).toEqual([5, 5]);
    // The states vanish from D1 behind the monitor's back (a probe: nothing else deletes them).
    await env.DB.prepare("DELETE FROM learned_parameters WHERE scope = ? AND name LIKE 'anomaly:%'")
      .bind(target)
      .run();

    // No minute closed since minute 4 was judged: the series are not read, so not rewritten.
    const minute5 = BASE + 5 * MINUTE;
    await deliver(
      minuteOfTraffic(target, minute5, 10, () => 200 * jitter()),
      minute5 + 45_000,
    );
    expect(await series()).toEqual([]);

    // Minute 5 closed: D1 decides again, and finds no state (it starts from its look-back).
    await deliver(
      minuteOfTraffic(target, minute5, 10, () => 200 * jitter()),
      minute5 + MINUTE + 40_000,
    );
    expect((await series()).map((r) => r.samples)).toEqual([6, 6]);
  });

  it("reads its inputs in one D1 batch and writes each state in one more", async () => {
    const target = "site:insights-g";
    const jitter = noise(9, 0.1);
    await deliver(
      minuteOfTraffic(target, BASE, 10, () => 200 * jitter()),
      BASE + MINUTE + 40_000,
    );
    const counter = { batches: 0 };
    const counted = new Proxy(env.DB, {
      get(db, prop) {
        if (prop === "batch") {
          return (statements: D1PreparedStatement[]) => {
            counter.batches++;
            return db.batch(statements);
          };
        }
        const value = Reflect.get(db, prop);
        return typeof value === "function" ? value.bind(db) : value;
      },
    });
    // Later in the same minute (nothing closed since, every state exists already), a chunk
    // stored first, then its insights on a D1 that counts round trips.
    const now = BASE + MINUTE + 50_000;
    const bodies = minuteOfTraffic(target, BASE + MINUTE, 10, () => 200 * jitter()).map((e) =>
      e.type === "outcome" ? { ...e, tokens: { input: 100, output: 64 } } : e,
    );
    const batch = createMessageBatch(QUEUE, messages(bodies));
    await consumeMessages(batch.messages, deps({ now: () => now }));
    const summary = await afterCommit({ ...env, DB: counted }, bodies, now);
    // Demand, two estimators (`any` and the decisions' network class), answer lengths.
    expect(summary).toMatchObject({ demand: 1, estimators: 2, answers: 1, anomalies: 0 });
    expect(counter.batches).toBe(1 + 3);
  });
});

/**
 * A site agent registered for LARGE at 20 tokens/s, on a clock far ahead so that its alarms
 * never fire during the test.
 */
async function learningSite(id: string, name: string, location: { lat: number; lon: number }) {
  const stub = env.SITE_AGENT.getByName(id);
  await runInDurableObject(stub, (instance: SiteAgent) => {
    instance.now = () => Date.UTC(2100, 0, 1);
  });
  await stub.register({
    id,
    name,
    location,
    country: "DE",
    trusted: true,
    certifications: [],
    endpoint: "http://127.0.0.1:9/v1",
    capacity: { maxConcurrent: 8, maxQueue: 8, gpus: 1, gpuMemoryGb: 24 },
    cost: { gpuHourUsd: 1 },
    models: [{ model: LARGE, tokensPerSec: 20 }],
    residentModels: [LARGE],
  });
  return stub;
}

describe("learned decode speed", () => {
  it("converges on a site's true tokens/s and the SiteAgent's view takes it", async () => {
    const id = "insights-b";
    const target = `site:${id}`;
    const stub = await learningSite(id, "Insights B", { lat: 52.52, lon: 13.4 });

    const TRUE_TPS = 85;
    const OUTPUT = 257;
    const TTFT = 120;
    const jitter = noise(3, 0.05);
    for (let batch = 0; batch < 4; batch++) {
      const bodies: MonitorEvent[] = [];
      for (let j = 0; j < 10; j++) {
        const time = BASE + batch * MINUTE + j * 1_000;
        const tps = TRUE_TPS * jitter();
        for (const model of [LARGE, SMALL]) {
          bodies.push(
            mecOutcome(target, model, {
              time,
              ttftMs: TTFT,
              latencyMs: TTFT + ((OUTPUT - 1) / tps) * 1000,
              tokens: { input: 100, output: OUTPUT },
            }),
          );
        }
      }
      await deliver(bodies, BASE + (batch + 1) * MINUTE + 40_000);
    }

    const row = (await learnedRows(target)).find((r) => r.name === estimatorName(LARGE, "any"));
    expect(row?.samples).toBe(40);
    const learned = JSON.parse(row?.value ?? "{}") as {
      estimate: { tokensPerSec: { n: number; mean: number } };
    };
    expect(learned.estimate.tokensPerSec.n).toBe(40);
    expect(Math.abs(learned.estimate.tokensPerSec.mean - TRUE_TPS)).toBeLessThan(3);

    const detail = await stub.describe();
    const models = detail?.view.models ?? [];
    const speed = models.find((m) => m.model === LARGE)?.tokensPerSec ?? 0;
    expect(Math.abs(speed - TRUE_TPS)).toBeLessThan(3);
    // A model the site is not registered for is learned in D1 but not taken by the agent.
    expect(models.map((m) => m.model)).toEqual([LARGE]);
  });

  it("pushes a speed again only when it moved by more than the tolerance, or after the refresh", async () => {
    const id = "insights-e";
    const target = `site:${id}`;
    const stub = await learningSite(id, "Insights E", { lat: 48.14, lon: 11.58 });
    /** Ten outcomes decoding at `tps` (the same every time: the learned mean stays put). */
    const at = (tps: number, time: number): MonitorEvent[] =>
      Array.from({ length: 10 }, (_, j) =>
        mecOutcome(target, LARGE, {
          time: time + j,
          ttftMs: 100,
          latencyMs: 100 + (256 / tps) * 1000,
          tokens: { input: 100, output: 257 },
        }),
      );
    const speed = async () =>
      (await stub.describe())?.view.models.find((m) => m.model === LARGE)?.tokensPerSec ?? 0;
    const t = BASE + 10 * MINUTE;

    expect((await afterCommit(env, at(80, t), t)).pushed).toBe(1);
    expect(await speed()).toBeCloseTo(80, 6);
    // The same speed 10 s later: not pushed again.
    expect((await afterCommit(env, at(80, t + 10_000), t + 10_000)).pushed).toBe(0);
    // The refresh interval after the last push: pushed although unchanged.
    const refresh = t + LEARN_PUSH_REFRESH_MS;
    expect((await afterCommit(env, at(80, refresh), refresh)).pushed).toBe(1);
    // A speed that moved by more than the tolerance: pushed at once.
    expect((await afterCommit(env, at(160, refresh + 1_000), refresh + 1_000)).pushed).toBe(1);
    expect(await speed()).toBeGreaterThan(80 * (1 + LEARN_PUSH_TOLERANCE));
  });
});

describe("learned answer length", () => {
  it("learns the share of max_tokens answers use, once per outcome, and the fleet directory serves it", async () => {
    // 40 text answers on Llama 3.1 8B at a quarter of max_tokens, and one failed request.
    const bodies: MonitorEvent[] = [];
    for (let j = 0; j < 40; j++) {
      const time = BASE + j * 1_000;
      const d = decision({ time, tier: "mec", target: "site:answers-a", model: LARGE });
      bodies.push(
        d,
        outcome({ decisionId: d.id, time, finalModel: LARGE, tokens: { input: 500, output: 64 } }),
      );
    }
    const failed = decision({ time: BASE, tier: "mec", target: "site:answers-a", model: LARGE });
    bodies.push(
      failed,
      outcome({ decisionId: failed.id, time: BASE, ok: false, finalModel: LARGE }),
    );
    await deliver(bodies, BASE + 2 * MINUTE);

    const [row] = await learnedRows(ANSWERS_SCOPE);
    expect(row?.name).toBe(ANSWERS_NAME);
    const stored = JSON.parse(row?.value ?? "{}") as {
      state: Record<string, { n: number; mean: number }>;
    };
    expect(stored.state.text).toEqual({ n: 40, mean: 0.25 });
    expect(stored.state[`text|${LARGE}`]).toEqual({ n: 40, mean: 0.25 });
    const snap = await env.FLEET_DIRECTORY.getByName("global").snapshot();
    // 40 samples against a prior weight of 20: two thirds of the way from 0.5 to 0.25.
    expect(snap.answerShares?.text).toBeCloseTo(0.5 / 3 + (2 / 3) * 0.25, 9);

    // A redelivered chunk teaches nothing twice.
    const version = row?.version;
    await deliver(bodies, BASE + 3 * MINUTE);
    const [again] = await learnedRows(ANSWERS_SCOPE);
    expect(again?.version).toBe(version);
  });
});

describe("GET /v1/anomalies", () => {
  it("answers 400 with the paths of bad query parameters", async () => {
    const res = await call(
      "/v1/anomalies?from=yesterday&to=12&target=site:Berlin&limit=9999",
      OPERATOR_KEY,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.details.map((d) => d.path).sort()).toEqual(["from", "limit", "target"]);

    const reversed = await call("/v1/anomalies?from=2000&to=1000", OPERATOR_KEY);
    expect(reversed.status).toBe(400);
    const r = (await reversed.json()) as { error: { details: { path: string }[] } };
    expect(r.error.details.map((d) => d.path)).toEqual(["from"]);
  });

  it("needs an operator key", async () => {
    expect((await call("/v1/anomalies", "not-a-key")).status).toBe(401);
    expect((await exports.default.fetch("http://router.test/v1/anomalies")).status).toBe(401);
    expect((await call("/v1/anomalies", DEVICE_KEY)).status).toBe(403);
    expect((await call("/v1/anomalies", OPERATOR_KEY)).status).toBe(200);
  });
});
