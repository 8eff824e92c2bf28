// Pure aggregation for the analytics API: rollup sums into totals with their rates, bucketed rows
// into columnar series, sketches into percentiles. The SQL (worker/analytics/) only sums; every
// ratio is taken here, once, from sums — never a mean of means.

import type { Columns, Counters, PercentileColumns, Percentiles, Totals } from "./analytics-api.ts";
import { type AnalyticsWindow, bucketIndexOf } from "./analytics-window.ts";
import type { QuantileSketch } from "./sketch.ts";
import type { Tier } from "./types.ts";

export const TIER_LIST: readonly Tier[] = ["device", "mec", "cloud"];

/** Rollup sums, with the latency sum the mean is taken from. */
export interface Sums extends Counters {
  latencySumMs: number;
}

export function zeroSums(): Sums {
  return {
    decisions: 0,
    outcomes: 0,
    errors: 0,
    slaMet: 0,
    slaKnown: 0,
    costUsd: 0,
    failovers: 0,
    attempts: 0,
    latencySumMs: 0,
  };
}

/** Adds `b` into `a` (mutates `a`) and returns it. */
export function addSums(a: Sums, b: Sums): Sums {
  a.decisions += b.decisions;
  a.outcomes += b.outcomes;
  a.errors += b.errors;
  a.slaMet += b.slaMet;
  a.slaKnown += b.slaKnown;
  a.costUsd += b.costUsd;
  a.failovers += b.failovers;
  a.attempts += b.attempts;
  a.latencySumMs += b.latencySumMs;
  return a;
}

export function ratio(num: number, den: number): number | null {
  return den > 0 ? num / den : null;
}

/** Sums with their rates: error rate, SLA attainment, mean latency. */
export function totalsOf(s: Sums): Totals {
  return {
    decisions: s.decisions,
    outcomes: s.outcomes,
    errors: s.errors,
    slaMet: s.slaMet,
    slaKnown: s.slaKnown,
    costUsd: s.costUsd,
    failovers: s.failovers,
    attempts: s.attempts,
    errorRate: ratio(s.errors, s.outcomes),
    slaAttainment: ratio(s.slaMet, s.slaKnown),
    meanLatencyMs: ratio(s.latencySumMs, s.outcomes),
  };
}

/** Sums per tier, each tier present. */
export function tierTotals(rows: readonly (Sums & { tier: string })[]): Record<Tier, Totals> {
  const by = { device: zeroSums(), mec: zeroSums(), cloud: zeroSums() };
  for (const r of rows) if (isTier(r.tier)) addSums(by[r.tier], r);
  return { device: totalsOf(by.device), mec: totalsOf(by.mec), cloud: totalsOf(by.cloud) };
}

export function isTier(v: string): v is Tier {
  return v === "device" || v === "mec" || v === "cloud";
}

/** Columnar series of per-bucket sums: every bucket of the window present, empty ones zero. */
export function columnsOf(w: AnalyticsWindow, rows: readonly (Sums & { t: number })[]): Columns {
  const buckets = Array.from({ length: w.points }, zeroSums);
  for (const r of rows) {
    const i = bucketIndexOf(w, r.t);
    const b = buckets[i];
    if (b) addSums(b, r);
  }
  return {
    decisions: buckets.map((b) => b.decisions),
    outcomes: buckets.map((b) => b.outcomes),
    errors: buckets.map((b) => b.errors),
    slaMet: buckets.map((b) => b.slaMet),
    slaKnown: buckets.map((b) => b.slaKnown),
    costUsd: buckets.map((b) => b.costUsd),
    failovers: buckets.map((b) => b.failovers),
    attempts: buckets.map((b) => b.attempts),
    errorRate: buckets.map((b) => ratio(b.errors, b.outcomes)),
    slaAttainment: buckets.map((b) => ratio(b.slaMet, b.slaKnown)),
    meanLatencyMs: buckets.map((b) => ratio(b.latencySumMs, b.outcomes)),
  };
}

function quantileOrNull(s: QuantileSketch, q: number): number | null {
  return s.count > 0 ? s.quantile(q) : null;
}

/** p50 / p95 / p99 of a sketch; null when it is empty. */
export function percentilesOf(s: QuantileSketch): Percentiles {
  return {
    count: s.count,
    p50: quantileOrNull(s, 0.5),
    p95: quantileOrNull(s, 0.95),
    p99: quantileOrNull(s, 0.99),
  };
}

/** Per-bucket percentiles of one sketch per bucket (missing buckets empty). */
export function percentileColumns(sketches: readonly (QuantileSketch | undefined)[]) {
  const out: PercentileColumns = { count: [], p50: [], p95: [], p99: [] };
  for (const s of sketches) {
    const p = s ? percentilesOf(s) : { count: 0, p50: null, p95: null, p99: null };
    out.count.push(p.count);
    out.p50.push(p.p50);
    out.p95.push(p.p95);
    out.p99.push(p.p99);
  }
  return out;
}
