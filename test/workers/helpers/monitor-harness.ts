// Shared by the monitor's workerd tests (monitor.test.ts, outbox.test.ts): event builders, a
// reference model of the rollups, and the crash harness.
//
// Crashes are injected from outside the consumer: its D1 binding is wrapped so that one
// `batch()` call fails before running, fails inside (a poisoned statement makes the real D1
// roll the batch back) or fails after it committed; or one `ack()` / `retry()` throws, which
// ends the invocation like a dying isolate. Redelivery then follows the Queues rules: after a
// throw, every message not explicitly acked comes again; after a return, the retried ones.

import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  type MessageBatchMessage,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { expect } from "vitest";
import {
  type DecisionEvent,
  EVENT_VERSION,
  type MonitorEvent,
  type OutcomeEvent,
} from "../../../shared/events.ts";
import { type RollupDelta, rollupDeltaSchema } from "../../../shared/kinesis-outbox.ts";
import { QuantileSketch, ZERO_BUCKET } from "../../../shared/sketch.ts";
import worker from "../../../worker/index.ts";
import { type ConsumerDeps, consumeMessages } from "../../../worker/monitor/consumer.ts";
import { LATENCY_SKETCH_ACCURACY } from "../../../worker/monitor/percentiles.ts";
import type { performanceRollups, rollupLatencyBuckets } from "../../../worker/monitor/schema.ts";

export const QUEUE = "mec-router-events";
export const MINUTE = 60_000;
export const DAY = 86_400_000;
/** Events happen in the few minutes from T0 (on a minute boundary, an hour ago). */
export const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 60 * MINUTE;
export const NOW = T0 + 10 * MINUTE;

export const PLACES = [
  { tier: "mec", target: "site:berlin-1", model: "llama-3.1-8b" },
  { tier: "mec", target: "site:paris-1", model: "llama-3.2-3b" },
  { tier: "cloud", target: "cloud:eu-central-1", model: "nova-lite" },
] as const;

export function decision(o: Partial<DecisionEvent> = {}): DecisionEvent {
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

export function outcome(o: Partial<OutcomeEvent> = {}): OutcomeEvent {
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

export function messages(bodies: readonly unknown[], attempts = 1): MessageBatchMessage[] {
  return bodies.map((body, i) => ({ id: `msg-${i}`, timestamp: T0, attempts, body }));
}

/** Runs the entry module's `queue` handler on a built batch. */
export async function runQueue(bodies: readonly unknown[], attempts = 1) {
  const batch = createMessageBatch(QUEUE, messages(bodies, attempts));
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

export function deps(o: Partial<ConsumerDeps> = {}): ConsumerDeps {
  return {
    db: env.DB,
    now: () => NOW,
    token: () => crypto.randomUUID(),
    retentionMs: 30 * DAY,
    chunkSize: 100,
    ...o,
  };
}

/** The rollup columns the Kinesis deltas carry too (failovers and attempts are D1's only). */
export type RollupRow = Omit<
  typeof performanceRollups.$inferSelect,
  "sketch" | "failovers" | "attempts"
>;

/** The rollups a reference model expects from a set of distinct events. */
export function expectedRollups(events: readonly MonitorEvent[]): RollupRow[] {
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
    if (e.type !== "outcome") continue;
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
  return [...rows.values()].sort(byKey);
}

export type BucketRow = typeof rollupLatencyBuckets.$inferSelect;

/**
 * The latency sketch rows a reference model expects from a set of distinct events: for each
 * minute, series and metric, the buckets of an in-memory `QuantileSketch` of the successful
 * outcomes' values (independent of the consumer's `bucketIndex`), zero bucket as `ZERO_BUCKET`.
 */
export function expectedBuckets(events: readonly MonitorEvent[]): BucketRow[] {
  const sketches = new Map<
    string,
    { key: Omit<BucketRow, "bucket" | "count">; s: QuantileSketch }
  >();
  const add = (e: OutcomeEvent, metric: BucketRow["metric"], value: number) => {
    const minute = e.time - (e.time % MINUTE);
    const key = { minute, tier: e.finalTier, target: e.finalTarget, model: e.finalModel, metric };
    const k = JSON.stringify(key);
    let v = sketches.get(k);
    if (!v) {
      v = { key, s: new QuantileSketch({ relativeAccuracy: LATENCY_SKETCH_ACCURACY }) };
      sketches.set(k, v);
    }
    v.s.add(value);
  };
  for (const e of events) {
    if (e.type !== "outcome" || !e.ok) continue;
    add(e, "latency", e.latencyMs);
    if (e.ttftMs !== undefined) add(e, "ttft", e.ttftMs);
  }
  const rows: BucketRow[] = [];
  for (const { key, s } of sketches.values()) {
    if (s.zeroCount > 0) rows.push({ ...key, bucket: ZERO_BUCKET, count: s.zeroCount });
    for (const b of s.buckets()) rows.push({ ...key, bucket: b.key, count: b.count });
  }
  return rows.sort(byBucketKey);
}

/** The order of `expectedBuckets`: by series, then metric, then bucket. */
export function byBucketKey(a: BucketRow, b: BucketRow): number {
  return (
    byKey(a, b) || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0) || a.bucket - b.bucket
  );
}

type SeriesKey = Pick<RollupRow, "minute" | "tier" | "target" | "model">;

function byKey(a: SeriesKey, b: SeriesKey): number {
  return (
    a.minute - b.minute ||
    a.tier.localeCompare(b.tier) ||
    a.target.localeCompare(b.target) ||
    a.model.localeCompare(b.model)
  );
}

export function distinct(events: readonly MonitorEvent[]): MonitorEvent[] {
  return [...new Map(events.map((e) => [`${e.type}:${e.id}`, e])).values()];
}

export function ids(events: readonly MonitorEvent[], type: MonitorEvent["type"]): string[] {
  return distinct(events)
    .filter((e) => e.type === type)
    .map((e) => e.id)
    .sort();
}

export async function resetDb() {
  await env.DB.batch(
    [
      "decisions",
      "outcomes",
      "performance_rollups",
      "rollup_latency_buckets",
      "resource_metrics",
      "kinesis_outbox",
      "kinesis_outbox_dead",
      "nova_calls",
      "nova_usage_rollups",
    ].map((t) => env.DB.prepare(`DELETE FROM ${t}`)),
  );
}

/**
 * Adds rollup deltas up per (minute, tier, target, model), as a reader of the stream would (after
 * dropping duplicate ids): the rollups they stand for, in `expectedRollups`' order.
 */
export function sumDeltas(deltas: Iterable<RollupDelta>): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const d of deltas) {
    const k = JSON.stringify([d.minute, d.tier, d.target, d.model]);
    const v = rows.get(k);
    if (!v) {
      const { v: _v, kind: _kind, periodMs: _p, ...row } = d;
      rows.set(k, row);
      continue;
    }
    v.decisions += d.decisions;
    v.outcomes += d.outcomes;
    v.errors += d.errors;
    v.slaMet += d.slaMet;
    v.slaKnown += d.slaKnown;
    v.costUsd += d.costUsd;
    v.latencySumMs += d.latencySumMs;
    v.latencyMaxMs = Math.max(v.latencyMaxMs, d.latencyMaxMs);
    v.ttftSumMs += d.ttftSumMs;
    v.ttftCount += d.ttftCount;
  }
  return [...rows.values()].sort(byKey);
}

