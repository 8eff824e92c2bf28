// Per-minute rollups of request outcomes, keyed by (minute, tier, site or region, model): counts,
// errors, SLA attainment, cost, and latency and time-to-first-token sketches. The monitor folds
// each queue batch into rollups and upserts them; the dashboard reads minutes, or hours made from
// minutes. Everything merges exactly, in any order: counts and cost are integers (cost in
// nano-USD, so SQL SUM and JS agree to the last digit) and sketches merge bucket by bucket; only
// the sketches' float `sum` is exact up to rounding.
//
// What counts where:
// - `count` every outcome, `errors` those with ok = false.
// - `slaChecked` outcomes that carried an SLA, `slaMet` those that were ok within it, so SLA
//   attainment is slaMet / slaChecked.
// - The latency and TTFT sketches take successful outcomes only: a fast 5xx would pull p50 down,
//   a timeout would pin p99 to the timeout. Errors are counted, not timed. A negative or non-finite
//   duration is not added to a sketch (the outcome still counts).
//
// Accumulators are mutable for speed: `addOutcome`, `mergeInto` and `mergeRollupMaps` change their
// first argument; `mergeRollups` and `rebucket` return new rollups and leave their inputs alone.

import * as z from "zod/mini";
import { QuantileSketch, type SketchOptions } from "./sketch.ts";
import type { Tier } from "./types.ts";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const HOURS_PER_WEEK = 168;
export const WEEK_MS = HOURS_PER_WEEK * HOUR_MS;
const TIERS = ["device", "mec", "cloud"] as const satisfies readonly Tier[];
const NANO = 1e9;

/** One finished request, as the monitor sees it; the event mapper fills it from queue events. */
export interface RollupOutcome {
  /** When it finished, epoch ms. */
  at: number;
  tier: Tier;
  /** `site:<id>`, `cloud:<region>` or `device`, as the executor names targets. */
  target: string;
  model: string;
  ok: boolean;
  /** Whole request, ms. */
  latencyMs: number;
  /** Time to first token, ms; streaming only. */
  ttftMs?: number;
  costUsd?: number;
  /** The request's latency SLA, ms, if it had one. */
  slaMs?: number;
}

/** What a rollup is keyed by. */
export interface RollupSeries {
  /** Start of the period, epoch ms, a multiple of `periodMs`. */
  start: number;
  tier: Tier;
  /** Site id, cloud region, or `device`: the target without its `site:` / `cloud:` prefix. */
  siteOrRegion: string;
  model: string;
}

export interface Rollup extends RollupSeries {
  /** `MINUTE_MS` or `HOUR_MS` (any multiple of a minute works). */
  periodMs: number;
  count: number;
  errors: number;
  slaChecked: number;
  slaMet: number;
  /** Cost in nano-USD (10⁻⁹ USD), an integer, so merges are exact. */
  costNanoUsd: number;
  /** Latency of successful outcomes, ms. */
  latency: QuantileSketch;
  /** Time to first token of successful streaming outcomes, ms. */
  ttft: QuantileSketch;
}

/** `start|tier|siteOrRegion|model`; site and region ids are slugs, so `|` cannot be ambiguous. */
export function rollupKey(r: RollupSeries): string {
  return `${r.start}|${r.tier}|${r.siteOrRegion}|${r.model}`;
}

/** `site:berlin-1` → `berlin-1`, `cloud:eu-central-1` → `eu-central-1`; anything else as is. */
export function siteOrRegion(target: string): string {
  if (target.startsWith("site:")) return target.slice(5);
  if (target.startsWith("cloud:")) return target.slice(6);
  return target;
}

/** Start of the period containing `at` (epoch ms); periods are aligned to the Unix epoch. */
export function floorTo(at: number, periodMs: number): number {
  return Math.floor(at / periodMs) * periodMs;
}

/**
 * Hour of the week, 0 = Monday 00:00–01:00 … 167 = Sunday 23:00–24:00, in UTC shifted by
 * `tzOffsetMinutes` (e.g. 60 for CET).
 */
