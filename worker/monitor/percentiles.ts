// Latency and time-to-first-token percentiles over any range of minutes, from the sketch rows the
// consumer keeps in `rollup_latency_buckets` (see consumer.ts and schema.ts).
//
// The sketch is a DDSketch (shared/sketch.ts) stored as one row per non-empty bucket: the
// consumer computes each outcome's bucket in JS when it stores the event (`outcomes.
// latency_bucket`, `ttft_bucket`) and its idempotent D1 batch adds the new rows' counts per
// bucket, so the sketch merges exactly once per event like the other rollups. Merging minutes into
// hours (or any range) is a SUM … GROUP BY bucket: integer counts, exact, in any order — the
// sketch of an hour has exactly the buckets of the merge of its minutes' sketches.
//
// Accuracy: every quantile is within a relative error α = `LATENCY_SKETCH_ACCURACY` (1%) of the
// value of rank ⌊q·(n − 1)⌋ among the successful outcomes in range (|estimate − exact| ≤ α·exact),
// zeros exactly 0. Unlike an in-memory `QuantileSketch`, min and max (q = 0 and q = 1) are not
// exact: the rows keep counts only, so they are bucket values too, within α as well. Should
// the sketch ever span more than 2048 buckets (a factor ≈ 5·10^17 between the smallest and largest
// latency), the lowest buckets collapse and only low quantiles lose the guarantee.
//
// α is fixed by the stored rows: changing `LATENCY_SKETCH_ACCURACY` would need the old buckets
// rewritten, since rows of two accuracies cannot be merged.

import { and, eq, gte, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bucketValue, DEFAULT_RELATIVE_ACCURACY, QuantileSketch } from "../../shared/sketch.ts";
import { rollupLatencyBuckets } from "./schema.ts";

/** The relative accuracy α of the stored latency and TTFT buckets. */
export const LATENCY_SKETCH_ACCURACY = DEFAULT_RELATIVE_ACCURACY;

export type LatencyMetric = "latency" | "ttft";

export interface PercentileQuery {
  /** First minute, epoch ms, inclusive: minutes whose start is in [from, to) count. */
  from: number;
  /** End, epoch ms, exclusive. */
  to: number;
  /** Filters on the series (where outcomes ended); omitted means all. */
  tier?: string;
  target?: string;
  model?: string;
}

export interface MetricPercentiles {
  /** Successful outcomes in range (with a TTFT, for `ttft`). */
  count: number;
  /** One estimate per requested quantile, in order; NaN when `count` is 0. */
  values: number[];
}

/**
 * The latency and TTFT sketches of the successful outcomes in `query`'s minutes, merged in SQL.
 * @throws when D1 fails
 */
export async function latencySketches(
  d1: D1Database,
  query: PercentileQuery,
): Promise<Record<LatencyMetric, QuantileSketch>> {
  const b = rollupLatencyBuckets;
  const rows = await drizzle(d1)
    .select({ metric: b.metric, bucket: b.bucket, count: sql<number>`sum(${b.count})` })
    .from(b)
    .where(
      and(
        gte(b.minute, query.from),
        lt(b.minute, query.to),
        query.tier === undefined ? undefined : eq(b.tier, query.tier),
        query.target === undefined ? undefined : eq(b.target, query.target),
        query.model === undefined ? undefined : eq(b.model, query.model),
      ),
    )
    .groupBy(b.metric, b.bucket);
  const options = { relativeAccuracy: LATENCY_SKETCH_ACCURACY };
  const out = { latency: new QuantileSketch(options), ttft: new QuantileSketch(options) };
  // The bucket's own value lands back in the bucket (`bucketValue` / `bucketIndex`).
  for (const r of rows) out[r.metric].add(bucketValue(r.bucket, LATENCY_SKETCH_ACCURACY), r.count);
  return out;
}

/**
 * Quantiles `qs` (each in [0, 1], e.g. 0.5 and 0.99) of latency and TTFT in `query`'s minutes,
 * within `LATENCY_SKETCH_ACCURACY` relative error.
 * @throws RangeError on a quantile outside [0, 1]; whatever D1 throws
 */
export async function latencyPercentiles(
  d1: D1Database,
  query: PercentileQuery,
  qs: readonly number[],
): Promise<Record<LatencyMetric, MetricPercentiles>> {
  for (const q of qs) {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  }
  const sketches = await latencySketches(d1, query);
  const answer = (s: QuantileSketch): MetricPercentiles => ({
    count: s.count,
    values: qs.map((q) => s.quantile(q)),
  });
  return { latency: answer(sketches.latency), ttft: answer(sketches.ttft) };
}
