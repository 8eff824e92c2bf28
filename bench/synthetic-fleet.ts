// Synthetic fleets for the decision benchmark: MEC sites jittered around world metros (weighted by
// population), registered through the real schema, then given live state — load, stale data,
// half-open and open breakers — and a handful of Bedrock regions.

import { CATALOG } from "../shared/catalog.ts";
import { siteFromRegistration, siteRegistrationSchema } from "../shared/fleet-schema.ts";
import { residencyAllows } from "../shared/residency.ts";
import type { FleetData, GeoPoint, RegionView, SiteView } from "../shared/types.ts";
import { METROS, type Metro } from "./metros.ts";
import { createRng, type Rng, weightedPicker } from "./random.ts";

const MEC_MODELS = CATALOG.filter((m) => m.mec);
const NOVA = ["nova-micro", "nova-lite", "nova-pro"];

export const REGIONS: readonly RegionView[] = [
  region("eu-central-1", 50.11, 8.68, "DE", ["gdpr", "iso27001", "soc2", "hipaa", "bsi-c5"]),
  region("eu-west-1", 53.35, -6.26, "IE", ["gdpr", "iso27001", "soc2", "hipaa"]),
  region("eu-west-3", 48.86, 2.35, "FR", ["gdpr", "iso27001", "soc2", "hipaa", "hds"]),
  region(
    "eu-north-1",
    59.33,
    18.07,
    "SE",
    ["gdpr", "iso27001", "soc2"],
    ["nova-micro", "nova-lite"],
  ),
  region("us-east-1", 38.95, -77.45, "US", ["iso27001", "soc2", "hipaa"]),
  region("us-west-2", 45.84, -119.7, "US", ["iso27001", "soc2", "hipaa"]),
  region("ap-northeast-1", 35.68, 139.77, "JP", ["iso27001", "soc2"], NOVA, "half_open", 0.04),
  region("ap-southeast-1", 1.35, 103.82, "SG", ["iso27001", "soc2"], ["nova-micro", "nova-lite"]),
];

function region(
  id: string,
  lat: number,
  lon: number,
  country: string,
  certifications: string[],
  models: string[] = NOVA,
  breaker: RegionView["breaker"] = "closed",
  errorRate = 0.002,
): RegionView {
  return { id, location: { lat, lon }, country, certifications, models, breaker, errorRate };
}

/** A point jittered around `center` by a normal with `sdKm` on each axis. */
export function jitter(rng: Rng, center: GeoPoint, sdKm: number): GeoPoint {
  const lat = Math.max(-89.9, Math.min(89.9, center.lat + rng.normal(0, sdKm / 111)));
  const cos = Math.max(0.05, Math.cos((lat * Math.PI) / 180));
  let lon = center.lon + rng.normal(0, sdKm / (111 * cos));
  if (lon >= 180) lon -= 360;
  if (lon < -180) lon += 360;
  return { lat: round(lat, 4), lon: round(lon, 4) };
}

function isEurope(country: string): boolean {
  return residencyAllows(["EEA"], country) || country === "GB" || country === "CH";
}

function certificationsFor(rng: Rng, country: string): string[] {
  const tags: string[] = [];
  if (isEurope(country) ? rng.chance(0.95) : rng.chance(0.1)) tags.push("gdpr");
  if (rng.chance(0.6)) tags.push("iso27001");
  if (rng.chance(country === "US" || country === "CA" ? 0.6 : 0.25)) tags.push("soc2");
  if (rng.chance(country === "US" ? 0.4 : 0.05)) tags.push("hipaa");
  if (country === "DE" && rng.chance(0.4)) tags.push("bsi-c5");
  if (country === "FR" && rng.chance(0.4)) tags.push("hds");
  return tags;
}

