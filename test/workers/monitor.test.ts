// The monitor (worker/monitor/) inside workerd, on D1 with the real migrations: the queue
// consumer on built batches (acks, retries, rows, rollups), replays, crashes at random points
// followed by redelivery (nothing lost, nothing counted twice), retention, and the producer.
//
// Crashes are injected from outside the consumer: its D1 binding is wrapped so that one
// `batch()` call fails before running, fails inside (a poisoned statement makes the real D1
// roll the batch back) or fails after it committed; or one `ack()` / `retry()` throws, which
// ends the invocation like a dying isolate. Redelivery then follows the Queues rules: after a
// throw, every message not explicitly acked comes again; after a return, the retried ones.

import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  type MessageBatchMessage,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { asc, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import fc from "fast-check";
import { beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import {
  type DecisionEvent,
  EVENT_VERSION,
  type MonitorEvent,
  type OutcomeEvent,
} from "../../shared/events.ts";
import worker from "../../worker/index.ts";
import {
  type ConsumerDeps,
  consumeMessages,
  retryDelaySeconds,
} from "../../worker/monitor/consumer.ts";
import { planBatches, sendEvents } from "../../worker/monitor/producer.ts";
import { pruneRawHistory } from "../../worker/monitor/retention.ts";
import { decisions, outcomes, performanceRollups } from "../../worker/monitor/schema.ts";

const QUEUE = "mec-router-events";
const MINUTE = 60_000;
const DAY = 86_400_000;
/** Events happen in the few minutes from T0 (on a minute boundary, an hour ago). */
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 60 * MINUTE;
const NOW = T0 + 10 * MINUTE;
const db = drizzle(env.DB);

const PLACES = [
  { tier: "mec", target: "site:berlin-1", model: "llama-3.1-8b" },
  { tier: "mec", target: "site:paris-1", model: "llama-3.2-3b" },
  { tier: "cloud", target: "cloud:eu-central-1", model: "nova-lite" },
] as const;

function decision(o: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    type: "decision",
    v: EVENT_VERSION,
    id: crypto.randomUUID(),
    time: T0,
    request: {
      modality: "text",
      modelAsked: "auto",
      inputTokens: 500,
      maxOutputTokens: 256,
      payloadBytes: 0,
      criticality: "standard",
      privacy: "public",
      residencyCount: 0,
      complianceCount: 0,
      latencySlaMs: 2_000,
      latencyTarget: "complete",
      networkType: "5g",
      deviceClass: "mid",
      hasLocation: true,
    },
    ...PLACES[0],
    classification: "simple",
    complexity: 0.2,
    confidence: 0.9,
    reasoner: "rules",
    rationale: ["classification", "latency", "cost"],
    predicted: { latencyMs: 300, firstTokenMs: 60, costUsd: 0.0001 },
    backups: 1,
    ...o,
  };
}

function outcome(o: Partial<OutcomeEvent> = {}): OutcomeEvent {
  return {
    type: "outcome",
    v: EVENT_VERSION,
    id: crypto.randomUUID(),
    decisionId: crypto.randomUUID(),
    time: T0,
    ...PLACES[0],
    finalTier: PLACES[0].tier,
    finalTarget: PLACES[0].target,
    finalModel: PLACES[0].model,
    ok: true,
    latencyMs: 250,
    attempts: 1,
    slaMet: true,
    costUsd: 0.25,
    ...o,
  };
}

function messages(bodies: readonly unknown[], attempts = 1): MessageBatchMessage[] {
  return bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: T0, attempts, body }));
}

