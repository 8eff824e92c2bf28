// The analytics API's pure parts: windows and bucket steps (shared/analytics-window.ts), the
// query schemas (shared/analytics-api.ts) and aggregation into totals, rates and columns
// (shared/analytics-aggregate.ts).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  columnsOf,
  percentileColumns,
  percentilesOf,
  type Sums,
  tierTotals,
  totalsOf,
  zeroSums,
} from "../../shared/analytics-aggregate.ts";
import { decisionsQuerySchema, targetsQuerySchema } from "../../shared/analytics-api.ts";
import {
  bucketIndexOf,
  bucketStarts,
  currentMinuteEnd,
  DAY_MS,
  defaultStep,
  HOUR_MS,
  MAX_POINTS,
  MINUTE_MS,
  RANGES,
  resolveWindow,
  STEPS,
  TARGET_POINTS,
  windowProblem,
} from "../../shared/analytics-window.ts";
import { QuantileSketch } from "../../shared/sketch.ts";

const NOW = Date.UTC(2026, 10, 25, 12, 34, 56, 789);

describe("windows", () => {
  it("default: the last hour up to the end of the current minute, one-minute buckets", () => {
    const w = resolveWindow({}, NOW);
    expect(w.to).toBe(Date.UTC(2026, 10, 25, 12, 35));
    expect(w).toEqual({ from: w.to - HOUR_MS, to: w.to, stepMs: MINUTE_MS, points: 60 });
    expect(currentMinuteEnd(Date.UTC(2026, 0, 1, 0, 0))).toBe(Date.UTC(2026, 0, 1, 0, 1));
  });

  it("each preset gets the smallest step with at most 120 buckets", () => {
    const steps = Object.fromEntries(
      Object.entries(RANGES).map(([name, span]) => [name, defaultStep(span) / MINUTE_MS]),
    );
    expect(steps).toEqual({ "15m": 1, "1h": 1, "6h": 5, "24h": 15, "7d": 120 });
  });

  it("any window: aligned to its step, covering from … to, within the point limits", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 * 365 * DAY_MS }),
        fc.integer({ min: MINUTE_MS, max: 7 * DAY_MS }),
        fc.option(fc.constantFrom(...(Object.keys(STEPS) as (keyof typeof STEPS)[])), {
          nil: undefined,
        }),
        (offset, span, step) => {
          const from = Date.UTC(2025, 0, 1) + offset;
          const q = { from, to: from + span, step };
          const problem = windowProblem(q, NOW);
          if (problem) {
            expect(problem.path).toBe("step");
            return;
          }
          const w = resolveWindow(q, NOW);
          expect(w.from % w.stepMs).toBe(0);
          expect(w.to % w.stepMs).toBe(0);
          expect(w.from).toBeLessThanOrEqual(from);
          expect(w.to).toBeGreaterThanOrEqual(from + span);
          expect(w.to - w.from).toBeLessThan(span + 2 * w.stepMs);
          expect(w.points).toBe((w.to - w.from) / w.stepMs);
          expect(w.points).toBeLessThanOrEqual(step ? MAX_POINTS : TARGET_POINTS + 1);
          const starts = bucketStarts(w);
          expect(starts).toHaveLength(w.points);
          for (const [i, t] of starts.entries()) {
            expect(bucketIndexOf(w, t)).toBe(i);
            expect(bucketIndexOf(w, t + w.stepMs - 1)).toBe(i);
          }
          expect(bucketIndexOf(w, w.from - 1)).toBe(-1);
          expect(bucketIndexOf(w, w.to)).toBe(-1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("names the field of a bad window", () => {
    const at = Date.UTC(2026, 10, 1);
    expect(windowProblem({ range: "1h", from: at }, NOW)?.path).toBe("range");
    expect(windowProblem({ from: at, to: at }, NOW)?.path).toBe("from");
    expect(windowProblem({ from: at, to: at + 59_999 }, NOW)?.path).toBe("to");
    expect(windowProblem({ from: at, to: at + 7 * DAY_MS + 1 }, NOW)?.path).toBe("from");
    expect(windowProblem({ from: at, to: at + 7 * DAY_MS }, NOW)).toBeUndefined();
    expect(windowProblem({ range: "7d", step: "5m" }, NOW)?.path).toBe("step");
    expect(windowProblem({ range: "24h", step: "5m" }, NOW)).toBeUndefined();
    // `from` alone: up to now.
    expect(windowProblem({ from: NOW + HOUR_MS }, NOW)?.path).toBe("from");
    expect(resolveWindow({ from: NOW - HOUR_MS - 5 }, NOW).to).toBe(currentMinuteEnd(NOW));
  });
});

describe("query schemas", () => {
  it("take query strings and numbers alike, and refuse anything else", () => {
    expect(targetsQuerySchema.safeParse({ limit: "20", range: "6h" }).data).toEqual({
      limit: 20,
      range: "6h",
    });
    expect(targetsQuerySchema.safeParse({ limit: 20 }).success).toBe(true);
    for (const limit of ["0", "201", "1.5", "ten", ""]) {
      expect(targetsQuerySchema.safeParse({ limit }).success, limit).toBe(false);
    }
    expect(targetsQuerySchema.safeParse({ tier: "edge" }).success).toBe(false);
    expect(targetsQuerySchema.safeParse({ extra: "1" }).success).toBe(false);
    const cursor = `${NOW}:6f1c2b0e-4a53-4f0e-9a51-3d2f1c7b8e90`;
    expect(decisionsQuerySchema.safeParse({ before: cursor, outcome: "failover" }).success).toBe(
      true,
    );
    expect(decisionsQuerySchema.safeParse({ before: "1:x" }).success).toBe(false);
    expect(decisionsQuerySchema.safeParse({ target: "site:Bad" }).success).toBe(false);
  });
});

describe("aggregation", () => {
  const row = (o: Partial<Sums>): Sums => ({ ...zeroSums(), ...o });

  it("rates come from sums, null without a denominator", () => {
    expect(totalsOf(zeroSums())).toMatchObject({
      errorRate: null,
      slaAttainment: null,
      meanLatencyMs: null,
    });
    const t = totalsOf(
      row({ outcomes: 4, errors: 1, slaMet: 2, slaKnown: 3, latencySumMs: 1_000, costUsd: 0.5 }),
    );
    expect(t).toMatchObject({ errorRate: 0.25, slaAttainment: 2 / 3, meanLatencyMs: 250 });
    expect(t).not.toHaveProperty("latencySumMs");
  });

  it("tier totals list every tier and add rows of the same tier", () => {
    const t = tierTotals([
      { ...row({ decisions: 2, outcomes: 1 }), tier: "mec" },
      { ...row({ decisions: 3, outcomes: 2, errors: 2 }), tier: "mec" },
      { ...row({ decisions: 1 }), tier: "unknown" },
    ]);
    expect(t.mec).toMatchObject({ decisions: 5, outcomes: 3, errors: 2, errorRate: 2 / 3 });
    expect(t.cloud.decisions).toBe(0);
    expect(t.device.errorRate).toBeNull();
  });

  it("columns hold every bucket of the window in order, rows added where they fall", () => {
    const w = resolveWindow({ from: 0, to: 4 * MINUTE_MS, step: "1m" }, NOW);
    const c = columnsOf(w, [
      { ...row({ decisions: 1, outcomes: 2, latencySumMs: 300 }), t: 2 * MINUTE_MS },
      { ...row({ decisions: 4 }), t: 2 * MINUTE_MS },
      { ...row({ decisions: 9 }), t: 10 * MINUTE_MS },
    ]);
    expect(c.decisions).toEqual([0, 0, 5, 0]);
    expect(c.meanLatencyMs).toEqual([null, null, 150, null]);
    expect(c.errorRate).toEqual([null, null, 0, null]);
  });

  it("percentiles of a sketch, null when empty; per-bucket columns", () => {
    const s = new QuantileSketch();
    for (let v = 1; v <= 100; v++) s.add(v);
    const p = percentilesOf(s);
    expect(p.count).toBe(100);
    expect(Math.abs((p.p50 ?? 0) - 50)).toBeLessThanOrEqual(0.5);
    expect(Math.abs((p.p99 ?? 0) - 99)).toBeLessThanOrEqual(0.99);
    expect(percentilesOf(new QuantileSketch())).toEqual({
      count: 0,
      p50: null,
      p95: null,
      p99: null,
    });
    const cols = percentileColumns([undefined, s]);
    expect(cols.count).toEqual([0, 100]);
    expect(cols.p50[0]).toBeNull();
  });
});