export function hourOfWeek(at: number, tzOffsetMinutes = 0): number {
  // The Unix epoch fell on a Thursday: hour 0 is Thursday 00:00, 72 hours after Monday 00:00.
  const hours = Math.floor((at + tzOffsetMinutes * MINUTE_MS) / HOUR_MS) + 72;
  return ((hours % HOURS_PER_WEEK) + HOURS_PER_WEEK) % HOURS_PER_WEEK;
}

/** A rollup with nothing in it. */
export function emptyRollup(
  series: RollupSeries,
  periodMs = MINUTE_MS,
  sketch: SketchOptions = {},
): Rollup {
  return {
    start: series.start,
    periodMs,
    tier: series.tier,
    siteOrRegion: series.siteOrRegion,
    model: series.model,
    count: 0,
    errors: 0,
    slaChecked: 0,
    slaMet: 0,
    costNanoUsd: 0,
    latency: new QuantileSketch(sketch),
    ttft: new QuantileSketch(sketch),
  };
}

/**
 * Counts one outcome into `rollup` (mutated and returned). The caller picks the rollup by
 * `rollupKey`; nothing here checks that the outcome belongs to it.
 */
export function addOutcome(rollup: Rollup, o: RollupOutcome): Rollup {
  rollup.count++;
  if (!o.ok) rollup.errors++;
  if (o.slaMs !== undefined) {
    rollup.slaChecked++;
    if (o.ok && o.latencyMs <= o.slaMs) rollup.slaMet++;
  }
  if (o.costUsd !== undefined && o.costUsd > 0 && Number.isFinite(o.costUsd)) {
    rollup.costNanoUsd += Math.round(o.costUsd * NANO);
  }
  if (o.ok) {
    if (o.latencyMs >= 0 && o.latencyMs < Number.POSITIVE_INFINITY) rollup.latency.add(o.latencyMs);
    const ttft = o.ttftMs;
    if (ttft !== undefined && ttft >= 0 && ttft < Number.POSITIVE_INFINITY) rollup.ttft.add(ttft);
  }
  return rollup;
}

/**
 * Folds outcomes into one rollup per (period, tier, site or region, model).
 * @param periodMs bucket width, `MINUTE_MS` by default
 * @returns rollups by `rollupKey`, in order of first appearance
 */
export function aggregate(
  outcomes: Iterable<RollupOutcome>,
  periodMs = MINUTE_MS,
  sketch: SketchOptions = {},
): Map<string, Rollup> {
  const out = new Map<string, Rollup>();
  for (const o of outcomes) {
    const start = floorTo(o.at, periodMs);
    const place = siteOrRegion(o.target);
    const key = `${start}|${o.tier}|${place}|${o.model}`;
    let r = out.get(key);
    if (r === undefined) {
      r = emptyRollup(
        { start, tier: o.tier, siteOrRegion: place, model: o.model },
        periodMs,
        sketch,
      );
      out.set(key, r);
    }
    addOutcome(r, o);
  }
  return out;
}

/** A deep copy: the sketches are cloned. */
export function cloneRollup(r: Rollup): Rollup {
  return { ...r, latency: r.latency.clone(), ttft: r.ttft.clone() };
}

/**
 * Adds `source` into `target` (mutated and returned; `source` is untouched).
 * @throws RangeError unless both have the same key and period
 */
export function mergeInto(target: Rollup, source: Rollup): Rollup {
  if (rollupKey(target) !== rollupKey(source) || target.periodMs !== source.periodMs) {
    throw new RangeError(
      `cannot merge rollup ${rollupKey(source)}/${source.periodMs} into ${rollupKey(target)}/${target.periodMs}`,
    );
  }
  target.count += source.count;
  target.errors += source.errors;
  target.slaChecked += source.slaChecked;
  target.slaMet += source.slaMet;
  target.costNanoUsd += source.costNanoUsd;
  target.latency.merge(source.latency);
  target.ttft.merge(source.ttft);
  return target;
}

