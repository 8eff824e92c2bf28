// The learning engine's estimators, fed by the monitor from request outcomes:
//
// - Per (target, model, network class): exponentially weighted latency, TTFT, decode tokens/s,
//   error rate and the ratio of observed to predicted latency, with sample counts. `correction`
//   turns them into a bounded multiplicative factor for the decision engine's predictions,
//   trusted more as samples grow (shrunk towards the network-agnostic estimate, and that towards
//   1, with weights n / (n + priorWeight)).
// - `policyVariant`: a stable hash that splits decisions between policy variants for A/B tests.
// - `demandProfile` / `upcomingPeaks`: requests per hour of the week for each model at each site,
//   and the daily peaks coming up, so the cache agent can prewarm a model before its rush.
//
// Pure: state in, new state out, never mutated; the state is JSON (validate it with the schemas
// when it comes back from D1).

import * as z from "zod/mini";
import { floorTo, HOUR_MS, HOURS_PER_WEEK, hourOfWeek, WEEK_MS } from "./rollup.ts";
import type { NetworkClass } from "./types.ts";

export interface LearningConfig {
  /** Weight of a new sample once a key has 1/α samples (before that, a plain mean). */
  alpha: number;
  /** The same for the error rate, which needs more samples: 1 failure in 40 is 2.5%. */
  errorAlpha: number;
  /** Samples at which an estimate is trusted half: confidence = n / (n + priorWeight). */
  priorWeight: number;
  /** Bounds of the correction factor. */
  minFactor: number;
  maxFactor: number;
}

export const DEFAULT_LEARNING_CONFIG: LearningConfig = {
  // ≈ the last 40 requests: a site's speed changes with load and residency within minutes.
  alpha: 0.05,
  // ≈ the last 200 requests: at α 0.05 a 5% error rate reads anywhere from 0% to 12%.
  errorAlpha: 0.01,
  priorWeight: 20,
  // The engine's model is never off by more than this for long; a wild factor is a sick site,
  // which the breaker handles, not the predictor.
  minFactor: 0.5,
  maxFactor: 3,
};

/** Where and how something ran; `network` "any" is the aggregate over network classes. */
export interface LearningKey {
  /** `site:<id>`, `cloud:<region>` or `device`, as the executor names targets. */
  target: string;
  model: string;
  network: NetworkClass | "any";
}

export interface LearningObservation {
  at: number;
  target: string;
  model: string;
  network: NetworkClass;
  ok: boolean;
  /** Observed latency, ms: the same measure (complete or first token) as `predictedMs`. */
  latencyMs?: number;
  /** Time to first token, ms (streaming). */
  ttftMs?: number;
  /** Tokens generated; with `ttftMs` and `latencyMs` gives the decode rate. */
  outputTokens?: number;
  /** What the decision engine predicted for this request, ms. */
  predictedMs?: number;
}

const count = z.int().check(z.gte(0));
const stat = z.strictObject({ n: count, mean: z.number() });
type Stat = z.infer<typeof stat>;

/** The persisted estimate for one key. */
export const estimateStateSchema = z.strictObject({
  /** Observations, ok or not. */
  n: count,
  errorRate: z.number().check(z.gte(0), z.lte(1)),
  latencyMs: stat,
  ttftMs: stat,
  tokensPerSec: stat,
  /** ln(observed / predicted latency). */
  logRatio: stat,
  lastAt: z.number(),
});
export type EstimateState = z.infer<typeof estimateStateSchema>;

/** Estimates by `learningKey`. */
export const learningStateSchema = z.record(z.string(), estimateStateSchema);
export type LearningState = z.infer<typeof learningStateSchema>;

/** `site:berlin-1|llama-3.1-8b|good`. */
export function learningKey(k: LearningKey): string {
  return `${k.target}|${k.model}|${k.network}`;
}

export interface Estimate {
  samples: number;
  /** undefined until a successful sample says otherwise. */
  latencyMs: number | undefined;
  ttftMs: number | undefined;
  tokensPerSec: number | undefined;
  errorRate: number;
  /** Share of trust, 0–1: samples / (samples + priorWeight). */
  confidence: number;
  lastAt: number;
}

/** Learns from one observation: updates its key and the key's network-agnostic aggregate. */
export function observe(
  state: LearningState,
  obs: LearningObservation,
  cfg: LearningConfig = DEFAULT_LEARNING_CONFIG,
): LearningState {
  return observeMany(state, [obs], cfg);
}

