// Anomaly detection on per-minute series: one series per site or tier and metric (latency, error
// rate), fed one point per closed minute by the monitor (e.g. a site's p95 from its minute sketch,
// or errors / count). Pure: state in, state and verdict out; the state is a small JSON object that
// the monitor keeps in D1 and validates with `seriesStateSchema` when it reads it back.
//
// - Baseline: an exponentially weighted mean and variance (Finch 2009, "Incremental calculation
//   of weighted mean and variance"), of ln(value) for latency (`scale: "log"`: latency noise is
//   multiplicative) and of the value itself for rates. Each point is judged against the baseline
//   *before* it is added: z = (y − mean) / sd, with sd floored (`minSd`, `relativeMinSd` × mean)
//   so a very steady series does not turn every wobble into a 10σ event. The first `warmUp`
//   points only learn (the weight is max(α, 1/n), a plain mean at first).
// - Rates from few requests: an error rate of 1 in 10 is no evidence against a baseline of 0.
//   With `binomial` set and the point's request count `n` given, sd is also floored at the
//   binomial sd √(p(1 − p)/n), p = max(expected, 1/n); without it a site with twenty requests a
//   minute and a 1% error rate raised several alarms a day in simulation, with it none in 35 days.
// - Anomaly: |z| ≥ `threshold` for `consecutive` points in a row in the same direction, in the
//   configured direction. One outlier is noise; K in a row is a shift.
// - Outliers do not teach the baseline: a point with |z| ≥ threshold leaves mean and variance as
//   they were, or a shift would inflate the variance and hide itself within a few points. A shift
//   that lasts `relearnAfter` points is the new normal and the EWMA restarts from it (a fresh
//   warm-up). If the seasonal baseline judged it, the slots' levels are stale as well and the
//   whole series starts over, seasonal history included.
// - Seasonal baseline, once enough history exists: every point also feeds the slot of its hour
//   of the week (168 slots, UTC shifted by `tzOffsetMinutes`) with its own weighted mean and
//   variance (weight max(α, 1/n): a plain mean of the first 200 points, then ≈ the last four
//   weeks of that hour). Once the series is `minHistoryMs` old (two weeks by default) and the
//   slot has `minPoints` points (an hour of minutes), the slot is the baseline instead of the
//   EWMA: Monday 09:00 is compared with earlier Mondays at 09:00, not with the night before, so
//   a daily rush stops raising alarms, and a slow creep at night that the EWMA would follow is
//   caught. Until the series is that old a slot learns every point (the EWMA may flag the rush
//   meanwhile); after, only points that are usual for the slot.
// - Points at or before the last point's time are ignored (a redelivered minute must not count
//   twice); non-finite values too.

import * as z from "zod/mini";
import { HOURS_PER_WEEK, hourOfWeek, WEEK_MS } from "./rollup.ts";

export type AnomalyMetric = "latency" | "error_rate";
export type AnomalyDirection = "up" | "down" | "both";

export interface SeasonalConfig {
  /** Weight of a new point in its hour-of-week slot. */
  alpha: number;
  /** The series must be this old before any slot is used. */
  minHistoryMs: number;
  /** Points a slot needs before it is used. */
  minPoints: number;
}

export interface AnomalyConfig {
  /** Weight of a new point in the baseline: 0.05 ≈ the last 40 points. */
  alpha: number;
  /** |z| at or above which a point is unusual. */
  threshold: number;
  /** K: unusual points in a row, same direction, before the series is flagged. */
  consecutive: number;
  /** Points that only learn before anything can be flagged. */
  warmUp: number;
  /** Which side counts: latency spikes and drops both say something; error rates only rising. */
  direction: AnomalyDirection;
  /**
   * `log` judges ln(value): latency noise is multiplicative (log-normal), so z is then symmetric
   * and a 2× shift reads the same at 20 ms as at 2 s. Values below `LOG_FLOOR` count as it.
   */
  scale: "linear" | "log";
  /** Floor of the sd used in z, on the series' scale (for `log`, 0.05 ≈ 5%). */
  minSd: number;
  /** Floor of the sd as a share of the expected value (`linear` only). */
  relativeMinSd: number;
  /** The value is a rate of `n` trials: floor the sd at the binomial sd (see the header). */
  binomial: boolean;
  /** Unusual points in a row after which the level is accepted as the new normal. */
  relearnAfter: number;
  /** Hour-of-week baseline; null turns it off. */
  seasonal: SeasonalConfig | null;
  /** Shifts hour-of-week slots to local time, e.g. 60 for CET. */
  tzOffsetMinutes: number;
}

/** Smallest value the log scale takes (1 ns in ms). */
export const LOG_FLOOR = 1e-6;

// 60 points an hour: 1 − (1 − 0.005)^60 ≈ 26% weight on the latest week, ≈ 4 weeks of memory.
const SEASONAL: SeasonalConfig = { alpha: 0.005, minHistoryMs: 2 * WEEK_MS, minPoints: 60 };

