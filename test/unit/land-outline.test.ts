// The map's land outline, made at build time from TopoJSON (scripts/build-dashboard.mjs).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { landPath } from "../../scripts/build-dashboard.mjs";

/** Absolute points of an "M x y l dx dy … z" path, per ring. */
function rings(d: string): number[][][] {
  return [...d.matchAll(/M([^l]+)l([^z]*)z/g)].map(([, start = "", rest = ""]) => {
    const nums = (text: string) => (text.match(/-?(?:\d+\.?\d*|\.\d+)/g) ?? []).map(Number);
    const [x0 = 0, y0 = 0] = nums(start);
    const points = [[x0, y0]];
    const deltas = nums(rest);
    for (let i = 0; i + 1 < deltas.length; i += 2) {
      const [px = 0, py = 0] = points.at(-1) ?? [];
      points.push([
        Math.round((px + (deltas[i] ?? 0)) * 10) / 10,
        Math.round((py + (deltas[i + 1] ?? 0)) * 10) / 10,
      ]);
    }
    return points;
  });
}

describe("landPath", () => {
  // A square of two arcs, the second used reversed, quantized and delta-encoded as TopoJSON is:
  // scale 0.1°, origin (10°E, 40°N).
  const topology = {
    transform: { scale: [0.1, 0.1], translate: [10, 40] },
    arcs: [
      [
        [0, 0],
        [100, 0],
        [0, 50],
      ],
      [
        [0, 0],
        [0, 50],
        [100, 0],
      ],
    ],
    objects: {
      land: { type: "GeometryCollection", geometries: [{ type: "Polygon", arcs: [[0, ~1]] }] },
    },
  };

  it("decodes arcs, follows reversed ones, and draws in degrees with y = -latitude", () => {
    const d = landPath(topology, "land");
    expect(rings(d)).toEqual([
      [
        [10, -40],
        [20, -40],
        [20, -45],
        [10, -45],
      ],
    ]);
    // Relative steps, minus signs as separators, the closing point left to "z": short.
    expect(d).toBe("M10-40l10 0 0-5-10 0z");
  });

  it("turns Natural Earth's 110 m land into a path of a few ten kilobytes", () => {
    const world = JSON.parse(
      readFileSync(
        new URL("../../node_modules/world-atlas/land-110m.json", import.meta.url),
        "utf8",
      ),
    );
    const d = landPath(world, "land");
    expect(d.length).toBeGreaterThan(10_000);
    expect(d.length).toBeLessThan(60_000);
    const all = rings(d).flat();
    // Inside the world, and reaching its corners' latitudes and longitudes.
    for (const [x = 0, y = 0] of all) {
      expect(Math.abs(x)).toBeLessThanOrEqual(180);
      expect(Math.abs(y)).toBeLessThanOrEqual(90);
    }
    expect(Math.min(...all.map(([x = 0]) => x))).toBeLessThan(-170);
    expect(Math.max(...all.map(([x = 0]) => x))).toBeGreaterThan(170);
    // Berlin's neighbourhood is land: some ring passes within 5° of it.
    expect(all.some(([x = 0, y = 0]) => Math.abs(x - 13.4) < 5 && Math.abs(y + 52.5) < 5)).toBe(
      true,
    );
  });

  it("names the missing object", () => {
    expect(() => landPath(topology, "countries")).toThrow(/no object "countries"/);
  });
});
