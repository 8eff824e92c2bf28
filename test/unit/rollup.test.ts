import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addOutcome,
  aggregate,
  emptyRollup,
  floorTo,
  fromRollupRow,
  HOUR_MS,
  hourOfWeek,
  MINUTE_MS,
  mergeInto,
  mergeRollupMaps,
  mergeRollups,
  type Rollup,
  type RollupOutcome,
  rebucket,
  rollupKey,
  siteOrRegion,
  toRollupRow,
} from "../../shared/rollup.ts";
import type { Tier } from "../../shared/types.ts";

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0); // a Monday

const TARGETS: readonly (readonly [Tier, string])[] = [
  ["mec", "site:berlin-1"],
  ["mec", "site:warsaw-2"],
  ["cloud", "cloud:eu-central-1"],
  ["device", "device"],
];

/**
 * Random outcomes over `spanMs`. Durations are whole milliseconds, so that float sums are exact
 * too and stored rows can be compared byte for byte.
 */
function outcomes(spanMs: number, maxLength = 400) {
  return fc.array(
    fc
      .record(
        {
          at: fc.integer({ min: T0, max: T0 + spanMs - 1 }),
          where: fc.constantFrom(...TARGETS),
          model: fc.constantFrom("llama-3.1-8b", "nova-micro"),
          ok: fc.integer({ min: 0, max: 3 }).map((n) => n !== 0),
          latencyMs: fc.integer({ min: 0, max: 60_000 }),
          ttftMs: fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined }),
          costUsd: fc.option(fc.double({ min: 0, max: 0.05, noNaN: true }), { nil: undefined }),
          slaMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
        },
        { requiredKeys: ["at", "where", "model", "ok", "latencyMs"] },
      )
      .map(({ where, ...o }): RollupOutcome => ({ ...o, tier: where[0], target: where[1] })),
    { maxLength },
  );
}

function rows(m: Map<string, Rollup>) {
  return [...m.values()].map(toRollupRow).sort((a, b) => rollupKey(a).localeCompare(rollupKey(b)));
}

function outcome(over: Partial<RollupOutcome> = {}): RollupOutcome {
  return {
    at: T0 + 90_000,
    tier: "mec",
    target: "site:berlin-1",
    model: "llama-3.1-8b",
    ok: true,
    latencyMs: 200,
    ...over,
  };
}

describe("aggregate", () => {
  it("keys by minute, tier, site or region and model", () => {
    const m = aggregate([
      outcome({ at: T0 + 60_000 }),
      outcome({ at: T0 + 119_999 }),
      outcome({ at: T0 + 120_000 }),
      outcome({ tier: "cloud", target: "cloud:eu-central-1" }),
      outcome({ model: "nova-micro" }),
      outcome({ tier: "device", target: "device" }),
    ]);
    expect([...m.keys()]).toEqual([
      `${T0 + 60_000}|mec|berlin-1|llama-3.1-8b`,
      `${T0 + 120_000}|mec|berlin-1|llama-3.1-8b`,
      `${T0 + 60_000}|cloud|eu-central-1|llama-3.1-8b`,
      `${T0 + 60_000}|mec|berlin-1|nova-micro`,
      `${T0 + 60_000}|device|device|llama-3.1-8b`,
    ]);
    expect(m.get(`${T0 + 60_000}|mec|berlin-1|llama-3.1-8b`)?.count).toBe(2);
  });

  it("counts errors, SLA attainment and cost; times successful outcomes only", () => {
    const [r] = aggregate([
      outcome({ latencyMs: 100, ttftMs: 40, slaMs: 150, costUsd: 0.000_003_5 }),
      outcome({ latencyMs: 200, slaMs: 150, costUsd: 0.000_001 }),
      outcome({ ok: false, latencyMs: 5, slaMs: 150 }),
      outcome({ ok: false, latencyMs: 30_000 }),
      outcome({ latencyMs: Number.NaN, ttftMs: -1 }),
    ]).values();
    expect(r).toMatchObject({
      count: 5,
      errors: 2,
      slaChecked: 3,
      slaMet: 1,
      costNanoUsd: 4_500,
      periodMs: MINUTE_MS,
    });
    expect(r?.latency.count).toBe(2);
    expect(r?.latency.max).toBe(200);
    expect(r?.ttft.count).toBe(1);
  });

  it("strips the target's prefix", () => {
    expect(siteOrRegion("site:berlin-1")).toBe("berlin-1");
    expect(siteOrRegion("cloud:eu-central-1")).toBe("eu-central-1");
    expect(siteOrRegion("device")).toBe("device");
  });
});