/** Defaults per metric, for one point per minute. */
export const DEFAULT_ANOMALY_CONFIG: Record<AnomalyMetric, AnomalyConfig> = {
  latency: {
    alpha: 0.05,
    // On the log scale minute latencies are near normal. About 1% of points pass 3σ (the
    // baseline's own noise adds to the 0.27% of a known normal), but three in a row in the same
    // direction: not once in 35 simulated days of a steady series (see the false-positive test).
    threshold: 3,
    consecutive: 3,
    warmUp: 30,
    direction: "both",
    scale: "log",
    // ln(1.05): a latency moving by less than ~5% is not worth a page, however steady the series.
    minSd: 0.05,
    relativeMinSd: 0,
    binomial: false,
    relearnAfter: 120,
    seasonal: SEASONAL,
    tzOffsetMinutes: 0,
  },
  error_rate: {
    alpha: 0.05,
    // Error counts are discrete and right-skewed at a few percent: at 3σ a 2% series of 50
    // requests a minute raised an alarm about once a month in simulation, at 3.5σ not at all.
    threshold: 3.5,
    consecutive: 3,
    warmUp: 30,
    direction: "up",
    scale: "linear",
    // One percentage point, for points given without a request count (see `binomial`).
    minSd: 0.01,
    relativeMinSd: 0,
    binomial: true,
    relearnAfter: 120,
    seasonal: SEASONAL,
    tzOffsetMinutes: 0,
  },
};

const count = z.int().check(z.gte(0));
const slots = <T extends z.ZodMiniType>(item: T) =>
  z.array(item).check(z.minLength(HOURS_PER_WEEK), z.maxLength(HOURS_PER_WEEK));

/** The persisted state of one series. */
export const seriesStateSchema = z.strictObject({
  v: z.literal(1),
  /** Points in the baseline since it (re)started. */
  n: count,
  firstAt: z.number(),
  lastAt: z.number(),
  /** On the series' scale (ln for `log`). */
  mean: z.number(),
  variance: z.number().check(z.gte(0)),
  /** Unusual points in a row: +k above, −k below the baseline, 0 after a usual point. */
  run: z.int(),
  /** Per hour-of-week slot (0 = Monday 00:00): points, weighted mean and variance. */
  season: z.nullable(
    z.strictObject({
      n: slots(count),
      mean: slots(z.number()),
      variance: slots(z.number().check(z.gte(0))),
    }),
  ),
});
export type SeriesState = z.infer<typeof seriesStateSchema>;

/** Many series by `anomalySeriesKey`. */
export const anomalyStateSchema = z.record(z.string(), seriesStateSchema);
export type AnomalyState = z.infer<typeof anomalyStateSchema>;

/** `site:berlin-1:latency`, `tier:cloud:error_rate`. */
export function anomalySeriesKey(
  scope: "site" | "tier",
  id: string,
  metric: AnomalyMetric,
): string {
  return `${scope}:${id}:${metric}`;
}

export interface AnomalyPoint {
  /** Start (or end) of the minute, epoch ms; must increase from point to point. */
  at: number;
  value: number;
  /** Requests behind the value (for a rate with `binomial`), e.g. the minute's count. */
  n?: number;
}

export interface AnomalyVerdict {
  state: SeriesState;
  /** Which baseline judged the point. */
  baseline: "warming_up" | "ewma" | "seasonal";
  /** The baseline's value in the metric's unit (for `log`, its geometric mean). */
  expected: number;
  /** The sd used, after the floors, on the series' scale. */
  sd: number;
  /** 0 while warming up. */
  z: number;
  /** The series is in an anomaly: K or more unusual points in a row, in a watched direction. */
  anomalous: boolean;
  /** This point is the K-th: the anomaly starts here (alert once, on this). */
  onset: boolean;
  /** The anomaly lasted `relearnAfter` points; the series restarted from this point. */
  relearned: boolean;
  /** The point was stale or not finite and changed nothing. */
  ignored: boolean;
}

/**
 * Judges one point of a series against its baseline, then learns from it.
 * @param state the series so far; undefined for a new series
 */
