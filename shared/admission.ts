// Admission by criticality at a MEC site, shared by the decision engine (against the fleet
// snapshot) and the SiteAgent (the authoritative check when a lease is taken):
// - critical work may fill every run and queue slot;
// - standard and sheddable work leave CRITICAL_HEADROOM of the slots (at least one) free, so a
//   site that standard traffic fills still takes critical requests;
// - sheddable work is also refused at a saturated site (queue or KV cache at the llm-d
//   thresholds), so it never waits in a queue that others need.

import type { Policy } from "./policy.ts";
import type { Criticality } from "./types.ts";

/** Share of a site's slots only critical work may take. */
export const CRITICAL_HEADROOM = 0.1;

/** How many requests (running + queued) a site may hold when admitting one of `criticality`. */
export function admissionLimit(
  capacity: { maxConcurrent: number; maxQueue: number },
  criticality: Criticality,
): number {
  const slots = capacity.maxConcurrent + capacity.maxQueue;
  if (criticality === "critical" || slots < 2) return slots;
  return slots - Math.max(1, Math.ceil(slots * CRITICAL_HEADROOM));
}

/** A site too busy for sheddable work: its queue or KV cache at the saturation thresholds. */
export function isSaturated(
  load: { waiting: number; kvCacheUsage: number },
  saturation: Policy["saturation"],
): boolean {
  return load.waiting >= saturation.queue || load.kvCacheUsage >= saturation.kvCache;
}
