// The fleet as the edge sees it: the FleetDirectory's snapshot, cached in the isolate. A snapshot
// younger than FRESH_MS is used as is; an older one (up to MAX_STALE_MS) is used while one
// background refresh runs (stale-while-revalidate); only a cold isolate waits on the directory.
// So decide-only requests wait on no Durable Object in steady state.
//
// A request never awaits a read another request started (shared/swr-cache.ts says why): a cold
// request reads the directory itself, and a background refresh unsettled within REFRESH_LOST_MS
// is taken as lost.

import type { DirectorySnapshot } from "../../durable-objects/fleet-directory.ts";
import { type FleetSource, type PreparedFleet, prepareFleet } from "../../shared/fleet.ts";
import { regionSchema } from "../../shared/fleet-schema.ts";
import seed from "../../shared/seed/fleet.json" with { type: "json" };
import { SwrCache } from "../../shared/swr-cache.ts";
import type { BreakerState, RegionView } from "../../shared/types.ts";

export const FRESH_MS = 1_000;
export const MAX_STALE_MS = 30_000;
export const REFRESH_LOST_MS = 5_000;

/** Reads the directory's snapshot: the FleetDirectory Durable Object's in production. */
export type DirectoryReader = () => Promise<DirectorySnapshot>;

/** Cloud regions the router may use: static configuration shipped with the deploy. */
const REGIONS = seed.regions.map((r) => regionSchema.parse(r));

/** The breaker service name of Bedrock in a region. */
export function bedrockService(region: string): string {
  return `bedrock:${region}`;
}

/** `previous`: the fleet this isolate prepared last, whose site index may still serve. */
export function fleetFromDirectory(
  snap: DirectorySnapshot,
  now: number,
  previous?: PreparedFleet,
): PreparedFleet {
  const services = new Map(snap.services.map((s) => [s.service, s]));
  const regions: RegionView[] = REGIONS.map((r) => {
    const svc = services.get(bedrockService(r.id));
    const breaker: BreakerState = svc?.breaker ?? "closed";
    return { ...r, breaker, errorRate: svc?.errorRate ?? 0 };
  });
  return prepareFleet(
    {
      version: snap.version,
      generatedAt: now,
      sites: snap.sites,
      regions,
      answerShares: snap.answerShares,
    },
    previous,
  );
}

export class LiveFleetSource implements FleetSource {
  readonly #read: DirectoryReader;
  /** The last fleet prepared, kept across `invalidate`: its index is checked before reuse. */
  #last: PreparedFleet | undefined;
  readonly #cache = new SwrCache<PreparedFleet>({
    freshMs: FRESH_MS,
    maxAgeMs: MAX_STALE_MS,
    maxEntries: 1,
    lostMs: REFRESH_LOST_MS,
  });

  constructor(read: DirectoryReader) {
    this.#read = read;
  }

  snapshot(now: number, waitUntil?: (p: Promise<unknown>) => void): Promise<PreparedFleet> {
    return this.#cache.get(
      "fleet",
      now,
      async () => {
        this.#last = fleetFromDirectory(await this.#read(), now, this.#last);
        return this.#last;
      },
      waitUntil,
    );
  }

  /** Drops the cache, e.g. after this isolate saw a breaker open. */
  invalidate(): void {
    this.#cache.clear();
  }
}

let source: LiveFleetSource | undefined;

/** The isolate's fleet source. */
export function fleetSource(env: Env): LiveFleetSource {
  source ??= new LiveFleetSource(() => env.FLEET_DIRECTORY.getByName("global").snapshot());
  return source;
}
