import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng } from "../../bench/random.ts";
import {
  bucketIndex,
  bucketValue,
  DEFAULT_RELATIVE_ACCURACY,
  fromBase64Url,
  MIN_INDEXABLE,
  QuantileSketch,
  toBase64Url,
  ZERO_BUCKET,
} from "../../shared/sketch.ts";

/** The value of rank ⌊q·(n − 1)⌋ in sorted order: what a DDSketch quantile estimates. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

function sketchOf(values: readonly number[], options = {}): QuantileSketch {
  const s = new QuantileSketch(options);
  for (const v of values) s.add(v);
  return s;
}

/** Everything but the float sum, which merges only up to rounding. */
function exactParts(s: QuantileSketch) {
  return {
    buckets: s.buckets(),
    count: s.count,
    zero: s.zeroCount,
    min: s.min,
    max: s.max,
  };
}

/** Latency-like values over 12 orders of magnitude, zeros included. */
const value = fc.oneof(
  fc.double({ min: 1e-3, max: 1e9, noNaN: true }),
  fc.double({ min: 0.5, max: 5_000, noNaN: true }),
  fc.constant(0),
  fc.double({ min: 0, max: MIN_INDEXABLE, maxExcluded: true, noNaN: true }),
);
const quantile = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 0.5, 1));

describe("QuantileSketch quantiles", () => {
  it("are within α relative error of the exact quantile on random data", () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 2_000 }),
        fc.array(quantile, { minLength: 1, maxLength: 20 }),
        fc.constantFrom(0.01, 0.02, 0.05),
        (values, qs, alpha) => {
          const s = sketchOf(values, { relativeAccuracy: alpha });
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of qs) {
            const exact = exactQuantile(sorted, q);
            const est = s.quantile(q);
            if (exact < MIN_INDEXABLE) {
              if (est > MIN_INDEXABLE) return false;
            } else if (Math.abs(est - exact) > alpha * exact * (1 + 1e-9)) {
              return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 500 },
    );
  });

  it("meet α on 10⁵ log-normal latencies at the percentiles the dashboard shows", () => {
    const rng = createRng(7);
    const values = Array.from({ length: 100_000 }, () => rng.logNormal(180, 0.6));
    const s = sketchOf(values);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(s.quantile(q) - exact) / exact).toBeLessThanOrEqual(
        DEFAULT_RELATIVE_ACCURACY,
      );
    }
    expect(s.count).toBe(100_000);
    expect(s.sum).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      3,
    );
  });

  it("answers q = 0 and q = 1 with the exact min and max", () => {
    const s = sketchOf([3.3, 1234.5, 17, 99.9]);
    expect(s.quantile(0)).toBe(3.3);
    expect(s.quantile(1)).toBe(1234.5);
    expect(s.min).toBe(3.3);
    expect(s.max).toBe(1234.5);
  });

  it("counts zeros and tiny values in the zero bucket", () => {
    const s = sketchOf([0, 0, 1e-12, 5]);
    expect(s.zeroCount).toBe(3);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.quantile(1)).toBe(5);
  });

  it("adds with a count as if the value came that many times", () => {
    const a = new QuantileSketch().add(42, 5).add(7);
    const b = sketchOf([42, 42, 42, 42, 42, 7]);
    expect(exactParts(a)).toEqual(exactParts(b));
    expect(a.sum).toBe(b.sum);
    expect(new QuantileSketch().add(42, 0).count).toBe(0);
  });

  it("is empty at first: NaN quantiles, min and max", () => {
    const s = new QuantileSketch();
    expect(s.count).toBe(0);
    expect(s.quantile(0.5)).toBeNaN();
    expect(s.min).toBeNaN();
    expect(s.max).toBeNaN();
    expect(s.sum).toBe(0);
  });

  it("refuses negative, infinite and NaN values, bad counts and quantiles", () => {
    const s = new QuantileSketch();
    for (const bad of [-1, -1e-12, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => s.add(bad)).toThrow(RangeError);
    }
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => s.add(1, bad)).toThrow(RangeError);
    for (const bad of [-0.1, 1.1, Number.NaN]) expect(() => s.quantile(bad)).toThrow(RangeError);
    expect(s.count).toBe(0);
    expect(() => new QuantileSketch({ relativeAccuracy: 0 })).toThrow(RangeError);
    expect(() => new QuantileSketch({ relativeAccuracy: 1 })).toThrow(RangeError);
    expect(() => new QuantileSketch({ maxBuckets: 0 })).toThrow(RangeError);
    expect(() => new QuantileSketch({ maxBuckets: 2.5 })).toThrow(RangeError);
  });
});