/** Registration, then live state as the fleet's Durable Objects would report it at `now`. */
function syntheticSite(rng: Rng, metro: Metro, n: number, now: number): SiteView {
  const id = `${metro.slug}-${n}`;
  // Most sites sit in the metro itself, some along the roads and towns around it.
  const location = jitter(rng, metro, rng.chance(0.8) ? 15 : 120);
  const gpus = rng.pick([1, 1, 2, 2, 2, 4, 4, 8]);
  const perGpuGb = rng.pick([24, 24, 24, 48, 80]);
  const gpuMemoryGb = gpus * perGpuGb;
  const maxConcurrent = gpus * rng.pick([4, 8, 8, 12]);
  const fitting = MEC_MODELS.filter((m) => (m.mec?.gpuMemoryGb ?? 0) <= gpuMemoryGb);
  const served = rng.sample(fitting, rng.int(1, Math.min(5, fitting.length)));
  const resident: string[] = [];
  let used = 0;
  for (const m of served) {
    const gb = m.mec?.gpuMemoryGb ?? 0;
    if (used + gb <= gpuMemoryGb && rng.chance(0.75)) {
      resident.push(m.id);
      used += gb;
    }
  }
  const registration = siteRegistrationSchema.parse({
    id,
    name: `${metro.slug} edge ${n}`,
    location,
    country: metro.country,
    trusted: rng.chance(0.55),
    certifications: certificationsFor(rng, metro.country),
    endpoint: `https://${id}.mec.example.net/v1`,
    // Neighbouring sites of one operator often share power or backhaul.
    faultDomain: rng.chance(0.5) ? `${metro.slug}-pop-${n % 7}` : undefined,
    capacity: { maxConcurrent, maxQueue: maxConcurrent * rng.pick([1, 2, 4]), gpus, gpuMemoryGb },
    cost: { gpuHourUsd: round(rng.range(0.7, 2.6), 2) },
    models: served.map((m) =>
      rng.chance(0.3)
        ? { model: m.id, tokensPerSec: round((m.mec?.tokensPerSec ?? 50) * rng.range(0.7, 1.4), 1) }
        : { model: m.id },
    ),
    residentModels: resident,
  });
  const site = siteFromRegistration(registration, now);

  const mood = rng.next();
  const utilization = mood < 0.1 ? rng.range(0, 0.1) : mood < 0.8 ? rng.range(0.1, 0.8) : 1;
  const { capacity } = site;
  site.load.running = Math.round(utilization * capacity.maxConcurrent);
  site.load.waiting =
    utilization >= 1
      ? rng.int(0, capacity.maxQueue)
      : rng.chance(0.25)
        ? rng.int(1, Math.min(4, capacity.maxQueue))
        : 0;
  site.load.kvCacheUsage = round(
    Math.min(1, Math.max(0, utilization * 0.9 + rng.normal(0, 0.05))),
    3,
  );
  site.load.gpuUtilization = round(Math.min(1, utilization + rng.range(0, 0.1)), 3);
  site.load.freeGpuMemoryGb = gpuMemoryGb - used;
  // Heartbeats every second or so; a few sites have gone quiet.
  const age = rng.chance(0.04) ? rng.range(10_000, 60_000) : rng.logNormal(1_200, 0.6);
  site.load.updatedAt = now - Math.round(age);
  const b = rng.next();
  if (b < 0.03) {
    site.breaker = "open";
  } else if (b < 0.08) {
    site.breaker = "half_open";
    site.trafficShare = round(rng.range(0.1, 0.5), 2);
  } else if (b < 0.1) {
    site.trafficShare = round(rng.range(0.5, 0.9), 2); // closed, ramping back
  }
  site.errorRate = round(rng.chance(0.85) ? rng.range(0, 0.01) : rng.range(0.01, 0.2), 4);
  site.draining = rng.chance(0.01);
  site.healthy = !rng.chance(0.01);
  return site;
}

/**
 * A fleet of `siteCount` sites at `now`, the same for the same seed. Metros are drawn with
 * weight population^0.7, so the big ones get more sites without taking all of them.
 */
export function syntheticFleet(siteCount: number, seed: number, now: number): FleetData {
  const rng = createRng(seed);
  const pickMetro = weightedPicker(
    rng,
    METROS.map((m) => [m, m.popM ** 0.7] as const),
  );
  const perMetro = new Map<string, number>();
  const sites: SiteView[] = [];
  for (let i = 0; i < siteCount; i++) {
    const metro = pickMetro();
    const n = (perMetro.get(metro.slug) ?? 0) + 1;
    perMetro.set(metro.slug, n);
    sites.push(syntheticSite(rng, metro, n, now));
  }
  return {
    version: 1,
    generatedAt: now,
    sites,
    regions: REGIONS.map((r) => ({ ...r, location: { ...r.location } })),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
