// The monitor worker: the queue consumer that stores decision and outcome events in D1 and
// merges them into per-minute rollups, exactly once per event however often a message comes.
//
// Idempotency, in one D1 batch (one transaction) per chunk of messages:
// 1. every event is inserted with `ON CONFLICT (event_id) DO NOTHING`, its `delivery` column set
//    to a token drawn for this batch; a redelivered event finds its row and inserts nothing;
// 2. each rollup statement is `INSERT … SELECT … FROM <events> WHERE delivery = <token> GROUP BY
//    … ON CONFLICT DO UPDATE SET n = n + excluded.n`: it sees only the rows this very batch
//    inserted, so an event adds to the rollups when it is first stored and never again. The
//    latency sketches are rows too (`rollup_latency_buckets`, one per bucket): each outcome's
//    bucket is computed in JS when it is stored and the batch adds the new rows' counts the same
//    way, so percentiles (percentiles.ts) are exactly-once like the sums;
// 3. the token is cleared (`SET delivery = NULL`) before the batch ends, so every committed row
//    has none and the partial index on it stays empty. (That alone keeps batches apart, since
//    D1 runs them one at a time; a random token per batch is a second fence.)
// The batch commits or rolls back as a whole, so a crash leaves either nothing, or rows together
// with their rollups. Messages are acked only after their chunk committed; a redelivery of a
// committed chunk inserts nothing and adds nothing.
//
// Kinesis: the same batch writes the delivery's rollup deltas into the outbox (outbox.ts), from
// the same token-tagged rows, so they exist exactly for newly stored events. Once the chunks are
// settled the consumer drains the outbox; what Kinesis does not take waits there for the next
// drain. The messages need not wait for Kinesis: once D1 committed, nothing can be lost. After a
// drain that Kinesis took nothing from (an outage, or its breaker open), the queue handler skips
// its drains for `DRAIN_PAUSE_MS`: each one would claim and release a whole page of waiting rows
// for nothing. The rows wait in the outbox as before, for the next drain or the cron's.