/** What the rows waiting in the Kinesis outbox add up to. */
export async function outboxRollups(): Promise<RollupRow[]> {
  const { results } = await env.DB.prepare("SELECT data FROM kinesis_outbox").all<{
    data: string;
  }>();
  return sumDeltas(results.map((r) => rollupDeltaSchema.parse(JSON.parse(r.data))));
}

export class Crash extends Error {}

export interface CrashPlan {
  /** Which step (D1 batch, ack or retry, counted from 0) fails. */
  at: number;
  /** How a D1 batch fails at that step. */
  mode: "before" | "inside" | "after";
  /** Where the poisoned statement goes in an "inside" failure, 0–1 of the batch. */
  poison: number;
}

/** D1 whose `batch()` at step `plan.at` fails; every other call goes through. */
export function wrapDb(plan: CrashPlan | undefined, counter: { step: number }): D1Database {
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
export function wrapMessage(
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
export async function deliverUntilSettled(
  bodies: readonly unknown[],
  chunkSize: number,
  plan: CrashPlan,
  extra: Partial<ConsumerDeps> = {},
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
        deps({ ...extra, db: wrapDb(active, counter), chunkSize }),
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

export const arbDyadic = fc.integer({ min: 0, max: 4_096 }).map((n) => n / 1_024);
export const arbPlace = fc.constantFrom(...PLACES);
export const arbTime = fc.integer({ min: 0, max: 3 * MINUTE - 1 }).map((t) => T0 + t);

export const arbDecision: fc.Arbitrary<MonitorEvent> = fc
  .record({ id: fc.uuid({ version: 4 }), time: arbTime, place: arbPlace })
  .map(({ id, time, place }) => decision({ id, time, ...place }));

export const arbOutcome: fc.Arbitrary<MonitorEvent> = fc
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

export const INVALID = ["garbage", { type: "outcome" }, { ...decision(), v: 99 }];

/**
 * Up to 12 bodies picked from a small pool of events (duplicates included), some invalid, sent
 * one per message or packed a few to a message as the producer packs them, and a crash plan over
 * the steps of a clean first delivery plus `extraSteps` (1 when the consumer drains the outbox:
 * its settling D1 batch).
 */
export function arbCaseWith(extraSteps: number) {
  return fc
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
      // How many bodies each message carries: 1 is a bare event, more an array of events.
      packs: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 12, maxLength: 12 }),
      chunkSize: fc.integer({ min: 1, max: 4 }),
      where: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      mode: fc.constantFrom("before" as const, "inside" as const, "after" as const),
      poison: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    })
    .map(({ pool, picks, packs, chunkSize, where, mode, poison }) => {
      const picked: unknown[] = picks.map((p, i) =>
        p < 0 ? INVALID[i % INVALID.length] : pool[p % pool.length],
      );
      const bodies: unknown[] = [];
      const valid: number[] = [];
      for (let i = 0, m = 0; i < picked.length; m++) {
        const n = packs[m] ?? 1;
        const group = picked.slice(i, i + n);
        bodies.push(n === 1 ? group[0] : group);
        valid.push(picks.slice(i, i + n).filter((p) => p >= 0).length);
        i += n;
      }
      const events = picks.flatMap((p) => (p < 0 ? [] : [pool[p % pool.length] as MonitorEvent]));
      // Steps of a clean first delivery: one D1 batch per chunk (whole messages, up to
      // `chunkSize` events unless one message has more), one ack per message.
      let chunks = 0;
      let open = 0;
      for (const n of valid.filter((v) => v > 0)) {
        if (open === 0 || open + n > chunkSize) {
          chunks++;
          open = 0;
        }
        open += n;
      }
      const steps = bodies.length + chunks + extraSteps;
      const plan = { at: Math.floor(where * steps), mode, poison };
      return { bodies, events, chunkSize, plan, steps };
    });
}

export const arbCase = arbCaseWith(0);
