import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng } from "../../bench/random.ts";
import {
  correction,
  DEFAULT_LEARNING_CONFIG,
  type DemandPoint,
  demandProfile,
  demandProfileSchema,
  estimate,
  type LearningKey,
  type LearningObservation,
  type LearningState,
  learningKey,
  learningStateSchema,
  observe,
  observeMany,
  policyVariant,
  upcomingPeaks,
} from "../../shared/learning.ts";
import { HOUR_MS, MINUTE_MS, WEEK_MS } from "../../shared/rollup.ts";

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0); // a Monday
const KEY: LearningKey = { target: "site:berlin-1", model: "llama-3.1-8b", network: "good" };

/**
 * A site answering in about `median` ms: TTFT 30% of it (log-normal, σ 0.2), then 100 tokens
 * decoded at a log-normal rate (σ 0.1) taking the other 70%; `errorRate` of requests fail; the
 * engine predicts `predictedMs`.
 */
function stream(
  n: number,
  seed: number,
  site: { median: number; errorRate: number; predictedMs?: number },
  key: LearningKey = KEY,
): LearningObservation[] {
  const rng = createRng(seed);
  const tps = tpsOf(site.median);
  return Array.from({ length: n }, (_, i) => {
    const ttftMs = rng.logNormal(site.median * 0.3, 0.2);
    const decodeMs = (1000 * 100) / rng.logNormal(tps, 0.1);
    return {
      at: T0 + i * 1_000,
      target: key.target,
      model: key.model,
      network: key.network === "any" ? "good" : key.network,
      ok: !rng.chance(site.errorRate),
      latencyMs: ttftMs + decodeMs,
      ttftMs,
      outputTokens: 101,
      ...(site.predictedMs === undefined ? {} : { predictedMs: site.predictedMs }),
    };
  });
}

/** Decode rate that makes 100 tokens take 70% of `median`. */
const tpsOf = (median: number) => (1000 * 100) / (0.7 * median);

describe("estimate", () => {
  it("converges to the site's true speed in a noisy stream", () => {
    const state = observeMany({}, stream(5_000, 1, { median: 240, errorRate: 0.05 }));
    const e = estimate(state, KEY);
    // Means of the log-normal parts: median · e^(σ²/2); the rate's inverse likewise.
    const ttft = 0.3 * 240 * Math.exp(0.02);
    const latency = ttft + 0.7 * 240 * Math.exp(0.005);
    const near = (x: number | undefined, truth: number) => Math.abs((x ?? 0) / truth - 1);
    expect(e?.samples).toBe(5_000);
    expect(near(e?.latencyMs, latency)).toBeLessThan(0.05);
    expect(near(e?.ttftMs, ttft)).toBeLessThan(0.1);
    expect(near(e?.tokensPerSec, tpsOf(240) * Math.exp(0.005))).toBeLessThan(0.05);
    expect(Math.abs((e?.errorRate ?? 1) - 0.05)).toBeLessThan(0.03);
    expect(e?.confidence).toBeGreaterThan(0.99);
  });

  it("follows a site that slows down, within a few hundred requests", () => {
    const fast = stream(2_000, 2, { median: 100, errorRate: 0 });
    const slow = stream(300, 3, { median: 300, errorRate: 0 });
    const e = estimate(observeMany({}, [...fast, ...slow]), KEY);
    expect(Math.abs((e?.latencyMs ?? 0) / 300 - 1)).toBeLessThan(0.1);
    expect(Math.abs((e?.tokensPerSec ?? 0) / tpsOf(300) - 1)).toBeLessThan(0.1);
  });

  it("keeps an aggregate over network classes, and nothing for unseen keys", () => {
    const state = observeMany({}, stream(50, 4, { median: 100, errorRate: 0, predictedMs: 1 }));
    expect(estimate(state, { ...KEY, network: "any" })?.samples).toBe(50);
    expect(estimate(state, { ...KEY, network: "poor" })).toBeUndefined();
    expect(estimate(state, { ...KEY, model: "other" })).toBeUndefined();
  });

  it("learns error rate from failures but not their latency", () => {
    const obs: LearningObservation = {
      at: T0,
      ...KEY,
      network: "good",
      ok: false,
      latencyMs: 30_000,
    };
    const e = estimate(observe({}, obs), KEY);
    expect(e).toMatchObject({ samples: 1, errorRate: 1, latencyMs: undefined, ttftMs: undefined });
  });

  it("never mutates the state it is given; the result passes the schema after JSON", () => {
    const before = observeMany({}, stream(10, 5, { median: 100, errorRate: 0.1, predictedMs: 90 }));
    const copy = structuredClone(before);
    const after = observeMany(
      before,
      stream(10, 6, { median: 100, errorRate: 0.1, predictedMs: 90 }),
    );
    expect(before).toEqual(copy);
    expect(learningStateSchema.parse(JSON.parse(JSON.stringify(after)))).toEqual(after);
    expect(Object.keys(after).sort()).toEqual(
      [learningKey(KEY), learningKey({ ...KEY, network: "any" })].sort(),
    );
  });
});

