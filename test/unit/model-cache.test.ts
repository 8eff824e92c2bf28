import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import {
  applyLoaded,
  applyUnloaded,
  type CacheState,
  cacheStateSchema,
  DEFAULT_CACHE_POLICY,
  demandRate,
  emptyCacheState,
  idleToUnload,
  type ModelFootprint,
  markUsed,
  modelValue,
  nextCleanupAt,
  planLoad,
  prewarmCandidates,
  type ResidentModel,
  reconcileResident,
  recordDemand,
  residentValue,
  setPinned,
  siteFootprints,
  usedGb,
} from "../../shared/model-cache.ts";

const cfg = DEFAULT_CACHE_POLICY;
const MIN = 60_000;
const T0 = 1_700_000_000_000;
/** 24 GB less the default 2 GB headroom leaves 22 GB for weights. */
const GPU = 24;

function res(
  model: string,
  sizeGb: number,
  opts: Partial<Omit<ResidentModel, "model" | "sizeGb">> = {},
): ResidentModel {
  return {
    model,
    sizeGb,
    loadTimeMs: 10_000,
    loadedAt: T0 - 60 * MIN,
    lastUsedAt: T0 - 5 * MIN,
    ...opts,
  };
}

/** Resident models and `demand[model]` requests asked for at `demandAt`. */
function stateOf(
  resident: ResidentModel[],
  demand: Record<string, number> = {},
  demandAt = T0,
): CacheState {
  let s: CacheState = { ...emptyCacheState(), resident };
  for (const [model, n] of Object.entries(demand)) s = recordDemand(s, model, demandAt, cfg, n);
  return s;
}

function want(model: string, sizeGb: number, loadTimeMs = 10_000): ModelFootprint {
  return { model, sizeGb, loadTimeMs };
}

function lookup(...fps: ModelFootprint[]) {
  const byId = new Map(fps.map((f) => [f.model, f]));
  return (model: string) => byId.get(model);
}

/** Requests that take a fresh tracker to `perMin` at the default half-life. */
function requestsFor(perMin: number): number {
  return (perMin * cfg.demandHalfLifeMs) / MIN / Math.LN2;
}

describe("demand", () => {
  it("turns a decayed count into requests per minute", () => {
    const s = recordDemand(emptyCacheState(), "a", T0, cfg);
    expect(demandRate(s, "a", T0, cfg)).toBeCloseTo(Math.LN2 / 10, 10);
    expect(demandRate(s, "b", T0, cfg)).toBe(0);
  });

  it("halves once per half-life", () => {
    const s = recordDemand(emptyCacheState(), "a", T0, cfg, 40);
    const r0 = demandRate(s, "a", T0, cfg);
    expect(demandRate(s, "a", T0 + cfg.demandHalfLifeMs, cfg)).toBeCloseTo(r0 / 2, 10);
    expect(demandRate(s, "a", T0 + 3 * cfg.demandHalfLifeMs, cfg)).toBeCloseTo(r0 / 8, 10);
  });

  it("converges to a steady request rate", () => {
    let s = emptyCacheState();
    for (let t = 0; t <= 120 * MIN; t += 30_000) s = recordDemand(s, "a", T0 + t, cfg);
    expect(demandRate(s, "a", T0 + 120 * MIN, cfg)).toBeCloseTo(2, 1);
  });

  it("forgets trackers that have decayed to nothing", () => {
    let s = recordDemand(emptyCacheState(), "a", T0, cfg);
    s = recordDemand(s, "b", T0 + 2 * cfg.demandHalfLifeMs, cfg);
    expect(Object.keys(s.demand)).toEqual(["a", "b"]);
    s = recordDemand(s, "b", T0 + 5 * cfg.demandHalfLifeMs, cfg);
    expect(Object.keys(s.demand)).toEqual(["b"]);
  });
});