export function observePoint(
  state: SeriesState | undefined,
  point: AnomalyPoint,
  cfg: AnomalyConfig,
): AnomalyVerdict {
  const { at, value } = point;
  if (
    !Number.isFinite(at) ||
    !Number.isFinite(value) ||
    (state !== undefined && at <= state.lastAt)
  ) {
    const s = state ?? fresh(Number.isFinite(at) ? at : 0, cfg);
    return verdict(s, "warming_up", unscale(s.mean, cfg), 0, 0, false, false, false, true);
  }
  const x = cfg.scale === "log" ? Math.log(Math.max(value, LOG_FLOOR)) : value;
  const s = state ?? fresh(at, cfg);
  const slot = hourOfWeek(at, cfg.tzOffsetMinutes);
  const mature = cfg.seasonal !== null && at - s.firstAt >= cfg.seasonal.minHistoryMs;
  const slotStats = s.season
    ? judge(s.season.mean[slot] ?? 0, s.season.variance[slot] ?? 0, x, point.n, cfg)
    : undefined;
  const slotReady = (s.season?.n[slot] ?? 0) >= (cfg.seasonal?.minPoints ?? 0);
  const seasonal = mature && slotReady && slotStats !== undefined;
  const baseline = s.n < cfg.warmUp ? "warming_up" : seasonal ? "seasonal" : "ewma";
  const j = seasonal ? slotStats : judge(s.mean, s.variance, x, point.n, cfg);
  const zScore = baseline === "warming_up" ? 0 : j.z;
  const unusual = Math.abs(zScore) >= cfg.threshold;
  const sign = zScore > 0 ? 1 : -1;
  const run = !unusual ? 0 : Math.sign(s.run) === sign ? s.run + sign : sign;
  const watched = cfg.direction === "both" || (cfg.direction === "up") === sign > 0;
  const anomalous = watched && Math.abs(run) >= cfg.consecutive;
  const onset = anomalous && Math.abs(run) === cfg.consecutive;
  const expected = unscale(j.mean, cfg);
  if (Math.abs(run) >= cfg.relearnAfter) {
    // The level held: accept it. Judged by the seasonal baseline, the slots' levels are stale
    // too, so the series starts over; judged by the EWMA, the seasonal history is kept.
    const base = seasonal ? fresh(at, cfg) : { ...fresh(s.firstAt, cfg), season: s.season };
    const restarted = learn(base, x, at, slot, true, cfg);
    return verdict(restarted, baseline, expected, j.sd, zScore, anomalous, onset, true);
  }
  // A slot learns every point until the series is mature, then only points usual for the slot.
  const slotLearns = !mature || !slotReady || Math.abs(slotStats?.z ?? 0) < cfg.threshold;
  const next = learn({ ...s, run }, x, at, slot, !unusual, cfg, slotLearns);
  return verdict(next, baseline, expected, j.sd, zScore, anomalous, onset, false);
}

/** z of `x` against a mean and variance, with the sd floors applied. */
function judge(
  mean: number,
  variance: number,
  x: number,
  n: number | undefined,
  cfg: AnomalyConfig,
) {
  const linear = cfg.scale === "linear";
  const sd = Math.max(
    Math.sqrt(variance),
    cfg.minSd,
    linear ? cfg.relativeMinSd * Math.abs(mean) : 0,
    linear && cfg.binomial ? binomialSd(mean, n) : 0,
  );
  return { mean, sd, z: sd > 0 ? (x - mean) / sd : 0 };
}

function unscale(y: number, cfg: AnomalyConfig): number {
  return cfg.scale === "log" ? Math.exp(y) : y;
}

function verdict(
  state: SeriesState,
  baseline: AnomalyVerdict["baseline"],
  expected: number,
  sd: number,
  zScore: number,
  anomalous: boolean,
  onset: boolean,
  relearned: boolean,
  ignored = false,
): AnomalyVerdict {
  return { state, baseline, expected, sd, z: zScore, anomalous, onset, relearned, ignored };
}

/** √(p(1 − p)/n) with p = max(expected, 1/n) capped at ½; 0 without a positive n. */
function binomialSd(expected: number, n: number | undefined): number {
  if (n === undefined || !(n > 0)) return 0;
  const p = Math.min(0.5, Math.max(expected, 1 / n));
  return Math.sqrt((p * (1 - p)) / n);
}

function fresh(at: number, cfg: AnomalyConfig): SeriesState {
  const zeros = () => new Array<number>(HOURS_PER_WEEK).fill(0);
  return {
    v: 1,
    n: 0,
    firstAt: at,
    lastAt: at,
    mean: 0,
    variance: 0,
    run: 0,
    season: cfg.seasonal ? { n: zeros(), mean: zeros(), variance: zeros() } : null,
  };
}

/**
 * Records the point: into the EWMA when `ewmaLearns`, into its hour-of-week slot when
 * `slotLearns`; the run is kept as given.
 */
function learn(
  s: SeriesState,
  x: number,
  at: number,
  slot: number,
  ewmaLearns: boolean,
  cfg: AnomalyConfig,
  slotLearns = true,
): SeriesState {
  let { n, mean, variance, season } = s;
  // A series stored while the seasonal baseline was off starts collecting once it is on.
  if (!season && cfg.seasonal) season = fresh(at, cfg).season;
  if (ewmaLearns) {
    [mean, variance] = ewm(mean, variance, x, Math.max(cfg.alpha, 1 / (n + 1)));
    n++;
  }
  if (season && cfg.seasonal && slotLearns) {
    const k = season.n[slot] ?? 0;
    const a = Math.max(cfg.seasonal.alpha, 1 / (k + 1));
    const [m, v] = ewm(season.mean[slot] ?? 0, season.variance[slot] ?? 0, x, a);
    season = {
      n: season.n.with(slot, k + 1),
      mean: season.mean.with(slot, m),
      variance: season.variance.with(slot, v),
    };
  }
  return { ...s, n, lastAt: at, mean, variance, season };
}

/** One step of the exponentially weighted mean and variance. */
function ewm(mean: number, variance: number, x: number, a: number): [number, number] {
  const diff = x - mean;
  const incr = a * diff;
  return [mean + incr, (1 - a) * (variance + diff * incr)];
}
