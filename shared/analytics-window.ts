// The time window of an analytics query, pure: a preset range (`15m` … `7d`) or explicit
// `from` / `to`, cut into buckets of a step chosen for the range (about 60–120 points for a
// chart) or given. Buckets are aligned to the step on the epoch (UTC), so the same window asked
// twice in a minute has the same buckets, and a bucket's start is a multiple of its step.
//
// Every analytics endpoint reads its window through `windowQuerySchema` and `resolveWindow`;
// the MCP tools pass the same fields.

import * as z from "zod/mini";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The ranges the dashboard offers, by name. */
export const RANGES = {
  "15m": 15 * MINUTE_MS,
  "1h": HOUR_MS,
  "6h": 6 * HOUR_MS,
  "24h": DAY_MS,
  "7d": 7 * DAY_MS,
} as const;
export type RangeName = keyof typeof RANGES;
export const DEFAULT_RANGE: RangeName = "1h";

/** Shortest and longest window: one minute (the rollups' grain) to seven days. */
export const MIN_SPAN_MS = MINUTE_MS;
export const MAX_SPAN_MS = 7 * DAY_MS;

/** Bucket steps, by name: each a whole number of minutes. */
export const STEPS = {
  "1m": MINUTE_MS,
  "2m": 2 * MINUTE_MS,
  "5m": 5 * MINUTE_MS,
  "10m": 10 * MINUTE_MS,
  "15m": 15 * MINUTE_MS,
  "30m": 30 * MINUTE_MS,
  "1h": HOUR_MS,
  "2h": 2 * HOUR_MS,
  "3h": 3 * HOUR_MS,
  "6h": 6 * HOUR_MS,
  "12h": 12 * HOUR_MS,
  "1d": DAY_MS,
} as const;
export type StepName = keyof typeof STEPS;

/** The default step is the smallest giving at most this many buckets. */
export const TARGET_POINTS = 120;
/** A window (with an explicit step) may not have more buckets than this. */
export const MAX_POINTS = 720;

/** Epoch ms up to the year 9999, from a query string or a number. */
const epochMs = z.coerce
  .number()
  .check(
    z.refine(
      (v) => Number.isInteger(v) && v >= 0 && v <= 253_402_300_799_999,
      "expected epoch milliseconds (a non-negative integer)",
    ),
  );

/** `range` or `from` (with an optional `to`, default now), and an optional `step`. */
export const windowFields = {
  range: z.optional(z.enum(Object.keys(RANGES) as [RangeName, ...RangeName[]])),
  from: z.optional(epochMs),
  to: z.optional(epochMs),
  step: z.optional(z.enum(Object.keys(STEPS) as [StepName, ...StepName[]])),
};

export interface WindowInput {
  range?: RangeName | undefined;
  from?: number | undefined;
  to?: number | undefined;
  step?: StepName | undefined;
}

/** The resolved window: `[from, to)`, both multiples of `stepMs`. */
export interface AnalyticsWindow {
  /** First bucket's start, epoch ms, inclusive. */
  from: number;
  /** End, epoch ms, exclusive. */
  to: number;
  stepMs: number;
  /** Number of buckets: (to − from) / stepMs. */
  points: number;
}

export type WindowProblem = { path: keyof WindowInput; message: string };

/** The smallest step with at most `TARGET_POINTS` buckets over `spanMs`. */
export function defaultStep(spanMs: number): number {
  for (const step of Object.values(STEPS)) {
    if (Math.ceil(spanMs / step) <= TARGET_POINTS) return step;
  }
  return STEPS["1d"];
}

/** The end of the current minute: a default `to` that includes the minute in progress. */
export function currentMinuteEnd(now: number): number {
  return Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
}

/**
 * The problem with a window's fields, if any (for 400s with field paths): `range` together with
 * `from`, `to` before `from`, a span outside [1 min, 7 d], or too many buckets for the step.
 */
export function windowProblem(q: WindowInput, now: number): WindowProblem | undefined {
  if (q.range !== undefined && q.from !== undefined) {
    return { path: "range", message: "give either range or from/to, not both" };
  }
  const to = q.to ?? currentMinuteEnd(now);
  const from = q.from ?? to - RANGES[q.range ?? DEFAULT_RANGE];
  if (from >= to) return { path: "from", message: "from must be before to" };
  const span = to - from;
  if (span < MIN_SPAN_MS) return { path: "to", message: "the window must span at least 1 minute" };
  if (span > MAX_SPAN_MS) return { path: "from", message: "the window may span at most 7 days" };
  if (q.step !== undefined) {
    const w = align(from, to, STEPS[q.step]);
    if (w.points > MAX_POINTS) {
      return {
        path: "step",
        message: `step ${q.step} gives ${w.points} buckets over this window (at most ${MAX_POINTS})`,
      };
    }
  }
  return undefined;
}

/**
 * The window of valid fields (see `windowProblem`): `to` defaults to the end of the current
 * minute, `from` to `to` minus the range (default 1 h), the step to `defaultStep`; `from` is
 * rounded down and `to` up to the step.
 */
export function resolveWindow(q: WindowInput, now: number): AnalyticsWindow {
  const to = q.to ?? currentMinuteEnd(now);
  const from = q.from ?? to - RANGES[q.range ?? DEFAULT_RANGE];
  const step = q.step !== undefined ? STEPS[q.step] : defaultStep(to - from);
  return align(from, to, step);
}

function align(from: number, to: number, stepMs: number): AnalyticsWindow {
  const start = Math.floor(from / stepMs) * stepMs;
  const end = Math.ceil(to / stepMs) * stepMs;
  return { from: start, to: end, stepMs, points: (end - start) / stepMs };
}

/** The start of every bucket of `w`, in order. */
export function bucketStarts(w: AnalyticsWindow): number[] {
  return Array.from({ length: w.points }, (_, i) => w.from + i * w.stepMs);
}

/** The index of the bucket holding `time`, or -1 outside the window. */
export function bucketIndexOf(w: AnalyticsWindow, time: number): number {
  if (time < w.from || time >= w.to) return -1;
  return Math.floor((time - w.from) / w.stepMs);
}

/** How long a response over `w` may be cached: 10 s up to an hour's window, else 30 s. */
export function cacheSeconds(w: AnalyticsWindow): number {
  return w.to - w.from <= HOUR_MS ? 10 : 30;
}
