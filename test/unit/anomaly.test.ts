import { describe, expect, it } from "vitest";
import { createRng, type Rng } from "../../bench/random.ts";
import {
  type AnomalyConfig,
  type AnomalyVerdict,
  anomalySeriesKey,
  anomalyStateSchema,
  DEFAULT_ANOMALY_CONFIG,
  observePoint,
  type SeriesState,
  seriesStateSchema,
} from "../../shared/anomaly.ts";
import { HOUR_MS, MINUTE_MS, WEEK_MS } from "../../shared/rollup.ts";

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0); // a Monday
const LATENCY = DEFAULT_ANOMALY_CONFIG.latency;
const ERRORS = DEFAULT_ANOMALY_CONFIG.error_rate;

/** Feeds one point per minute from T0; returns every verdict. */
function run(
  n: number,
  value: (i: number, at: number) => number,
  cfg: AnomalyConfig,
  requests?: number,
): AnomalyVerdict[] {
  const out: AnomalyVerdict[] = [];
  let state: SeriesState | undefined;
  for (let i = 0; i < n; i++) {
    const at = T0 + i * MINUTE_MS;
    const v = observePoint(state, { at, value: value(i, at), n: requests }, cfg);
    state = v.state;
    out.push(v);
  }
  return out;
}

const onsets = (vs: AnomalyVerdict[]) => vs.flatMap((v, i) => (v.onset ? [i] : []));

/** Errors out of `n` requests at rate `p`, as a rate. */
function errorRate(rng: Rng, p: number, n: number): number {
  let e = 0;
  for (let j = 0; j < n; j++) if (rng.chance(p)) e++;
  return e / n;
}

describe("observePoint: shifts", () => {
  it("flags a +50% latency shift on the K-th minute after it, for every seed", () => {
    const k = LATENCY.consecutive;
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRng(seed);
      const vs = run(400, (i) => rng.logNormal(i >= 300 ? 300 : 200, 0.05), LATENCY);
      expect(onsets(vs)).toEqual([300 + k - 1]);
      expect(vs[300 + k - 1]?.anomalous).toBe(true);
      expect(vs[300 + k - 1]?.z).toBeGreaterThan(LATENCY.threshold);
      expect(vs.slice(300 + k - 1, 400).every((v) => v.anomalous)).toBe(true);
    }
  });

  it("flags a latency drop too (requests failing fast look like this)", () => {
    const rng = createRng(3);
    const vs = run(400, (i) => rng.logNormal(i >= 300 ? 100 : 200, 0.05), LATENCY);
    expect(onsets(vs)).toEqual([302]);
    expect(vs[302]?.z).toBeLessThan(-LATENCY.threshold);
  });

  it("flags an error-rate jump from 2% to 20% within K minutes, not a drop to 0%", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRng(seed);
      const up = run(400, (i) => errorRate(rng, i >= 300 ? 0.2 : 0.02, 50), ERRORS, 50);
      const first = onsets(up)[0] ?? -1;
      expect(first).toBeGreaterThanOrEqual(300 + ERRORS.consecutive - 1);
      expect(first).toBeLessThanOrEqual(300 + ERRORS.consecutive + 2);
      const down = run(400, (i) => (i >= 300 ? 0 : errorRate(rng, 0.2, 50)), ERRORS, 50);
      expect(onsets(down)).toEqual([]);
    }
  });

  it("keeps an anomaly flagged while it lasts, then accepts a lasting level as normal", () => {
    const rng = createRng(5);
    const vs = run(900, (i) => rng.logNormal(i >= 300 ? 400 : 200, 0.05), LATENCY);
    const restart = vs.findIndex((v) => v.relearned);
    expect(onsets(vs)[0]).toBe(302);
    expect(restart).toBe(300 + LATENCY.relearnAfter - 1);
    expect(vs.slice(302, restart + 1).every((v) => v.anomalous)).toBe(true);
    expect(vs.slice(restart + 1).some((v) => v.anomalous)).toBe(false);
    expect(vs.at(-1)?.expected).toBeCloseTo(400, -1);
  });

  it("flags nothing during the warm-up, however wild", () => {
    const rng = createRng(9);
    const vs = run(LATENCY.warmUp, () => rng.logNormal(200, 2), LATENCY);
    expect(vs.every((v) => v.baseline === "warming_up" && !v.anomalous && v.z === 0)).toBe(true);
  });
});

