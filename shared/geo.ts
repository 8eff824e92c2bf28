// Great-circle distance and a k-d tree that finds the nearest sites without scanning the fleet.

import type { GeoPoint } from "./types.ts";

const EARTH_RADIUS_KM = 6371;
const RAD = Math.PI / 180;

/** Haversine distance in km. */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface Located {
  location: GeoPoint;
}

/**
 * A static k-d tree over the items' unit vectors, built once per fleet snapshot (and kept by the
 * next while no site moves: shared/fleet.ts). The straight (chord) distance between unit vectors
 * grows with the great-circle distance, so the tree's nearest are the globe's nearest, with no
 * special case at the poles or the antimeridian.
 */
export interface SpatialIndex<T extends Located> {
  items: readonly T[];
  /** x, y, z of item i at 3i. */
  xyz: Float64Array;
  /** Item indices, grouped by leaf. */
  order: Int32Array;
  /** Per node: split axis (-1 for a leaf), split value, children, and the leaf's `order` range. */
  axis: Int8Array;
  split: Float64Array;
  left: Int32Array;
  right: Int32Array;
  lo: Int32Array;
  hi: Int32Array;
}

const LEAF_SIZE = 8;

function unitVector(p: GeoPoint, out: Float64Array, at: number): void {
  const lat = p.lat * RAD;
  const lon = p.lon * RAD;
  const c = Math.cos(lat);
  out[at] = c * Math.cos(lon);
  out[at + 1] = c * Math.sin(lon);
  out[at + 2] = Math.sin(lat);
}

/** Builds the index once per fleet snapshot, not per decision. */
export function buildSpatialIndex<T extends Located>(items: readonly T[]): SpatialIndex<T> {
  const n = items.length;
  const xyz = new Float64Array(3 * n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    unitVector((items[i] as T).location, xyz, 3 * i);
    order[i] = i;
  }
  const maxNodes = Math.max(1, 2 * Math.ceil(n / LEAF_SIZE) * 2);
  const index: SpatialIndex<T> = {
    items,
    xyz,
    order,
    axis: new Int8Array(maxNodes),
    split: new Float64Array(maxNodes),
    left: new Int32Array(maxNodes),
    right: new Int32Array(maxNodes),
    lo: new Int32Array(maxNodes),
    hi: new Int32Array(maxNodes),
  };
  let nodes = 0;
  const build = (lo: number, hi: number): number => {
    const id = nodes++;
    index.lo[id] = lo;
    index.hi[id] = hi;
    index.axis[id] = -1;
    if (hi - lo <= LEAF_SIZE) return id;
    let axis = 0;
    let widest = -1;
    for (let a = 0; a < 3; a++) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = lo; j < hi; j++) {
        const v = xyz[3 * (order[j] as number) + a] as number;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (max - min > widest) {
        widest = max - min;
        axis = a;
      }
    }
    const key = (i: number) => xyz[3 * i + axis] as number;
    order.set(
      Array.from(order.subarray(lo, hi)).sort((a, b) => key(a) - key(b) || a - b),
      lo,
    );
    const mid = (lo + hi) >> 1;
    index.axis[id] = axis;
    index.split[id] = key(order[mid] as number);
    index.left[id] = build(lo, mid);
    index.right[id] = build(mid, hi);
    return id;
  };
  if (n > 0) build(0, n);
  return index;
}

export interface Nearby<T> {
  item: T;
  km: number;
}

/** The `k` items nearest to `p`, nearest first (ties by insertion order). */
export function nearest<T extends Located>(
  index: SpatialIndex<T>,
  p: GeoPoint,
  k: number,
): Nearby<T>[] {
  const n = index.items.length;
  if (k <= 0 || n === 0) return [];
  const want = Math.min(k, n);
  const q = new Float64Array(3);
  unitVector(p, q, 0);
  const qx = q[0] as number;
  const qy = q[1] as number;
  const qz = q[2] as number;
  const { xyz, order, axis, split, left, right, lo, hi } = index;
  // The best `want` so far by haversine km, then index, in insertion-sorted parallel arrays. The
  // tree is pruned in chord space, with ~6 m of slack so that rounding never prunes a tie.
  const bestKm = new Float64Array(want);
  const bestI = new Int32Array(want);
  let size = 0;
  let reach2 = Number.POSITIVE_INFINITY;
  const visit = (node: number): void => {
    const a = axis[node] as number;
    if (a < 0) {
      for (let j = lo[node] as number, end = hi[node] as number; j < end; j++) {
        const i = order[j] as number;
        const dx = (xyz[3 * i] as number) - qx;
        const dy = (xyz[3 * i + 1] as number) - qy;
        const dz = (xyz[3 * i + 2] as number) - qz;
        if (dx * dx + dy * dy + dz * dz > reach2) continue;
        const km = distanceKm(p, (index.items[i] as T).location);
        if (size === want) {
          const worst = bestKm[want - 1] as number;
          if (km > worst || (km === worst && i > (bestI[want - 1] as number))) continue;
        } else {
          size++;
        }
        let s = size - 1;
        while (s > 0) {
          const prev = bestKm[s - 1] as number;
          if (prev < km || (prev === km && (bestI[s - 1] as number) < i)) break;
          bestKm[s] = prev;
          bestI[s] = bestI[s - 1] as number;
          s--;
        }
        bestKm[s] = km;
        bestI[s] = i;
        if (size === want) {
          const chord =
            2 *
            Math.sin(Math.min(Math.PI / 2, (bestKm[want - 1] as number) / (2 * EARTH_RADIUS_KM)));
          reach2 = chord * chord + 1e-12;
        }
      }
      return;
    }
    const diff = (a === 0 ? qx : a === 1 ? qy : qz) - (split[node] as number);
    const near = diff < 0 ? left[node] : right[node];
    const far = diff < 0 ? right[node] : left[node];
    visit(near as number);
    if (diff * diff <= reach2) visit(far as number);
  };
  visit(0);
  const found: Nearby<T>[] = [];
  for (let s = 0; s < size; s++) {
    found.push({
      item: index.items[bestI[s] as number] as T,
      km: bestKm[s] as number,
    });
  }
  return found;
}
