// Lease releases leave the request after its response (`waitUntil`), and an isolate's releases
// of a short window go to each site's agent together: one `releaseMany` call per site instead of
// one `release` per request. Measured under `npm run bench:overhead-profile`, the release call
// (its RPC on both sides, the agent's write and publish) was the largest part of the chat path's
// Durable Object work. A slot stays taken at most RELEASE_FLUSH_MS longer, which errs on the safe
// side: admission may refuse a moment early, never admit beyond capacity. A call that fails is
// logged; its leases are reclaimed when they expire, as when a single release failed.

import type { LeaseOutcome, ReleasedLease } from "../../durable-objects/site-agent.ts";
import { WindowBatch, windowOf } from "../window-batch.ts";
import { siteStub } from "./site-stub.ts";

export const RELEASE_FLUSH_MS = 10;

interface Release extends ReleasedLease {
  siteId: string;
}

export type SendReleases = (siteId: string, leases: ReleasedLease[]) => Promise<unknown>;

/** A batch that sends one call per site of a window, its leases in the order they ended. */
export function releaseBatch(send: SendReleases, wait: () => Promise<void>): WindowBatch<Release> {
  return new WindowBatch(async (items) => {
    const bySite = new Map<string, ReleasedLease[]>();
    for (const { siteId, ...lease } of items) {
      const list = bySite.get(siteId);
      if (list) list.push(lease);
      else bySite.set(siteId, [lease]);
    }
    await Promise.all(
      [...bySite].map(([siteId, leases]) =>
        send(siteId, leases).catch((err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          console.warn(
            JSON.stringify({ event: "feedback_failed", siteId, leases: leases.length, message }),
          );
        }),
      ),
    );
  }, wait);
}

let batch: WindowBatch<Release> | undefined;

/**
 * The isolate's batch: releases `leaseId` at `siteId` within a moment, with its outcome (none:
 * the lease is handed back without a verdict on the site).
 */
export function releaseAtSite(
  env: Env,
  siteId: string,
  leaseId: string,
  outcome?: LeaseOutcome,
): Promise<void> {
  batch ??= releaseBatch(
    (site, leases) => siteStub(env, site).releaseMany(leases),
    windowOf(RELEASE_FLUSH_MS),
  );
  return batch.add(outcome ? { siteId, leaseId, outcome } : { siteId, leaseId });
}