describe("modelValue", () => {
  const base = { loadTimeMs: 10_000, lastUsedAt: T0 };

  it("is (demand + floor) × load seconds × 1 / (1 + idle / recency scale)", () => {
    const v = modelValue({ loadTimeMs: 12_000, lastUsedAt: T0 - 10 * MIN }, 3, T0, cfg);
    expect(v).toBeCloseTo((3 + cfg.demandFloorPerMin) * 12 * (1 / (1 + 10 / 5)), 10);
  });

  it("rises with demand and load cost, falls with idle time", () => {
    const v = modelValue(base, 1, T0, cfg);
    expect(modelValue(base, 2, T0, cfg)).toBeGreaterThan(v);
    expect(modelValue({ ...base, loadTimeMs: 14_000 }, 1, T0, cfg)).toBeGreaterThan(v);
    expect(modelValue(base, 1, T0 + cfg.recencyScaleMs, cfg)).toBeCloseTo(v / 2, 10);
  });

  it("still orders models nobody asks for by load cost and recency", () => {
    expect(modelValue(base, 0, T0, cfg)).toBeGreaterThan(0);
    expect(modelValue({ ...base, loadTimeMs: 4_000 }, 0, T0, cfg)).toBeLessThan(
      modelValue(base, 0, T0, cfg),
    );
  });

  it("counts a resident model's recency from its last ask, as a candidate's", () => {
    const s = stateOf([res("busy", 16, { lastUsedAt: T0 - 10 * MIN })], { busy: 1 });
    expect(residentValue(s, s.resident[0] as ResidentModel, T0, cfg)).toBeCloseTo(
      modelValue({ loadTimeMs: 10_000, lastUsedAt: T0 }, demandRate(s, "busy", T0, cfg), T0, cfg),
      10,
    );
  });
});

describe("planLoad: eviction order", () => {
  it("evicts the model idle longest when demand and load cost are equal", () => {
    const s = stateOf([res("a", 10, { lastUsedAt: T0 - 20 * MIN }), res("b", 10)]);
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["a"] });
  });

  it("evicts the model with less demand when recency and load cost are equal", () => {
    const s = stateOf([res("a", 10), res("b", 10)], { a: 30, b: 3 });
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["b"] });
  });

  it("evicts the model cheaper to reload when demand and recency are equal", () => {
    const s = stateOf([res("a", 10, { loadTimeMs: 12_000 }), res("b", 10, { loadTimeMs: 4_000 })]);
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["b"] });
  });

  it("lets strong demand outweigh recency", () => {
    const s = stateOf(
      [res("a", 10, { lastUsedAt: T0 - 20 * MIN }), res("b", 10)],
      { a: 60 },
      T0 - 20 * MIN,
    );
    expect(demandRate(s, "a", T0, cfg)).toBeCloseTo(60 * (Math.LN2 / 10) * 0.25, 10);
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["b"] });
  });

  it("evicts several, least valuable first, when one is not enough", () => {
    const s = stateOf([
      res("a", 6, { lastUsedAt: T0 - 10 * MIN }),
      res("b", 6, { lastUsedAt: T0 - 20 * MIN }),
      res("c", 6),
    ]);
    expect(planLoad(s, want("d", 15), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["b", "a"] });
  });

  it("keeps back a cheap eviction the load turned out not to need", () => {
    // Greedy by value takes `small` then `big`; `big` alone frees enough.
    const s = stateOf([
      res("small", 3, { lastUsedAt: T0 - 60 * MIN }),
      res("big", 14, { lastUsedAt: T0 - 30 * MIN }),
    ]);
    expect(planLoad(s, want("c", 14), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["big"] });
  });

  it("loads without evicting when it fits, headroom included", () => {
    const s = stateOf([res("a", 12)]);
    expect(planLoad(s, want("b", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: [] });
    expect(planLoad(s, want("b", 10.5), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["a"] });
  });

  it("answers resident for a model already loaded", () => {
    const s = stateOf([res("a", 12)]);
    expect(planLoad(s, want("a", 12), GPU, T0, cfg)).toEqual({ kind: "resident" });
  });
});

describe("planLoad: protection and impossible loads", () => {
  it("never evicts a pinned model, however little it is worth", () => {
    const s = stateOf([res("a", 10, { pinned: true, lastUsedAt: T0 - 60 * MIN }), res("b", 10)], {
      b: 50,
    });
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["b"] });
  });

  it("never evicts a model inside its minimum residency", () => {
    const s = stateOf([res("a", 10, { loadedAt: T0 - MIN, lastUsedAt: T0 - MIN }), res("b", 10)], {
      b: 50,
    });
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toEqual({ kind: "load", evict: ["b"] });
  });

  it("is too-large for a model bigger than the GPU memory less headroom", () => {
    const plan = planLoad(emptyCacheState(), want("huge", 23), GPU, T0, cfg);
    expect(plan).toMatchObject({ kind: "impossible", reason: "too-large" });
    expect(planLoad(emptyCacheState(), want("fits", 22), GPU, T0, cfg)).toEqual({
      kind: "load",
      evict: [],
    });
  });

  it("is protected when pins hold the memory, with no time to retry", () => {
    const s = stateOf([res("a", 10, { pinned: true }), res("b", 10, { pinned: true })]);
    const plan = planLoad(s, want("c", 10), GPU, T0, cfg);
    expect(plan).toMatchObject({ kind: "impossible", reason: "protected" });
    expect(plan).not.toHaveProperty("retryAt");
  });

  it("is protected while recent loads hold the memory, and says when that ends", () => {
    const s = stateOf([
      res("a", 10, { loadedAt: T0 - 30_000 }),
      res("b", 10, { loadedAt: T0 - 90_000 }),
    ]);
    expect(planLoad(s, want("c", 10), GPU, T0, cfg)).toMatchObject({
      kind: "impossible",
      reason: "protected",
      retryAt: T0 - 90_000 + cfg.minResidencyMs,
    });
    expect(planLoad(s, want("c", 10), GPU, T0 + 30_000, cfg)).toEqual({
      kind: "load",
      evict: ["b"],
    });
  });
});

