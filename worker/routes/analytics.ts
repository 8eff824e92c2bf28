// The analytics API (operator key or dashboard session), read by the dashboard and, through the
// same query functions in worker/analytics/, by the MCP tools. Shapes: shared/analytics-api.ts.
//
//   GET /v1/analytics/summary              totals, per tier, percentiles, Nova, anomalies
//   GET /v1/analytics/timeseries           requests, tier split, SLA, cost, errors, failovers
//   GET /v1/analytics/latency              p50/p95/p99 per tier over time and over the window
//   GET /v1/analytics/targets              per site / region / device, with percentiles
//   GET /v1/analytics/nova                 Nova usage and cost per role
//   GET /v1/analytics/anomalies            anomalies with their evidence
//   GET /v1/analytics/decisions            the decision explorer (raw rows), paged
//   GET /v1/analytics/decisions/:id        one decision: rationale, rejections, plan, outcomes
//   GET /v1/analytics/fleet                the live fleet (fleet directory)
//   GET /v1/analytics/fleet/:siteId        one site agent's state and its last 15 minutes
//   GET /v1/analytics/policies             policy A/B comparison (raw rows)
//
// Tenants: the rollups behind summary, timeseries, latency, targets and nova add up every
// tenant's traffic, so they answer platform keys only; the explorer and the policy comparison
// read raw rows, limited to the caller's tenant (a platform key sees all, or one with `?tenant=`);
// the fleet and its anomalies are shared by every tenant and open to any operator.
//
// Windows: `range` (15m, 1h, 6h, 24h, 7d; default 1h) or `from` / `to` (epoch ms, at most 7
// days), an optional `step` (default: about 60–120 buckets). Everything but the explorer and the
// policy comparison reads the per-minute rollups. Answers are cached at the edge per caller for
// 5–30 s (worker/analytics/cache.ts).

import type { Context } from "hono";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import * as z from "zod/mini";
import {
  anomaliesQuerySchema,
  decisionIdParam,
  decisionsQuerySchema,
  latencyQuerySchema,
  type PoliciesAnswer,
  siteIdParam,
  targetsQuerySchema,
  timeseriesQuerySchema,
  windowQuerySchema,
} from "../../shared/analytics-api.ts";
import {
  type AnalyticsWindow,
  cacheSeconds,
  resolveWindow,
  type WindowInput,
  windowProblem,
} from "../../shared/analytics-window.ts";
import { tenantIdSchema } from "../../shared/api-key.ts";
import { listAnomalies } from "../analytics/anomalies.ts";
import { cachedJson } from "../analytics/cache.ts";
import { explainDecision, listDecisions } from "../analytics/decisions.ts";
import { fleetStatus, siteStatus } from "../analytics/fleet.ts";
import { latencySeries } from "../analytics/latency.ts";
import { novaUsage } from "../analytics/nova.ts";
import { comparePolicies } from "../analytics/policies.ts";
import { targets, timeseries } from "../analytics/rollups.ts";
import { summary } from "../analytics/summary.ts";
import { assertPlatform } from "../auth.ts";
import { InvalidRequest, NotFound } from "../errors.ts";
import { requireRoleOrSession } from "../session.ts";
import { readScope } from "../tenancy/scope.ts";
import type { AppEnv } from "../types.ts";
import { readQuery } from "../validate.ts";

export const analyticsApp = new Hono<AppEnv>();

const DAY_MS = 86_400_000;
/** The live fleet changes by the second: cached briefly. */
const FLEET_CACHE_S = 5;
const DEFAULT_LIMIT = { targets: 50, anomalies: 100, decisions: 50 } as const;

analyticsApp.use("*", requireRoleOrSession("operator"));

/** Fleet-wide aggregates (every tenant's traffic) are the platform's. */
export const FLEET_WIDE_ONLY =
  "fleet-wide analytics are for platform operators; a tenant's operators read their own decisions at /v1/analytics/decisions and policies at /v1/analytics/policies";
const platformOnly = createMiddleware<AppEnv>(async (c, next) => {
  assertPlatform(c.get("principal"), FLEET_WIDE_ONLY);
  await next();
});
for (const path of ["/summary", "/timeseries", "/latency", "/targets", "/nova"]) {
  analyticsApp.use(path, platformOnly);
}

/** The window of a validated query, or a 400 naming the field. */
export function windowOf(q: WindowInput): AnalyticsWindow {
  const now = Date.now();
  const problem = windowProblem(q, now);
  if (problem) throw new InvalidRequest("invalid query", [problem]);
  return resolveWindow(q, now);
}

