// Retention (the `scheduled` handler): raw decisions, outcomes, Nova calls and site snapshots
// older than RAW_RETENTION_DAYS are deleted; per-minute rollups, agent config, learned parameters
// and anomalies are kept. Deletes go in bounded slices so no statement runs long on a big table.

import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { decisions, novaCalls, outcomes, resourceMetrics } from "./schema.ts";

export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;

/** RAW_RETENTION_DAYS (1–3650), or 30 when unset or invalid. */
export function retentionMs(env: Pick<Env, "RAW_RETENTION_DAYS">): number {
  const raw = env.RAW_RETENTION_DAYS;
  const days = Number(raw);
  if (raw !== undefined && raw !== "" && Number.isFinite(days) && days >= 1 && days <= 3650) {
    return days * DAY_MS;
  }
  if (raw !== undefined && raw !== "") {
    console.warn(JSON.stringify({ event: "config", problem: "RAW_RETENTION_DAYS ignored" }));
  }
  return DEFAULT_RETENTION_DAYS * DAY_MS;
}

export interface PruneOptions {
  /** Rows per DELETE statement. */
  slice?: number;
  /** DELETE statements per table and run; the rest waits for the next run. */
  maxSlices?: number;
}

export interface Pruned {
  decisions: number;
  outcomes: number;
  resourceMetrics: number;
  novaCalls: number;
}

/** Deletes raw rows older than `cutoff` (epoch ms); rollups are not touched. */
export async function pruneRawHistory(
  d1: D1Database,
  cutoff: number,
  opts: PruneOptions = {},
): Promise<Pruned> {
  const db = drizzle(d1);
  const slice = opts.slice ?? 5_000;
  const maxSlices = opts.maxSlices ?? 100;
  const drain = async (
    t: typeof decisions | typeof outcomes | typeof resourceMetrics | typeof novaCalls,
  ) => {
    let total = 0;
    for (let i = 0; i < maxSlices; i++) {
      const res = await db.run(
        sql`DELETE FROM ${t} WHERE rowid IN
          (SELECT rowid FROM ${t} WHERE ${t.time} < ${cutoff} LIMIT ${slice})`,
      );
      total += res.meta.changes;
      if (res.meta.changes < slice) break;
    }
    return total;
  };
  return {
    decisions: await drain(decisions),
    outcomes: await drain(outcomes),
    resourceMetrics: await drain(resourceMetrics),
    novaCalls: await drain(novaCalls),
  };
}

/** The `scheduled` handler: prunes raw history older than the retention period. */
export async function runRetention(
  controller: ScheduledController,
  env: Env,
  _ctx: ExecutionContext,
): Promise<void> {
  const cutoff = controller.scheduledTime - retentionMs(env);
  const pruned = await pruneRawHistory(env.DB, cutoff);
  console.log(JSON.stringify({ event: "retention", cutoff, ...pruned }));
}
