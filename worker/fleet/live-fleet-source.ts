// The fleet as the edge sees it: the FleetDirectory's snapshot, cached in the isolate. A snapshot
// younger than FRESH_MS is used as is; an older one (up to MAX_STALE_MS) is used while one
// background refresh runs (stale-while-revalidate); only a cold isolate waits on the directory.
// So decide-only requests wait on no Durable Object in steady state.
//
// A request never awaits a read another request started: that read is the other request's I/O,
// and if that request is cancelled (its client gone) the read never settles, so everything
// awaiting it would hang. A cold request reads the directory itself; the one background refresh
// runs in the waitUntil of the request that started it, and one that has not settled within
// REFRESH_LOST_MS is taken as lost, so the next stale read starts another.

import type { DirectorySnapshot } from "../../durable-objects/fleet-directory.ts";
import { type FleetSource, type PreparedFleet, prepareFleet } from "../../shared/fleet.ts";
import { regionSchema } from "../../shared/fleet-schema.ts";
import seed from "../../shared/seed/fleet.json" with { type: "json" };
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

export function fleetFromDirectory(snap: DirectorySnapshot, now: number): PreparedFleet {
  const services = new Map(snap.services.map((s) => [s.service, s]));
  const regions: RegionView[] = REGIONS.map((r) => {
    const svc = services.get(bedrockService(r.id));
    const breaker: BreakerState = svc?.breaker ?? "closed";
    return { ...r, breaker, errorRate: svc?.errorRate ?? 0 };
  });
  return prepareFleet({
    version: snap.version,
    generatedAt: now,
    sites: snap.sites,
    regions,
    answerShares: snap.answerShares,
  });
}

export class LiveFleetSource implements FleetSource {
  readonly #read: DirectoryReader;
  #cache: { at: number; fleet: PreparedFleet } | undefined;
  /** When the background refresh in flight started, if one is. */
  #refreshingSince: number | undefined;
  /** Bumped by `invalidate`, so a read that started before it cannot write back. */
  #generation = 0;

  constructor(read: DirectoryReader) {
    this.#read = read;
  }

  async snapshot(now: number, waitUntil?: (p: Promise<unknown>) => void): Promise<PreparedFleet> {
    const cached = this.#cache;
    if (cached && now - cached.at < FRESH_MS) return cached.fleet;
    if (cached && now - cached.at < MAX_STALE_MS && waitUntil) {
      const since = this.#refreshingSince;
      if (since === undefined || now - since > REFRESH_LOST_MS) {
        this.#refreshingSince = now;
        waitUntil(
          this.#load(now, this.#generation)
            .catch(() => undefined)
            .finally(() => {
              if (this.#refreshingSince === now) this.#refreshingSince = undefined;
            }),
        );
      }
      return cached.fleet;
    }
    return this.#load(now, this.#generation);
  }

  /** Drops the cache, e.g. after this isolate saw a breaker open. */
  invalidate(): void {
    this.#generation++;
    this.#cache = undefined;
    this.#refreshingSince = undefined;
  }

  async #load(now: number, generation: number): Promise<PreparedFleet> {
    const fleet = fleetFromDirectory(await this.#read(), now);
    if (generation === this.#generation && !(this.#cache && this.#cache.at > now)) {
      this.#cache = { at: now, fleet };
    }
    return fleet;
  }
}

let source: LiveFleetSource | undefined;

/** The isolate's fleet source. */
export function fleetSource(env: Env): LiveFleetSource {
  source ??= new LiveFleetSource(() => env.FLEET_DIRECTORY.getByName("global").snapshot());
  return source;
}
