// The Kinesis outbox, pure part: the record format the monitor publishes (a rollup delta), what
// an outbox row becomes before it is sent, and what a publish result means for each row.
//
// A rollup delta is what one consumer delivery added to one per-minute rollup (minute, tier,
// target, model). Its id is unique per delivery and key, so a consumer of the stream that drops
// records whose id it has seen and adds up the rest gets exactly the rollups in D1: Kinesis
// delivery is at-least-once (a record whose deletion from the outbox failed is sent again), the
// de-duplication by id is the reader's.
//
// No I/O here: worker/monitor/outbox.ts reads and writes the rows and calls the publisher.

import * as z from "zod/mini";
import { TIERS } from "./events.ts";
import {
  chunkRecords,
  KINESIS_LIMITS,
  type KinesisLimits,
  type MetricRecord,
  type PublishResult,
} from "./kinesis-batch.ts";

export const ROLLUP_DELTA_VERSION = 1;

const count = z.int().check(z.gte(0));
const amount = z.number().check(z.gte(0));

/**
 * The data of one outbox record. Counts and sums add up across records of a key; `latencyMaxMs`
 * merges by max. Field names follow `performance_rollups` (worker/monitor/schema.ts).
 */
export const rollupDeltaSchema = z.object({
  v: z.literal(ROLLUP_DELTA_VERSION),
  kind: z.literal("rollup_delta"),
  /** Start of the minute, epoch ms. */
  minute: z.int(),
  periodMs: z.literal(60_000),
  tier: z.enum(TIERS),
  /** `site:<id>`, `cloud:<region>` or `device`; also the record's partition key. */
  target: z.string().check(z.minLength(1)),
  model: z.string().check(z.minLength(1)),
  decisions: count,
  outcomes: count,
  errors: count,
  slaMet: count,
  slaKnown: count,
  costUsd: amount,
  latencySumMs: amount,
  latencyMaxMs: amount,
  ttftSumMs: amount,
  ttftCount: count,
});
export type RollupDelta = z.infer<typeof rollupDeltaSchema>;

/** An outbox row as a drain claimed it. */
export interface OutboxRow {
  id: string;
  partitionKey: string;
  /** JSON text of a `RollupDelta`. */
  data: string;
}

/** A row that can never be put, and why. */
export interface DeadRow {
  id: string;
  reason: string;
}

/**
 * Turns claimed rows into records to publish, in order. A row whose data is not a valid rollup
 * delta, or that `chunkRecords` refuses (over 1 MiB with its key, a bad partition key), is
 * returned in `dead` instead: sending it again would never help.
 */
export function planOutbox(
  rows: readonly OutboxRow[],
  limits: KinesisLimits = KINESIS_LIMITS,
): { records: MetricRecord[]; dead: DeadRow[] } {
  const parsed: MetricRecord[] = [];
  const dead: DeadRow[] = [];
  for (const row of rows) {
    let json: unknown;
    try {
      json = JSON.parse(row.data);
    } catch {
      dead.push({ id: row.id, reason: "data is not JSON" });
      continue;
    }
    const delta = rollupDeltaSchema.safeParse(json);
    if (!delta.success) {
      const paths = delta.error.issues.slice(0, 3).map((i) => i.path.map(String).join(".") || "$");
      dead.push({ id: row.id, reason: `data is not a rollup delta (${paths.join(", ")})` });
      continue;
    }
    parsed.push({ id: row.id, partitionKey: row.partitionKey, data: delta.data });
  }
  const { invalid } = chunkRecords(parsed, limits);
  const refused = new Set(invalid.map((i) => i.index));
  for (const i of invalid) dead.push({ id: i.record.id, reason: i.reason });
  return { records: parsed.filter((_, i) => !refused.has(i)), dead };
}

/** What to do with each published row. */
export interface Settlement {
  /** Kinesis stored them: delete. */
  stored: string[];
  /** Not stored, worth another try: release for the next drain. */
  pending: string[];
  /** Can never be stored: move to the dead table. */
  dead: DeadRow[];
}

/**
 * Sorts the records handed to the publisher by what became of them: stored (not in `remaining`),
 * dead (in `invalid`) or pending (the rest of `remaining`).
 */
export function settleOutbox(records: readonly MetricRecord[], result: PublishResult): Settlement {
  if (result.ok) return { stored: records.map((r) => r.id), pending: [], dead: [] };
  const dead = result.invalid.map((i) => ({ id: i.record.id, reason: i.reason }));
  const deadIds = new Set(dead.map((d) => d.id));
  const left = new Set(result.remaining.map((r) => r.id));
  const stored: string[] = [];
  const pending: string[] = [];
  for (const r of records) {
    if (!left.has(r.id)) stored.push(r.id);
    else if (!deadIds.has(r.id)) pending.push(r.id);
  }
  return { stored, pending, dead };
}
