// Stubs of the per-site and per-service Durable Objects.

import { locationHintFor } from "../../shared/location-hint.ts";
import type { GeoPoint } from "../../shared/types.ts";

/** The site's agent; created near the site when its location is known (first registration). */
export function siteStub(env: Env, siteId: string, location?: GeoPoint) {
  return location
    ? env.SITE_AGENT.getByName(siteId, {
        locationHint: locationHintFor(location.lat, location.lon),
      })
    : env.SITE_AGENT.getByName(siteId);
}

export function serviceBreakerStub(env: Env, service: string) {
  return env.SERVICE_BREAKER.getByName(service);
}

export function directoryStub(env: Env) {
  return env.FLEET_DIRECTORY.getByName("global");
}

/** Lease ids are `<siteId>.<uuid>`, so a release finds its site without a lookup. */
export function siteOfLease(leaseId: string): string | undefined {
  const dot = leaseId.indexOf(".");
  return dot > 0 ? leaseId.slice(0, dot) : undefined;
}
