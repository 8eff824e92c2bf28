// Requests, tier split, errors, SLA attainment, cost and failovers from the per-minute
// `performance_rollups` (never the raw rows): totals per tier, series per bucket, per-target
// tables. Decisions count under the target they chose, outcomes under the one where they ended.
//
// Every query takes the D1 binding and a filter object, so a further scope (a tenant) is one more
// condition in `scope()` and no query changes shape.

import { type SQL, sql } from "drizzle-orm";
import {
  addSums,
  columnsOf,
  isTier,
  percentilesOf,
  type Sums,
  totalsOf,
  zeroSums,
} from "../../shared/analytics-aggregate.ts";
import type {
  TargetStats,
  TargetsAnswer,
  TimeseriesAnswer,
  Totals,
} from "../../shared/analytics-api.ts";
import { type AnalyticsWindow, bucketStarts } from "../../shared/analytics-window.ts";
import type { Tier } from "../../shared/types.ts";
import { emptySketch, latencyByTarget } from "./latency.ts";
import { bucketOf, inWindow, rows, where } from "./sql.ts";

export interface RollupFilter {
  tier?: Tier | undefined;
  target?: string | undefined;
}

const SUMS = sql.raw(`sum(decisions) AS decisions, sum(outcomes) AS outcomes,
  sum(errors) AS errors, sum(sla_met) AS slaMet, sum(sla_known) AS slaKnown,
  total(cost_usd) AS costUsd, sum(failovers) AS failovers, sum(attempts) AS attempts,
  total(latency_sum_ms) AS latencySumMs`);

function scope(w: AnalyticsWindow, f: RollupFilter): SQL {
  return where(
    inWindow(w, sql.raw("minute")),
    f.tier === undefined ? undefined : sql`tier = ${f.tier}`,
    f.target === undefined ? undefined : sql`target = ${f.target}`,
  );
}

/** Sums per tier over the window. */
export async function tierSums(
  d1: D1Database,
  w: AnalyticsWindow,
  f: RollupFilter = {},
): Promise<(Sums & { tier: string })[]> {
  return rows(
    d1,
    sql`SELECT tier, ${SUMS} FROM performance_rollups WHERE ${scope(w, f)} GROUP BY tier`,
  );
}

/** Totals over the window (all tiers, after the filter). */
export async function windowTotals(
  d1: D1Database,
  w: AnalyticsWindow,
  f: RollupFilter = {},
): Promise<Totals> {
  const sums = zeroSums();
  for (const r of await tierSums(d1, w, f)) addSums(sums, r);
  return totalsOf(sums);
}

/** Per-bucket series, in total and per tier. */
export async function timeseries(
  d1: D1Database,
  w: AnalyticsWindow,
  f: RollupFilter = {},
): Promise<TimeseriesAnswer> {
  const t = bucketOf(w, sql.raw("minute"));
  const found = await rows<Sums & { t: number; tier: string }>(
    d1,
    sql`SELECT ${t} AS t, tier, ${SUMS} FROM performance_rollups WHERE ${scope(w, f)}
      GROUP BY 1, 2`,
  );
  const of = (tier: Tier) =>
    columnsOf(
      w,
      found.filter((r) => r.tier === tier),
    );
  return {
    window: w,
    t: bucketStarts(w),
    total: columnsOf(w, found),
    tiers: { device: of("device"), mec: of("mec"), cloud: of("cloud") },
  };
}

/** Per tier and target over the window, busiest (decisions + outcomes) first, with percentiles. */
export async function targets(
  d1: D1Database,
  w: AnalyticsWindow,
  f: { tier?: Tier | undefined; limit: number },
): Promise<TargetsAnswer> {
  const found = await rows<Sums & { tier: string; target: string }>(
    d1,
    sql`SELECT tier, target, ${SUMS} FROM performance_rollups WHERE ${scope(w, { tier: f.tier })}
      GROUP BY tier, target
      ORDER BY sum(decisions) + sum(outcomes) DESC, tier, target
      LIMIT ${f.limit + 1}`,
  );
  const kept = found
    .slice(0, f.limit)
    .filter((r): r is typeof r & { tier: Tier } => isTier(r.tier));
  const sketches = await latencyByTarget(
    d1,
    w,
    kept.map((r) => r.target),
  );
  const stats: TargetStats[] = kept.map((r) => ({
    tier: r.tier,
    target: r.target,
    ...totalsOf(r),
    latency: percentilesOf(sketches.get(`${r.tier}|${r.target}`) ?? emptySketch()),
  }));
  return { window: w, targets: stats, truncated: found.length > f.limit };
}