/** Runs the entry module's `queue` handler on a built batch. */
async function runQueue(bodies: readonly unknown[], attempts = 1) {
  const batch = createMessageBatch(QUEUE, messages(bodies, attempts));
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

function deps(o: Partial<ConsumerDeps> = {}): ConsumerDeps {
  return {
    db: env.DB,
    now: () => NOW,
    token: () => crypto.randomUUID(),
    retentionMs: 30 * DAY,
    chunkSize: 100,
    ...o,
  };
}

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
type RollupRow = Omit<typeof performanceRollups.$inferSelect, "sketch">;
const r = performanceRollups;

/** Everything the consumer writes, read in one D1 batch. */
async function snapshot() {
  const [ds, os, rollups, tagged] = await db.batch([
    db.select({ id: decisions.eventId }).from(decisions).orderBy(asc(decisions.eventId)),
    db.select({ id: outcomes.eventId }).from(outcomes).orderBy(asc(outcomes.eventId)),
    db
      .select(rollupColumns)
      .from(r)
      .orderBy(asc(r.minute), asc(r.tier), asc(r.target), asc(r.model)),
    db.get<{ n: number }>(
      sql`SELECT (SELECT count(*) FROM decisions WHERE delivery IS NOT NULL)
        + (SELECT count(*) FROM outcomes WHERE delivery IS NOT NULL) AS n`,
    ),
  ]);
  return {
    decisions: ds.map((d) => d.id),
    outcomes: os.map((o) => o.id),
    rollups: rollups as RollupRow[],
    tagged: tagged.n,
  };
}

/** The rollups a reference model expects from a set of distinct events. */
function expectedRollups(events: readonly MonitorEvent[]): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  const row = (time: number, tier: string, target: string, model: string) => {
    const minute = time - (time % MINUTE);
    const k = JSON.stringify([minute, tier, target, model]);
    let v = rows.get(k);
    if (!v) {
      v = {
        minute,
        tier,
        target,
        model,
        decisions: 0,
        outcomes: 0,
        errors: 0,
        slaMet: 0,
        slaKnown: 0,
        costUsd: 0,
        latencySumMs: 0,
        latencyMaxMs: 0,
        ttftSumMs: 0,
        ttftCount: 0,
      };
      rows.set(k, v);
    }
    return v;
  };
  for (const e of events) {
    if (e.type === "decision") {
      row(e.time, e.tier, e.target, e.model).decisions++;
      continue;
    }
    const v = row(e.time, e.finalTier, e.finalTarget, e.finalModel);
    v.outcomes++;
    if (!e.ok) v.errors++;
    if (e.slaMet !== undefined) v.slaKnown++;
    if (e.slaMet) v.slaMet++;
    v.costUsd += e.costUsd;
    v.latencySumMs += e.latencyMs;
    v.latencyMaxMs = Math.max(v.latencyMaxMs, e.latencyMs);
    if (e.ttftMs !== undefined) {
      v.ttftSumMs += e.ttftMs;
      v.ttftCount++;
    }
  }
  const cmp = (a: RollupRow, b: RollupRow) =>
    a.minute - b.minute ||
    a.tier.localeCompare(b.tier) ||
    a.target.localeCompare(b.target) ||
    a.model.localeCompare(b.model);
  return [...rows.values()].sort(cmp);
}

function distinct(events: readonly MonitorEvent[]): MonitorEvent[] {
  return [...new Map(events.map((e) => [`${e.type}:${e.id}`, e])).values()];
}

function ids(events: readonly MonitorEvent[], type: MonitorEvent["type"]): string[] {
  return distinct(events)
    .filter((e) => e.type === type)
    .map((e) => e.id)
    .sort();
}