/** `observe` for a batch, copying the state once. */
export function observeMany(
  state: LearningState,
  observations: Iterable<LearningObservation>,
  cfg: LearningConfig = DEFAULT_LEARNING_CONFIG,
): LearningState {
  const next: LearningState = { ...state };
  for (const obs of observations) {
    for (const network of [obs.network, "any"] as const) {
      const key = learningKey({ target: obs.target, model: obs.model, network });
      next[key] = update(next[key], obs, cfg);
    }
  }
  return next;
}

function update(
  prev: EstimateState | undefined,
  obs: LearningObservation,
  cfg: LearningConfig,
): EstimateState {
  const e = prev ?? {
    n: 0,
    errorRate: 0,
    latencyMs: none(),
    ttftMs: none(),
    tokensPerSec: none(),
    logRatio: none(),
    lastAt: obs.at,
  };
  const n = e.n + 1;
  const a = Math.max(cfg.errorAlpha, 1 / n);
  const next: EstimateState = {
    ...e,
    n,
    errorRate: e.errorRate + a * ((obs.ok ? 0 : 1) - e.errorRate),
    lastAt: Math.max(e.lastAt, obs.at),
  };
  if (!obs.ok) return next;
  const { latencyMs, ttftMs, outputTokens, predictedMs } = obs;
  if (positive(latencyMs)) {
    next.latencyMs = ewma(e.latencyMs, latencyMs, cfg);
    if (positive(predictedMs))
      next.logRatio = ewma(e.logRatio, Math.log(latencyMs / predictedMs), cfg);
  }
  if (positive(ttftMs)) next.ttftMs = ewma(e.ttftMs, ttftMs, cfg);
  if (positive(latencyMs) && positive(ttftMs) && latencyMs > ttftMs && (outputTokens ?? 0) >= 2) {
    const decodeSeconds = (latencyMs - ttftMs) / 1000;
    next.tokensPerSec = ewma(e.tokensPerSec, ((outputTokens ?? 0) - 1) / decodeSeconds, cfg);
  }
  return next;
}

/** What has been learned for `key`; undefined if nothing. */
export function estimate(
  state: LearningState,
  key: LearningKey,
  cfg: LearningConfig = DEFAULT_LEARNING_CONFIG,
): Estimate | undefined {
  const e = state[learningKey(key)];
  if (e === undefined) return undefined;
  const value = (s: Stat) => (s.n > 0 ? s.mean : undefined);
  return {
    samples: e.n,
    latencyMs: value(e.latencyMs),
    ttftMs: value(e.ttftMs),
    tokensPerSec: value(e.tokensPerSec),
    errorRate: e.errorRate,
    confidence: e.n / (e.n + cfg.priorWeight),
    lastAt: e.lastAt,
  };
}

/**
 * The factor to multiply the engine's latency prediction by, in [minFactor, maxFactor]; 1 when
 * nothing is known. The learned log-ratio of observed to predicted latency (its exp is the
 * median ratio under log-normal noise), or, without one, ln(learned latency / `predictedMs`);
 * on the log scale the key's value is shrunk towards the network-agnostic one, and that towards
 * 0 (a factor of 1), each with weight n / (n + priorWeight).
 * @param predictedMs the prediction about to be corrected; only used when no ratio was learned
 */
export function correction(
  state: LearningState,
  key: LearningKey,
  predictedMs: number,
  cfg: LearningConfig = DEFAULT_LEARNING_CONFIG,
): number {
  const exact = logRatioOf(state[learningKey(key)], predictedMs, cfg);
  const anyKey = learningKey({ ...key, network: "any" });
  const pooled =
    key.network === "any" ? { weight: 0, value: 0 } : logRatioOf(state[anyKey], predictedMs, cfg);
  const prior = pooled.weight * pooled.value;
  const ln = exact.weight * exact.value + (1 - exact.weight) * prior;
  if (Number.isNaN(ln)) return 1;
  const factor = Math.exp(ln);
  return Math.min(cfg.maxFactor, Math.max(cfg.minFactor, factor));
}