describe("prewarmCandidates", () => {
  const x = want("x", 15, 11_000);

  it("prewarms once demand crosses the threshold, not before", () => {
    const n = Math.ceil(requestsFor(cfg.prewarmPerMin));
    const below = stateOf([], { x: n - 1 });
    expect(prewarmCandidates(below, lookup(x), GPU, T0, cfg)).toEqual([]);
    const above = recordDemand(below, "x", T0, cfg);
    expect(prewarmCandidates(above, lookup(x), GPU, T0, cfg)).toEqual([
      { model: "x", evict: [], demandPerMin: demandRate(above, "x", T0, cfg) },
    ]);
  });

  it("stops prewarming as the demand decays with its half-life", () => {
    const s = stateOf([], { x: 1.5 * requestsFor(cfg.prewarmPerMin) });
    const at = (t: number) => prewarmCandidates(s, lookup(x), GPU, T0 + t, cfg).length;
    // 1.5× the threshold halves below it between 0.5 and 0.6 half-lives.
    expect(at(0.5 * cfg.demandHalfLifeMs)).toBe(1);
    expect(at(0.6 * cfg.demandHalfLifeMs)).toBe(0);
  });

  it("orders by demand and plans each after the ones before it", () => {
    const y = want("y", 14);
    const small = want("small", 3);
    const s = stateOf([], {
      x: 3 * requestsFor(1),
      y: 2 * requestsFor(1),
      small: requestsFor(1.5),
    });
    // y no longer fits once x is in, and x, just loaded, is protected.
    expect(prewarmCandidates(s, lookup(x, y, small), GPU, T0, cfg)).toEqual([
      { model: "x", evict: [], demandPerMin: expect.closeTo(3, 6) },
      { model: "small", evict: [], demandPerMin: expect.closeTo(1.5, 6) },
    ]);
  });

  it("evicts an idle model nobody asks for", () => {
    const s = stateOf([res("old", 16, { lastUsedAt: T0 - 25 * MIN })], { x: requestsFor(2) });
    expect(prewarmCandidates(s, lookup(x), GPU, T0, cfg)).toEqual([
      { model: "x", evict: ["old"], demandPerMin: expect.closeTo(2, 6) },
    ]);
  });

  it("never evicts a model worth more than the one it would load", () => {
    const s = stateOf([res("busy", 16, { lastUsedAt: T0 - MIN })], {
      x: requestsFor(2),
      busy: requestsFor(2),
    });
    expect(prewarmCandidates(s, lookup(x), GPU, T0, cfg)).toEqual([]);
  });

  it("skips models the site does not serve and models already resident", () => {
    const s = stateOf([res("x", 15)], { x: requestsFor(5), unknown: requestsFor(5) });
    expect(prewarmCandidates(s, lookup(x), GPU, T0, cfg)).toEqual([]);
  });

  it("only ever evicts models worth less than the one it loads", () => {
    fc.assert(
      fc.property(arbState, fc.constantFrom(16, 24, 32, 48), (s, capacity) => {
        const sizes = lookup(
          ...MODELS.map((m, i) => want(m, 1 + ((i * 7) % 20), 2_000 + i * 1_500)),
        );
        for (const p of prewarmCandidates(s, sizes, capacity, T0, cfg)) {
          const fp = sizes(p.model) as ModelFootprint;
          const tracker = s.demand[p.model] as { at: number };
          const gain = modelValue({ ...fp, lastUsedAt: tracker.at }, p.demandPerMin, T0, cfg);
          for (const m of p.evict) {
            const r = s.resident.find((x) => x.model === m) as ResidentModel;
            expect(residentValue(s, r, T0, cfg)).toBeLessThan(gain);
          }
        }
      }),
    );
  });
});