describe("mergeRollups", () => {
  /** Three rollups of one key from random outcomes. */
  const threeOfOneKey = outcomes(MINUTE_MS, 200).chain((all) =>
    fc.tuple(
      fc.constant(all),
      fc.array(fc.nat({ max: 2 }), { minLength: all.length, maxLength: all.length }),
    ),
  );

  function part(all: RollupOutcome[], tags: number[], which: number): Rollup {
    const r = emptyRollup({ start: T0, tier: "mec", siteOrRegion: "berlin-1", model: "m" });
    all.forEach((o, i) => {
      if (tags[i] === which) addOutcome(r, o);
    });
    return r;
  }

  it("is associative and commutative, and equals the rollup of all outcomes", () => {
    fc.assert(
      fc.property(threeOfOneKey, ([all, tags]) => {
        const [a, b, c] = [0, 1, 2].map((w) => part(all, tags, w)) as [Rollup, Rollup, Rollup];
        const whole = part(
          all,
          all.map(() => 0),
          0,
        );
        const forms = [
          mergeRollups(a, mergeRollups(b, c)),
          mergeRollups(mergeRollups(a, b), c),
          mergeRollups(mergeRollups(c, a), b),
          mergeRollups(b, mergeRollups(c, a)),
        ].map(toRollupRow);
        for (const f of forms) expect(f).toEqual(toRollupRow(whole));
      }),
      { numRuns: 300 },
    );
  });

  it("leaves its inputs alone", () => {
    const a = aggregate([outcome()]).values().next().value as Rollup;
    const b = aggregate([outcome({ latencyMs: 900 })])
      .values()
      .next().value as Rollup;
    const before = [toRollupRow(a), toRollupRow(b)];
    mergeRollups(a, b);
    expect([toRollupRow(a), toRollupRow(b)]).toEqual(before);
  });

  it("refuses rollups of different keys or periods", () => {
    const [a] = aggregate([outcome()]).values();
    const [b] = aggregate([outcome({ model: "other" })]).values();
    const [h] = aggregate([outcome()], HOUR_MS).values();
    expect(() => mergeRollups(a as Rollup, b as Rollup)).toThrow(RangeError);
    expect(() => mergeInto(a as Rollup, { ...(a as Rollup), periodMs: HOUR_MS })).toThrow(
      RangeError,
    );
    expect(h?.start).toBe(T0);
  });

  it("accumulates batch after batch into the rollups of the whole stream", () => {
    fc.assert(
      fc.property(outcomes(10 * MINUTE_MS), fc.integer({ min: 1, max: 50 }), (all, size) => {
        const acc = new Map<string, Rollup>();
        for (let i = 0; i < all.length; i += size) {
          mergeRollupMaps(acc, aggregate(all.slice(i, i + size)).values());
        }
        expect(rows(acc)).toEqual(rows(aggregate(all)));
      }),
      { numRuns: 200 },
    );
  });
});

describe("rebucket", () => {
  it("turns minutes into exactly the hours built from the outcomes", () => {
    fc.assert(
      fc.property(outcomes(5 * HOUR_MS, 600), (all) => {
        const hours = rebucket(aggregate(all).values());
        expect(rows(hours)).toEqual(rows(aggregate(all, HOUR_MS)));
        for (const h of hours.values()) expect(h.start % HOUR_MS).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it("sums exactly whatever the order of the minutes", () => {
    fc.assert(
      fc.property(outcomes(3 * HOUR_MS), (all) => {
        const minutes = [...aggregate(all).values()];
        expect(rows(rebucket(minutes.reverse()))).toEqual(rows(rebucket(minutes)));
      }),
      { numRuns: 100 },
    );
  });

  it("refuses a period its inputs do not divide", () => {
    const minutes = aggregate([outcome()]).values();
    expect(() => rebucket(minutes, 90_000)).toThrow(RangeError);
  });
});

describe("stored rows", () => {
  it("round-trip through JSON", () => {
    fc.assert(
      fc.property(outcomes(2 * MINUTE_MS, 100), (all) => {
        for (const r of aggregate(all).values()) {
          const row = toRollupRow(r);
          const back = fromRollupRow(JSON.parse(JSON.stringify(row)));
          expect(toRollupRow(back)).toEqual(row);
          expect(back.latency.quantile(0.5)).toBe(r.latency.quantile(0.5));
        }
      }),
      { numRuns: 100 },
    );
  });

  it("are refused when malformed or inconsistent", () => {
    const row = toRollupRow(
      aggregate([outcome(), outcome({ ok: false })])
        .values()
        .next().value as Rollup,
    );
    expect(() => fromRollupRow({ ...row, errors: 3 })).toThrow(RangeError);
    expect(() => fromRollupRow({ ...row, slaMet: 1 })).toThrow(RangeError);
    expect(() => fromRollupRow({ ...row, latency: "AAAA" })).toThrow(RangeError);
    expect(() => fromRollupRow({ ...row, tier: "edge" })).toThrow();
    expect(() => fromRollupRow({ ...row, extra: 1 })).toThrow();
    expect(() => fromRollupRow({ ...row, costNanoUsd: 0.5 })).toThrow();
  });
});

describe("time helpers", () => {
  it("floor to periods and count hours of the week from Monday 00:00", () => {
    expect(floorTo(T0 + 59_999, MINUTE_MS)).toBe(T0);
    expect(floorTo(-1, MINUTE_MS)).toBe(-MINUTE_MS);
    expect(hourOfWeek(T0)).toBe(0);
    expect(hourOfWeek(T0 + 25 * HOUR_MS + 1)).toBe(25);
    expect(hourOfWeek(T0 - 1)).toBe(167);
    expect(hourOfWeek(T0 - 30 * MINUTE_MS, 60)).toBe(0);
    expect(hourOfWeek(0)).toBe(72); // 1970-01-01 was a Thursday
  });
});