describe("QuantileSketch merge", () => {
  it("is exact: the merge of any split, in any order, equals the sketch of all values", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.nat({ max: 5 })), { maxLength: 1_000 }),
        fc.constantFrom(2_048, 64, 8),
        (tagged, maxBuckets) => {
          const values = tagged.map(([v]) => v);
          const parts = Array.from({ length: 6 }, () => new QuantileSketch({ maxBuckets }));
          for (const [v, part] of tagged) parts[part]?.add(v);
          const merged = new QuantileSketch({ maxBuckets });
          for (const p of [...parts].reverse()) merged.merge(p);
          const all = sketchOf(values, { maxBuckets });
          expect(exactParts(merged)).toEqual(exactParts(all));
          expect(merged.sum).toBeCloseTo(all.sum, 6 - Math.log10(Math.max(1, all.sum)));
          // Pairwise trees give the same answer as the chain.
          const left = parts[0]?.clone().merge(parts[1] as QuantileSketch);
          const right = parts[2]?.clone().merge(parts[3] as QuantileSketch);
          const tree = left?.merge(right as QuantileSketch).merge(parts[4] as QuantileSketch);
          tree?.merge(parts[5] as QuantileSketch);
          expect(exactParts(tree as QuantileSketch)).toEqual(exactParts(all));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves the merged-in sketch unchanged", () => {
    const a = sketchOf([1, 2, 3]);
    const b = sketchOf([10, 20]);
    const before = b.toBase64Url();
    a.merge(b);
    expect(b.toBase64Url()).toBe(before);
    expect(a.count).toBe(5);
  });

  it("refuses sketches with another accuracy or bucket cap", () => {
    const a = new QuantileSketch();
    expect(() => a.merge(new QuantileSketch({ relativeAccuracy: 0.02 }))).toThrow(RangeError);
    expect(() => a.merge(new QuantileSketch({ maxBuckets: 100 }))).toThrow(RangeError);
  });
});

describe("QuantileSketch size bound", () => {
  it("keeps at most maxBuckets buckets and the high quantiles accurate when collapsing", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-6, max: 1e12, noNaN: true }), {
          minLength: 1,
          maxLength: 500,
        }),
        fc.integer({ min: 1, max: 200 }),
        (values, maxBuckets) => {
          const s = sketchOf(values, { maxBuckets });
          const buckets = s.buckets();
          const span = buckets.length ? (buckets.at(-1)?.key ?? 0) - (buckets[0]?.key ?? 0) : 0;
          expect(buckets.length).toBeLessThanOrEqual(maxBuckets);
          expect(span).toBeLessThan(maxBuckets);
          expect(s.count).toBe(values.length);
          const sorted = [...values].sort((a, b) => a - b);
          expect(s.quantile(1)).toBe(sorted.at(-1));
          // The top bucket never collapses: the maximum's neighbours stay within α.
          const q = 1 - 1 / values.length;
          const exact = exactQuantile(sorted, q);
          const top = buckets.at(-1)?.key ?? 0;
          const gamma = (1 + 0.01) / (1 - 0.01);
          if (exact > gamma ** (top - maxBuckets + 1)) {
            expect(Math.abs(s.quantile(q) - exact)).toBeLessThanOrEqual(0.01 * exact * (1 + 1e-9));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("serialises a busy minute of one site in a few hundred bytes", () => {
    const rng = createRng(11);
    const s = new QuantileSketch();
    for (let i = 0; i < 5_000; i++) s.add(rng.logNormal(150, 0.4));
    const bytes = s.toBytes().length;
    expect(bytes).toBeLessThan(600);
    expect(s.toBase64Url().length).toBeLessThan(800);
  });

  it("stays within its documented worst case", () => {
    const s = new QuantileSketch({ maxBuckets: 2_048 });
    for (let k = 0; k < 3_000; k++) s.add(1.0202 ** k, 2 ** 40);
    expect(s.buckets().length).toBeLessThanOrEqual(2_048);
    expect(s.toBytes().length).toBeLessThanOrEqual(40 + 2_048 * 11);
  });
});

