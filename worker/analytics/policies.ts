// The policy A/B comparison: per policy variant (worker/config.ts `POLICY_VARIANTS`), the
// decisions made in `from` … `to` (epoch ms, inclusive, on the decision's time), how many of them
// have an executed outcome, SLA attainment (sla_met / sla_known: outcomes whose reporter knew the
// SLA) and the outcomes' total and mean cost.
//
// Computed from the raw rows (outcomes joined to decisions on decision_id), so only over the raw
// retention window: the per-minute rollups are per (tier, target, model), not per variant, and
// cannot answer this. Decisions stored without a variant (before migration 0003) count as
// "default".

import type { PolicyVariantStats } from "../../shared/analytics-api.ts";
import { DEFAULT_VARIANT } from "../config.ts";

interface VariantRow {
  variant: string;
  decisions: number;
  outcomes: number;
  errors: number;
  sla_met: number;
  sla_known: number;
  cost_usd: number;
}

/** Per variant over `from` … `to`; only `tenant`'s decisions when given. */
export async function comparePolicies(
  d1: D1Database,
  from: number,
  to: number,
  tenant?: string,
): Promise<PolicyVariantStats[]> {
  // Decisions in range first (decisions_time index, or decisions_tenant_time with a tenant),
  // their outcomes joined on decision_id (outcomes_decision index) and counted only when their
  // tenant reported them; the two are counted apart so that a decision with several outcomes
  // counts once among the decisions.
  const inTenant = tenant === undefined ? "" : "AND tenant_id = ?4";
  const { results } = await d1
    .prepare(
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
    .bind(from, to, DEFAULT_VARIANT, ...(tenant === undefined ? [] : [tenant]))
    .all<VariantRow>();
  return results.map((r) => ({
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
}