describe("observePoint: false positives", () => {
  // 35 days of one point a minute per series; a noisy but stationary series.
  const days = 35;
  const points = days * 24 * 60;

  it.each([
    ["log-normal latency, 15% noise", (r: Rng) => r.logNormal(200, 0.15)],
    ["log-normal latency, 50% noise", (r: Rng) => r.logNormal(200, 0.5)],
    ["normal latency, 10% noise", (r: Rng) => Math.max(1, r.normal(200, 20))],
    [
      "p95 of 20 requests",
      (r: Rng) => {
        const xs = Array.from({ length: 20 }, () => r.logNormal(200, 0.5)).sort((a, b) => a - b);
        return xs[18] as number;
      },
    ],
  ])("latency, %s: at most one alarm in 35 days", (_, draw) => {
    for (const seed of [1, 2]) {
      const rng = createRng(seed);
      const vs = run(points, () => draw(rng), LATENCY);
      expect(onsets(vs).length).toBeLessThanOrEqual(1);
      // Points beyond 3σ are ~1% (noise in the baseline itself adds to the 0.27% of a normal).
      const unusual = vs.filter((v) => Math.abs(v.z) >= LATENCY.threshold).length / points;
      expect(unusual).toBeLessThan(0.02);
    }
  });

  it.each([
    [0.02, 50],
    [0.05, 10],
    [0.01, 200],
  ])("error rate %f of %i requests a minute: no alarm in 35 days", (p, n) => {
    const rng = createRng(7);
    const vs = run(points, () => errorRate(rng, p, n), ERRORS, n);
    expect(onsets(vs)).toEqual([]);
  });

  it("needs the request count: without it 1% of 20 requests a minute alarms several times a day", () => {
    const rng = createRng(7);
    const withCount = run(points, () => errorRate(rng, 0.01, 20), ERRORS, 20);
    const without = run(points, () => errorRate(rng, 0.01, 20), ERRORS);
    expect(onsets(withCount)).toEqual([]);
    expect(onsets(without).length).toBeGreaterThan(2 * days);
  });
});

describe("observePoint: seasonal baseline", () => {
  /** Office-hours load: latency 60% higher 09:00–18:00 UTC every day. */
  const daily = (rng: Rng) => (_: number, at: number) => {
    const hour = new Date(at).getUTCHours();
    return rng.logNormal(hour >= 9 && hour < 18 ? 320 : 200, 0.05);
  };

  it("takes over after two weeks, and then the daily rush stops raising alarms", () => {
    const rng = createRng(2);
    const vs = run((4 * WEEK_MS) / MINUTE_MS, daily(rng), LATENCY);
    const twoWeeks = (2 * WEEK_MS) / MINUTE_MS;
    expect(vs.slice(0, twoWeeks).some((v) => v.baseline === "seasonal")).toBe(false);
    expect(vs.slice(twoWeeks).every((v) => v.baseline === "seasonal")).toBe(true);
    expect(onsets(vs.slice(0, twoWeeks)).length).toBeGreaterThan(0);
    expect(onsets(vs.slice(twoWeeks))).toEqual([]);
  });

  it("catches a slow creep at night that a plain EWMA follows without a word", () => {
    const start = (3 * WEEK_MS + 2 * HOUR_MS) / MINUTE_MS; // week 4, Monday 02:00
    const creep = (rng: Rng) => {
      const normal = daily(rng);
      // +60% over two hours, then held: each minute only 0.4% above the last.
      return (i: number, at: number) =>
        i < start
          ? normal(i, at)
          : rng.logNormal(200 * (1 + 0.6 * Math.min(1, (i - start) / 120)), 0.05);
    };
    const seasonal = run(start + 180, creep(createRng(4)), LATENCY);
    const first = onsets(seasonal.slice(start))[0] ?? -1;
    expect(seasonal[start]?.baseline).toBe("seasonal");
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(60);
    const plain = run(start + 180, creep(createRng(4)), { ...LATENCY, seasonal: null });
    expect(onsets(plain.slice(start))).toEqual([]);
  });

  it("can be turned off", () => {
    const rng = createRng(2);
    const vs = run((3 * WEEK_MS) / MINUTE_MS, daily(rng), { ...LATENCY, seasonal: null });
    expect(vs.some((v) => v.baseline === "seasonal")).toBe(false);
    expect(vs.at(-1)?.state.season).toBeNull();
  });
});

describe("observePoint: state", () => {
  it("ignores stale, repeated and non-finite points", () => {
    const a = observePoint(undefined, { at: T0, value: 100 }, LATENCY);
    const b = observePoint(a.state, { at: T0 + MINUTE_MS, value: 110 }, LATENCY);
    for (const p of [
      { at: T0 + MINUTE_MS, value: 999 },
      { at: T0, value: 999 },
      { at: T0 + 2 * MINUTE_MS, value: Number.NaN },
      { at: Number.NaN, value: 1 },
    ]) {
      const v = observePoint(b.state, p, LATENCY);
      expect(v.ignored).toBe(true);
      expect(v.state).toBe(b.state);
    }
  });

  it("never mutates its input, and survives JSON and the schema unchanged", () => {
    const rng = createRng(1);
    let state: SeriesState | undefined;
    for (let i = 0; i < 3_000; i++) {
      const before = structuredClone(state);
      const v = observePoint(
        state,
        { at: T0 + i * MINUTE_MS, value: rng.logNormal(200, 0.2) },
        LATENCY,
      );
      expect(state).toEqual(before);
      state = v.state;
    }
    const stored = JSON.parse(
      JSON.stringify({ [anomalySeriesKey("site", "berlin-1", "latency")]: state }),
    );
    const back = anomalyStateSchema.parse(stored);
    expect(back["site:berlin-1:latency"]).toEqual(state);
    expect(seriesStateSchema.safeParse({ ...state, variance: -1 }).success).toBe(false);
    expect(seriesStateSchema.safeParse({ ...state, mean: Number.POSITIVE_INFINITY }).success).toBe(
      false,
    );
  });
});
