// The monitor (worker/monitor/) inside workerd, on D1 with the real migrations: the queue
// consumer on built batches (acks, retries, rows, rollups), replays, crashes at random points
// followed by redelivery (nothing lost, nothing counted twice — in the rollups and in the Kinesis
// outbox), retention, and the producer. The builders and the crash harness are in
// helpers/monitor-harness.ts; the outbox's way to Kinesis is tested in outbox.test.ts.

import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { asc, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import fc from "fast-check";
import { beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import type { MonitorEvent } from "../../shared/events.ts";
import { QuantileSketch } from "../../shared/sketch.ts";
import worker from "../../worker/index.ts";
import { consumeMessages, retryDelaySeconds } from "../../worker/monitor/consumer.ts";
import {
  LATENCY_SKETCH_ACCURACY,
  latencyPercentiles,
  latencySketches,
} from "../../worker/monitor/percentiles.ts";
import { MAX_MESSAGE_BYTES, planBatches, sendEvents } from "../../worker/monitor/producer.ts";
import { pruneRawHistory } from "../../worker/monitor/retention.ts";
import {
  decisions,
  outcomes,
  performanceRollups,
  rollupLatencyBuckets,
} from "../../worker/monitor/schema.ts";
import {
  arbCase,
  type BucketRow,
  byBucketKey,
  DAY,
  decision,
  deliverUntilSettled,
  deps,
  distinct,
  expectedBuckets,
  expectedRollups,
  ids,
  MINUTE,
  messages,
  NOW,
  outboxRollups,
  outcome,
  PLACES,
  QUEUE,
  type RollupRow,
  resetDb,
  runQueue,
  T0,
  wrapDb,
} from "./helpers/monitor-harness.ts";

const db = drizzle(env.DB);

const rollupColumns = {
  minute: performanceRollups.minute,
  tier: performanceRollups.tier,
  target: performanceRollups.target,
  model: performanceRollups.model,
  decisions: performanceRollups.decisions,
  outcomes: performanceRollups.outcomes,
  errors: performanceRollups.errors,
  slaMet: performanceRollups.slaMet,
  slaKnown: performanceRollups.slaKnown,
  costUsd: performanceRollups.costUsd,
  latencySumMs: performanceRollups.latencySumMs,
  latencyMaxMs: performanceRollups.latencyMaxMs,
  ttftSumMs: performanceRollups.ttftSumMs,
  ttftCount: performanceRollups.ttftCount,
};
const r = performanceRollups;

/** Everything the consumer writes, read in one D1 batch. */
async function snapshot() {
  const [ds, os, rollups, buckets, tagged] = await db.batch([
    db.select({ id: decisions.eventId }).from(decisions).orderBy(asc(decisions.eventId)),
    db.select({ id: outcomes.eventId }).from(outcomes).orderBy(asc(outcomes.eventId)),
    db
      .select(rollupColumns)
      .from(r)
      .orderBy(asc(r.minute), asc(r.tier), asc(r.target), asc(r.model)),
    db.select().from(rollupLatencyBuckets),
    db.get<{ n: number }>(
      sql`SELECT (SELECT count(*) FROM decisions WHERE delivery IS NOT NULL)
        + (SELECT count(*) FROM outcomes WHERE delivery IS NOT NULL) AS n`,
    ),
  ]);
  return {
    decisions: ds.map((d) => d.id),
    outcomes: os.map((o) => o.id),
    rollups: rollups as RollupRow[],
    buckets: (buckets as BucketRow[]).sort(byBucketKey),
    tagged: tagged.n,
  };
}

beforeEach(resetDb);

describe("queue consumer", () => {
  it("stores events, merges them into per-minute rollups and acks every message", async () => {
    const berlin = PLACES[0];
    const cloud = PLACES[2];
    const events = [
      decision({ time: T0 + 1_000 }),
      decision({ time: T0 + 59_999 }),
      decision({ time: T0 + MINUTE, ...cloud }),
      outcome({ time: T0 + 5_000, latencyMs: 200, ttftMs: 50, costUsd: 0.5 }),
      outcome({
        time: T0 + 6_000,
        latencyMs: 900,
        ok: false,
        errorClass: "http_5xx",
        slaMet: false,
        costUsd: 0,
      }),
      // Planned for Berlin, ended in the cloud: counted where it ran.
      outcome({
        time: T0 + 7_000,
        finalTier: cloud.tier,
        finalTarget: cloud.target,
        finalModel: cloud.model,
        latencyMs: 1_500,
        attempts: 2,
        slaMet: undefined,
        costUsd: 0.125,
        tokens: { input: 10, output: 20 },
      }),
    ];
    const result = await runQueue(events);
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(events.map((_, i) => `msg-${i}`).sort());

    const s = await snapshot();
    expect(s.decisions).toEqual(ids(events, "decision"));
    expect(s.outcomes).toEqual(ids(events, "outcome"));
    expect(s.tagged).toBe(0);
    expect(s.rollups).toEqual(expectedRollups(events));
    expect(s.buckets).toEqual(expectedBuckets(events));
    // Successful outcomes only: the 900 ms error is counted, not timed.
    expect(s.buckets.map((b) => [b.target, b.metric, b.count])).toEqual([
      [cloud.target, "latency", 1],
      [berlin.target, "latency", 1],
      [berlin.target, "ttft", 1],
    ]);
    expect(s.rollups).toContainEqual(
      expect.objectContaining({
        minute: T0,
        ...berlin,
        decisions: 2,
        outcomes: 2,
        errors: 1,
        slaMet: 1,
        slaKnown: 2,
        costUsd: 0.5,
        latencySumMs: 1_100,
        latencyMaxMs: 900,
        ttftSumMs: 50,
        ttftCount: 1,
      }),
    );
    expect(s.rollups).toContainEqual(
      expect.objectContaining({ minute: T0, ...cloud, decisions: 0, outcomes: 1, slaKnown: 0 }),
    );
    expect(s.rollups).toContainEqual(
      expect.objectContaining({ minute: T0 + MINUTE, ...cloud, decisions: 1, outcomes: 0 }),
    );

    const [row] = await db.select().from(outcomes).where(sql`${outcomes.latencyMs} = 1500`);
    expect(row).toMatchObject({
      tier: "mec",
      target: "site:berlin-1",
      finalTarget: "cloud:eu-central-1",
      ok: true,
      attempts: 2,
      slaMet: null,
      inputTokens: 10,
      outputTokens: 20,
      delivery: null,
    });
  });

  it("acks and drops invalid, unknown-version and expired events, never retrying them", async () => {
    const good = decision();
    const bodies = [
      "not an event",
      { type: "decision" },
      { ...decision(), v: 2 },
      { ...decision(), prompt: "tell me a secret" },
      { ...outcome(), target: "the user said hello" },
      decision({ time: NOW - 31 * DAY }),
      good,
    ];
    const result = await runQueue(bodies);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(bodies.map((_, i) => `msg-${i}`).sort());
    const s = await snapshot();
    expect(s.decisions).toEqual([good.id]);
    expect(s.outcomes).toEqual([]);
    expect(s.rollups).toEqual(expectedRollups([good]));
  });

  it("reads a message of many events as the producer packs them, beside single-event ones", async () => {
    const packed = [
      decision({ time: T0 + 1 }),
      outcome({ time: T0 + 2 }),
      decision({ time: T0 + 3 }),
    ];
    const single = outcome({ time: T0 + 4 });
    const bodies = [
      packed,
      // A bad or expired event is left out; the message's other events are stored.
      [{ type: "decision" }, packed[0], decision({ time: NOW - 31 * DAY })],
      single,
      ["not an event"],
      [],
    ];
    const result = await runQueue(bodies);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(bodies.map((_, i) => `msg-${i}`).sort());
    const stored = [...packed, single];
    const s = await snapshot();
    expect(s.decisions).toEqual(ids(stored, "decision"));
    expect(s.outcomes).toEqual(ids(stored, "outcome"));
    expect(s.rollups).toEqual(expectedRollups(stored));
  });

  /** Messages for chunks of up to 3 events: two decisions, three outcomes, one decision. */
  const threeMessages = () => ({
    first: [decision({ time: T0 + 1 }), decision({ time: T0 + 2 })],
    second: [outcome({ time: T0 + 3 }), outcome({ time: T0 + 4 }), outcome({ time: T0 + 5 })],
    third: decision({ time: T0 + 6 }),
  });

  it("keeps a message's events in one chunk: a failed chunk retries its messages, whole", async () => {
    const { first, second, third } = threeMessages();
    const batch = createMessageBatch(QUEUE, messages([first, second, third]));
    // Chunks of up to 3 events: [first], [second], [third]; the second one's D1 batch fails.
    const counter = { step: 0 };
    const failing = wrapDb({ at: 1, mode: "before", poison: 0 }, counter);
    await consumeMessages(batch.messages, deps({ db: failing, chunkSize: 3 }));
    const result = await getQueueResult(batch, createExecutionContext());
    expect(counter.step).toBe(3);
    expect(result.explicitAcks.sort()).toEqual(["msg-0", "msg-2"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["msg-1"]);
    const s = await snapshot();
    expect(s.decisions).toEqual(ids([...first, third], "decision"));
    expect(s.outcomes).toEqual([]);
  });

  it("runs the insights on acked events only, in groups once enough have gathered", async () => {
    const { first, second, third } = threeMessages();
    const fourth = [outcome({ time: T0 + 7 }), outcome({ time: T0 + 8 })];
    const run = async (insightsGroup?: number) => {
      await resetDb();
      const batch = createMessageBatch(QUEUE, messages([first, second, third, fourth]));
      // Chunks of up to 3 events: [first], [second], [third, fourth]; the second one fails.
      const failing = wrapDb({ at: 1, mode: "before", poison: 0 }, { step: 0 });
      const calls: string[][] = [];
      const insights = async (events: readonly MonitorEvent[]) => {
        calls.push(events.map((e) => e.id));
      };
      await consumeMessages(
        batch.messages,
        deps({ db: failing, chunkSize: 3, insights, ...(insightsGroup ? { insightsGroup } : {}) }),
      );
      return calls;
    };
    const id = (e: MonitorEvent) => e.id;
    // By default (1,000) the whole batch's acked events go in one call, at the end.
    expect(await run()).toEqual([[...first, third, ...fourth].map(id)]);
    expect(await run(2)).toEqual([first.map(id), [third, ...fourth].map(id)]);
  });

  it("lets the isolate's other work run between its chunks", async () => {
    const events = Array.from({ length: 12 }, (_, i) => decision({ time: T0 + i }));
    const batch = createMessageBatch(QUEUE, messages(events));
    // Other work in the isolate: a chain of timers, as a request's steps would wait in line.
    let turns = 0;
    let running = true;
    const ticker = (async () => {
      while (running) {
        await new Promise((r) => setTimeout(r, 0));
        turns++;
      }
    })();
    await consumeMessages(batch.messages, deps({ chunkSize: 1 }));
    const during = turns;
    running = false;
    await ticker;
    // Twelve chunks, twelve D1 batches: the timers got a turn after each, not only at the end.
    expect(during).toBeGreaterThanOrEqual(events.length);
    expect((await snapshot()).decisions).toEqual(ids(events, "decision"));
  });

  it("replaying the same batch three times gives the same rows and rollups", async () => {
    const events = [
      ...PLACES.map((p, i) => decision({ ...p, time: T0 + i * 20_000 })),
      ...PLACES.map((p, i) =>
        outcome({
          finalTier: p.tier,
          finalTarget: p.target,
          finalModel: p.model,
          time: T0 + i * 30_000,
          latencyMs: 100 * (i + 1),
          ttftMs: 10 * (i + 1),
        }),
      ),
    ];
    const first = await runQueue(events);
    expect(first.explicitAcks).toHaveLength(events.length);
    const once = await snapshot();
    expect(once.rollups).toEqual(expectedRollups(events));
    for (const attempts of [2, 3]) {
      const again = await runQueue(events, attempts);
      expect(again.explicitAcks).toHaveLength(events.length);
      expect(again.retryMessages).toEqual([]);
      expect(await snapshot()).toEqual(once);
    }
  });

  it("counts an event sent twice in one batch once", async () => {
    const d = decision();
    const o = outcome({ latencyMs: 400 });
    const result = await runQueue([d, o, d, o, { ...o }]);
    expect(result.explicitAcks).toHaveLength(5);
    const s = await snapshot();
    expect(s.decisions).toEqual([d.id]);
    expect(s.outcomes).toEqual([o.id]);
    expect(s.rollups).toEqual(expectedRollups([d, o]));
  });

  it("stores every column as drizzle maps it, over more rows than one statement's JSON holds", async () => {
    // 100 decisions with the largest explanation an event may carry: well over one statement's
    // share of rows, so the chunk's inserts are split.
    const explain = {
      rationale: [{ factor: "latency", detail: "ü".repeat(200) }],
      rejected: Array.from({ length: 64 }, (_, i) => ({
        target: `site:s-${i}`,
        reason: "capacity" as const,
        detail: "x".repeat(200),
      })),
      rejectedTotal: 70,
      plan: [
        {
          tier: "mec" as const,
          target: "site:berlin-1",
          model: "llama-3.2-1b",
          predictedLatencyMs: 120.5,
          predictedCostUsd: 0.0001,
          timeoutMs: 900,
        },
      ],
    };
    const many = Array.from({ length: 100 }, (_, i) =>
      decision({ time: T0 + i, explain, policyVariant: i % 2 ? "lean" : undefined }),
    );
    const failed = outcome({
      ok: false,
      errorClass: "http_5xx",
      slaMet: false,
      ttftMs: undefined,
      attemptLog: [{ target: "site:berlin-1", tier: "mec", ok: false, latencyMs: 12.25 }],
    });
    const result = await runQueue([...many, failed]);
    expect(result.explicitAcks).toHaveLength(101);
    const s = await snapshot();
    expect(s.decisions).toEqual(ids(many, "decision"));
    expect(s.rollups).toEqual(expectedRollups([...many, failed]));

    const stored = await db.select().from(decisions).orderBy(asc(decisions.time));
    expect(stored).toHaveLength(100);
    expect(stored[1]).toMatchObject({
      eventId: many[1]?.id,
      time: T0 + 1,
      hasLocation: true,
      complexity: 0.2,
      rationale: ["classification", "latency", "cost"],
      policyVariant: "lean",
      tenantId: null,
      explain,
      delivery: null,
    });
    expect(stored[0]?.policyVariant).toBeNull();
    const [o] = await db.select().from(outcomes);
    expect(o).toMatchObject({
      eventId: failed.id,
      ok: false,
      slaMet: false,
      ttftMs: null,
      ttftBucket: null,
      errorClass: "http_5xx",
      attemptLog: failed.attemptLog,
    });
  });

  it("adds to rollups stored by earlier batches", async () => {
    const a = outcome({ latencyMs: 100, ttftMs: 20 });
    const b = outcome({ latencyMs: 700, ok: false, errorClass: "timeout", slaMet: false });
    await runQueue([a, decision()]);
    await runQueue([b, decision()]);
    const s = await snapshot();
    expect(s.rollups).toHaveLength(1);
    expect(s.rollups[0]).toMatchObject({
      decisions: 2,
      outcomes: 2,
      errors: 1,
      slaMet: 1,
      slaKnown: 2,
      latencySumMs: 800,
      latencyMaxMs: 700,
      ttftSumMs: 20,
      ttftCount: 1,
    });
  });

  it("retries every message of a chunk whose D1 batch fails, with backoff", async () => {
    const events = [decision(), outcome(), decision()];
    const batch = createMessageBatch(QUEUE, messages(events));
    const delays: (number | undefined)[] = [];
    // The plugin's QueueResult does not report delays: record them on the way through.
    const recorded = batch.messages.map(
      (m): Message<unknown> => ({
        id: m.id,
        timestamp: m.timestamp,
        body: m.body,
        attempts: m.attempts,
        ack: () => m.ack(),
        retry: (options) => {
          delays.push(options?.delaySeconds);
          m.retry(options);
        },
      }),
    );
    const failing = wrapDb({ at: 0, mode: "before", poison: 0 }, { step: 0 });
    await consumeMessages(recorded, deps({ db: failing }));
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual(events.map((_, i) => ({ msgId: `msg-${i}` })));
    expect(delays).toEqual([5, 5, 5]);
    expect([1, 2, 3, 7, 50].map(retryDelaySeconds)).toEqual([5, 10, 20, 300, 300]);
    expect(await snapshot()).toEqual({
      decisions: [],
      outcomes: [],
      rollups: [],
      buckets: [],
      tagged: 0,
    });
  });

  it("stores retried messages one by one: an event D1 refuses does not hold back its chunk", async () => {
    const [a, b, c] = [decision(), outcome(), decision()];
    const first = createMessageBatch(QUEUE, messages([a, b, c]));
    const down = wrapDb({ at: 0, mode: "before", poison: 0 }, { step: 0 });
    await consumeMessages(first.messages, deps({ db: down }));
    expect((await getQueueResult(first, createExecutionContext())).retryMessages).toHaveLength(3);
    // Redelivered: D1 refuses the second event's batch again; the other two are stored.
    const second = createMessageBatch(QUEUE, messages([a, b, c], 2));
    const refusing = wrapDb({ at: 1, mode: "inside", poison: 0.5 }, { step: 0 });
    await consumeMessages(second.messages, deps({ db: refusing }));
    const result = await getQueueResult(second, createExecutionContext());
    expect(result.explicitAcks.sort()).toEqual(["msg-0", "msg-2"]);
    expect(result.retryMessages).toEqual([{ msgId: "msg-1" }]);
    const s = await snapshot();
    expect(s.decisions).toEqual(ids([a, c], "decision"));
    expect(s.outcomes).toEqual([]);
    expect(s.rollups).toEqual(expectedRollups([a, c]));
  });

  it("a D1 batch that fails half-way stores nothing: inserts and rollups go together", async () => {
    const events = [decision(), outcome(), outcome({ latencyMs: 10 })];
    for (const poison of [0, 0.3, 0.6, 0.99]) {
      const failing = wrapDb({ at: 0, mode: "inside", poison }, { step: 0 });
      const batch = createMessageBatch(QUEUE, messages(events));
      await consumeMessages(batch.messages, deps({ db: failing }));
      const result = await getQueueResult(batch, createExecutionContext());
      expect(result.retryMessages).toHaveLength(3);
      expect(await snapshot()).toEqual({
        decisions: [],
        outcomes: [],
        rollups: [],
        buckets: [],
        tagged: 0,
      });
    }
  });

  it("a batch that committed but whose reply was lost is retried and counted once", async () => {
    const events = [decision(), outcome()];
    const batch = createMessageBatch(QUEUE, messages(events));
    const failing = wrapDb({ at: 0, mode: "after", poison: 0 }, { step: 0 });
    await consumeMessages(batch.messages, deps({ db: failing }));
    expect((await getQueueResult(batch, createExecutionContext())).retryMessages).toHaveLength(2);
    const committed = await snapshot();
    expect(committed.rollups).toEqual(expectedRollups(events));
    const again = await runQueue(events, 2);
    expect(again.explicitAcks).toHaveLength(2);
    expect(await snapshot()).toEqual(committed);
  });
});

// ---------------------------------------------------------------------------------------------

describe("crash, then redelivery", () => {
  it("loses nothing and counts nothing twice, over 1,000 random crash points", async () => {
    // Every injected failure is logged by the consumer; a thousand of them are noise here.
    const quiet = () => {};
    const errors = vi.spyOn(console, "error").mockImplementation(quiet);
    const warnings = vi.spyOn(console, "warn").mockImplementation(quiet);
    onTestFinished(() => {
      errors.mockRestore();
      warnings.mockRestore();
    });
    let redelivered = 0;
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ bodies, events, chunkSize, plan }) => {
        await resetDb();
        const deliveries = await deliverUntilSettled(bodies, chunkSize, plan);
        if (deliveries > 1) redelivered++;
        const s = await snapshot();
        expect(s.decisions).toEqual(ids(events, "decision"));
        expect(s.outcomes).toEqual(ids(events, "outcome"));
        expect(s.rollups).toEqual(expectedRollups(distinct(events)));
        expect(s.buckets).toEqual(expectedBuckets(distinct(events)));
        expect(s.tagged).toBe(0);
        // The Kinesis outbox (not drained here) holds each new event once.
        expect(await outboxRollups()).toEqual(s.rollups);
      }),
      { numRuns: 1_000 },
    );
    // Most crash points leave work for a redelivery (the rest crash on an already-final ack).
    expect(redelivered).toBeGreaterThan(700);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------

describe("latency percentiles", () => {
  const HOUR = 60 * MINUTE;
  /** The hour holding T0: events fall in it, and a few just outside. */
  const H = Math.floor(T0 / HOUR) * HOUR;
  const alpha = LATENCY_SKETCH_ACCURACY;

  /** The value of rank ⌊q·(n − 1)⌋: what the sketch estimates. */
  function exact(values: readonly number[], q: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(q * (sorted.length - 1))] as number;
  }

  function expectWithinAlpha(estimate: number | undefined, truth: number) {
    expect(Math.abs((estimate ?? Number.NaN) - truth)).toBeLessThanOrEqual(
      alpha * truth * (1 + 1e-9),
    );
  }

  /** Buckets, count and zero count: what merges exactly. */
  const parts = (s: QuantileSketch) => ({
    buckets: s.buckets(),
    count: s.count,
    zero: s.zeroCount,
  });

  const arbLatency = fc.oneof(
    fc.integer({ min: 0, max: 10_000 }),
    fc.double({ min: 0.5, max: 120_000, noNaN: true }),
    fc.constant(0),
  );
  const arbTimedOutcome = fc
    .record({
      time: fc.oneof(
        { arbitrary: fc.integer({ min: H, max: H + HOUR - 1 }), weight: 20 },
        { arbitrary: fc.constantFrom(H - 1, H + HOUR), weight: 1 },
      ),
      place: fc.constantFrom(...PLACES),
      ok: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, fc.constant(false)),
      latencyMs: arbLatency,
      ttftMs: fc.option(arbLatency, { nil: undefined }),
    })
    .map(({ place, ...o }) =>
      outcome({
        ...o,
        finalTier: place.tier,
        finalTarget: place.target,
        finalModel: place.model,
        ...(o.ok ? {} : { errorClass: "http_5xx" as const, slaMet: false }),
      }),
    );

  it("p50 and p99 are within α of the stored latencies', and an hour is the merge of its minutes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbTimedOutcome, { minLength: 1, maxLength: 300 }),
        async (events) => {
          await resetDb();
          for (let i = 0; i < events.length; i += 100) await runQueue(events.slice(i, i + 100));
          const hour = { from: H, to: H + HOUR };
          const { results: stored } = await env.DB.prepare(
            `SELECT final_target AS target, latency_ms AS latency, ttft_ms AS ttft FROM outcomes
             WHERE ok = 1 AND time >= ?1 AND time < ?2`,
          )
            .bind(hour.from, hour.to)
            .all<{ target: string; latency: number; ttft: number | null }>();

          for (const target of [undefined, PLACES[1].target]) {
            const rows = stored.filter((o) => target === undefined || o.target === target);
            const got = await latencyPercentiles(env.DB, { ...hour, target }, [0.5, 0.99]);
            const series = {
              latency: rows.map((o) => o.latency),
              ttft: rows.flatMap((o) => (o.ttft === null ? [] : [o.ttft])),
            };
            for (const metric of ["latency", "ttft"] as const) {
              const values = series[metric];
              expect(got[metric].count).toBe(values.length);
              if (values.length === 0) {
                expect(got[metric].values).toEqual([Number.NaN, Number.NaN]);
                continue;
              }
              expectWithinAlpha(got[metric].values[0], exact(values, 0.5));
              expectWithinAlpha(got[metric].values[1], exact(values, 0.99));
            }
          }

          // The hour's sketch (one SUM … GROUP BY) equals the merge of its 60 minutes' sketches,
          // and both equal the in-memory sketch of the stored values.
          const whole = await latencySketches(env.DB, hour);
          const merged = {
            latency: new QuantileSketch({ relativeAccuracy: alpha }),
            ttft: new QuantileSketch({ relativeAccuracy: alpha }),
          };
          for (let m = hour.from; m < hour.to; m += MINUTE) {
            const minute = await latencySketches(env.DB, { from: m, to: m + MINUTE });
            merged.latency.merge(minute.latency);
            merged.ttft.merge(minute.ttft);
          }
          const direct = {
            latency: new QuantileSketch({ relativeAccuracy: alpha }),
            ttft: new QuantileSketch({ relativeAccuracy: alpha }),
          };
          for (const o of stored) {
            direct.latency.add(o.latency);
            if (o.ttft !== null) direct.ttft.add(o.ttft);
          }
          for (const metric of ["latency", "ttft"] as const) {
            expect(parts(whole[metric])).toEqual(parts(merged[metric]));
            expect(parts(whole[metric])).toEqual(parts(direct[metric]));
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  it("answers NaN for an empty range and refuses quantiles outside [0, 1]", async () => {
    await runQueue([outcome({ time: T0, latencyMs: 300, ttftMs: 40 })]);
    const empty = await latencyPercentiles(
      env.DB,
      { from: T0 + MINUTE, to: T0 + 2 * MINUTE },
      [0.5],
    );
    expect(empty).toEqual({
      latency: { count: 0, values: [Number.NaN] },
      ttft: { count: 0, values: [Number.NaN] },
    });
    const one = await latencyPercentiles(
      env.DB,
      { from: T0, to: T0 + MINUTE, model: "llama-3.1-8b" },
      [0, 0.5, 1],
    );
    expect(one.latency.count).toBe(1);
    for (const v of one.latency.values) expectWithinAlpha(v, 300);
    for (const v of one.ttft.values) expectWithinAlpha(v, 40);
    await expect(latencyPercentiles(env.DB, { from: T0, to: T0 + MINUTE }, [1.5])).rejects.toThrow(
      RangeError,
    );
  });
});

describe("retention", () => {
  it("the scheduled job deletes raw rows older than RAW_RETENTION_DAYS and keeps rollups", async () => {
    const now = NOW + 40 * DAY;
    const old = [decision({ time: T0 }), outcome({ time: T0 + 1_000 })];
    const recent = [decision({ time: now - DAY }), outcome({ time: now - DAY, latencyMs: 42 })];
    await consumeMessages(
      createMessageBatch(QUEUE, messages(old)).messages,
      deps({ now: () => NOW }),
    );
    await consumeMessages(
      createMessageBatch(QUEUE, messages(recent)).messages,
      deps({ now: () => now }),
    );
    await env.DB.prepare(
      `INSERT INTO resource_metrics (site_id, time, waiting, running, breaker, healthy, draining)
       VALUES ('berlin-1', ?1, 0, 1, 'closed', 1, 0), ('berlin-1', ?2, 2, 3, 'closed', 1, 0)`,
    )
      .bind(T0, now - DAY)
      .run();
    const before = await snapshot();
    expect(before.rollups).toEqual(expectedRollups([...old, ...recent]));
    expect(before.buckets).toEqual(expectedBuckets([...old, ...recent]));

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now }), env, ctx);
    await waitOnExecutionContext(ctx);

    const after = await snapshot();
    expect(after.decisions).toEqual(ids(recent, "decision"));
    expect(after.outcomes).toEqual(ids(recent, "outcome"));
    expect(after.rollups).toEqual(before.rollups);
    expect(after.buckets).toEqual(before.buckets);
    const metrics = await env.DB.prepare("SELECT time FROM resource_metrics").all();
    expect(metrics.results).toEqual([{ time: now - DAY }]);
  });

  it("prunes in slices until nothing old is left", async () => {
    const old = Array.from({ length: 7 }, (_, i) => decision({ time: T0 + i }));
    await consumeMessages(createMessageBatch(QUEUE, messages(old)).messages, deps());
    const pruned = await pruneRawHistory(env.DB, T0 + 5, { slice: 2 });
    expect(pruned).toEqual({ decisions: 5, outcomes: 0, resourceMetrics: 0, novaCalls: 0 });
    expect((await snapshot()).decisions).toEqual(ids(old.slice(5), "decision"));
    const capped = await pruneRawHistory(env.DB, T0 + 10, { slice: 1, maxSlices: 1 });
    expect(capped.decisions).toBe(1);
  });
});

describe("producer", () => {
  function recordingQueue(fail = false) {
    const calls: MessageSendRequest[][] = [];
    const queue: Queue = {
      metrics: async () => ({ backlogCount: 0, backlogBytes: 0 }),
      send: async () => ({ metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } }),
      sendBatch: async (batch) => {
        calls.push([...batch]);
        if (fail) throw new Error("queue unavailable");
        return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } };
      },
    };
    return { queue, calls };
  }

  it("sends events after the response packed into messages of at most 60 KB, as JSON", async () => {
    const events = Array.from({ length: 250 }, (_, i) => decision({ time: T0 + i }));
    const { queue, calls } = recordingQueue();
    const ctx = createExecutionContext();
    sendEvents({ EVENTS: queue }, ctx, events);
    await waitOnExecutionContext(ctx);
    const sent = calls.flat();
    expect(calls).toHaveLength(1);
    // Packed full: no more messages than the events' bytes need, give or take the last one.
    const needed = Math.ceil(JSON.stringify(events).length / MAX_MESSAGE_BYTES);
    expect(sent.length).toBeGreaterThanOrEqual(needed);
    expect(sent.length).toBeLessThanOrEqual(needed + 1);
    expect(sent.every((m) => m.contentType === "json")).toBe(true);
    for (const m of sent)
      expect(JSON.stringify(m.body).length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(sent.flatMap((m) => m.body as MonitorEvent[])).toEqual(events);
  });

  it("gathers the events of requests within a window into one call", async () => {
    const { queue, calls } = recordingQueue();
    const contexts = [0, 1, 2].map(() => createExecutionContext());
    for (const [i, ctx] of contexts.entries()) {
      sendEvents({ EVENTS: queue }, ctx, [decision({ time: T0 + i }), outcome()]);
    }
    // The first request's waitUntil holds the one flush that carries every request's events.
    await Promise.all(contexts.map((ctx) => waitOnExecutionContext(ctx)));
    expect(calls.map((c) => c.length)).toEqual([1]);
    const sent = calls[0]?.[0]?.body as MonitorEvent[];
    expect(sent).toHaveLength(6);
    expect(sent.filter((e) => e.type === "decision").map((e) => e.time)).toEqual([
      T0,
      T0 + 1,
      T0 + 2,
    ]);
  });

  it("keeps each message and each call under its limits, and drops an event too large for any", () => {
    const events = Array.from({ length: 20 }, () => outcome());
    const size = JSON.stringify(events[0]).length + 1;
    // Two events to a message, three messages to a call.
    const calls = planBatches(events, {
      maxMessages: 100,
      maxBytes: 3 * (2 + 2 * size + 100),
      maxMessageBytes: 2 + 2 * size,
    });
    expect(calls.map((c) => c.map((m) => m.length))).toEqual([
      [2, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
      [2],
    ]);
    expect(calls.flat(2)).toEqual(events);
    const byCount = planBatches(events, {
      maxMessages: 4,
      maxBytes: 1e6,
      maxMessageBytes: size + 2,
    });
    expect(byCount.map((c) => c.length)).toEqual([4, 4, 4, 4, 4]);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    onTestFinished(() => errors.mockRestore());
    expect(planBatches(events, { maxMessages: 100, maxBytes: 1e6, maxMessageBytes: 10 })).toEqual(
      [],
    );
    expect(errors).toHaveBeenCalledTimes(20);
  });

  it("never throws into the request when the queue fails", async () => {
    const { queue, calls } = recordingQueue(true);
    const ctx = createExecutionContext();
    expect(() => sendEvents({ EVENTS: queue }, ctx, [decision(), outcome()])).not.toThrow();
    await waitOnExecutionContext(ctx);
    expect(calls).toHaveLength(1);
    const throwing: Queue = {
      ...queue,
      sendBatch: () => {
        throw new Error("sync failure");
      },
    };
    expect(() => sendEvents({ EVENTS: throwing }, ctx, [decision()])).not.toThrow();
    await waitOnExecutionContext(ctx);
  });
});