describe("correction", () => {
  it("moves towards the observed / predicted ratio as samples grow", () => {
    const obs = stream(2_000, 7, { median: 150, errorRate: 0, predictedMs: 100 });
    let state: LearningState = {};
    const factors: number[] = [];
    for (const [i, o] of obs.entries()) {
      state = observe(state, o);
      if ([0, 9, 49, 199, 1_999].includes(i)) factors.push(correction(state, KEY, 100));
    }
    expect(correction({}, KEY, 100)).toBe(1);
    expect(factors[0]).toBeLessThan(1.1);
    expect(factors.at(-1)).toBeGreaterThan(1.35);
    expect(factors.at(-1)).toBeLessThan(1.65);
    // Trust grows with samples: the factor approaches the ratio (1.5) from 1.
    expect(Math.abs((factors[4] ?? 0) - 1.5)).toBeLessThan(Math.abs((factors[1] ?? 0) - 1.5));
  });

  it("falls back to the network-agnostic estimate for an unseen network class", () => {
    const state = observeMany({}, stream(500, 8, { median: 200, errorRate: 0, predictedMs: 100 }));
    const f = correction(state, { ...KEY, network: "poor" }, 100);
    expect(f).toBeGreaterThan(1.6);
    expect(f).toBeLessThanOrEqual(DEFAULT_LEARNING_CONFIG.maxFactor);
  });

  it("uses learned latency over the given prediction when no ratio was recorded", () => {
    const obs = stream(1_000, 9, { median: 100, errorRate: 0 });
    const state = observeMany({}, obs);
    expect(correction(state, KEY, 50)).toBeGreaterThan(1.8);
    expect(correction(state, KEY, 200)).toBeLessThan(0.6);
  });

  it("stays within its bounds whatever it saw or is asked", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ok: fc.boolean(),
            latencyMs: fc.option(fc.double({ min: -1e9, max: 1e12 }), { nil: undefined }),
            predictedMs: fc.option(fc.double({ min: -1, max: 1e12 }), { nil: undefined }),
            ttftMs: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: undefined }),
            outputTokens: fc.option(fc.nat(), { nil: undefined }),
          }),
          { maxLength: 50 },
        ),
        fc.double(),
        (raw, predicted) => {
          const state = observeMany(
            {},
            raw.map((r, i) => ({ ...r, at: T0 + i, ...KEY, network: "good" as const })),
          );
          const f = correction(state, KEY, predicted);
          const { minFactor, maxFactor } = DEFAULT_LEARNING_CONFIG;
          return Number.isFinite(f) && f >= minFactor && f <= maxFactor;
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe("policyVariant", () => {
  const ids = Array.from(
    { length: 100_000 },
    (_, i) => `dec_${i.toString(36)}_${(i * 7919) % 1000}`,
  );

  it("is deterministic", () => {
    for (const id of ids.slice(0, 1_000)) {
      expect(policyVariant(id, ["A", "B"])).toBe(policyVariant(id, ["A", "B"]));
    }
    expect(policyVariant("dec_1", ["A", "B"], "exp-1")).toBe(
      policyVariant("dec_1", ["A", "B"], "exp-1"),
    );
  });

  it("splits evenly, and by weight", () => {
    const count = (variants: Parameters<typeof policyVariant>[1], salt?: string) => {
      const c = new Map<string, number>();
      for (const id of ids) {
        const v = policyVariant(id, variants, salt);
        c.set(v, (c.get(v) ?? 0) + 1);
      }
      return c;
    };
    const ab = count(["A", "B"]);
    expect(Math.abs((ab.get("A") ?? 0) / ids.length - 0.5)).toBeLessThan(0.01);
    const abc = count(["A", "B", "C"], "exp-2");
    for (const v of ["A", "B", "C"]) {
      expect(Math.abs((abc.get(v) ?? 0) / ids.length - 1 / 3)).toBeLessThan(0.01);
    }
    const weighted = count([
      { name: "control", weight: 90 },
      { name: "candidate", weight: 10 },
      { name: "off", weight: 0 },
    ]);
    expect(Math.abs((weighted.get("candidate") ?? 0) / ids.length - 0.1)).toBeLessThan(0.005);
    expect(weighted.has("off")).toBe(false);
  });

  it("splits independently under different salts", () => {
    let both = 0;
    for (const id of ids) {
      if (
        policyVariant(id, ["A", "B"], "x") === "A" &&
        policyVariant(id, ["A", "B"], "y") === "A"
      ) {
        both++;
      }
    }
    expect(Math.abs(both / ids.length - 0.25)).toBeLessThan(0.01);
  });

  it("refuses no variants and bad weights", () => {
    expect(() => policyVariant("d", [])).toThrow(RangeError);
    expect(() => policyVariant("d", [{ name: "A", weight: 0 }])).toThrow(RangeError);
    expect(() => policyVariant("d", [{ name: "A", weight: -1 }])).toThrow(RangeError);
    expect(policyVariant("d", ["only"])).toBe("only");
  });
});

describe("demandProfile and upcomingPeaks", () => {
  /** Four weeks of hourly counts: `peaky` rushes 18:00–19:00 local (UTC+1), `flat` does not. */
  function history(): DemandPoint[] {
    const rng = createRng(12);
    const points: DemandPoint[] = [];
    for (let t = T0; t < T0 + 4 * WEEK_MS; t += HOUR_MS) {
      const localHour = new Date(t + HOUR_MS).getUTCHours();
      const rush = localHour === 18 ? 400 : localHour === 17 || localHour === 19 ? 150 : 40;
      points.push({
        at: t,
        target: "site:berlin-1",
        model: "peaky",
        count: rng.int(rush - 10, rush + 10),
      });
      points.push({
        at: t + 5 * MINUTE_MS,
        target: "site:berlin-1",
        model: "flat",
        count: rng.int(90, 110),
      });
    }
    return points;
  }

  it("averages each hour of the week over the weeks covered", () => {
    const p = demandProfile(history(), { tzOffsetMinutes: 60 });
    expect(p.from).toBe(T0);
    expect(p.to).toBe(T0 + 4 * WEEK_MS);
    const peaky = p.series["site:berlin-1|peaky"]?.perHour ?? [];
    // Monday 18:00 local is slot 18 under the profile's offset.
    expect(peaky[18]).toBeGreaterThan(390);
    expect(peaky[18]).toBeLessThan(410);
    expect(peaky[3]).toBeLessThan(50);
    expect(demandProfileSchema.parse(JSON.parse(JSON.stringify(p)))).toEqual(p);
  });

  it("counts quiet hours as quiet: an hour seen three times divides by three", () => {
    const p = demandProfile([{ at: T0 + 2 * HOUR_MS, target: "t", model: "m", count: 30 }], {
      from: T0,
      to: T0 + 3 * WEEK_MS,
    });
    expect(p.series["t|m"]?.perHour[2]).toBe(10);
    expect(p.series["t|m"]?.perHour[3]).toBe(0);
  });

  it("finds the daily peak coming up, and only the peaky model", () => {
    const p = demandProfile(history(), { tzOffsetMinutes: 60 });
    // Tuesday of week 5, 15:30 local (14:30 UTC); the rush starts 18:00 local = 17:00 UTC.
    const now = T0 + 4 * WEEK_MS + 24 * HOUR_MS + 14.5 * HOUR_MS;
    const peaks = upcomingPeaks(p, now, 3 * HOUR_MS);
    expect(peaks).toHaveLength(1);
    expect(peaks[0]).toMatchObject({ target: "site:berlin-1", model: "peaky" });
    expect(peaks[0]?.startsAt).toBe(T0 + 4 * WEEK_MS + 24 * HOUR_MS + 17 * HOUR_MS);
    expect(peaks[0]?.expectedPerHour).toBeGreaterThan(3 * (peaks[0]?.typicalPerHour ?? 0));
    expect(upcomingPeaks(p, now, 2 * HOUR_MS)).toEqual([]);
    // A whole day ahead: one peak, the next evening's.
    const day = upcomingPeaks(p, now + 3 * HOUR_MS, 24 * HOUR_MS);
    expect(day.map((x) => x.startsAt)).toEqual([T0 + 4 * WEEK_MS + 48 * HOUR_MS + 17 * HOUR_MS]);
    // A week ahead: one a day.
    expect(upcomingPeaks(p, now, 10 * WEEK_MS)).toHaveLength(7);
  });

  it("finds nothing without history", () => {
    expect(upcomingPeaks(demandProfile([]), T0, WEEK_MS)).toEqual([]);
  });
});
