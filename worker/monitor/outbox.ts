// The Kinesis outbox: aggregated metrics leave D1 for Kinesis without ever being dropped.
//
// Redelivered queue events are ignored by the consumer (their rows exist), so metrics cannot be
// published "from the events" after the fact: a redelivery would add nothing, and a crash between
// the D1 commit and the publish would lose them. Instead the consumer's D1 batch — the very
// transaction that inserts the events and adds them to the rollups — also inserts this delivery's
// rollup deltas into `kinesis_outbox` (`outboxInsert`, computed in SQL from the token-tagged rows,
// like the rollups). Rows therefore exist exactly for newly stored events, and commit or roll back
// with them.
//
// Drains (`drainOutbox`: after every consumer batch that committed, and from the cron) claim the
// oldest free rows, publish them with `publishMetrics`, then in one D1 batch delete those Kinesis
// stored, move those it never can take (`planOutbox` / `settleOutbox`) to `kinesis_outbox_dead`
// (logged), and release the rest with `attempts` + 1 for the next drain.
//
// Delivery to Kinesis is at-least-once: a drain that dies after the publish and before its D1
// batch leaves its rows claimed until `CLAIM_MS` passes; they go again, under the same record id,
// and the stream's readers drop duplicates by id. The claim keeps concurrent drains (several
// consumer invocations at once) on different rows.

import { type SQL, sql } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { MetricRecord, PublishResult } from "../../shared/kinesis-batch.ts";
import {
  type DeadRow,
  type OutboxRow,
  planOutbox,
  ROLLUP_DELTA_VERSION,
  type Settlement,
  settleOutbox,
} from "../../shared/kinesis-outbox.ts";
import { decisions, kinesisOutbox, kinesisOutboxDead, outcomes } from "./schema.ts";

/** Rows one drain claims: one PutRecords call's worth. */
export const OUTBOX_PAGE = 500;
/** How long a claim holds: longer than a publish with all its retries takes. */
export const CLAIM_MS = 5 * 60_000;
const MINUTE_MS = 60_000;

export interface OutboxDeps {
  db: D1Database;
  /** `publishMetrics` with its env and options bound. */
  publish(records: readonly MetricRecord[]): Promise<PublishResult>;
  now(): number;
}

export interface Drained {
  /** Rows this drain claimed. */
  claimed: number;
  /** Deleted: Kinesis stored them. */
  stored: number;
  /** Moved to `kinesis_outbox_dead`. */
  dead: number;
  /** Released for the next drain. */
  pending: number;
}

const dialect = new SQLiteAsyncDialect();
const k = kinesisOutbox;
const minute = (time: typeof decisions.time | typeof outcomes.time) =>
  sql`${time} - ${time} % ${sql.raw(String(MINUTE_MS))}`;

/**
 * The statement, for the consumer's D1 batch, that writes one rollup delta per (minute, tier,
 * target, model) of the events tagged with `delivery` — decisions under the target they chose,
 * outcomes under the one where they ended, as the rollups count them. Must run before the batch
 * clears the tags. Record id `<delivery>|<minute>|<tier>|<target>|<model>`; partition key the
 * target. A plain INSERT: a reused token fails the batch (and the queue retries it) rather than
 * drop a delta.
 */
export function outboxInsert(delivery: string, now: number): SQL {
  const d = decisions;
  const o = outcomes;
  return sql`INSERT INTO ${k} (id, partition_key, data, created_at)
    SELECT ${delivery} || '|' || m || '|' || tier || '|' || target || '|' || model, target,
      json_object('v', ${sql.raw(String(ROLLUP_DELTA_VERSION))}, 'kind', 'rollup_delta',
        'minute', m, 'periodMs', ${sql.raw(String(MINUTE_MS))},
        'tier', tier, 'target', target, 'model', model,
        'decisions', sum(n_decisions), 'outcomes', sum(n_outcomes), 'errors', sum(n_errors),
        'slaMet', sum(n_sla_met), 'slaKnown', sum(n_sla_known), 'costUsd', sum(cost_usd),
        'latencySumMs', sum(latency_ms), 'latencyMaxMs', max(latency_ms),
        'ttftSumMs', sum(ttft_ms), 'ttftCount', sum(n_ttft)),
      ${now}
    FROM (
      SELECT ${minute(d.time)} AS m, ${d.tier} AS tier, ${d.target} AS target, ${d.model} AS model,
        1 AS n_decisions, 0 AS n_outcomes, 0 AS n_errors, 0 AS n_sla_met, 0 AS n_sla_known,
        0.0 AS cost_usd, 0.0 AS latency_ms, 0.0 AS ttft_ms, 0 AS n_ttft
      FROM ${d} WHERE ${d.delivery} = ${delivery}
      UNION ALL
      SELECT ${minute(o.time)}, ${o.finalTier}, ${o.finalTarget}, ${o.finalModel},
        0, 1, ${o.ok} = 0, coalesce(${o.slaMet}, 0), ${o.slaMet} IS NOT NULL,
        ${o.costUsd}, ${o.latencyMs}, coalesce(${o.ttftMs}, 0.0), ${o.ttftMs} IS NOT NULL
      FROM ${o} WHERE ${o.delivery} = ${delivery}
    )
    GROUP BY m, tier, target, model`;
}

