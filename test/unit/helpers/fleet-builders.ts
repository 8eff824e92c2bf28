// Plain factories for requests, sites, regions and fleets: a complete, unremarkable default that a
// test overrides only where its case differs. No test framework imports, so benchmarks may reuse it.

import type { DecideResult } from "../../../shared/decide.ts";
import { type PreparedFleet, prepareFleet } from "../../../shared/fleet.ts";
import { fleetFromSeed, seedFleetSchema } from "../../../shared/fleet-schema.ts";
import seedJson from "../../../shared/seed/fleet.json" with { type: "json" };
import type {
  PlanStep,
  RegionView,
  Rejection,
  RouteRequest,
  SiteLoad,
  SiteView,
  Target,
} from "../../../shared/types.ts";

/** The one clock every unit test uses. */
export const NOW = 1_700_000_000_000;

/** Berlin: the default caller location; the default site stands next to it. */
export const BERLIN = { lat: 52.52, lon: 13.405 };

export interface RequestOverrides {
  requestId?: string;
  task?: Partial<RouteRequest["task"]>;
  constraints?: Partial<RouteRequest["constraints"]>;
  device?: Partial<RouteRequest["device"]>;
  network?: Partial<RouteRequest["network"]>;
  /** `null` removes the location (the caller's position is unknown). */
  location?: RouteRequest["location"] | null;
}

/**
 * A short public text request from Berlin over 5G with a generous SLA and no on-device models,
 * so the device is rejected unless a test installs one.
 */
export function makeRequest(o: RequestOverrides = {}): RouteRequest {
  const req: RouteRequest = {
    requestId: o.requestId,
    task: {
      modality: "text",
      model: "auto",
      inputTokens: 500,
      maxOutputTokens: 256,
      payloadBytes: 0,
      criticality: "standard",
      ...o.task,
    },
    constraints: {
      latencySlaMs: 10_000,
      latencyTarget: "complete",
      privacy: "public",
      dataResidency: [],
      compliance: [],
      ...o.constraints,
    },
    device: {
      models: [],
      batteryPct: 100,
      charging: false,
      thermal: "nominal",
      memoryFreeMb: 4096,
      class: "high",
      ...o.device,
    },
    network: { type: "5g", rttMs: 20, uplinkMbps: 50, downlinkMbps: 300, ...o.network },
  };
  const location = o.location === undefined ? BERLIN : o.location;
  if (location !== null) req.location = location;
  return req;
}

export type SiteOverrides = Partial<Omit<SiteView, "load" | "capacity" | "id">> & {
  id: string;
  load?: Partial<SiteLoad>;
  capacity?: Partial<SiteView["capacity"]>;
};

/**
 * An idle, healthy, trusted German site next to Berlin serving Llama 3.2 1B (resident) and
 * Llama 3.1 8B, with fresh data as of `NOW`.
 */
export function makeSite(o: SiteOverrides): SiteView {
  const { load, capacity, ...rest } = o;
  return {
    name: o.id,
    location: BERLIN,
    country: "DE",
    trusted: true,
    certifications: ["gdpr", "iso27001"],
    endpoint: `http://127.0.0.1:9100/${o.id}`,
    faultDomain: o.id,
    cost: { gpuHourUsd: 1.2 },
    models: [{ model: "llama-3.2-1b" }, { model: "llama-3.1-8b" }],
    breaker: "closed",
    trafficShare: 1,
    errorRate: 0,
    draining: false,
    healthy: true,
    ...rest,
    capacity: { maxConcurrent: 16, maxQueue: 32, gpus: 2, gpuMemoryGb: 48, ...capacity },
    load: {
      waiting: 0,
      running: 0,
      kvCacheUsage: 0,
      gpuUtilization: 0,
      freeGpuMemoryGb: 48,
      residentModels: ["llama-3.2-1b", "llama-3.1-8b"],
      updatedAt: NOW,
      ...load,
    },
  };
}

/** A healthy Frankfurt region serving every Nova model, with the usual certifications. */
export function makeRegion(o: Partial<RegionView> & { id: string }): RegionView {
  return {
    location: { lat: 50.11, lon: 8.682 },
    country: "DE",
    certifications: ["gdpr", "iso27001", "soc2", "hipaa"],
    models: ["nova-micro", "nova-lite", "nova-pro"],
    breaker: "closed",
    errorRate: 0,
    ...o,
  };
}

export function makeFleet(sites: SiteView[], regions: RegionView[] = []): PreparedFleet {
  return prepareFleet({ version: 1, generatedAt: NOW, sites, regions });
}

/** The bundled demo fleet, validated like the worker does, stamped at `now`. */
export function seedFleet(now = NOW): PreparedFleet {
  return prepareFleet(fleetFromSeed(seedFleetSchema.parse(seedJson), now));
}

/** The key the engine uses for a target in `rejected` (`device`, `site:<id>`, `cloud:<region>`). */
export function targetKey(t: Target): string {
  if (t.kind === "device") return "device";
  return t.kind === "site" ? `site:${t.siteId}` : `cloud:${t.region}`;
}

/** Primary first, then the backups. */
export function planSteps(plan: { primary: PlanStep; backups: PlanStep[] }): PlanStep[] {
  return [plan.primary, ...plan.backups];
}

/** The rejections of a result, placed or not. */
export function rejections(result: DecideResult): Rejection[] {
  return result.ok ? result.decision.rejected : result.rejected;
}