describe("idle cleanup", () => {
  it("unloads unpinned models idle past the timeout, longest idle first", () => {
    const s = stateOf([
      res("a", 4, { lastUsedAt: T0 - 31 * MIN }),
      res("b", 4, { lastUsedAt: T0 - 29 * MIN }),
      res("c", 4, { lastUsedAt: T0 - 45 * MIN }),
      res("d", 4, { lastUsedAt: T0 - 90 * MIN, pinned: true }),
    ]);
    expect(idleToUnload(s, T0, cfg)).toEqual(["c", "a"]);
    expect(nextCleanupAt(s, cfg)).toBe(T0 - 45 * MIN + cfg.idleTimeoutMs);
  });

  it("keeps an idle model while its demand is above the prewarm threshold", () => {
    const s = stateOf([res("a", 4, { lastUsedAt: T0 - 40 * MIN })], { a: requestsFor(4) });
    expect(idleToUnload(s, T0, cfg)).toEqual([]);
    // 4× the threshold takes two half-lives to decay to it.
    const next = nextCleanupAt(s, cfg);
    expect(next).toBeCloseTo(T0 + 2 * cfg.demandHalfLifeMs, -1);
    expect(idleToUnload(s, (next as number) - 1_000, cfg)).toEqual([]);
    expect(idleToUnload(s, next as number, cfg)).toEqual(["a"]);
  });

  it("has no cleanup to schedule when every model is pinned", () => {
    expect(nextCleanupAt(stateOf([res("a", 4, { pinned: true })]), cfg)).toBeUndefined();
    expect(nextCleanupAt(emptyCacheState(), cfg)).toBeUndefined();
  });
});

describe("state transitions", () => {
  const frozen = deepFreeze(stateOf([res("a", 4)], { a: 3 }));

  it("records loads, uses, pins and unloads without mutating the input", () => {
    let s = applyLoaded(frozen, want("b", 7, 6_000), T0);
    expect(s.resident.map((r) => r.model)).toEqual(["a", "b"]);
    expect(s.resident[1]).toEqual({
      model: "b",
      sizeGb: 7,
      loadTimeMs: 6_000,
      loadedAt: T0,
      lastUsedAt: T0,
    });
    s = markUsed(s, "a", T0 + MIN);
    expect(s.resident[0]?.lastUsedAt).toBe(T0 + MIN);
    s = setPinned(s, "a", true);
    expect(s.resident[0]?.pinned).toBe(true);
    expect(setPinned(s, "a", false).resident[0]).not.toHaveProperty("pinned");
    s = applyUnloaded(s, "b");
    expect(s.resident.map((r) => r.model)).toEqual(["a"]);
    expect(usedGb(s)).toBe(4);
  });

  it("returns the same state when nothing changes", () => {
    expect(markUsed(frozen, "absent", T0)).toBe(frozen);
    expect(markUsed(frozen, "a", T0 - 60 * MIN)).toBe(frozen);
    expect(applyUnloaded(frozen, "absent")).toBe(frozen);
    expect(setPinned(frozen, "a", false)).toBe(frozen);
    expect(reconcileResident(frozen, ["a"], lookup(), T0)).toBe(frozen);
  });

  it("keeps load time and pin when a resident model is loaded again", () => {
    const s = applyLoaded(setPinned(frozen, "a", true), want("a", 5), T0);
    expect(s.resident).toEqual([{ ...res("a", 5), lastUsedAt: T0, pinned: true }]);
  });

  it("reconciles with the models the site reports", () => {
    const s = reconcileResident(frozen, ["b", "c"], lookup(want("b", 7)), T0);
    expect(s.resident).toEqual([{ ...want("b", 7), loadedAt: T0, lastUsedAt: T0 }]);
  });

  it("round-trips through JSON and the schema", () => {
    const s = setPinned(applyLoaded(frozen, want("b", 7), T0), "b", true);
    expect(z.parse(cacheStateSchema, JSON.parse(JSON.stringify(s)))).toEqual(s);
    const dup = { ...s, resident: [res("a", 4), res("a", 4)] };
    expect(z.safeParse(cacheStateSchema, dup).success).toBe(false);
    const negative = { ...s, resident: [res("a", -1)] };
    expect(z.safeParse(cacheStateSchema, negative).success).toBe(false);
  });

  it("takes footprints from the catalog, with the site's load time when it has one", () => {
    const fp = siteFootprints({
      models: [{ model: "llama-3.1-8b", loadTimeMs: 9_000 }, { model: "llama-3.2-1b" }],
    });
    expect(fp("llama-3.1-8b")).toEqual({ model: "llama-3.1-8b", sizeGb: 16, loadTimeMs: 9_000 });
    expect(fp("llama-3.2-1b")).toEqual({ model: "llama-3.2-1b", sizeGb: 3, loadTimeMs: 4_000 });
    expect(fp("qwen2.5-7b")).toBeUndefined();
  });
});