describe("QuantileSketch serialisation", () => {
  it("round-trips through bytes and base64url with identical buckets, stats and quantiles", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.integer({ min: 1, max: 1_000_000 })), { maxLength: 300 }),
        fc.constantFrom(2_048, 16),
        fc.constantFrom(0.01, 0.005, 0.1),
        (entries, maxBuckets, relativeAccuracy) => {
          const s = new QuantileSketch({ maxBuckets, relativeAccuracy });
          for (const [v, n] of entries) s.add(v, n);
          const back = QuantileSketch.fromBytes(s.toBytes());
          const text = QuantileSketch.fromBase64Url(s.toBase64Url());
          for (const r of [back, text]) {
            expect(exactParts(r)).toEqual(exactParts(s));
            expect(r.sum).toBe(s.sum);
            expect(r.relativeAccuracy).toBe(relativeAccuracy);
            expect(r.maxBuckets).toBe(maxBuckets);
            for (const q of [0, 0.25, 0.5, 0.99, 1]) {
              expect(Object.is(r.quantile(q), s.quantile(q))).toBe(true);
            }
            expect(r.toBase64Url()).toBe(s.toBase64Url());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("decodes into a sketch that keeps merging exactly", () => {
    const a = QuantileSketch.fromBase64Url(sketchOf([1, 10, 100]).toBase64Url());
    a.merge(sketchOf([1000]));
    expect(exactParts(a)).toEqual(exactParts(sketchOf([1, 10, 100, 1000])));
  });

  it("throws RangeError, and only RangeError, on corrupt input", () => {
    const good = sketchOf([1, 2, 3, 400]).toBytes();
    expect(() => QuantileSketch.fromBytes(good.subarray(0, good.length - 1))).toThrow(RangeError);
    expect(() => QuantileSketch.fromBytes(new Uint8Array([...good, 0]))).toThrow(RangeError);
    expect(() => QuantileSketch.fromBytes(new Uint8Array([2, ...good.subarray(1)]))).toThrow(
      /version/,
    );
    expect(() => QuantileSketch.fromBase64Url("not base64!")).toThrow(RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (noise, at) => {
        const mutated = good.slice();
        if (noise.length > 0) mutated[at % mutated.length] = noise[0] as number;
        for (const bytes of [noise, mutated, new Uint8Array([1, ...noise])]) {
          try {
            const s = QuantileSketch.fromBytes(bytes);
            expect(s.count).toBeGreaterThanOrEqual(0);
          } catch (e) {
            expect(e).toBeInstanceOf(RangeError);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("base64url refuses other alphabets, padding and non-canonical endings", () => {
    for (const bad of ["a+b/", "AA==", "A", "AB", "AAB", "a b"]) {
      expect(() => fromBase64Url(bad)).toThrow(RangeError);
    }
    expect(fromBase64Url("AA")).toEqual(new Uint8Array([0]));
  });

  it("base64url round-trips any bytes, as Node's encoder writes them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64url"));
        expect(fromBase64Url(text)).toEqual(bytes);
      }),
      { numRuns: 100 },
    );
  });
});

describe("bucketIndex and bucketValue", () => {
  it("map values to the sketch's own buckets, and bucket values back to their bucket", () => {
    fc.assert(
      fc.property(value, fc.constantFrom(0.0001, 0.01, 0.02, 0.05, 0.5), (v, alpha) => {
        const s = new QuantileSketch({ relativeAccuracy: alpha }).add(v);
        const k = bucketIndex(v, alpha);
        if (s.zeroCount === 1) expect(k).toBe(ZERO_BUCKET);
        else expect(s.buckets()).toEqual([{ key: k, count: 1 }]);
        expect(bucketIndex(bucketValue(k, alpha), alpha)).toBe(k);
        expect(Math.abs(bucketValue(k, alpha) - v)).toBeLessThanOrEqual(
          alpha * v * (1 + 1e-9) + MIN_INDEXABLE,
        );
      }),
    );
  });

  it("refuses what the sketch refuses", () => {
    expect(() => bucketIndex(-1)).toThrow(RangeError);
    expect(() => bucketIndex(Number.NaN)).toThrow(RangeError);
    expect(() => bucketIndex(1, 0)).toThrow(RangeError);
    expect(() => bucketValue(1.5)).toThrow(RangeError);
    expect(bucketValue(ZERO_BUCKET)).toBe(0);
  });
});