function windowed<S extends z.ZodMiniType<WindowInput>>(
  schema: S,
  run: (c: Context<AppEnv>, q: z.infer<S>, w: AnalyticsWindow) => Promise<unknown>,
) {
  return (c: Context<AppEnv>) => {
    const q = readQuery(c, schema);
    const w = windowOf(q);
    return cachedJson(c, cacheSeconds(w), () => run(c, q, w));
  };
}

analyticsApp.get(
  "/summary",
  windowed(windowQuerySchema, (c, _q, w) => summary(c.env.DB, w)),
);

analyticsApp.get(
  "/timeseries",
  windowed(timeseriesQuerySchema, (c, q, w) =>
    timeseries(c.env.DB, w, { tier: q.tier, target: q.target }),
  ),
);

analyticsApp.get(
  "/latency",
  windowed(latencyQuerySchema, (c, q, w) =>
    latencySeries(c.env.DB, w, { metric: q.metric ?? "latency", target: q.target }),
  ),
);

analyticsApp.get(
  "/targets",
  windowed(targetsQuerySchema, (c, q, w) =>
    targets(c.env.DB, w, { tier: q.tier, limit: q.limit ?? DEFAULT_LIMIT.targets }),
  ),
);

analyticsApp.get(
  "/nova",
  windowed(windowQuerySchema, (c, _q, w) => novaUsage(c.env.DB, w)),
);

analyticsApp.get(
  "/anomalies",
  windowed(anomaliesQuerySchema, async (c, q, w) => ({
    window: w,
    anomalies: await listAnomalies(c.env.DB, {
      from: w.from,
      through: w.to - 1,
      target: q.target,
      openOnly: q.open === "true",
      limit: q.limit ?? DEFAULT_LIMIT.anomalies,
    }),
  })),
);

analyticsApp.get(
  "/decisions",
  windowed(decisionsQuerySchema, (c, q, w) =>
    listDecisions(c.env.DB, w, {
      tenant: readScope(c.get("principal"), q.tenant),
      tier: q.tier,
      target: q.target,
      model: q.model,
      outcome: q.outcome,
      limit: q.limit ?? DEFAULT_LIMIT.decisions,
      before: q.before,
    }),
  ),
);

analyticsApp.get("/decisions/:id", async (c) => {
  const id = c.req.param("id");
  if (!decisionIdParam.safeParse(id).success) {
    throw new InvalidRequest("invalid decision id", [{ path: "id", message: "expected a UUID" }]);
  }
  return cachedJson(c, 10, async () => {
    const detail = await explainDecision(c.env.DB, id, readScope(c.get("principal")));
    if (!detail) throw new NotFound(`no decision ${id} (unknown, or older than the raw retention)`);
    return detail;
  });
});

analyticsApp.get("/fleet", (c) =>
  cachedJson(c, FLEET_CACHE_S, () => fleetStatus(c.env, Date.now())),
);

analyticsApp.get("/fleet/:siteId", async (c) => {
  const siteId = c.req.param("siteId");
  if (!siteIdParam.safeParse(siteId).success) {
    throw new InvalidRequest("invalid site id", [
      { path: "siteId", message: "expected a lower-case slug of [a-z0-9-], ≤ 63 chars" },
    ]);
  }
  return cachedJson(c, FLEET_CACHE_S, async () => {
    const status = await siteStatus(c.env, siteId, Date.now());
    if (!status) throw new NotFound(`no site "${siteId}" is registered`);
    return status;
  });
});

const epochMs = z.string().check(z.regex(/^\d{1,15}$/, "expected epoch milliseconds (an integer)"));

export const policiesQuerySchema = z
  .object({
    from: z.optional(epochMs),
    to: z.optional(epochMs),
    tenant: z.optional(tenantIdSchema),
  })
  .check(
    // Only when both are numbers: a malformed one has its own issue already.
    z.refine((q) => !(Number(q.from) > Number(q.to)), {
      message: "from must not be after to",
      path: ["from"],
    }),
  );

// `from` … `to` inclusive on the decisions' time; default the last 24 hours.
analyticsApp.get("/policies", async (c) => {
  const q = readQuery(c, policiesQuerySchema);
  const to = q.to !== undefined ? Number(q.to) : Date.now();
  const from = q.from !== undefined ? Number(q.from) : to - DAY_MS;
  const tenant = readScope(c.get("principal"), q.tenant);
  return cachedJson(
    c,
    30,
    async (): Promise<PoliciesAnswer> => ({
      from,
      to,
      ...(tenant === undefined ? {} : { tenant }),
      variants: await comparePolicies(c.env.DB, from, to, tenant),
    }),
  );
});
