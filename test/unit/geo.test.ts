// Great-circle distance and the grid index: `nearest` must agree with a brute-force sort.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildSpatialIndex, distanceKm, nearest } from "../../shared/geo.ts";
import type { GeoPoint } from "../../shared/types.ts";

const coord = (min: number, max: number) => fc.double({ min, max, noNaN: true });

/** Anywhere, with extra weight on the antimeridian and the poles where grids go wrong. */
const arbPoint: fc.Arbitrary<GeoPoint> = fc.oneof(
  fc.record({ lat: coord(-90, 90), lon: coord(-180, 180) }),
  fc.record({ lat: coord(-60, 60), lon: fc.oneof(coord(170, 180), coord(-180, -170)) }),
  fc.record({ lat: fc.oneof(coord(80, 90), coord(-90, -80)), lon: coord(-180, 180) }),
  fc.record({ lat: coord(45, 55), lon: coord(0, 20) }),
);

interface Item {
  id: number;
  location: GeoPoint;
}

function bruteForce(items: Item[], p: GeoPoint, k: number): number[] {
  return items
    .map((item) => distanceKm(p, item.location))
    .sort((a, b) => a - b)
    .slice(0, k);
}

/** `nearest`'s answer checked against a full sort; ties at the k-th place may pick either. */
function expectNearest(items: Item[], p: GeoPoint, k: number): void {
  const found = nearest(buildSpatialIndex(items), p, k);
  expect(found.map((n) => n.km)).toEqual(bruteForce(items, p, k));
  expect(new Set(found.map((n) => n.item.id)).size).toBe(found.length);
  for (const n of found) expect(n.km).toBe(distanceKm(p, n.item.location));
}

describe("distanceKm", () => {
  it("measures Berlin–Paris at about 878 km, either way round", () => {
    const berlin = { lat: 52.52, lon: 13.405 };
    const paris = { lat: 48.857, lon: 2.352 };
    expect(distanceKm(berlin, paris)).toBeCloseTo(878, -1);
    expect(distanceKm(paris, berlin)).toBeCloseTo(distanceKm(berlin, paris), 9);
    expect(distanceKm(berlin, berlin)).toBe(0);
  });

  it("goes the short way across the antimeridian and over the pole", () => {
    // 0.2° of longitude on the equator, not 359.8°.
    expect(distanceKm({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 })).toBeCloseTo(22.2, 1);
    // Two points 1° from the north pole on opposite meridians: 2° apart.
    expect(distanceKm({ lat: 89, lon: 0 }, { lat: 89, lon: 180 })).toBeCloseTo(222.4, 1);
    expect(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(Math.PI * 6371, 6);
  });
});

describe("nearest", () => {
  it("finds nothing for k ≤ 0 or an empty index", () => {
    const items = [{ id: 1, location: { lat: 0, lon: 0 } }];
    expect(nearest(buildSpatialIndex(items), { lat: 0, lon: 0 }, 0)).toEqual([]);
    expect(nearest(buildSpatialIndex<Item>([]), { lat: 0, lon: 0 }, 3)).toEqual([]);
  });

  it("returns everything, nearest first, when there are fewer items than k", () => {
    const items = [
      { id: 1, location: { lat: 10, lon: 10 } },
      { id: 2, location: { lat: 1, lon: 1 } },
    ];
    const found = nearest(buildSpatialIndex(items), { lat: 0, lon: 0 }, 5);
    expect(found.map((n) => n.item.id)).toEqual([2, 1]);
  });

  it("breaks ties by insertion order", () => {
    const here = { lat: 48, lon: 11 };
    const items = Array.from({ length: 30 }, (_, i) => ({
      id: i,
      location: i < 10 ? here : { lat: 0, lon: 0 },
    }));
    expect(nearest(buildSpatialIndex(items), here, 3).map((n) => n.item.id)).toEqual([0, 1, 2]);
    const reversed = [...items].reverse();
    expect(nearest(buildSpatialIndex(reversed), here, 3).map((n) => n.item.id)).toEqual([9, 8, 7]);
  });

  it("finds the site just across the antimeridian", () => {
    const items = [
      { id: 1, location: { lat: 0, lon: -179.9 } }, // 22 km away, across the antimeridian
      { id: 2, location: { lat: 0, lon: 178 } }, // 211 km
      ...Array.from({ length: 8 }, (_, i) => ({ id: 10 + i, location: { lat: 40, lon: i * 10 } })),
    ];
    const found = nearest(buildSpatialIndex(items), { lat: 0, lon: 179.9 }, 2);
    expect(found.map((n) => n.item.id)).toEqual([1, 2]);
  });

  it("finds the site across the pole", () => {
    // Regression: the former grid search, bounded by a parallel's arc at 89.9°, stopped
    // before it reached the far side of the pole, which was nearer.
    const items = [
      { id: 1, location: { lat: -89.6, lon: 0 } }, // 0.3° away, same meridian
      { id: 2, location: { lat: -89.85, lon: 180 } }, // 0.25° away, over the pole
      ...Array.from({ length: 4 }, (_, i) => ({ id: 10 + i, location: { lat: 0, lon: i * 30 } })),
    ];
    const found = nearest(buildSpatialIndex(items), { lat: -89.9, lon: 0 }, 1);
    expect(found.map((n) => n.item.id)).toEqual([2]);
  });

  it("agrees with a brute-force sort on random fleets larger than 4·k", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((k) =>
            fc.tuple(
              fc.constant(k),
              fc.array(arbPoint, { minLength: 4 * k + 1, maxLength: 4 * k + 80 }),
            ),
          ),
        arbPoint,
        ([k, points], p) => {
          expectNearest(
            points.map((location, id) => ({ id, location })),
            p,
            k,
          );
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it("agrees with a brute-force sort on fleets of at most 4·k", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 10 })
          .chain((k) => fc.tuple(fc.constant(k), fc.array(arbPoint, { maxLength: 4 * k }))),
        arbPoint,
        ([k, points], p) => {
          expectNearest(
            points.map((location, id) => ({ id, location })),
            p,
            k,
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("agrees with a brute-force sort on dense clusters around the caller", () => {
    const near = (c: GeoPoint) =>
      fc.record({ lat: coord(c.lat - 3, c.lat + 3), lon: coord(c.lon - 3, c.lon + 3) });
    fc.assert(
      fc.property(
        fc
          .record({ lat: coord(-85, 85), lon: coord(-177, 177) })
          .chain((c) =>
            fc.tuple(fc.constant(c), fc.array(near(c), { minLength: 20, maxLength: 200 })),
          ),
        fc.integer({ min: 1, max: 4 }),
        ([p, points], k) => {
          expectNearest(
            points.map((location, id) => ({ id, location })),
            p,
            k,
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("agrees with a brute-force sort inside a polar cap", () => {
    const cap = (sign: 1 | -1) =>
      fc.record({ lat: coord(88.5, 90).map((lat) => sign * lat), lon: coord(-180, 180) });
    const filler = Array.from({ length: 8 }, (_, i) => ({ lat: 0, lon: i * 45 - 180 }));
    fc.assert(
      fc.property(
        fc
          .constantFrom(1 as const, -1 as const)
          .chain((sign) =>
            fc.tuple(cap(sign), fc.array(cap(sign), { minLength: 1, maxLength: 12 })),
          ),
        ([p, points]) => {
          const items = [...points, ...filler].map((location, id) => ({ id, location }));
          expectNearest(items, p, 1);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
