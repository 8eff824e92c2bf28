// The fleet as the decision engine sees it: a snapshot of sites and cloud regions, indexed once
// per snapshot so that a decision looks at the nearest sites only.

import { buildSpatialIndex, type SpatialIndex } from "./geo.ts";
import type { FleetData, SiteView } from "./types.ts";

export interface PreparedFleet {
  data: FleetData;
  siteIndex: SpatialIndex<SiteView>;
}

/**
 * Where the worker gets the fleet from (Durable Objects in production, a seed in benchmarks).
 * `waitUntil` lets a source refresh in the background while answering from its cache.
 */
export interface FleetSource {
  snapshot(now: number, waitUntil?: (p: Promise<unknown>) => void): Promise<PreparedFleet>;
}

export function prepareFleet(data: FleetData): PreparedFleet {
  // Sorted by id so that equally near sites are always visited in the same order.
  const sites = [...data.sites].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { data, siteIndex: buildSpatialIndex(sites) };
}
