// Admission by criticality at a MEC site, shared by the decision engine (against the fleet
// snapshot) and the SiteAgent (the authoritative check when a lease is taken):
// - critical work may fill every run and queue slot;
// - standard and sheddable work leave CRITICAL_HEADROOM of the slots (at least one) free, so a
//   site that standard traffic fills still takes critical requests;
// - sheddable work is also refused at a saturated site (queue or KV cache at the llm-d
//   thresholds), so it never waits in a queue that others need.
// At a site that schedules by priority (vLLM's `--scheduling-policy priority`) a request waits
// only for the queued work of its own class or a more urgent one, plus a free run slot — and for
// the more urgent work that arrives while it waits, at the rate the site has seen lately.

import type { Policy } from "./policy.ts";
import type { Criticality, Scheduling, SiteLoad } from "./types.ts";

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
export function queueWaitMs(
  busy: number,
  maxConcurrent: number,
  serviceMs: number,
  overtakePerMs = 0,
): number {
  const ahead = Math.max(0, busy + 1 - maxConcurrent);
  if (ahead === 0) return 0;
  const perSlotMs = serviceMs / Math.max(1, maxConcurrent);
  // Work that arrives while this request waits and starts before it (more urgent work at a
  // priority site) lengthens the wait by its own service time: W = ahead·t + λ·W·t.
  const overtaken = Math.max(0, overtakePerMs) * perSlotMs;
  return overtaken >= 1 ? Number.POSITIVE_INFINITY : (ahead * perSlotMs) / (1 - overtaken);
}

/** What a site's agent knows when a lease is asked for (SiteAgent.reserve). */
export interface LeaseCheck {
  capacity: { maxConcurrent: number; maxQueue: number };
  /** Requests the site holds: its leases, or what it last reported (when fresh) if more. */
  busy: number;
  /** Of those, the ones queued beyond the run slots. */
  waiting: number;
  kvCacheUsage: number;
  criticality: Criticality;
  /** Time left before the request's deadline; without it the queue is not judged. */
  budgetMs?: number;
  /** The model's measured service time at the site; without it the queue is not judged. */
  serviceMs?: number;
  /** Queued requests that would start after this one (at a priority site, less urgent ones). */
  behind?: number;
  /** Arrivals per ms that would start before it while it waits (`overtakeRate`). */
  overtakePerMs?: number;
}

/**
 * What a site holds when a lease is asked for: its leases, or what it last reported if more (a
 * report counts only while fresh: `undefined` otherwise); queued are those beyond the run slots,
 * whether the site reported them or the leases say so.
 */
export function holding(
  leases: number,
  reported: { running: number; waiting: number; kvCacheUsage: number } | undefined,
  maxConcurrent: number,
): Pick<LeaseCheck, "busy" | "waiting" | "kvCacheUsage"> {
  const busy = Math.max(leases, reported ? reported.running + reported.waiting : 0);
  return {
    busy,
    waiting: Math.max(reported?.waiting ?? 0, busy - maxConcurrent),
    kvCacheUsage: reported?.kvCacheUsage ?? 0,
  };
}

/**
 * Whether a site can take one more request: under its class's admission limit, not sheddable
 * work at a saturated site, and not facing a queue longer than its class may wait.
 */
export function leaseFits(c: LeaseCheck, saturation: Policy["saturation"]): boolean {
  if (c.busy >= admissionLimit(c.capacity, c.criticality)) return false;
  if (c.criticality === "sheddable" && isSaturated(c, saturation)) return false;
  if (c.budgetMs === undefined || c.serviceMs === undefined) return true;
  const allowance = queueAllowanceMs(c.criticality, c.budgetMs - c.serviceMs);
  const ahead = c.busy - (c.behind ?? 0);
  return queueWaitMs(ahead, c.capacity.maxConcurrent, c.serviceMs, c.overtakePerMs) <= allowance;
}

/** Time constant of the arrival meters: a rate follows the last ~10 s of arrivals. */
export const ARRIVAL_TAU_MS = 10_000;

/** An exponentially decaying count of arrivals, as of `at` (epoch ms). */
export interface ArrivalMeter {
  level: number;
  at: number;
}

function meterLevel(m: ArrivalMeter | undefined, now: number): number {
  if (!m) return 0;
  return m.level * Math.exp(-Math.max(0, now - m.at) / ARRIVAL_TAU_MS);
}

/** The meter after one arrival at `now`. */
export function meterArrival(m: ArrivalMeter | undefined, now: number): ArrivalMeter {
  return { level: meterLevel(m, now) + 1, at: now };
}

/** Arrivals per ms the meter has seen lately (steady arrivals at r per ms read r). */
export function meterRate(m: ArrivalMeter | undefined, now: number): number {
  return meterLevel(m, now) / ARRIVAL_TAU_MS;
}

/**
 * Arrivals per ms that would start before a queued request of `criticality`: at a priority site,
 * those of more urgent classes; in arrival order, none (later work queues behind it).
 */
export function overtakeRate(
  scheduling: Scheduling | undefined,
  criticality: Criticality,
  rateOf: (c: Criticality) => number,
): number {
  if (scheduling !== "priority") return 0;
  const rank = SCHEDULING_PRIORITY[criticality];
  let rate = 0;
  for (const c of BY_URGENCY) if (SCHEDULING_PRIORITY[c] < rank) rate += rateOf(c);
  return rate;
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

/**
 * vLLM's `priority` for a request of each class: lower is served earlier, ties in arrival order.
 * Requests sent without one count as 0, so work of unknown class queues like critical work.
 */
export const SCHEDULING_PRIORITY: Readonly<Record<Criticality, number>> = {
  critical: 0,
  standard: 1,
  sheddable: 2,
};

const BY_URGENCY: readonly Criticality[] = ["critical", "standard", "sheddable"];

/**
 * The `waiting` requests of a priority site by class, from the leases it granted (`leased`, by
 * class) out of the `held` requests it holds. A priority site starts the most urgent work first,
 * so what still waits is the least urgent: waiting is filled from sheddable up, and requests of
 * unknown class (more than the leases) count as critical, the priority they carry (0).
 */
export function waitingByClass(
  waiting: number,
  held: number,
  leased: Readonly<Record<Criticality, number>>,
): Record<Criticality, number> {
  const unknown = Math.max(0, held - leased.critical - leased.standard - leased.sheddable);
  const out: Record<Criticality, number> = { critical: 0, standard: 0, sheddable: 0 };
  let left = waiting;
  for (const c of [...BY_URGENCY].reverse()) {
    const here = Math.min(left, leased[c] + (c === "critical" ? unknown : 0));
    out[c] = here;
    left -= here;
  }
  // More waiting than held (a site reporting work the router never leased): unknown, priority 0.
  out.critical += left;
  return out;
}

/**
 * Requests queued ahead of a new one of `criticality`: all of them at a site that serves its
 * queue in arrival order, or without a per-class estimate; at a priority site, those of its own
 * class or a more urgent one.
 */
export function waitingAhead(
  load: Pick<SiteLoad, "waiting" | "waitingByClass">,
  scheduling: Scheduling | undefined,
  criticality: Criticality,
): number {
  const byClass = load.waitingByClass;
  if (scheduling !== "priority" || !byClass) return load.waiting;
  const rank = SCHEDULING_PRIORITY[criticality];
  let ahead = 0;
  for (const c of BY_URGENCY) if (SCHEDULING_PRIORITY[c] <= rank) ahead += byClass[c];
  return Math.min(load.waiting, ahead);
}
