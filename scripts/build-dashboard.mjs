// `npm run build:dashboard`: bundles the edge analytics dashboard (dashboard/) into
// dist/assets/, the Workers static assets folder of wrangler.toml:
//   dist/assets/_headers                 the dashboard's Content-Security-Policy and friends
//   dist/assets/dashboard/index.html     the one page (login and views)
//   dist/assets/dashboard/app.js         TypeScript + uPlot, one minified ES module
//   dist/assets/dashboard/app.css        the page's styles + uPlot's
//   dist/assets/dashboard/favicon.svg
// The map's land outline is made here from Natural Earth's 110 m land (world-atlas), as one
// SVG path in degrees (x = longitude, y = −latitude): the equirectangular projection is then
// just the SVG viewBox, and the browser gets a few kilobytes instead of TopoJSON and a decoder.
// `npm start`, `npm test` and `npm run deploy` run it first; the output is not committed.

import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "dashboard");
export const ASSETS_DIR = join(root, "dist", "assets");
const out = join(ASSETS_DIR, "dashboard");

/**
 * @typedef {{ type: string, arcs?: number[][][] | number[][], geometries?: Geometry[] }} Geometry
 * @typedef {{ transform: { scale: [number, number], translate: [number, number] },
 *   arcs: [number, number][][], objects: Record<string, Geometry> }} Topology
 */

/**
 * The land of a TopoJSON topology as an SVG path in degrees, rounded to 0.1°.
 * @param {Topology} topology
 * @param {string} object
 */
export function landPath(topology, object) {
  const { scale, translate } = topology.transform;
  // Arcs are quantized and delta-encoded.
  const arcs = topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => {
      x += dx;
      y += dy;
      return [x * scale[0] + translate[0], y * scale[1] + translate[1]];
    });
  });
  /** @param {number[]} ring arc indexes; ~i is arc i reversed */
  const ringPoints = (ring) => {
    /** @type {number[][]} */
    const points = [];
    for (const index of ring) {
      const arc = index >= 0 ? arcs[index] : arcs[~index]?.slice().reverse();
      if (!arc) throw new Error(`land outline: no arc ${index}`);
      // Consecutive arcs share their joining point.
      points.push(...(points.length > 0 ? arc.slice(1) : arc));
    }
    return points;
  };
  const tenths = (/** @type {number} */ v) => Math.round(v * 10);
  /** 0.1° steps as short text: 12, 1.5, .5, -.5 */
  const num = (/** @type {number} */ t) => (t / 10).toString().replace(/^(-?)0\./, "$1.");
  /** Numbers in a row: a minus sign separates them already, else a space. */
  const seq = (/** @type {number[]} */ values) =>
    values.map((v, i) => (i > 0 && v >= 0 ? ` ${num(v)}` : num(v))).join("");
  let d = "";
  /** @param {number[]} ring */
  const addRing = (ring) => {
    /** @type {number[][]} */
    const kept = [];
    for (const [lon = 0, lat = 0] of ringPoints(ring)) {
      const p = [tenths(lon), tenths(-lat)];
      const last = kept.at(-1);
      if (!last || last[0] !== p[0] || last[1] !== p[1]) kept.push(p);
    }
    // Rings end where they start; "z" closes them.
    const [fx, fy] = kept[0] ?? [];
    const [lx, ly] = kept.at(-1) ?? [];
    if (kept.length > 1 && fx === lx && fy === ly) kept.pop();
    if (kept.length < 3) return;
    const [x0 = 0, y0 = 0] = kept[0] ?? [];
    /** @type {number[]} */
    const deltas = [];
    for (let i = 1; i < kept.length; i++) {
      const [x = 0, y = 0] = kept[i] ?? [];
      const [px = 0, py = 0] = kept[i - 1] ?? [];
      deltas.push(x - px, y - py);
    }
    d += `M${seq([x0, y0])}l${seq(deltas)}z`;
  };
  /** @param {Geometry} g */
  const addGeometry = (g) => {
    if (g.type === "GeometryCollection") for (const c of g.geometries ?? []) addGeometry(c);
    else if (g.type === "Polygon")
      for (const ring of /** @type {number[][]} */ (g.arcs)) addRing(ring);
    else if (g.type === "MultiPolygon") {
      for (const polygon of /** @type {number[][][]} */ (g.arcs))
        for (const ring of polygon) addRing(ring);
    }
  };
  const geometry = topology.objects[object];
  if (!geometry) throw new Error(`land outline: no object "${object}"`);
  addGeometry(geometry);
  return d;
}

/** Serves `virtual:land-outline` (dashboard/src/modules.d.ts) from world-atlas. */
const landOutlinePlugin = {
  name: "land-outline",
  /** @param {import("esbuild").PluginBuild} b */
  setup(b) {
    b.onResolve({ filter: /^virtual:land-outline$/ }, () => ({
      path: "land-outline",
      namespace: "land-outline",
    }));
    b.onLoad({ filter: /.*/, namespace: "land-outline" }, () => {
      const file = join(root, "node_modules", "world-atlas", "land-110m.json");
      const d = landPath(JSON.parse(readFileSync(file, "utf8")), "land");
      return {
        contents: `export const LAND_PATH = ${JSON.stringify(d)};`,
        loader: "js",
        watchFiles: [file],
      };
    });
  },
};

/**
 * Builds the dashboard into dist/assets. Returns each output file with its size and gzip size.
 * @param {{ log?: boolean }} [options]
 */
export async function buildDashboard({ log = true } = {}) {
  rmSync(ASSETS_DIR, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: join(source, "src", "main.ts") },
    outdir: out,
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    tsconfig: join(source, "tsconfig.json"),
    plugins: [landOutlinePlugin],
  });
  copyFileSync(join(source, "index.html"), join(out, "index.html"));
  copyFileSync(join(source, "favicon.svg"), join(out, "favicon.svg"));
  copyFileSync(join(source, "_headers"), join(ASSETS_DIR, "_headers"));

  const files = ["index.html", "app.js", "app.css", "favicon.svg"].map((name) => {
    const path = join(out, name);
    return {
      file: relative(root, path),
      bytes: statSync(path).size,
      gzipBytes: gzipSync(readFileSync(path)).length,
    };
  });
  if (log) {
    const kib = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KiB`;
    const total = files.reduce((n, f) => n + f.gzipBytes, 0);
    console.log(
      `dashboard built into ${relative(root, ASSETS_DIR)}/: ${files
        .map((f) => `${f.file.split("/").at(-1)} ${kib(f.bytes)} (${kib(f.gzipBytes)} gzip)`)
        .join(", ")}; ${kib(total)} gzip in all`,
    );
  }
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDashboard();
}
