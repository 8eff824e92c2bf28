// A FleetSource over the seed file: the demo fleet, validated once, re-stamped about once a
// second like the isolate cache of a live fleet would be.

import { type FleetSource, type PreparedFleet, prepareFleet } from "../../shared/fleet.ts";
import { fleetFromSeed, type SeedFleet, seedFleetSchema } from "../../shared/fleet-schema.ts";
import seedJson from "../../shared/seed/fleet.json" with { type: "json" };

const REFRESH_MS = 1_000;

export class SeedFleetSource implements FleetSource {
  readonly #seed: SeedFleet;
  #prepared: { at: number; fleet: PreparedFleet } | undefined;

  constructor(seed: unknown = seedJson) {
    this.#seed = seedFleetSchema.parse(seed);
  }

  async snapshot(now: number): Promise<PreparedFleet> {
    if (!this.#prepared || now - this.#prepared.at >= REFRESH_MS) {
      this.#prepared = { at: now, fleet: prepareFleet(fleetFromSeed(this.#seed, now)) };
    }
    return this.#prepared.fleet;
  }
}

let shared: { json: string; source: SeedFleetSource } | undefined;

/**
 * The isolate's fleet source: the `FLEET_SEED` var when set (a JSON fleet in the seed format),
 * else the bundled demo seed. An invalid `FLEET_SEED` fails loudly at the first request.
 */
export function fleetSource(env: Env): FleetSource {
  const json = env.FLEET_SEED ?? "";
  if (shared?.json !== json) {
    shared = { json, source: new SeedFleetSource(json ? JSON.parse(json) : seedJson) };
  }
  return shared.source;
}
