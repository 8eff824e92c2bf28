// Great-circle distance and a grid index that finds the nearest sites without scanning the fleet.

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

const CELL_DEG = 2;
const LAT_CELLS = 180 / CELL_DEG;
const LON_CELLS = 360 / CELL_DEG;
/**
 * Anything outside rings 0..r is at least this far from a point at `lat`: it is more than
 * r·CELL_DEG away in latitude, or in longitude at a latitude no nearer the pole than `worstLat`,
 * where haversine gives h ≥ cos²(worstLat)·sin²(Δlon/2). (A parallel's arc is no bound: great
 * circles undercut it, and near a pole everything may be close.)
 */
function ringLowerBoundKm(lat: number, r: number): number {
  const worstLat = Math.abs(lat) + (r + 1) * CELL_DEG;
  if (worstLat >= 90) return 0;
  const halfLon = Math.min(90, (r * CELL_DEG) / 2);
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.cos(worstLat * RAD) * Math.sin(halfLon * RAD));
}

function collect<T extends Located>(
  index: GridIndex<T>,
  p: GeoPoint,
  row: number,
  col: number,
  out: Nearby<T>[],
): void {
  const wrapped = ((col % LON_CELLS) + LON_CELLS) % LON_CELLS;
  const cell = index.cells.get(row * LON_CELLS + wrapped);
  if (cell) for (const item of cell) out.push({ item, km: distanceKm(p, item.location) });
}

export interface Located {
  location: GeoPoint;
}

export interface GridIndex<T extends Located> {
  items: readonly T[];
  cells: Map<number, T[]>;
}

function cellOf(p: GeoPoint): [number, number] {
  const row = Math.min(LAT_CELLS - 1, Math.floor((p.lat + 90) / CELL_DEG));
  const col = Math.min(LON_CELLS - 1, Math.floor((p.lon + 180) / CELL_DEG));
  return [row, col];
}

/** Builds the index once per fleet snapshot, not per decision. */
export function buildGridIndex<T extends Located>(items: readonly T[]): GridIndex<T> {
  const cells = new Map<number, T[]>();
  for (const item of items) {
    const [row, col] = cellOf(item.location);
    const key = row * LON_CELLS + col;
    const cell = cells.get(key);
    if (cell) cell.push(item);
    else cells.set(key, [item]);
  }
  return { items, cells };
}

export interface Nearby<T> {
  item: T;
  km: number;
}

/**
 * The `k` items nearest to `p`, nearest first (ties by insertion order). Visits rings of grid
 * cells outward and stops once the next ring cannot hold anything nearer than the k-th found.
 */
export function nearest<T extends Located>(
  index: GridIndex<T>,
  p: GeoPoint,
  k: number,
): Nearby<T>[] {
  const found: Nearby<T>[] = [];
  if (k <= 0 || index.items.length === 0) return found;
  if (index.items.length <= k * 4) {
    for (const item of index.items) found.push({ item, km: distanceKm(p, item.location) });
  } else {
    const [row0, col0] = cellOf(p);
    const half = LON_CELLS / 2;
    for (let r = 0; r <= LAT_CELLS; r++) {
      // Columns of ring r, clipped so that no column is visited twice around the globe.
      const dcMin = -Math.min(r, half - 1);
      const dcMax = Math.min(r, half);
      for (let row = row0 - r; row <= row0 + r; row++) {
        if (row < 0 || row >= LAT_CELLS) continue;
        if (row === row0 - r || row === row0 + r) {
          for (let dc = dcMin; dc <= dcMax; dc++) collect(index, p, row, col0 + dc, found);
        } else {
          if (-r >= dcMin) collect(index, p, row, col0 - r, found);
          if (r <= dcMax && r !== 0) collect(index, p, row, col0 + r, found);
        }
      }
      if (found.length >= k) {
        found.sort(byKm);
        const kth = found[k - 1];
        if (kth && kth.km <= ringLowerBoundKm(p.lat, r)) break;
      }
    }
  }
  found.sort(byKm);
  found.length = Math.min(found.length, k);
  return found;
}

function byKm<T>(a: Nearby<T>, b: Nearby<T>): number {
  return a.km - b.km;
}