function logRatioOf(
  e: EstimateState | undefined,
  predictedMs: number,
  cfg: LearningConfig,
): { weight: number; value: number } {
  if (e === undefined) return { weight: 0, value: 0 };
  if (e.logRatio.n > 0) return weighted(e.logRatio.n, e.logRatio.mean, cfg);
  if (e.latencyMs.n > 0 && positive(predictedMs)) {
    return weighted(e.latencyMs.n, Math.log(e.latencyMs.mean / predictedMs), cfg);
  }
  return { weight: 0, value: 0 };
}

function weighted(n: number, value: number, cfg: LearningConfig) {
  return { weight: n / (n + cfg.priorWeight), value };
}

function none(): Stat {
  return { n: 0, mean: 0 };
}

function ewma(s: Stat, x: number, cfg: LearningConfig): Stat {
  const n = s.n + 1;
  return { n, mean: s.mean + Math.max(cfg.alpha, 1 / n) * (x - s.mean) };
}

function positive(x: number | undefined): x is number {
  return x !== undefined && x > 0 && x < Number.POSITIVE_INFINITY;
}

/** A policy variant and its share of traffic (any non-negative weight; shares are relative). */
export interface PolicyVariant {
  name: string;
  weight: number;
}

/**
 * Assigns a decision to a policy variant, deterministically: the same id (and salt) always gets
 * the same variant, on any isolate, with no state. FNV-1a over the id's UTF-16 code units, mixed
 * with MurmurHash3's finaliser, read as a point in [0, 1) against the cumulative weights.
 * @param variants names (equal shares) or weighted variants, in a fixed order
 * @param salt e.g. the experiment's name, so that two experiments split independently
 * @throws RangeError when there is no variant, a weight is negative, or all weights are 0
 */
export function policyVariant(
  decisionId: string,
  variants: readonly string[] | readonly PolicyVariant[],
  salt = "",
): string {
  const list: PolicyVariant[] = variants.map((v) =>
    typeof v === "string" ? { name: v, weight: 1 } : v,
  );
  let total = 0;
  for (const v of list) {
    if (!(v.weight >= 0 && Number.isFinite(v.weight))) {
      throw new RangeError("variant weights must be ≥ 0");
    }
    total += v.weight;
  }
  if (!(total > 0)) throw new RangeError("policyVariant needs a variant with a positive weight");
  const point = (hash32(`${salt}\u0000${decisionId}`) / 4294967296) * total;
  let cumulative = 0;
  for (const v of list) {
    cumulative += v.weight;
    if (point < cumulative) return v.name;
  }
  // Rounding may leave `point` just past the sum; the last variant with weight takes it.
  return list.findLast((v) => v.weight > 0)?.name as string;
}

function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Requests for one model at one target in one period, e.g. from an hourly rollup. */
export interface DemandPoint {
  at: number;
  target: string;
  model: string;
  count: number;
}

const slots = z
  .array(z.number().check(z.gte(0)))
  .check(z.minLength(HOURS_PER_WEEK), z.maxLength(HOURS_PER_WEEK));

/** Mean requests per hour for each hour of the week, per (target, model). */
export const demandProfileSchema = z.strictObject({
  v: z.literal(1),
  /** The history covered, epoch ms, whole hours: [from, to). */
  from: z.number(),
  to: z.number(),
  tzOffsetMinutes: z.number(),
  /** By `target|model`. */
  series: z.record(
    z.string(),
    z.strictObject({ target: z.string(), model: z.string(), perHour: slots }),
  ),
});
export type DemandProfile = z.infer<typeof demandProfileSchema>;

export interface DemandProfileOptions {
  /** Start of the history, epoch ms; default: the hour of the earliest point. */
  from?: number;
  /** End of the history (exclusive); default: the end of the hour of the latest point. */
  to?: number;
  /** Hour-of-week slots in local time, e.g. 60 for CET; a whole number of hours. */
  tzOffsetMinutes?: number;
}

/**
 * Demand pattern per model per target: for each hour of the week, the mean requests in that hour
 * over the weeks covered. An hour of the week that occurred three times in [from, to) divides by
 * three, whether or not any request came, so quiet hours count as quiet. Points outside
 * [from, to) are ignored.
 */