/**
 * The rollup of both inputs' outcomes, as a new rollup. Associative and commutative.
 * @throws RangeError unless both have the same key and period
 */
export function mergeRollups(a: Rollup, b: Rollup): Rollup {
  return mergeInto(cloneRollup(a), b);
}

/**
 * Adds every rollup of `from` into `into` (mutated and returned): how the monitor accumulates
 * batches. Rollups new to `into` are copied, so `from` stays untouched.
 */
export function mergeRollupMaps(
  into: Map<string, Rollup>,
  from: Iterable<Rollup>,
): Map<string, Rollup> {
  for (const r of from) {
    const key = rollupKey(r);
    const have = into.get(key);
    if (have === undefined) into.set(key, cloneRollup(r));
    else mergeInto(have, r);
  }
  return into;
}

/**
 * Re-buckets rollups into wider periods, e.g. minutes into hours. Exact: the hour built from its
 * minutes equals the hour built from the outcomes (up to the sketches' float `sum`).
 * @param periodMs the new width, a multiple of every input's period (`HOUR_MS` by default)
 * @throws RangeError when an input's period does not divide `periodMs`
 */
export function rebucket(rollups: Iterable<Rollup>, periodMs = HOUR_MS): Map<string, Rollup> {
  const out = new Map<string, Rollup>();
  for (const r of rollups) {
    if (!(periodMs > 0 && periodMs % r.periodMs === 0)) {
      throw new RangeError(`cannot re-bucket a ${r.periodMs} ms period into ${periodMs} ms`);
    }
    const widened = { ...r, start: floorTo(r.start, periodMs), periodMs };
    const key = rollupKey(widened);
    const have = out.get(key);
    if (have === undefined) out.set(key, cloneRollup(widened));
    else mergeInto(have, widened);
  }
  return out;
}

const count = z.int().check(z.gte(0));
const sketchText = z.string().check(z.maxLength(64_000), z.regex(/^[A-Za-z0-9_-]*$/));
const name = z.string().check(z.minLength(1), z.maxLength(200));

/** A rollup as stored (a D1 row or JSON): sketches as base64url (`QuantileSketch.toBase64Url`). */
export const rollupRowSchema = z.strictObject({
  start: z.int(),
  periodMs: z.int().check(z.gt(0)),
  tier: z.enum(TIERS),
  siteOrRegion: name,
  model: name,
  count,
  errors: count,
  slaChecked: count,
  slaMet: count,
  costNanoUsd: count,
  latency: sketchText,
  ttft: sketchText,
});
export type RollupRow = z.infer<typeof rollupRowSchema>;

/** The stored form of a rollup. */
export function toRollupRow(r: Rollup): RollupRow {
  return {
    start: r.start,
    periodMs: r.periodMs,
    tier: r.tier,
    siteOrRegion: r.siteOrRegion,
    model: r.model,
    count: r.count,
    errors: r.errors,
    slaChecked: r.slaChecked,
    slaMet: r.slaMet,
    costNanoUsd: r.costNanoUsd,
    latency: r.latency.toBase64Url(),
    ttft: r.ttft.toBase64Url(),
  };
}

/**
 * Validates a stored row and turns it back into a rollup.
 * @throws ZodError on a bad shape, RangeError on a corrupt sketch or inconsistent counts
 */
export function fromRollupRow(row: unknown): Rollup {
  const r = rollupRowSchema.parse(row);
  const latency = QuantileSketch.fromBase64Url(r.latency);
  const ttft = QuantileSketch.fromBase64Url(r.ttft);
  const ok = r.count - r.errors;
  if (
    ok < 0 ||
    r.slaMet > r.slaChecked ||
    r.slaChecked > r.count ||
    latency.count > ok ||
    ttft.count > ok
  ) {
    throw new RangeError(`inconsistent counts in rollup ${rollupKey(r)}`);
  }
  return { ...r, latency, ttft };
}
