// Latency and time-to-first-token percentiles from the per-minute sketch rows
// (`rollup_latency_buckets`, see worker/monitor/percentiles.ts): per bucket and tier for charts,
// over the window per tier, and per target. Bucket counts are summed in SQL and the sketches
// rebuilt here, so every percentile is within `LATENCY_SKETCH_ACCURACY` of the exact one.

import { sql } from "drizzle-orm";
import { percentileColumns, percentilesOf, TIER_LIST } from "../../shared/analytics-aggregate.ts";
import type { LatencyAnswer } from "../../shared/analytics-api.ts";
import {
  type AnalyticsWindow,
  bucketIndexOf,
  bucketStarts,
} from "../../shared/analytics-window.ts";
import { bucketValue, QuantileSketch } from "../../shared/sketch.ts";
import type { Tier } from "../../shared/types.ts";
import { LATENCY_SKETCH_ACCURACY, type LatencyMetric } from "../monitor/percentiles.ts";
import { bucketOf, inWindow, rows, where } from "./sql.ts";

export function emptySketch(): QuantileSketch {
  return new QuantileSketch({ relativeAccuracy: LATENCY_SKETCH_ACCURACY });
}

function add(s: QuantileSketch, bucket: number, n: number): void {
  // A bucket's own value lands back in that bucket (`bucketValue` / `bucketIndex`).
  s.add(bucketValue(bucket, LATENCY_SKETCH_ACCURACY), n);
}

/** Per-bucket and whole-window percentiles of `metric`, per tier and in total. */
export async function latencySeries(
  d1: D1Database,
  w: AnalyticsWindow,
  q: { metric: LatencyMetric; target?: string | undefined },
): Promise<LatencyAnswer> {
  const found = await rows<{ t: number; tier: string; bucket: number; n: number }>(
    d1,
    sql`SELECT ${bucketOf(w, sql.raw("minute"))} AS t, tier, bucket, sum(count) AS n
      FROM rollup_latency_buckets
      WHERE ${where(
        sql`metric = ${q.metric}`,
        inWindow(w, sql.raw("minute")),
        q.target === undefined ? undefined : sql`target = ${q.target}`,
      )}
      GROUP BY 1, 2, 3`,
  );
  const series = new Map<Tier | "total", (QuantileSketch | undefined)[]>();
  const overall = new Map<Tier | "total", QuantileSketch>();
  for (const key of [...TIER_LIST, "total"] as const) {
    series.set(key, new Array(w.points).fill(undefined));
    overall.set(key, emptySketch());
  }
  for (const r of found) {
    const i = bucketIndexOf(w, r.t);
    if (i < 0) continue;
    for (const key of [r.tier as Tier, "total"] as const) {
      const cells = series.get(key);
      if (!cells) continue;
      const cell = cells[i] ?? emptySketch();
      cells[i] = cell;
      add(cell, r.bucket, r.n);
      const whole = overall.get(key);
      if (whole) add(whole, r.bucket, r.n);
    }
  }
  const columns = (key: Tier | "total") => percentileColumns(series.get(key) ?? []);
  const whole = (key: Tier | "total") => percentilesOf(overall.get(key) ?? emptySketch());
  return {
    window: w,
    metric: q.metric,
    t: bucketStarts(w),
    total: columns("total"),
    tiers: { device: columns("device"), mec: columns("mec"), cloud: columns("cloud") },
    overall: {
      ...whole("total"),
      tiers: { device: whole("device"), mec: whole("mec"), cloud: whole("cloud") },
    },
  };
}

/** The latency sketch of each of `targets` over the window, keyed `<tier>|<target>`. */
export async function latencyByTarget(
  d1: D1Database,
  w: AnalyticsWindow,
  targets: readonly string[],
  metric: LatencyMetric = "latency",
): Promise<Map<string, QuantileSketch>> {
  const out = new Map<string, QuantileSketch>();
  if (targets.length === 0) return out;
  // One bound parameter for the whole list (D1 allows 100 per statement).
  const found = await rows<{ tier: string; target: string; bucket: number; n: number }>(
    d1,
    sql`SELECT tier, target, bucket, sum(count) AS n FROM rollup_latency_buckets
      WHERE ${where(
        sql`metric = ${metric}`,
        inWindow(w, sql.raw("minute")),
        sql`target IN (SELECT value FROM json_each(${JSON.stringify(targets)}))`,
      )}
      GROUP BY tier, target, bucket`,
  );
  for (const r of found) {
    const key = `${r.tier}|${r.target}`;
    let s = out.get(key);
    if (!s) {
      s = emptySketch();
      out.set(key, s);
    }
    add(s, r.bucket, r.n);
  }
  return out;
}
