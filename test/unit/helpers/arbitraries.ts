// fast-check arbitraries for random requests and random fleets. Values stay inside what the
// schemas accept; small pools of countries, tags and fault domains make collisions (and so the
// hard rules) come up often.

import fc from "fast-check";
import { CATALOG } from "../../../shared/catalog.ts";
import {
  CRITICALITIES,
  DEVICE_CLASSES,
  type FleetData,
  type GeoPoint,
  LATENCY_TARGETS,
  MODALITIES,
  NETWORK_TYPES,
  PRIVACY_LEVELS,
  type RegionView,
  type RouteRequest,
  type SiteView,
  THERMAL_STATES,
} from "../../../shared/types.ts";
import { NOW } from "./fleet-builders.ts";

export const COUNTRIES = ["DE", "FR", "PL", "NO", "CH", "US", "JP"] as const;
export const RESIDENCIES = ["DE", "FR", "PL", "US", "EU", "EEA"] as const;
export const TAGS = ["gdpr", "hipaa", "iso27001", "soc2"] as const;
export const REGION_IDS = [
  "eu-central-1",
  "eu-west-3",
  "eu-north-1",
  "us-east-1",
  "ap-northeast-1",
] as const;

const MEC_MODELS = CATALOG.filter((m) => m.mec).map((m) => m.id);
const CLOUD_MODELS = CATALOG.filter((m) => m.cloud).map((m) => m.id);
const DEVICE_VARIANTS = CATALOG.flatMap((m) => (m.device ? [m.device.variant] : []));

const coord = (min: number, max: number) => fc.double({ min, max, noNaN: true });

/** Mostly Europe (so sites compete), sometimes anywhere on the globe. */
export const arbLocation: fc.Arbitrary<GeoPoint> = fc.oneof(
  { arbitrary: fc.record({ lat: coord(36, 60), lon: coord(-10, 30) }), weight: 3 },
  { arbitrary: fc.record({ lat: coord(-90, 90), lon: coord(-180, 180) }), weight: 1 },
);

/** `usual` four times in five, else `unusual`: keeps most cases feasible, the rest adversarial. */
function mostly<T>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: usual, weight: 4 }, { arbitrary: unusual, weight: 1 });
}

/** True about one time in five. */
const rarely = () => mostly(fc.constant(false), fc.constant(true));

const arbBreaker = mostly(
  fc.constant("closed" as const),
  fc.constantFrom("half_open", "open" as const),
);

function arbSite(id: string): fc.Arbitrary<SiteView> {
  return fc
    .record({
      location: arbLocation,
      country: fc.constantFrom(...COUNTRIES),
      trusted: mostly(fc.constant(true), fc.constant(false)),
      certifications: fc.oneof(fc.constant<string[]>([...TAGS]), fc.subarray<string>([...TAGS])),
      faultDomain: fc.constantFrom(id, id, "rack-a", "rack-b"),
      maxConcurrent: fc.integer({ min: 1, max: 32 }),
      maxQueue: mostly(fc.integer({ min: 8, max: 40 }), fc.integer({ min: 0, max: 8 })),
      gpus: fc.integer({ min: 1, max: 4 }),
      gpuMemoryGb: mostly(fc.constantFrom(24, 48), fc.constantFrom(8, 16)),
      gpuHourUsd: coord(0, 4),
      models: fc.subarray(MEC_MODELS, { minLength: 1 }),
      tokensPerSec: fc.option(fc.integer({ min: 5, max: 400 }), { nil: undefined }),
      waiting: mostly(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 40 })),
      running: fc.integer({ min: 0, max: 40 }),
      kvCacheUsage: coord(0, 1),
      resident: fc.subarray(MEC_MODELS),
      ageMs: fc.integer({ min: 0, max: 30_000 }),
      breaker: arbBreaker,
      trafficShare: coord(0, 1),
      errorRate: mostly(coord(0, 0.1), coord(0, 1)),
      draining: rarely(),
      healthy: rarely().map((b) => !b),
    })
    .map((s) => ({
      id,
      name: id,
      location: s.location,
      country: s.country,
      trusted: s.trusted,
      certifications: s.certifications,
      endpoint: `http://127.0.0.1:9100/${id}`,
      faultDomain: s.faultDomain,
      capacity: {
        maxConcurrent: s.maxConcurrent,
        maxQueue: s.maxQueue,
        gpus: s.gpus,
        gpuMemoryGb: s.gpuMemoryGb,
      },
      cost: { gpuHourUsd: s.gpuHourUsd },
      models: s.models.map((model, i) =>
        i === 0 && s.tokensPerSec !== undefined
          ? { model, tokensPerSec: s.tokensPerSec }
          : { model },
      ),
      load: {
        waiting: s.waiting,
        running: s.running,
        kvCacheUsage: s.kvCacheUsage,
        gpuUtilization: 0.5,
        freeGpuMemoryGb: s.gpuMemoryGb / 2,
        residentModels: s.resident,
        updatedAt: NOW - s.ageMs,
      },
      breaker: s.breaker,
      trafficShare: s.trafficShare,
      errorRate: s.errorRate,
      draining: s.draining,
      healthy: s.healthy,
    }));
}

