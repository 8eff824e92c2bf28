// The live fleet for the dashboard and the MCP tools: every site's health, breaker, load and
// resident models with its location (for a map), and the cloud services' breakers, from the
// FleetDirectory in one call; one site in depth from its own SiteAgent.

import { percentilesOf } from "../../shared/analytics-aggregate.ts";
import type { FleetAnswer, FleetSite, SiteStatusAnswer } from "../../shared/analytics-api.ts";
import { MINUTE_MS, resolveWindow } from "../../shared/analytics-window.ts";
import type { BreakerState, SiteView } from "../../shared/types.ts";
import { directoryStub, siteStub } from "../fleet/site-stub.ts";
import { emptySketch, latencyByTarget } from "./latency.ts";
import { windowTotals } from "./rollups.ts";

/** A site's recent history in `siteStatus`. */
export const SITE_RECENT_MS = 15 * MINUTE_MS;

export function fleetSite(v: SiteView): FleetSite {
  const slots = v.capacity.maxConcurrent + v.capacity.maxQueue;
  return {
    id: v.id,
    name: v.name,
    location: v.location,
    country: v.country,
    trusted: v.trusted,
    healthy: v.healthy,
    draining: v.draining,
    breaker: v.breaker,
    trafficShare: v.trafficShare,
    errorRate: v.errorRate,
    load: {
      waiting: v.load.waiting,
      running: v.load.running,
      kvCacheUsage: v.load.kvCacheUsage,
      gpuUtilization: v.load.gpuUtilization,
      freeGpuMemoryGb: v.load.freeGpuMemoryGb,
      updatedAt: v.load.updatedAt,
      utilization: slots > 0 ? Math.min(1, (v.load.running + v.load.waiting) / slots) : 0,
    },
    capacity: v.capacity,
    models: v.models.map((m) => m.model),
    residentModels: v.load.residentModels,
  };
}

/** Every site and service, sites by id. */
export async function fleetStatus(env: Env, now: number): Promise<FleetAnswer> {
  const snap = await directoryStub(env).snapshot();
  const sites = snap.sites.map(fleetSite).sort((a, b) => (a.id < b.id ? -1 : 1));
  const breakers: Record<BreakerState, number> = { closed: 0, open: 0, half_open: 0 };
  for (const s of sites) breakers[s.breaker]++;
  return {
    generatedAt: now,
    version: snap.version,
    sites,
    services: [...snap.services].sort((a, b) => (a.service < b.service ? -1 : 1)),
    counts: {
      sites: sites.length,
      healthy: sites.filter((s) => s.healthy).length,
      draining: sites.filter((s) => s.draining).length,
      breakers,
    },
  };
}

/** One site: its agent's state and its last 15 minutes; undefined when it is not registered. */
export async function siteStatus(
  env: Env,
  siteId: string,
  now: number,
): Promise<SiteStatusAnswer | undefined> {
  const detail = await siteStub(env, siteId).describe();
  if (!detail) return undefined;
  const window = resolveWindow({ from: now - SITE_RECENT_MS, to: now }, now);
  const target = `site:${siteId}`;
  const [totals, sketches] = await Promise.all([
    windowTotals(env.DB, window, { target }),
    latencyByTarget(env.DB, window, [target]),
  ]);
  return {
    site: fleetSite(detail.view),
    agent: {
      leases: detail.leases,
      lastProbeAt: detail.lastProbeAt,
      lastProbeOk: detail.lastProbeOk,
      breaker: detail.breaker,
      cache: detail.cache,
    },
    recent: {
      window,
      totals,
      latency: percentilesOf(sketches.get(`mec|${target}`) ?? emptySketch()),
    },
  };
}
