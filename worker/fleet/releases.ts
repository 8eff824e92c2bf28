// Lease releases leave the request after its response (`waitUntil`), and an isolate's releases
// of a short window go to each site's agent together: one `releaseMany` call per site instead of
// one `release` per request. Measured under `npm run bench:overhead-profile`, the release call
// (its RPC on both sides, the agent's write and publish) was the largest part of the chat path's
// Durable Object work. A slot stays taken at most RELEASE_FLUSH_MS longer, which errs on the safe
// side: admission may refuse a moment early, never admit beyond capacity. A call that fails is
// logged; its leases are reclaimed when they expire, as when a single release failed.
//
// Hand-on: a lease whose release still waits in the open window can go to the next request of
// this isolate for the same site and model instead of back to the agent (`handOnLease`), which
// then takes no `reserve` call at all — under steady traffic most requests of a busy isolate.
// The slot never stops being counted at the agent: it passes from one request to the next, and
// the agent learns of it in the same `releaseMany` call (the old request's outcome, the new one's
// class, its demand and arrival). A lease is handed on only while the agent would have granted
// it just the same from what the router knows: the request that held it succeeded (a failure
// goes to the breaker first), it was no breaker probe and had a run slot of its own (not granted
// beyond them), the new request is of the same tenant and at least as urgent (a slot kept free
// for critical work stays with critical work), no request waits in the site's queue as far as
// the agent last told this isolate (in its answer to a reserve or to the last release batch: a
// freed slot belongs to the work already waiting, which the agent's admission weighs), and the
// agent granted the lease at most `reuseMs` ago (SITE_LEASE_REUSE_MS, as old as the fleet
// snapshot the decision itself read): after that the next request asks the agent again, and
// meets whatever it decided meanwhile — an open breaker, a drain, a full queue.

import type {
  LeaseOutcome,
  ReleasedLease,
  ReleasedMany,
} from "../../durable-objects/site-agent.ts";
import type { Criticality } from "../../shared/types.ts";
import { CRITICALITIES } from "../../shared/types.ts";
import { WindowBatch, windowOf } from "../window-batch.ts";
import { siteStub } from "./site-stub.ts";

export const RELEASE_FLUSH_MS = 10;
/** The default of SITE_LEASE_REUSE_MS: how long after its grant a lease may still be handed on. */
export const DEFAULT_LEASE_REUSE_MS = 1_000;

/** A lease a request of this isolate holds at a site. */
export interface HeldLease {
  siteId: string;
  leaseId: string;
  model: string;
  /** As the agent holds it: absent counts as critical. */
  criticality?: Criticality | undefined;
  tenant?: string | undefined;
  /** A breaker probe: its own outcome settles the breaker. */
  probe: boolean;
  /** Granted beyond the site's run slots: the request waited in its queue. */
  queued: boolean;
  /** When the agent granted it (hand-ons keep it). */
  grantedAt: number;
  /** When the agent reclaims it if nobody released it, as the agent granted it. */
  expiresAt: number;
}

/** What a request needs of a lease. */
export interface LeaseWant {
  siteId: string;
  model: string;
  criticality?: Criticality | undefined;
  tenant?: string | undefined;
  /** How long the lease must last for it (the `ttlMs` it would reserve with). */
  ttlMs: number;
}

interface Release {
  lease: HeldLease;
  outcome?: LeaseOutcome;
  /** Set when the lease went on to another request instead of back to the agent. */
  handedOn?: { criticality?: Criticality; ttlMs: number };
}

export type SendReleases = (siteId: string, leases: ReleasedLease[]) => Promise<ReleasedMany>;

/** Sites whose agent last told this isolate that requests wait in its queue. */
const queueing = new Set<string>();

/** What a site's agent last said of its queue (a reserve's answer, a release batch's). */
export function noteQueueing(siteId: string, waiting: boolean): void {
  if (waiting) queueing.add(siteId);
  else queueing.delete(siteId);
}

/** A batch that sends one call per site of a window, its leases in the order they ended. */
export function releaseBatch(send: SendReleases, wait: () => Promise<void>): WindowBatch<Release> {
  return new WindowBatch(async (items) => {
    const bySite = new Map<string, ReleasedLease[]>();
    for (const { lease, outcome, handedOn } of items) {
      const released: ReleasedLease = { leaseId: lease.leaseId };
      if (outcome) released.outcome = outcome;
      if (handedOn) released.handedOn = handedOn;
      const list = bySite.get(lease.siteId);
      if (list) list.push(released);
      else bySite.set(lease.siteId, [released]);
    }
    await Promise.all(
      [...bySite].map(([siteId, leases]) =>
        send(siteId, leases).then(
          (answer) => noteQueueing(siteId, answer.queueing),
          (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            console.warn(
              JSON.stringify({ event: "feedback_failed", siteId, leases: leases.length, message }),
            );
          },
        ),
      ),
    );
  }, wait);
}

const urgency = (c: Criticality | undefined) => CRITICALITIES.indexOf(c ?? "critical");

/** Whether the lease of a pending release may go on to a request that wants `want` (see above). */
export function canHandOn(
  release: Release,
  want: LeaseWant,
  now: number,
  reuseMs: number,
): boolean {
  const { lease, outcome } = release;
  return (
    release.handedOn === undefined &&
    lease.siteId === want.siteId &&
    lease.model === want.model &&
    lease.tenant === want.tenant &&
    !lease.probe &&
    !lease.queued &&
    (outcome === undefined || outcome.ok) &&
    urgency(want.criticality) <= urgency(lease.criticality) &&
    now - lease.grantedAt <= reuseMs &&
    // The agent extends it on the hand-on; until then it must outlast most of the new request.
    lease.expiresAt - now >= want.ttlMs / 2
  );
}

/**
 * Takes over the lease of a release pending in `batch`'s open window, if one may go to `want`
 * and no request waits at the site (`noteQueueing`): the release is sent as a hand-on instead,
 * and the lease is the new request's to release.
 */
export function handOn(
  batch: WindowBatch<Release>,
  want: LeaseWant,
  now: number,
  reuseMs: number,
): HeldLease | undefined {
  if (queueing.has(want.siteId)) return undefined;
  const release = batch.find((r) => canHandOn(r, want, now, reuseMs));
  if (!release) return undefined;
  release.handedOn =
    want.criticality === undefined
      ? { ttlMs: want.ttlMs }
      : { criticality: want.criticality, ttlMs: want.ttlMs };
  return { ...release.lease, criticality: want.criticality, tenant: want.tenant };
}

let batch: WindowBatch<Release> | undefined;

/**
 * The isolate's batch: releases `lease` within a moment, with its outcome (none: the lease is
 * handed back without a verdict on the site).
 */
export function releaseAtSite(env: Env, lease: HeldLease, outcome?: LeaseOutcome): Promise<void> {
  batch ??= releaseBatch(
    (site, leases) => siteStub(env, site).releaseMany(leases),
    windowOf(RELEASE_FLUSH_MS),
  );
  return batch.add(outcome ? { lease, outcome } : { lease });
}

/** `handOn` on the isolate's batch: a lease for `want` without a call to the agent, or none. */
export function handOnLease(want: LeaseWant, now: number, reuseMs: number): HeldLease | undefined {
  return batch && reuseMs > 0 ? handOn(batch, want, now, reuseMs) : undefined;
}