const MODELS = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"];

const arbResident = fc.record({
  model: fc.constantFrom(...MODELS),
  sizeGb: fc.oneof(
    fc.integer({ min: 1, max: 60 }).map((halves) => halves / 2),
    fc.double({ min: 0.5, max: 30, noNaN: true }),
  ),
  loadTimeMs: fc.integer({ min: 500, max: 30_000 }),
  loadedAt: fc.integer({ min: T0 - 120 * MIN, max: T0 }),
  idleMs: fc.integer({ min: 0, max: 120 * MIN }),
  pinned: fc.boolean(),
});

/** Up to six resident models of eight, and demand for any of them asked up to 30 min ago. */
const arbState: fc.Arbitrary<CacheState> = fc
  .record({
    resident: fc.uniqueArray(arbResident, { selector: (r) => r.model, maxLength: 6 }),
    demand: fc.dictionary(
      fc.constantFrom(...MODELS),
      fc.record({ requests: fc.integer({ min: 0, max: 150 }), ago: fc.nat(30 * MIN) }),
    ),
  })
  .map(({ resident, demand }) => {
    let s: CacheState = {
      ...emptyCacheState(),
      resident: resident.map(({ idleMs, pinned, ...r }) => ({
        ...r,
        lastUsedAt: Math.max(r.loadedAt, T0 - idleMs),
        ...(pinned ? { pinned } : {}),
      })),
    };
    for (const [model, d] of Object.entries(demand)) {
      s = recordDemand(s, model, T0 - d.ago, cfg, d.requests);
    }
    return s;
  });

describe("planLoad: properties", () => {
  it("never exceeds capacity after the evictions and the load, and evicts no more than needed", () => {
    fc.assert(
      fc.property(
        arbState,
        fc.double({ min: 4, max: 96, noNaN: true }),
        fc.double({ min: 0.5, max: 40, noNaN: true }),
        (s, capacity, size) => {
          const w = want("new", size);
          const plan = planLoad(s, w, capacity, T0, cfg);
          const budget = capacity - cfg.headroomGb + 1e-6;
          if (plan.kind === "impossible") {
            if (plan.reason === "too-large") expect(size).toBeGreaterThan(budget - 2e-6);
            return;
          }
          expect(plan.kind).toBe("load");
          if (plan.kind !== "load") return;
          expect(new Set(plan.evict).size).toBe(plan.evict.length);
          for (const m of plan.evict) {
            const r = s.resident.find((x) => x.model === m);
            expect(r?.pinned).toBeFalsy();
            expect(T0 - (r as ResidentModel).loadedAt).toBeGreaterThanOrEqual(cfg.minResidencyMs);
          }
          let after = s;
          for (const m of plan.evict) after = applyUnloaded(after, m);
          after = applyLoaded(after, w, T0);
          expect(usedGb(after)).toBeLessThanOrEqual(budget);
          for (const m of plan.evict) {
            const kept = s.resident.find((x) => x.model === m) as ResidentModel;
            expect(usedGb(after) + kept.sizeGb).toBeGreaterThan(budget - 2e-6);
          }
        },
      ),
    );
  });

  it("finds a load whenever evicting every evictable model would make room", () => {
    fc.assert(
      fc.property(arbState, fc.double({ min: 0.5, max: 40, noNaN: true }), (s, size) => {
        const held = s.resident
          .filter((r) => r.pinned || T0 - r.loadedAt < cfg.minResidencyMs)
          .reduce((sum, r) => sum + r.sizeGb, 0);
        const room = GPU - cfg.headroomGb - held - size;
        fc.pre(Math.abs(room) > 1e-6); // on the boundary, rounding decides
        const fits = room > 0;
        expect(planLoad(s, want("new", size), GPU, T0, cfg).kind).toBe(
          fits ? "load" : "impossible",
        );
      }),
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