async function resetDb() {
  await env.DB.batch(
    ["decisions", "outcomes", "performance_rollups", "resource_metrics"].map((t) =>
      env.DB.prepare(`DELETE FROM ${t}`),
    ),
  );
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
    expect(await snapshot()).toEqual({ decisions: [], outcomes: [], rollups: [], tagged: 0 });
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
      expect(await snapshot()).toEqual({ decisions: [], outcomes: [], rollups: [], tagged: 0 });
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
// Crash injection

class Crash extends Error {}

interface CrashPlan {
  /** Which step (D1 batch, ack or retry, counted from 0) fails. */
  at: number;
  /** How a D1 batch fails at that step. */
  mode: "before" | "inside" | "after";
  /** Where the poisoned statement goes in an "inside" failure, 0–1 of the batch. */
  poison: number;
}

/** D1 whose `batch()` at step `plan.at` fails; every other call goes through. */
function wrapDb(plan: CrashPlan | undefined, counter: { step: number }): D1Database {
  return new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          if (counter.step++ !== plan?.at) return target.batch(statements);
          if (plan.mode === "before") throw new Crash("D1 unreachable");
          if (plan.mode === "after") {
            await target.batch(statements);
            throw new Crash("connection lost after the commit");
          }
          const p = Math.floor(plan.poison * (statements.length + 1));
          const poisoned = target.prepare("INSERT INTO no_such_table VALUES (1)");
          return target.batch([...statements.slice(0, p), poisoned, ...statements.slice(p)]);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The message as the consumer sees it; its `ack()` / `retry()` at step `plan.at` throws. */
function wrapMessage(
  m: Message<unknown>,
  plan: CrashPlan | undefined,
  counter: { step: number },
): Message<unknown> {
  return {
    id: m.id,
    timestamp: m.timestamp,
    body: m.body,
    attempts: m.attempts,
    ack() {
      if (counter.step++ === plan?.at) throw new Crash("isolate died while acking");
      m.ack();
    },
    retry(options) {
      if (counter.step++ === plan?.at) throw new Crash("isolate died while retrying");
      m.retry(options);
    },
  };
}

/**
 * Delivers until every message is settled: the first delivery crashes as planned, later ones
 * run clean. Returns the number of deliveries.
 */
async function deliverUntilSettled(
  bodies: readonly unknown[],
  chunkSize: number,
  plan: CrashPlan,
): Promise<number> {
  let pending = bodies.map((body, i) => ({ id: `msg-${i}`, body, attempts: 1 }));
  let deliveries = 0;
  while (pending.length > 0) {
    if (deliveries >= 6) throw new Error("messages never settled");
    const batch = createMessageBatch(
      QUEUE,
      pending.map((p) => ({ id: p.id, timestamp: T0, attempts: p.attempts, body: p.body })),
    );
    const ctx = createExecutionContext();
    const active = deliveries === 0 ? plan : undefined;
    const counter = { step: 0 };
    let threw = false;
    try {
      await consumeMessages(
        batch.messages.map((m) => wrapMessage(m, active, counter)),
        deps({ db: wrapDb(active, counter), chunkSize }),
      );
    } catch (err) {
      if (!(err instanceof Crash)) throw err;
      threw = true;
    }
    deliveries++;
    const result = await getQueueResult(batch, ctx);
    const acked = new Set(result.explicitAcks);
    const retried = new Set(result.retryMessages.map((m) => m.msgId));
    if (!threw) {
      // Every message was settled explicitly, one way or the other.
      for (const p of pending) expect(acked.has(p.id) !== retried.has(p.id)).toBe(true);
    }
    pending = pending
      .filter((p) => !acked.has(p.id) && (threw || retried.has(p.id)))
      .map((p) => ({ ...p, attempts: p.attempts + 1 }));
  }
  return deliveries;
}

const arbDyadic = fc.integer({ min: 0, max: 4_096 }).map((n) => n / 1_024);
const arbPlace = fc.constantFrom(...PLACES);
const arbTime = fc.integer({ min: 0, max: 3 * MINUTE - 1 }).map((t) => T0 + t);

const arbDecision: fc.Arbitrary<MonitorEvent> = fc
  .record({ id: fc.uuid({ version: 4 }), time: arbTime, place: arbPlace })
  .map(({ id, time, place }) => decision({ id, time, ...place }));

const arbOutcome: fc.Arbitrary<MonitorEvent> = fc
  .record({
    id: fc.uuid({ version: 4 }),
    time: arbTime,
    place: arbPlace,
    ok: fc.boolean(),
    latencyMs: fc.integer({ min: 0, max: 10_000 }),
    ttftMs: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined }),
    slaMet: fc.option(fc.boolean(), { nil: undefined }),
    costUsd: arbDyadic,
  })
  .map(({ place, ...o }) =>
    outcome({
      ...o,
      finalTier: place.tier,
      finalTarget: place.target,
      finalModel: place.model,
      ...(o.ok ? {} : { errorClass: "http_5xx" as const }),
    }),
  );