/**
 * Claims up to `limit` of the oldest free rows, publishes them and settles each: deleted when
 * stored, moved to the dead table when Kinesis can never take it, released otherwise.
 * @throws when D1 fails; rows it claimed are then free again after `CLAIM_MS`
 */
export async function drainOutbox(deps: OutboxDeps, limit = OUTBOX_PAGE): Promise<Drained> {
  const now = deps.now();
  const claim = dialect.sqlToQuery(sql`UPDATE ${k} SET claimed_until = ${now + CLAIM_MS}
    WHERE id IN (SELECT id FROM ${k}
      WHERE claimed_until IS NULL OR claimed_until <= ${now}
      ORDER BY created_at, rowid LIMIT ${limit})
    RETURNING rowid AS seq, id, partition_key AS partitionKey, data, created_at AS createdAt`);
  const { results } = await deps.db
    .prepare(claim.sql)
    .bind(...claim.params)
    .all<OutboxRow & { seq: number; createdAt: number }>();
  if (results.length === 0) return { claimed: 0, stored: 0, dead: 0, pending: 0 };
  // RETURNING comes in no particular order; publish oldest first.
  const rows = results.sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);

  const plan = planOutbox(rows);
  let settled: Settlement = { stored: [], pending: [], dead: [] };
  if (plan.records.length > 0) {
    try {
      settled = settleOutbox(plan.records, await deps.publish(plan.records));
    } catch (err) {
      // publishMetrics does not throw for Kinesis' sake; anything else keeps the rows for later.
      log("error", { event: "kinesis_outbox_publish_threw", error: String(err) });
      settled = { stored: [], pending: plan.records.map((r) => r.id), dead: [] };
    }
  }
  const dead = [...plan.dead, ...settled.dead];
  const settle = settleStatements(deps.db, settled.stored, settled.pending, dead, now);
  if (settle.length > 0) await deps.db.batch(settle);
  if (dead.length > 0) {
    log("error", { event: "kinesis_outbox_dead", records: dead.slice(0, 20), count: dead.length });
  }
  return {
    claimed: rows.length,
    stored: settled.stored.length,
    dead: dead.length,
    pending: settled.pending.length,
  };
}

/**
 * Drains page after page while whole pages are stored, up to `maxPages`: the cron's catch-up
 * after an outage. Stops at the first page with anything left, so a failing Kinesis is not
 * hammered.
 */
export async function drainOutboxPages(
  deps: OutboxDeps,
  maxPages: number,
  limit = OUTBOX_PAGE,
): Promise<Drained & { pages: number }> {
  const total = { claimed: 0, stored: 0, dead: 0, pending: 0, pages: 0 };
  while (total.pages < maxPages) {
    const page = await drainOutbox(deps, limit);
    total.pages++;
    total.claimed += page.claimed;
    total.stored += page.stored;
    total.dead += page.dead;
    total.pending += page.pending;
    if (page.claimed < limit || page.pending > 0) break;
  }
  return total;
}

/** Rows waiting (claimed or not), and the age of the oldest, for the logs. */
export async function outboxBacklog(
  d1: D1Database,
  now: number,
): Promise<{ rows: number; oldestAgeMs: number | null }> {
  const q = dialect.sqlToQuery(sql`SELECT count(*) AS n, min(created_at) AS oldest FROM ${k}`);
  const row = await d1
    .prepare(q.sql)
    .bind(...q.params)
    .first<{ n: number; oldest: number | null }>();
  const oldest = row?.oldest ?? null;
  return { rows: row?.n ?? 0, oldestAgeMs: oldest === null ? null : now - oldest };
}

/** One D1 batch: delete the stored rows, move the dead ones, release the pending ones. */
function settleStatements(
  d1: D1Database,
  stored: readonly string[],
  pending: readonly string[],
  dead: readonly DeadRow[],
  now: number,
): D1PreparedStatement[] {
  // Ids travel as one JSON array per statement: D1 binds at most 100 parameters.
  const ids = (list: readonly string[]) =>
    sql`(SELECT value FROM json_each(${JSON.stringify(list)}))`;
  const statement = (q: SQL) => {
    const { sql: text, params } = dialect.sqlToQuery(q);
    return d1.prepare(text).bind(...params);
  };
  const x = kinesisOutboxDead;
  const out: D1PreparedStatement[] = [];
  if (stored.length > 0) out.push(statement(sql`DELETE FROM ${k} WHERE id IN ${ids(stored)}`));
  if (dead.length > 0) {
    const reasons = JSON.stringify(dead);
    out.push(
      statement(sql`INSERT INTO ${x} (id, partition_key, data, created_at, attempts, reason, dead_at)
        SELECT o.id, o.partition_key, o.data, o.created_at, o.attempts + 1,
          json_extract(d.value, '$.reason'), ${now}
        FROM ${k} AS o JOIN json_each(${reasons}) AS d ON o.id = json_extract(d.value, '$.id')
        WHERE true
        ON CONFLICT (id) DO NOTHING`),
      statement(sql`DELETE FROM ${k} WHERE id IN ${ids(dead.map((d) => d.id))}`),
    );
  }
  if (pending.length > 0) {
    out.push(
      statement(sql`UPDATE ${k} SET attempts = attempts + 1, claimed_until = NULL
        WHERE id IN ${ids(pending)}`),
    );
  }
  return out;
}

function log(level: "error", fields: Record<string, unknown>): void {
  console[level](JSON.stringify(fields));
}