function arbRegion(id: string): fc.Arbitrary<RegionView> {
  return fc.record({
    id: fc.constant(id),
    location: arbLocation,
    country: fc.constantFrom(...COUNTRIES),
    certifications: fc.subarray([...TAGS]),
    // A model without a cloud variant now and then: the engine must skip it.
    models: fc.subarray([...CLOUD_MODELS, "llama-3.1-8b"], { minLength: 1 }),
    breaker: arbBreaker,
    errorRate: coord(0, 1),
  });
}

/**
 * A random fleet snapshot of `minSites`–`maxSites` sites with unique ids and a random subset of
 * regions (plain data, so a counterexample prints short; `prepareFleet` it in the property). Keep
 * `maxSites` at or under the policy's `maxSiteCandidates` when every site must be evaluated.
 */
export function arbFleetData(minSites = 0, maxSites = 10): fc.Arbitrary<FleetData> {
  const ids = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), {
    minLength: minSites,
    maxLength: maxSites,
  });
  const sites = ids.chain((list) => fc.tuple(...list.map(arbSite)));
  const regions = fc.subarray([...REGION_IDS]).chain((list) => fc.tuple(...list.map(arbRegion)));
  return fc
    .tuple(sites, regions)
    .map(([s, r]) => ({ version: 1, generatedAt: NOW, sites: s, regions: r }));
}

/** Any valid, normalized request; the model is `auto` more often than not. */
export const arbRequest: fc.Arbitrary<RouteRequest> = fc
  .record({
    modality: mostly(fc.constant("text" as const), fc.constantFrom(...MODALITIES)),
    model: fc.oneof(
      { arbitrary: fc.constant("auto"), weight: 5 },
      fc.constantFrom(...CATALOG.map((m) => m.id)),
    ),
    inputTokens: mostly(fc.integer({ min: 0, max: 4_000 }), fc.integer({ min: 0, max: 20_000 })),
    maxOutputTokens: mostly(fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 4_096 })),
    payloadBytes: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000_000 })),
    criticality: fc.constantFrom(...CRITICALITIES),
    latencySlaMs: mostly(
      fc.integer({ min: 1_000, max: 20_000 }),
      fc.integer({ min: 1, max: 60_000 }),
    ),
    latencyTarget: fc.constantFrom(...LATENCY_TARGETS),
    maxCostUsd: mostly(fc.constant(undefined), coord(0, 0.01)),
    privacy: fc.constantFrom(...PRIVACY_LEVELS),
    dataResidency: fc.oneof(
      fc.constant<string[]>([]),
      fc.subarray([...RESIDENCIES], { minLength: 1 }),
    ),
    compliance: mostly(
      fc.constant<string[]>([]),
      fc.subarray([...TAGS], { minLength: 1, maxLength: 2 }),
    ),
    models: fc.subarray([...DEVICE_VARIANTS, "not-a-model"]),
    batteryPct: coord(0, 100),
    charging: fc.boolean(),
    thermal: fc.constantFrom(...THERMAL_STATES),
    memoryFreeMb: fc.integer({ min: 0, max: 8_192 }),
    deviceClass: fc.constantFrom(...DEVICE_CLASSES),
    networkType: mostly(
      fc.constantFrom("5g", "4g", "wifi" as const),
      fc.constantFrom(...NETWORK_TYPES),
    ),
    rttMs: coord(0, 300),
    uplinkMbps: mostly(coord(1, 200), fc.oneof(fc.constant(0), coord(0, 1))),
    downlinkMbps: coord(0, 1_000),
    location: fc.option(arbLocation, { nil: undefined }),
  })
  .map((r) => ({
    task: {
      modality: r.modality,
      model: r.model,
      inputTokens: r.inputTokens,
      maxOutputTokens: r.maxOutputTokens,
      payloadBytes: r.payloadBytes,
      criticality: r.criticality,
    },
    constraints: {
      latencySlaMs: r.latencySlaMs,
      latencyTarget: r.latencyTarget,
      maxCostUsd: r.maxCostUsd,
      privacy: r.privacy,
      dataResidency: r.dataResidency,
      compliance: r.compliance,
    },
    device: {
      models: r.models,
      batteryPct: r.batteryPct,
      charging: r.charging,
      thermal: r.thermal,
      memoryFreeMb: r.memoryFreeMb,
      class: r.deviceClass,
    },
    network: {
      type: r.networkType,
      rttMs: r.rttMs,
      uplinkMbps: r.uplinkMbps,
      downlinkMbps: r.downlinkMbps,
    },
    location: r.location,
  }));
