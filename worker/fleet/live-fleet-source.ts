// The fleet as the edge sees it: the FleetDirectory's snapshot, cached in the isolate. A snapshot
// younger than FRESH_MS is used as is; an older one (up to MAX_STALE_MS) is used while one
// background refresh runs (stale-while-revalidate); only a cold isolate waits on the directory.
// So decide-only requests wait on no Durable Object in steady state.

import type { DirectorySnapshot } from "../../durable-objects/fleet-directory.ts";
import { type FleetSource, type PreparedFleet, prepareFleet } from "../../shared/fleet.ts";
import { regionSchema } from "../../shared/fleet-schema.ts";
import seed from "../../shared/seed/fleet.json" with { type: "json" };
import type { BreakerState, RegionView } from "../../shared/types.ts";

export const FRESH_MS = 1_000;
export const MAX_STALE_MS = 30_000;

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
  readonly #env: Env;
  #cache: { at: number; fleet: PreparedFleet } | undefined;
  #refreshing: Promise<PreparedFleet> | undefined;
  /** Bumped by `invalidate`, so a refresh that read the directory before it cannot write back. */
  #generation = 0;

  constructor(env: Env) {
    this.#env = env;
  }

  async snapshot(now: number, waitUntil?: (p: Promise<unknown>) => void): Promise<PreparedFleet> {
    const cached = this.#cache;
    if (cached && now - cached.at < FRESH_MS) return cached.fleet;
    if (cached && now - cached.at < MAX_STALE_MS && waitUntil) {
      if (!this.#refreshing) waitUntil(this.#refresh(now).catch(() => undefined));
      return cached.fleet;
    }
    return this.#refreshing ?? this.#refresh(now);
  }

  /** Drops the cache, e.g. after this isolate saw a breaker open. */
  invalidate(): void {
    this.#generation++;
    this.#cache = undefined;
    this.#refreshing = undefined;
  }

  #refresh(now: number): Promise<PreparedFleet> {
    const run = this.#load(now, this.#generation).finally(() => {
      if (this.#refreshing === run) this.#refreshing = undefined;
    });
    this.#refreshing = run;
    return run;
  }

  async #load(now: number, generation: number): Promise<PreparedFleet> {
    const snap = await this.#env.FLEET_DIRECTORY.getByName("global").snapshot();
    const fleet = fleetFromDirectory(snap, now);
    if (generation === this.#generation) this.#cache = { at: now, fleet };
    return fleet;
  }
}

let source: LiveFleetSource | undefined;

/** The isolate's fleet source. */
export function fleetSource(env: Env): LiveFleetSource {
  source ??= new LiveFleetSource(env);
  return source;
}