const INVALID = ["garbage", { type: "outcome" }, { ...decision(), v: 99 }];

/** Up to 12 messages picked from a small pool of events (duplicates included), some invalid. */
const arbCase = fc
  .record({
    // Distinct ids: the same id always means the same event, as it does for a producer.
    pool: fc.uniqueArray(fc.oneof(arbDecision, arbOutcome), {
      minLength: 1,
      maxLength: 6,
      selector: (e) => e.id,
    }),
    picks: fc.array(
      fc.oneof(
        { arbitrary: fc.nat({ max: 5 }), weight: 9 },
        { arbitrary: fc.constant(-1), weight: 1 },
      ),
      { minLength: 1, maxLength: 12 },
    ),
    chunkSize: fc.integer({ min: 1, max: 4 }),
    where: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    mode: fc.constantFrom("before" as const, "inside" as const, "after" as const),
    poison: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  })
  .map(({ pool, picks, chunkSize, where, mode, poison }) => {
    const bodies: unknown[] = picks.map((p, i) =>
      p < 0 ? INVALID[i % INVALID.length] : pool[p % pool.length],
    );
    const events = picks.flatMap((p) => (p < 0 ? [] : [pool[p % pool.length] as MonitorEvent]));
    // Steps of a clean first delivery: one D1 batch per chunk, one ack per message.
    const steps = bodies.length + Math.ceil(events.length / chunkSize);
    return { bodies, events, chunkSize, plan: { at: Math.floor(where * steps), mode, poison } };
  });

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
        expect(s.tagged).toBe(0);
      }),
      { numRuns: 1_000 },
    );
    // Most crash points leave work for a redelivery (the rest crash on an already-final ack).
    expect(redelivered).toBeGreaterThan(700);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------

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

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now }), env, ctx);
    await waitOnExecutionContext(ctx);

    const after = await snapshot();
    expect(after.decisions).toEqual(ids(recent, "decision"));
    expect(after.outcomes).toEqual(ids(recent, "outcome"));
    expect(after.rollups).toEqual(before.rollups);
    const metrics = await env.DB.prepare("SELECT time FROM resource_metrics").all();
    expect(metrics.results).toEqual([{ time: now - DAY }]);
  });

  it("prunes in slices until nothing old is left", async () => {
    const old = Array.from({ length: 7 }, (_, i) => decision({ time: T0 + i }));
    await consumeMessages(createMessageBatch(QUEUE, messages(old)).messages, deps());
    const pruned = await pruneRawHistory(env.DB, T0 + 5, { slice: 2 });
    expect(pruned).toEqual({ decisions: 5, outcomes: 0, resourceMetrics: 0 });
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

  it("sends events after the response in batches of at most 100, as JSON", async () => {
    const events = Array.from({ length: 250 }, (_, i) => decision({ time: T0 + i }));
    const { queue, calls } = recordingQueue();
    const ctx = createExecutionContext();
    sendEvents({ EVENTS: queue }, ctx, events);
    await waitOnExecutionContext(ctx);
    expect(calls.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(calls.flat().map((m) => m.body)).toEqual(events);
    expect(calls.flat().every((m) => m.contentType === "json")).toBe(true);
  });

  it("keeps each call under the byte limit", () => {
    const events = Array.from({ length: 20 }, () => outcome());
    const size = JSON.stringify(events[0]).length + 100;
    const batches = planBatches(events, {
      maxMessages: 100,
      maxBytes: size * 3,
      maxMessageBytes: size * 2,
    });
    expect(batches.map((b) => b.length)).toEqual([3, 3, 3, 3, 3, 3, 2]);
    expect(planBatches(events, { maxMessages: 100, maxBytes: 1e6, maxMessageBytes: 10 })).toEqual(
      [],
    );
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
