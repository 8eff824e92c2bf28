// The fleet on a map, offline: an SVG in degrees (x = longitude, y = −latitude, i.e. the
// equirectangular projection), zoomed to the sites, over Natural Earth's land outline (bundled
// at build time) and a graticule. No tiles, no network.

import { LAND_PATH } from "virtual:land-outline";
import type { FleetSite } from "../../shared/analytics-api.ts";
import { s } from "./dom.ts";
import { breaker, pct } from "./format.ts";

/** The state a site is drawn in: what an operator must notice first wins. */
export function siteState(site: FleetSite): "open" | "half_open" | "unhealthy" | "draining" | "ok" {
  if (site.breaker === "open") return "open";
  if (!site.healthy) return "unhealthy";
  if (site.breaker === "half_open") return "half_open";
  if (site.draining) return "draining";
  return "ok";
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The sites' bounding box, padded, at a 2:1 aspect, inside the world. */
function viewBox(sites: readonly FleetSite[]): Box {
  if (sites.length === 0) return { x: -180, y: -90, w: 360, h: 180 };
  const xs = sites.map((x) => x.location.lon);
  const ys = sites.map((x) => -x.location.lat);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  const pad = Math.max(6, 0.25 * Math.max(x1 - x0, y1 - y0));
  x0 -= pad;
  x1 += pad;
  y0 -= pad;
  y1 += pad;
  // Widen the narrower side to 2:1.
  const w = Math.max(x1 - x0, 2 * (y1 - y0));
  const h = w / 2;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const box = { x: cx - w / 2, y: cy - h / 2, w, h };
  if (box.w >= 360) return { x: -180, y: -90, w: 360, h: 180 };
  box.x = Math.min(Math.max(box.x, -180), 180 - box.w);
  box.y = Math.min(Math.max(box.y, -90), 90 - box.h);
  return box;
}

/** Graticule lines every `step` degrees across the box. */
function graticule(box: Box): SVGPathElement {
  const step = box.w > 120 ? 30 : box.w > 40 ? 10 : 5;
  let d = "";
  for (let lon = Math.ceil(box.x / step) * step; lon <= box.x + box.w; lon += step) {
    d += `M${lon} ${box.y}V${box.y + box.h}`;
  }
  for (let y = Math.ceil(box.y / step) * step; y <= box.y + box.h; y += step) {
    d += `M${box.x} ${y}H${box.x + box.w}`;
  }
  return s("path", { class: "graticule", d, "vector-effect": "non-scaling-stroke" });
}

/** The map of `sites`; `onSelect` is called with a site's id when its marker is activated. */
export function fleetMap(
  sites: readonly FleetSite[],
  onSelect: (id: string) => void,
): SVGSVGElement {
  const box = viewBox(sites);
  const r = box.w / 90;
  const font = box.w / 55;
  const counts = new Map<string, number>();
  for (const site of sites) counts.set(siteState(site), (counts.get(siteState(site)) ?? 0) + 1);
  const summary = [...counts].map(([state, n]) => `${n} ${state.replace("_", " ")}`).join(", ");
  const markers = sites.map((site) => {
    const state = siteState(site);
    const label = `${site.name} (${site.id}): breaker ${breaker(site.breaker)}, ${
      site.healthy ? "healthy" : "unhealthy"
    }${site.draining ? ", draining" : ""}, load ${pct(site.load.utilization)}`;
    const x = site.location.lon;
    const y = -site.location.lat;
    const g = s(
      "g",
      {
        class: `site state-${state}`,
        "data-site": site.id,
        "data-state": state,
        tabindex: 0,
        role: "button",
        "aria-label": label,
        onclick: () => onSelect(site.id),
        onkeydown: (e: Event) => {
          if (e instanceof KeyboardEvent && (e.key === "Enter" || e.key === " ")) {
            e.preventDefault();
            onSelect(site.id);
          }
        },
      },
      s("title", {}, label),
      // Load as a ring around the marker: the fuller, the longer the arc.
      s("circle", { class: "halo", cx: x, cy: y, r: r * 1.9 }),
      s("circle", {
        class: "load",
        cx: x,
        cy: y,
        r: r * 1.45,
        pathLength: 100,
        "stroke-dasharray": `${Math.round(Math.min(1, site.load.utilization) * 100)} 100`,
        transform: `rotate(-90 ${x} ${y})`,
        "stroke-width": r * 0.5,
      }),
      s("circle", { class: "dot", cx: x, cy: y, r }),
      s("text", { x: x + r * 2.2, y: y + font * 0.35, "font-size": font }, site.id),
    );
    return g;
  });
  return s(
    "svg",
    {
      class: "map",
      viewBox: `${box.x} ${box.y} ${box.w} ${box.h}`,
      role: "group",
      "aria-label": `Map of ${sites.length} MEC sites: ${summary || "none"}`,
    },
    s("rect", { class: "sea", x: box.x, y: box.y, width: box.w, height: box.h }),
    graticule(box),
    s("path", { class: "land", d: LAND_PATH, "vector-effect": "non-scaling-stroke" }),
    ...markers,
  );
}
