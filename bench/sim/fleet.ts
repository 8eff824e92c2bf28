// The simulated fleet: MEC sites in European metros (an operator's carrier-edge zones) and
// Bedrock regions, registered through the real schema, each site with hidden truths — its GPUs'
// real decode speed, its real model load times, how indirect its network routes are.

import { CATALOG } from "../../shared/catalog.ts";
import { siteFromRegistration, siteRegistrationSchema } from "../../shared/fleet-schema.ts";
import { createRng } from "../random.ts";
import { REGIONS } from "../synthetic-fleet.ts";
import { newSiteState, type SimRegion, type SimSite, type World } from "./world.ts";

export interface SimMetro {
  slug: string;
  lat: number;
  lon: number;
  country: string;
  /** Millions of people: demand weight. */
  popM: number;
  sites: number;
}

export const SIM_METROS: readonly SimMetro[] = [
  { slug: "paris", lat: 48.86, lon: 2.35, country: "FR", popM: 11, sites: 3 },
  { slug: "madrid", lat: 40.42, lon: -3.7, country: "ES", popM: 6.7, sites: 2 },
  { slug: "milan", lat: 45.46, lon: 9.19, country: "IT", popM: 4.3, sites: 2 },
  { slug: "berlin", lat: 52.52, lon: 13.41, country: "DE", popM: 4.5, sites: 2 },
  { slug: "frankfurt", lat: 50.11, lon: 8.68, country: "DE", popM: 2.3, sites: 2 },
  { slug: "munich", lat: 48.14, lon: 11.58, country: "DE", popM: 2.9, sites: 1 },
  { slug: "amsterdam", lat: 52.37, lon: 4.9, country: "NL", popM: 2.5, sites: 1 },
  { slug: "warsaw", lat: 52.23, lon: 21.01, country: "PL", popM: 3.1, sites: 1 },
  { slug: "lyon", lat: 45.76, lon: 4.84, country: "FR", popM: 2.3, sites: 1 },
  { slug: "stockholm", lat: 59.33, lon: 18.07, country: "SE", popM: 2.4, sites: 1 },
];

/** Bedrock regions the router may use: the European ones of the synthetic fleet, and us-east-1. */
export const SIM_REGIONS: readonly SimRegion[] = REGIONS.filter((r) =>
  ["eu-central-1", "eu-west-3", "eu-west-1", "eu-north-1", "us-east-1"].includes(r.id),
).map(({ id, location, country, certifications, models }) => ({
  id,
  location: { ...location },
  country,
  certifications: [...certifications],
  models: [...models],
}));

const MEC = new Map(CATALOG.filter((m) => m.mec).map((m) => [m.id, m]));

/** What each site serves: every site a small and an 8B text model and Whisper, some vision. */
function servedModels(rng: ReturnType<typeof createRng>): string[] {
  const models = ["llama-3.2-3b", rng.chance(0.5) ? "llama-3.1-8b" : "qwen2.5-7b"];
  if (rng.chance(0.6)) models.push("llama-3.2-1b");
  if (rng.chance(0.55)) models.push("qwen2.5-vl-7b");
  if (rng.chance(0.8)) models.push("whisper-large-v3-turbo");
  if (!models.includes("qwen2.5-7b") && rng.chance(0.4)) models.push("qwen2.5-7b");
  return models;
}

/**
 * The fleet and regions, the same for the same seed. `notResident` lists models that no site
 * has loaded at the start (a newly popular model).
 */
export function simWorld(seed: number, notResident: readonly string[] = []): World {
  const rng = createRng(seed);
  const sites: SimSite[] = [];
  for (const metro of SIM_METROS) {
    for (let n = 1; n <= metro.sites; n++) {
      const id = `${metro.slug}-${n}`;
      const gpus = rng.pick([2, 2, 4]);
      const gpuMemoryGb = gpus * rng.pick([24, 48]);
      const maxConcurrent = gpus * 8;
      const served = servedModels(rng);
      const resident: string[] = [];
      let used = 0;
      // Residency at the start: the smaller models first, while memory lasts.
      for (const m of [...served].sort(
        (a, b) => (MEC.get(a)?.mec?.gpuMemoryGb ?? 0) - (MEC.get(b)?.mec?.gpuMemoryGb ?? 0),
      )) {
        const gb = MEC.get(m)?.mec?.gpuMemoryGb ?? 0;
        if (notResident.includes(m) || used + gb > gpuMemoryGb * 0.85) continue;
        resident.push(m);
        used += gb;
      }
      const lat = metro.lat + rng.normal(0, 0.08);
      const lon = metro.lon + rng.normal(0, 0.12);
      const tokensPerSec: Record<string, number> = {};
      const loadTimeMs: Record<string, number> = {};
      for (const m of served) {
        const v = MEC.get(m)?.mec;
        // Hardware and drivers differ from site to site.
        tokensPerSec[m] = Math.round((v?.tokensPerSec ?? 50) * rng.range(0.8, 1.25));
        loadTimeMs[m] = Math.round((v?.loadTimeMs ?? 10_000) * rng.range(0.8, 1.5));
      }
      const registration = siteRegistrationSchema.parse({
        id,
        name: `${metro.slug} edge ${n}`,
        location: { lat: Math.round(lat * 1e4) / 1e4, lon: Math.round(lon * 1e4) / 1e4 },
        country: metro.country,
        trusted: rng.chance(0.6),
        certifications: ["gdpr", ...(rng.chance(0.6) ? ["iso27001"] : [])],
        endpoint: `https://${id}.mec.example.net/v1`,
        faultDomain: `${metro.slug}-pop`,
        capacity: { maxConcurrent, maxQueue: maxConcurrent * 2, gpus, gpuMemoryGb },
        cost: { gpuHourUsd: Math.round(rng.range(0.9, 2.2) * 100) / 100 },
        // The monitor measures each site's decode speed and pushes it to the site agent; the
        // registration starts from it (load times the router knows only from the catalog).
        models: served.map((m) => ({ model: m, tokensPerSec: tokensPerSec[m] })),
        residentModels: resident,
      });
      sites.push({
        view: siteFromRegistration(registration, 0),
        tokensPerSec,
        loadTimeMs,
        routeFactor: rng.range(1, 1.6),
        down: [],
        heartbeatPhaseMs: rng.int(0, 1_999),
        state: newSiteState(maxConcurrent, resident),
      });
    }
  }
  return { sites, regions: SIM_REGIONS.map((r) => ({ ...r })), seed };
}
