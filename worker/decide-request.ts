// What every deciding route does the same way: check the model asked for, fall back to the
// edge's idea of the caller's location, decide against the isolate's fleet snapshot, and turn a
// refusal into its HTTP error.

import type { Context } from "hono";
import { catalogModel } from "../shared/catalog.ts";
import { decide } from "../shared/decide.ts";
import { normalizeRouteRequest, type RouteRequestInput } from "../shared/route-request.ts";
import type { Decision, GeoPoint, RouteRequest } from "../shared/types.ts";
import { policyFor } from "./config.ts";
import { InvalidRequest, refusal } from "./errors.ts";
import { fleetSource } from "./fleet/live-fleet-source.ts";
import type { AppEnv } from "./types.ts";

export interface Decided {
  req: RouteRequest;
  decision: Decision;
  now: number;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Decides a validated `/v1/route`-shaped input; throws the HTTP error when nothing can take it. */
export async function decideRequest(
  c: Context<AppEnv>,
  input: RouteRequestInput,
): Promise<Decided> {
  const model = input.task.model;
  if (model !== undefined && model !== "auto" && !catalogModel(model)) {
    throw new InvalidRequest("unknown model", [
      { path: "task.model", message: `"${model}" is not in the catalog (GET /v1/catalog)` },
    ]);
  }
  const req = normalizeRouteRequest(input, edgeLocation(c.req.raw));
  const now = Date.now();
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const fleet = await fleetSource(c.env).snapshot(now, waitUntil);
  const result = decide(req, fleet, policyFor(c.env), now);
  if (!result.ok) {
    const details = { rejected: result.rejected, rationale: result.rationale };
    throw refusal(result.code, result.message, details);
  }
  return { req, decision: result.decision, now, waitUntil };
}

/** Where Cloudflare's edge places the caller, when the body does not say. */
function edgeLocation(request: Request): GeoPoint | undefined {
  const cf = request.cf as { latitude?: unknown; longitude?: unknown } | undefined;
  if (cf?.latitude === undefined || cf?.longitude === undefined) return undefined;
  const lat = Number(cf.latitude);
  const lon = Number(cf.longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  return { lat, lon };
}
