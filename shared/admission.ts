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

/**
 * Share of a request's slack (its SLA less its own service time) that work other than critical
 * may spend waiting in a site's queue. Sites serve their queue in arrival order, so everything
 * queued is ahead of a critical request that comes later: keeping other work's queue wait to half
 * the slack leaves that critical request the other half, inside the same SLA.
 */
export const CRITICAL_QUEUE_RESERVE = 0.5;

/** The queue wait a request of `criticality` may accept, given its slack in ms. */
export function queueAllowanceMs(criticality: Criticality, slackMs: number): number {
  const slack = Math.max(0, slackMs);
  return criticality === "critical" ? slack : slack * (1 - CRITICAL_QUEUE_RESERVE);
}

/**
 * Expected wait before a new request starts at a site holding `busy` requests (running and
 * queued), served `maxConcurrent` at a time, each taking about `serviceMs`: the same fluid model
 * as shared/predict.ts.
 */
export function queueWaitMs(busy: number, maxConcurrent: number, serviceMs: number): number {
  const ahead = Math.max(0, busy + 1 - maxConcurrent);
  return (ahead * serviceMs) / Math.max(1, maxConcurrent);
}

/**
 * A site's load as the router should see it: the requests it holds are the more of what it last
 * reported (running and queued) and the leases granted since, plus requests expected soon; all
 * beyond the run slots wait. Leases cover queued requests too, so adding
 * them to the running count and the site's own queue on top would count the queue twice.
 */
export function siteLoad(
  reported: { running: number; waiting: number },
  leases: number,
  expected: number,
  maxConcurrent: number,
): { running: number; waiting: number } {
  const held = Math.max(reported.running + reported.waiting, leases) + expected;
  // Queued: what the site says waits (a cold load, say), or all beyond the run slots.
  const waiting = Math.max(reported.waiting, held - maxConcurrent);
  return { running: held - waiting, waiting };
}
