// POST /v1/route — decide only: where should this request run?

import { Hono } from "hono";
import { catalogModel } from "../../shared/catalog.ts";
import { decide } from "../../shared/decide.ts";
import { normalizeRouteRequest, routeRequestSchema } from "../../shared/route-request.ts";
import type { GeoPoint } from "../../shared/types.ts";
import { requireRole } from "../auth.ts";
import { policyFor } from "../config.ts";
import { InfeasibleRoute, InvalidRequest, Overloaded } from "../errors.ts";
import { fleetSource } from "../fleet/seed-fleet-source.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson } from "../validate.ts";

export const routeApp = new Hono<AppEnv>();

routeApp.post("/", limitBody(), requireRole("device", "operator"), async (c) => {
  const input = await readJson(c, routeRequestSchema);
  const model = input.task.model;
  if (model !== undefined && model !== "auto" && !catalogModel(model)) {
    throw new InvalidRequest("unknown model", [
      { path: "task.model", message: `"${model}" is not in the catalog (GET /v1/catalog)` },
    ]);
  }
  const req = normalizeRouteRequest(input, edgeLocation(c.req.raw));
  const now = Date.now();
  const fleet = await fleetSource(c.env).snapshot(now);
  const result = decide(req, fleet, policyFor(c.env), now);
  if (!result.ok) {
    const details = { rejected: result.rejected, rationale: result.rationale };
    throw result.code === "overloaded"
      ? new Overloaded(result.message, details)
      : new InfeasibleRoute(result.message, details);
  }
  const decisionId = crypto.randomUUID();
  const d = result.decision;
  console.log(
    JSON.stringify({
      event: "decision",
      decisionId,
      tier: d.tier,
      model: d.model,
      confidence: d.confidence,
      predictedMs: d.predicted.latencyMs,
    }),
  );
  c.header("x-mec-decision-id", decisionId);
  return c.json({ requestId: req.requestId ?? decisionId, decisionId, ...d });
});

/** Where Cloudflare's edge places the caller, when the body does not say. */
function edgeLocation(request: Request): GeoPoint | undefined {
  const cf = request.cf as { latitude?: unknown; longitude?: unknown } | undefined;
  const lat = Number(cf?.latitude);
  const lon = Number(cf?.longitude);
  if (cf?.latitude === undefined || cf?.longitude === undefined) return undefined;
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  return { lat, lon };
}