export function demandProfile(
  points: Iterable<DemandPoint>,
  options: DemandProfileOptions = {},
): DemandProfile {
  const tz = options.tzOffsetMinutes ?? 0;
  const list: DemandPoint[] = [];
  let earliest = Number.POSITIVE_INFINITY;
  let latest = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (!(Number.isFinite(p.at) && p.count > 0 && Number.isFinite(p.count))) continue;
    list.push(p);
    earliest = Math.min(earliest, p.at);
    latest = Math.max(latest, p.at);
  }
  const from = floorTo(options.from ?? (list.length ? earliest : 0), HOUR_MS);
  const to = Math.max(
    from,
    options.to ?? (list.length ? floorTo(latest, HOUR_MS) + HOUR_MS : from),
  );
  const totals = new Map<string, { target: string; model: string; sums: number[] }>();
  for (const p of list) {
    if (p.at < from || p.at >= to) continue;
    const key = `${p.target}|${p.model}`;
    let t = totals.get(key);
    if (t === undefined) {
      t = { target: p.target, model: p.model, sums: new Array<number>(HOURS_PER_WEEK).fill(0) };
      totals.set(key, t);
    }
    const slot = hourOfWeek(p.at, tz);
    t.sums[slot] = (t.sums[slot] ?? 0) + p.count;
  }
  const seen = occurrences(from, to, tz);
  const series: DemandProfile["series"] = {};
  for (const [key, t] of totals) {
    const perHour = t.sums.map((sum, slot) => {
      const times = seen[slot] ?? 0;
      return times === 0 ? 0 : sum / times;
    });
    series[key] = { target: t.target, model: t.model, perHour };
  }
  return { v: 1, from, to, tzOffsetMinutes: tz, series };
}

/** How many times each hour of the week starts in [from, to). */
function occurrences(from: number, to: number, tz: number): number[] {
  const hours = Math.max(0, Math.floor((to - from) / HOUR_MS));
  const weeks = Math.floor(hours / HOURS_PER_WEEK);
  const seen = new Array<number>(HOURS_PER_WEEK).fill(weeks);
  const first = hourOfWeek(from, tz);
  for (let i = 0; i < hours % HOURS_PER_WEEK; i++) {
    const slot = (first + i) % HOURS_PER_WEEK;
    seen[slot] = (seen[slot] ?? 0) + 1;
  }
  return seen;
}

export interface PeakOptions {
  /** A day's busiest hour is a peak when its demand is at least this × the weekly mean. */
  peakRatio: number;
  /** …and at least this many requests per hour. */
  minPerHour: number;
}

export const DEFAULT_PEAK_OPTIONS: PeakOptions = { peakRatio: 1.5, minPerHour: 1 };

export interface UpcomingPeak {
  target: string;
  model: string;
  /** Start of the peak hour, epoch ms. */
  startsAt: number;
  /** Mean requests in that hour of the week. */
  expectedPerHour: number;
  /** Mean requests per hour over the whole week. */
  typicalPerHour: number;
}

/**
 * Models to prewarm: for each (target, model), each day's busiest hour (a local day under the
 * profile's time zone) that is a peak by `options`, and starts within (now, now + horizonMs].
 * Sorted by start, then by expected demand, highest first. Horizons beyond a week are cut to one.
 */
export function upcomingPeaks(
  profile: DemandProfile,
  now: number,
  horizonMs: number,
  options: PeakOptions = DEFAULT_PEAK_OPTIONS,
): UpcomingPeak[] {
  const end = now + Math.min(horizonMs, WEEK_MS);
  const out: UpcomingPeak[] = [];
  for (const s of Object.values(profile.series)) {
    const typical = s.perHour.reduce((a, b) => a + b, 0) / HOURS_PER_WEEK;
    if (!(typical > 0)) continue;
    const peaks = new Set<number>();
    for (let day = 0; day < 7; day++) {
      let best = day * 24;
      for (let slot = best + 1; slot < day * 24 + 24; slot++) {
        if ((s.perHour[slot] ?? 0) > (s.perHour[best] ?? 0)) best = slot;
      }
      const v = s.perHour[best] ?? 0;
      if (v >= options.peakRatio * typical && v >= options.minPerHour) peaks.add(best);
    }
    for (let t = floorTo(now, HOUR_MS) + HOUR_MS; t <= end; t += HOUR_MS) {
      const slot = hourOfWeek(t, profile.tzOffsetMinutes);
      if (!peaks.has(slot)) continue;
      const expectedPerHour = s.perHour[slot] ?? 0;
      out.push({
        target: s.target,
        model: s.model,
        startsAt: t,
        expectedPerHour,
        typicalPerHour: typical,
      });
    }
  }
  return out.sort((a, b) => a.startsAt - b.startsAt || b.expectedPerHour - a.expectedPerHour);
}