import { eq, getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import {
  type DecisionEvent,
  type MonitorEvent,
  monitorEventSchema,
  type NovaUsageEvent,
  type OutcomeEvent,
} from "../../shared/events.ts";
import type { MetricRecord, PublishResult } from "../../shared/kinesis-batch.ts";
import { bucketIndex } from "../../shared/sketch.ts";
import { settleCharges } from "../tenancy/settle.ts";
import { afterCommit } from "./insights.ts";
import { publishMetrics } from "./kinesis.ts";
import { drainOutbox, outboxInsert } from "./outbox.ts";
import { LATENCY_SKETCH_ACCURACY } from "./percentiles.ts";
import { retentionMs } from "./retention.ts";
import {
  decisions,
  novaCalls,
  novaUsageRollups,
  outcomes,
  performanceRollups,
  rollupLatencyBuckets,
} from "./schema.ts";

/**
 * Events per transaction, as when every message held one event: a chunk holds whole messages
 * (each a producer's window of events, or one event), added while it stays within this many
 * events; a message with more goes alone.
 */
export const DEFAULT_CHUNK_SIZE = 100;
/** Acked events whose insights (insights.ts) run together. */
export const INSIGHTS_GROUP = 1_000;
const MINUTE_MS = 60_000;
/** How long the queue handler skips its drains after one that Kinesis took nothing from. */
export const DRAIN_PAUSE_MS = 10_000;

/** When drains may run again (epoch ms); shared by the invocations of one isolate. */
export interface DrainPause {
  until: number;
}
const drainPause: DrainPause = { until: 0 };

export interface ConsumerDeps {
  db: D1Database;
  now(): number;
  /** The `delivery` token of one D1 batch (random). */
  token(): string;
  /** Events older than this are dropped: their raw rows would already have been pruned. */
  retentionMs: number;
  chunkSize: number;
  /** Acked events gathered before their insights run; `INSIGHTS_GROUP` by default. */
  insightsGroup?: number;
  /**
   * Publishes the outbox after the chunks are settled (`publishMetrics`). Without it the outbox
   * is left to the next drain.
   */
  publish?: (records: readonly MetricRecord[]) => Promise<PublishResult>;
  /** Skips the drain until `until`; set by a drain that Kinesis took nothing from. */
  drainPause?: DrainPause;
  /**
   * Learning and anomalies (insights.ts), run on acked events, in groups (`insightsGroup`);
   * failures only log.
   */
  insights?: (events: readonly MonitorEvent[]) => Promise<unknown>;
  /**
   * Settles the budget reservations of charged runs (tenancy/settle.ts), after each commit and
   * before the acks: when it fails the chunk is retried (storing and settling are idempotent).
   */
  settle?: (events: readonly MonitorEvent[]) => Promise<unknown>;
}

/** The `queue` handler. */
export async function handleEvents(
  batch: MessageBatch<unknown>,
  env: Env,
  _ctx: ExecutionContext,
): Promise<void> {
  await consumeMessages(batch.messages, {
    db: env.DB,
    now: Date.now,
    token: () => crypto.randomUUID(),
    retentionMs: retentionMs(env),
    chunkSize: DEFAULT_CHUNK_SIZE,
    publish: (records) => publishMetrics(env, records),
    drainPause,
    insights: (events) => afterCommit(env, events),
    settle: (events) => settleCharges(env, events),
  });
}

interface Accepted {
  msg: Message<unknown>;
  events: MonitorEvent[];
}

/**
 * Validates, stores and acks each message: one event, or an array of them (producer.ts). Invalid
 * or expired events are logged and left out (never retried: they would only reach the
 * dead-letter queue), the message's other events stored; a chunk whose D1 batch fails is retried
 * with backoff, and the queue's `max_retries` sends it to the dead-letter queue.
 * The insights run on the acked events, once `INSIGHTS_GROUP` have gathered and at the end (their
 * reads and writes cost about the same for 50 events as for 1,000: measured in Miniflare, 11 ms
 * for a chunk of 90, 15–34 ms for 1,000); between chunks and groups the handler yields to the
 * isolate's other work (see `yieldToRequests`).
 * When a chunk committed, one page of the Kinesis outbox is drained at the end (`deps.publish`);
 * a failed drain is logged and never touches the messages.
 */
export async function consumeMessages(
  messages: readonly Message<unknown>[],
  deps: ConsumerDeps,
): Promise<void> {
  const horizon = deps.now() - deps.retentionMs;
  let committed = false;
  let learnable: MonitorEvent[] = [];
  const consume = async (chunk: readonly Accepted[]) => {
    const { stored, acked } = await consumeChunk(chunk, deps);
    committed ||= stored;
    if (acked) learnable.push(...acked);
    if (learnable.length >= (deps.insightsGroup ?? INSIGHTS_GROUP)) {
      await runInsights(learnable, deps);
      learnable = [];
    }
    await yieldToRequests();
  };
  // First deliveries go in chunks of whole messages, up to `chunkSize` events each (a larger
  // message alone), each message read only when its chunk is being filled: a batch of packed
  // messages holds thousands of events, and reading them all first would hold the isolate for
  // that long. Messages on a retry go one per D1 batch, last, so that an event D1 keeps refusing
  // goes to the dead-letter queue with its own message only, not with its whole chunk.
  const retried: Accepted[] = [];
  let chunk: Accepted[] = [];
  let size = 0;
  for (const msg of messages) {
    const events = acceptedEvents(msg, horizon);
    if (events.length === 0) {
      msg.ack();
    } else if (msg.attempts > 1) {
      retried.push({ msg, events });
    } else {
      if (chunk.length > 0 && size + events.length > deps.chunkSize) {
        await consume(chunk);
        chunk = [];
        size = 0;
      }
      chunk.push({ msg, events });
      size += events.length;
    }
  }
  if (chunk.length > 0) await consume(chunk);
  for (const a of retried) await consume([a]);
  if (learnable.length > 0) {
    await runInsights(learnable, deps);
    await yieldToRequests();
  }
  const pause = deps.drainPause;
  if (committed && deps.publish && !(pause && deps.now() < pause.until)) {
    // After the acks: the rows are safe in the outbox whatever happens to this drain.
    try {
      const drained = await drainOutbox({ db: deps.db, publish: deps.publish, now: deps.now });
      if (pause) {
        const refused = drained.stored === 0 && drained.pending > 0;
        pause.until = refused ? deps.now() + DRAIN_PAUSE_MS : 0;
      }
    } catch (err) {
      log("error", {
        event: "kinesis_outbox_drain_failed",
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }
}

/**
 * Lets the isolate's other work run before the handler goes on. The runtime runs a promise's
 * continuation before the events already waiting, so a handler whose every await is a local D1
 * call (Miniflare, `npm start`: D1 answers at once, on the same thread) would otherwise hold the
 * isolate through its whole batch, and each request in the isolate would advance one step per
 * chunk: measured, a batch of 2,000 events held every request ~0.6 s, long enough for attempts
 * to time out and a healthy site's breaker to open. A timer goes behind the waiting events.
 * Deployed, D1 is a network call away and this costs one turn of the event loop.
 */
export function yieldToRequests(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The insights of committed events; their failure is logged, never a reason to retry. */
async function runInsights(events: readonly MonitorEvent[], deps: ConsumerDeps): Promise<void> {
  if (!deps.insights) return;
  try {
    await deps.insights(events);
  } catch (err) {
    log("error", {
      event: "monitor_insights_failed",
      message: err instanceof Error ? err.message : String(err),
    });
  }
}

/** A message's valid events within retention (one event, or an array of them); logs the rest. */
function acceptedEvents(msg: Message<unknown>, horizon: number): MonitorEvent[] {
  const events: MonitorEvent[] = [];
  const bodies: unknown[] = Array.isArray(msg.body) ? msg.body : [msg.body];
  for (const [index, body] of bodies.entries()) {
    const parsed = monitorEventSchema.safeParse(body);
    if (!parsed.success) {
      // Paths and codes only: a bad body is not logged, it may hold anything.
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((i) => ({ path: i.path.map(String).join("."), code: i.code }));
      log("warn", { event: "monitor_invalid_event", messageId: msg.id, index, issues });
    } else if (parsed.data.time < horizon) {
      log("warn", { event: "monitor_expired_event", messageId: msg.id, id: parsed.data.id });
    } else {
      events.push(parsed.data);
    }
  }
  return events;
}

/**
 * Stores a chunk in one D1 batch, settles its charges and acks its messages; a failed store or
 * settle retries the chunk's messages. `stored`: it committed; `acked`: its events, once acked
 * (for the insights, which run after the acks: off the hot path, never a reason to retry).
 */
async function consumeChunk(
  chunk: readonly Accepted[],
  deps: ConsumerDeps,
): Promise<{ stored: boolean; acked?: MonitorEvent[] }> {
  const events = chunk.flatMap((a) => a.events);
  /** Logs why the chunk failed and hands its messages back for a retry with backoff. */
  const retry = (event: string, err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    log("error", { event, messages: chunk.length, message });
    for (const { msg } of chunk) msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
  };
  try {
    await storeEvents(deps.db, events, deps.token(), deps.now());
  } catch (err) {
    retry("monitor_store_failed", err);
    return { stored: false };
  }
  try {
    await deps.settle?.(events);
  } catch (err) {
    retry("budget_settle_failed", err);
    return { stored: true };
  }
  for (const { msg } of chunk) msg.ack();
  return { stored: true, acked: events };
}

/** 5 s, 10 s, 20 s, … up to 5 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Stores events, merges the new ones into the rollups and writes their Kinesis records into the
 * outbox, in one D1 batch. `delivery` must be unique to this call; calling it again with the same
 * events (and any token) changes nothing. `now` stamps the outbox rows.
 */
export async function storeEvents(
  d1: D1Database,
  events: readonly MonitorEvent[],
  delivery: string,
  now: number,
): Promise<void> {
  // drizzle builds the SQL; the statements go to D1 as one `batch()` (drizzle's own batch
  // cannot take raw SQL with parameters).
  const db = drizzle(d1);
  const statement = (q: { sql: string; params: unknown[] }) => d1.prepare(q.sql).bind(...q.params);
  const raw = (q: SQL) => statement(dialect.sqlToQuery(q));
  const decisionRows = [];
  const outcomeRows = [];
  const novaRows = [];
  for (const e of events) {
    if (e.type === "decision") decisionRows.push(decisionRow(e, delivery));
    else if (e.type === "outcome") outcomeRows.push(outcomeRow(e, delivery));
    else novaRows.push(novaRow(e, delivery));
  }
  const statements: D1PreparedStatement[] = [
    ...insertRows(d1, decisions, decisionRows),
    ...insertRows(d1, outcomes, outcomeRows),
    ...insertRows(d1, novaCalls, novaRows),
  ];
  if (statements.length === 0) return;
  const anyDecision = decisionRows.length > 0;
  const anyOutcome = outcomeRows.length > 0;
  const anyNova = novaRows.length > 0;
  if (anyDecision) statements.push(raw(decisionRollup(delivery)));
  if (anyOutcome) {
    statements.push(raw(outcomeRollup(delivery)));
    statements.push(raw(latencyBucketRollup(delivery)));
  }
  if (anyNova) statements.push(raw(novaRollup(delivery)));
  // Reads the same tagged rows as the rollups, so it must come before the tags are cleared.
  statements.push(raw(outboxInsert(delivery, now)));
  if (anyDecision) {
    const clear = db.update(decisions).set({ delivery: null });
    statements.push(statement(clear.where(eq(decisions.delivery, delivery)).toSQL()));
  }
  if (anyOutcome) {
    const clear = db.update(outcomes).set({ delivery: null });
    statements.push(statement(clear.where(eq(outcomes.delivery, delivery)).toSQL()));
  }
  if (anyNova) {
    const clear = db.update(novaCalls).set({ delivery: null });
    statements.push(statement(clear.where(eq(novaCalls.delivery, delivery)).toSQL()));
  }
  await d1.batch(statements);
}

/** Below D1's 2 MB limit on a bound value, counting 3 bytes per UTF-16 unit at most. */
const MAX_ROWS_JSON_CHARS = 600_000;

/**
 * Inserts rows with `ON CONFLICT (event_id) DO NOTHING`, many rows per statement: they travel as
 * one JSON array bound to `json_each`, since D1 binds at most 100 values per statement and a
 * statement per row costs D1 a round of its own. Values are mapped as drizzle maps them
 * (booleans to 0/1, JSON columns to text).
 */
function insertRows<T extends typeof decisions | typeof outcomes | typeof novaCalls>(
  d1: D1Database,
  table: T,
  rows: readonly T["$inferInsert"][],
): D1PreparedStatement[] {
  const first = rows[0];
  if (!first) return [];
  const columns = Object.entries(getTableColumns(table)).filter(([key]) => key in first);
  const names = columns.map(([, c]) => `"${c.name}"`).join(", ");
  const values = columns.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
  const text =
    `INSERT INTO "${getTableName(table)}" (${names}) SELECT ${values} FROM json_each(?) ` +
    `WHERE true ON CONFLICT ("event_id") DO NOTHING`;
  const out: D1PreparedStatement[] = [];
  let batch: string[] = [];
  let chars = 0;
  const flush = () => {
    if (batch.length > 0) out.push(d1.prepare(text).bind(`[${batch.join(",")}]`));
    batch = [];
    chars = 0;
  };
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    const json = JSON.stringify(
      columns.map(([key, c]) => {
        const v = record[key];
        return v === null || v === undefined ? null : c.mapToDriverValue(v);
      }),
    );
    if (chars + json.length > MAX_ROWS_JSON_CHARS) flush();
    batch.push(json);
    chars += json.length + 1;
  }
  flush();
  return out;
}

function decisionRow(e: DecisionEvent, delivery: string): typeof decisions.$inferInsert {
  const r = e.request;
  return {
    eventId: e.id,
    v: e.v,
    time: e.time,
    modality: r.modality,
    modelAsked: r.modelAsked,
    inputTokens: r.inputTokens,
    maxOutputTokens: r.maxOutputTokens,
    payloadBytes: r.payloadBytes,
    criticality: r.criticality,
    privacy: r.privacy,
    residencyCount: r.residencyCount,
    complianceCount: r.complianceCount,
    latencySlaMs: r.latencySlaMs,
    latencyTarget: r.latencyTarget,
    networkType: r.networkType,
    deviceClass: r.deviceClass,
    hasLocation: r.hasLocation,
    tier: e.tier,
    target: e.target,
    model: e.model,
    classification: e.classification,
    complexity: e.complexity,
    confidence: e.confidence,
    reasoner: e.reasoner,
    rationale: e.rationale,
    predictedLatencyMs: e.predicted.latencyMs,
    predictedTtftMs: e.predicted.firstTokenMs,
    predictedCostUsd: e.predicted.costUsd,
    backups: e.backups,
    policyVariant: e.policyVariant ?? null,
    tenantId: e.tenant ?? null,
    explain: e.explain ?? null,
    delivery,
  };
}

function outcomeRow(e: OutcomeEvent, delivery: string): typeof outcomes.$inferInsert {
  return {
    eventId: e.id,
    v: e.v,
    decisionId: e.decisionId,
    time: e.time,
    tier: e.tier,
    target: e.target,
    model: e.model,
    finalTier: e.finalTier,
    finalTarget: e.finalTarget,
    finalModel: e.finalModel,
    ok: e.ok,
    errorClass: e.errorClass ?? null,
    latencyMs: e.latencyMs,
    ttftMs: e.ttftMs ?? null,
    inputTokens: e.tokens?.input ?? null,
    outputTokens: e.tokens?.output ?? null,
    attempts: e.attempts,
    slaMet: e.slaMet ?? null,
    costUsd: e.costUsd,
    latencyBucket: bucketIndex(e.latencyMs, LATENCY_SKETCH_ACCURACY),
    ttftBucket: e.ttftMs === undefined ? null : bucketIndex(e.ttftMs, LATENCY_SKETCH_ACCURACY),
    tenantId: e.tenant ?? null,
    attemptLog: e.attemptLog ?? null,
    delivery,
  };
}

function novaRow(e: NovaUsageEvent, delivery: string): typeof novaCalls.$inferInsert {
  return {
    eventId: e.id,
    time: e.time,
    role: e.role,
    model: e.model,
    outcome: e.outcome,
    inputTokens: e.inputTokens,
    outputTokens: e.outputTokens,
    costUsd: e.costUsd,
    latencyMs: e.latencyMs,
    delivery,
  };
}

const dialect = new SQLiteAsyncDialect();
const r = performanceRollups;
const key = sql.raw("(minute, tier, target, model)");
const minute = (time: typeof decisions.time | typeof outcomes.time | typeof novaCalls.time) =>
  sql`${time} - ${time} % ${sql.raw(String(MINUTE_MS))}`;

/** Decisions stored by this batch, counted under the target they chose. */
function decisionRollup(delivery: string) {
  const d = decisions;
  return sql`INSERT INTO ${r} (minute, tier, target, model, decisions)
    SELECT ${minute(d.time)}, ${d.tier}, ${d.target}, ${d.model}, count(*)
    FROM ${d} WHERE ${d.delivery} = ${delivery}
    GROUP BY 1, 2, 3, 4
    ON CONFLICT ${key} DO UPDATE SET decisions = decisions + excluded.decisions`;
}

/** Outcomes stored by this batch, counted under the target where they ended. */
function outcomeRollup(delivery: string) {
  const o = outcomes;
  // The latency sketch merges in `latencyBucketRollup`, from the same tagged rows.
  return sql`INSERT INTO ${r} (minute, tier, target, model, outcomes, errors, sla_met, sla_known,
      cost_usd, latency_sum_ms, latency_max_ms, ttft_sum_ms, ttft_count, failovers, attempts)
    SELECT ${minute(o.time)}, ${o.finalTier}, ${o.finalTarget}, ${o.finalModel},
      count(*), sum(${o.ok} = 0), coalesce(sum(${o.slaMet}), 0), count(${o.slaMet}),
      sum(${o.costUsd}), sum(${o.latencyMs}), max(${o.latencyMs}),
      coalesce(sum(${o.ttftMs}), 0), count(${o.ttftMs}),
      sum(${o.finalTarget} <> ${o.target}), sum(${o.attempts})
    FROM ${o} WHERE ${o.delivery} = ${delivery}
    GROUP BY 1, 2, 3, 4
    ON CONFLICT ${key} DO UPDATE SET
      outcomes = outcomes + excluded.outcomes,
      errors = errors + excluded.errors,
      sla_met = sla_met + excluded.sla_met,
      sla_known = sla_known + excluded.sla_known,
      cost_usd = cost_usd + excluded.cost_usd,
      latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
      latency_max_ms = max(latency_max_ms, excluded.latency_max_ms),
      ttft_sum_ms = ttft_sum_ms + excluded.ttft_sum_ms,
      ttft_count = ttft_count + excluded.ttft_count,
      failovers = failovers + excluded.failovers,
      attempts = attempts + excluded.attempts`;
}

/** Nova calls stored by this batch, per minute, role, model and outcome. */
function novaRollup(delivery: string) {
  const n = novaCalls;
  return sql`INSERT INTO ${novaUsageRollups} (minute, role, model, outcome, calls, input_tokens,
      output_tokens, cost_usd, latency_sum_ms)
    SELECT ${minute(n.time)}, ${n.role}, ${n.model}, ${n.outcome}, count(*), sum(${n.inputTokens}),
      sum(${n.outputTokens}), sum(${n.costUsd}), sum(${n.latencyMs})
    FROM ${n} WHERE ${n.delivery} = ${delivery}
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (minute, role, model, outcome) DO UPDATE SET
      calls = calls + excluded.calls,
      input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens,
      cost_usd = cost_usd + excluded.cost_usd,
      latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms`;
}

/**
 * The latency and TTFT sketch buckets of the successful outcomes stored by this batch, added to
 * the per-minute bucket counts under the target where they ended (as shared/rollup.ts: errors are
 * counted, not timed).
 */
function latencyBucketRollup(delivery: string) {
  const o = outcomes;
  const b = rollupLatencyBuckets;
  const tagged = sql`${o.delivery} = ${delivery} AND ${o.ok} = 1`;
  return sql`INSERT INTO ${b} (minute, tier, target, model, metric, bucket, count)
    SELECT m, tier, target, model, metric, bucket, count(*)
    FROM (
      SELECT ${minute(o.time)} AS m, ${o.finalTier} AS tier, ${o.finalTarget} AS target,
        ${o.finalModel} AS model, 'latency' AS metric, ${o.latencyBucket} AS bucket
      FROM ${o} WHERE ${tagged} AND ${o.latencyBucket} IS NOT NULL
      UNION ALL
      SELECT ${minute(o.time)}, ${o.finalTier}, ${o.finalTarget}, ${o.finalModel}, 'ttft',
        ${o.ttftBucket}
      FROM ${o} WHERE ${tagged} AND ${o.ttftBucket} IS NOT NULL
    )
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (minute, tier, target, model, metric, bucket)
      DO UPDATE SET count = count + excluded.count`;
}

function log(level: "warn" | "error", fields: Record<string, unknown>): void {
  console[level](JSON.stringify(fields));
}
