// GET /v1/analytics/policies — the policy A/B comparison: per policy variant (worker/config.ts
// `POLICY_VARIANTS`), the decisions made in `from` … `to` (epoch ms, inclusive, on the decision's
// time; default the last 24 hours), how many of them have an executed outcome, SLA attainment
// (sla_met / sla_known: outcomes whose reporter knew the SLA) and the outcomes' total and mean
// cost.
//
// Computed from the raw rows (outcomes joined to decisions on decision_id), so only over the raw
// retention window: the per-minute rollups are per (tier, target, model), not per variant, and
// cannot answer this. Decisions stored without a variant (before migration 0003) count as
// "default".
//
// Per tenant: a tenant's operator sees its own decisions only; a platform key sees every tenant's,
// or one tenant's with `?tenant=`. An outcome counts only when reported by its decision's tenant.

import { Hono } from "hono";
import * as z from "zod/mini";
import { requireRole } from "../auth.ts";
import { DEFAULT_VARIANT } from "../config.ts";
import { InvalidRequest } from "../errors.ts";
import { readScope, tenantIdSchema } from "../tenancy/scope.ts";
import type { AppEnv } from "../types.ts";
import { toFieldIssues } from "../validate.ts";

export const analyticsApp = new Hono<AppEnv>();

const DAY_MS = 86_400_000;

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

interface VariantRow {
  variant: string;
  decisions: number;
  outcomes: number;
  errors: number;
  sla_met: number;
  sla_known: number;
  cost_usd: number;
}

export interface PolicyVariantStats {
  variant: string;
  decisions: number;
  /** Outcomes (executed runs, failed ones included) of those decisions. */
  outcomes: number;
  errors: number;
  slaMet: number;
  slaKnown: number;
  /** slaMet / slaKnown; null when no outcome knew its SLA. */
  slaAttainment: number | null;
  costUsd: number;
  /** costUsd / outcomes; null without outcomes. */
  meanCostUsd: number | null;
}

analyticsApp.get("/policies", requireRole("operator"), async (c) => {
  const parsed = policiesQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new InvalidRequest("invalid query", toFieldIssues(parsed.error.issues));
  }
  const q = parsed.data;
  const to = q.to !== undefined ? Number(q.to) : Date.now();
  const from = q.from !== undefined ? Number(q.from) : to - DAY_MS;
  const tenant = readScope(c.get("principal"), q.tenant);
  // Decisions in range first (decisions_time index), their outcomes joined on decision_id
  // (outcomes_decision index); the two are counted apart so that a decision with several
  // outcomes counts once among the decisions.
  // With a tenant, the decisions_tenant_time index.
  const inTenant = tenant === undefined ? "" : "AND tenant_id = ?4";
  const { results } = await c.env.DB.prepare(
    `WITH d AS (
       SELECT event_id, tenant_id, COALESCE(policy_variant, ?3) AS variant
       FROM decisions WHERE time >= ?1 AND time <= ?2 ${inTenant}
     ),
     dc AS (SELECT variant, count(*) AS decisions FROM d GROUP BY variant),
     oc AS (
       SELECT d.variant AS variant, count(*) AS outcomes, sum(o.ok = 0) AS errors,
         sum(o.sla_met = 1) AS sla_met, count(o.sla_met) AS sla_known,
         total(o.cost_usd) AS cost_usd
       FROM outcomes o JOIN d ON d.event_id = o.decision_id AND o.tenant_id IS d.tenant_id
       GROUP BY d.variant
     )
     SELECT dc.variant AS variant, dc.decisions AS decisions,
       COALESCE(oc.outcomes, 0) AS outcomes, COALESCE(oc.errors, 0) AS errors,
       COALESCE(oc.sla_met, 0) AS sla_met, COALESCE(oc.sla_known, 0) AS sla_known,
       COALESCE(oc.cost_usd, 0) AS cost_usd
     FROM dc LEFT JOIN oc ON oc.variant = dc.variant
     ORDER BY dc.variant`,
  )
    .bind(
      ...(tenant === undefined ? [from, to, DEFAULT_VARIANT] : [from, to, DEFAULT_VARIANT, tenant]),
    )
    .all<VariantRow>();
  const variants: PolicyVariantStats[] = results.map((r) => ({
    variant: r.variant,
    decisions: r.decisions,
    outcomes: r.outcomes,
    errors: r.errors,
    slaMet: r.sla_met,
    slaKnown: r.sla_known,
    slaAttainment: r.sla_known > 0 ? r.sla_met / r.sla_known : null,
    costUsd: r.cost_usd,
    meanCostUsd: r.outcomes > 0 ? r.cost_usd / r.outcomes : null,
  }));
  return c.json({ from, to, ...(tenant === undefined ? {} : { tenant }), variants });
});
