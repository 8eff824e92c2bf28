// POST /v1/route — decide only: where should this request run? With `"reserve": true` it also
// takes a slot at the chosen site (one Durable Object call) and answers with a lease; the lease's
// predicted cost is what the tenant's budget is charged (tenancy/spend.ts).

import { Hono } from "hono";
import { routeRequestSchema } from "../../shared/route-request.ts";
import type { Criticality, Decision, PlanStep } from "../../shared/types.ts";
import { requireRole } from "../auth.ts";
import { decideRequest, routeAnswer } from "../decide-request.ts";
import { Overloaded } from "../errors.ts";
import { expectAtSite } from "../fleet/expectations.ts";
import { siteStub } from "../fleet/site-stub.ts";
import { settleNow } from "../tenancy/spend.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson } from "../validate.ts";

export const routeApp = new Hono<AppEnv>();

export interface Lease {
  id: string;
  siteId: string;
  expiresAt: number;
}

routeApp.post("/", limitBody(), requireRole("device", "operator"), async (c) => {
  const input = await readJson(c, routeRequestSchema);
  const {
    req,
    decision: decided,
    decisionId,
    policyVariant,
    waitUntil,
    principal,
    chargedUsd,
  } = await decideRequest(c, input, { spend: input.reserve === true });
  let decision = decided;
  let lease: Lease | undefined;
  if (input.reserve) {
    // The budget reserved the plan's dearest step; what the phone will run is the leased site's
    // step (a device or cloud step without a lease costs the router nothing here).
    const settle = (actualUsd: number) => {
      if (principal && chargedUsd > 0 && actualUsd !== chargedUsd) {
        settleNow(c.env, principal, decisionId, actualUsd, waitUntil);
      }
    };
    try {
      ({ decision, lease } = await reserve(c.env, decision, {
        criticality: req.task.criticality,
        tenant: principal?.tenantId,
      }));
    } catch (err) {
      settle(0);
      throw err;
    }
    settle(lease ? decision.plan.primary.predictedCostUsd : 0);
  } else if (decision.target.kind === "site") {
    // Decide-only: tell the site to expect this request (batched per isolate), without making
    // the client wait.
    waitUntil(expectAtSite(c.env, decision.target.siteId, decision.model));
  }
  console.log(
    JSON.stringify({
      event: "decision",
      decisionId,
      tier: decision.tier,
      model: decision.model,
      confidence: decision.confidence,
      predictedMs: decision.predicted.latencyMs,
      reserved: lease !== undefined,
    }),
  );
  c.header("x-mec-decision-id", decisionId);
  const body = routeAnswer({ req, decisionId, policyVariant }, decision);
  return c.json(lease ? { ...body, lease } : body);
});

/**
 * Walks the plan, primary first, taking a slot at the first MEC site that grants one (a device
 * or cloud step needs none). A denial moves to the next step and is named in the rationale.
 */
async function reserve(
  env: Env,
  d: Decision,
  admission: { criticality: Criticality; tenant?: string | undefined },
): Promise<{ decision: Decision; lease?: Lease }> {
  const steps = [d.plan.primary, ...d.plan.backups];
  const denied: { siteId: string; reason: string }[] = [];
  for (const [i, step] of steps.entries()) {
    let lease: Lease | undefined;
    if (step.target.kind === "site") {
      const { siteId } = step.target;
      const res = await siteStub(env, siteId).reserve({
        model: step.model,
        ttlMs: step.timeoutMs * 4,
        budgetMs: d.plan.timeoutMs,
        criticality: admission.criticality,
        ...(admission.tenant ? { tenant: admission.tenant } : {}),
      });
      if (!res.granted) {
        denied.push({ siteId, reason: res.reason });
        continue;
      }
      lease = { id: res.leaseId, siteId, expiresAt: res.expiresAt };
    }
    const decision = i === 0 ? d : promote(d, step, steps.slice(i + 1), denied);
    return lease ? { decision, lease } : { decision };
  }
  throw new Overloaded("every target in the plan denied a reservation", { denied });
}

function promote(
  d: Decision,
  step: PlanStep,
  rest: PlanStep[],
  denied: { siteId: string; reason: string }[],
): Decision {
  return {
    ...d,
    tier: step.tier,
    target: step.target,
    model: step.model,
    predicted: {
      ...d.predicted,
      latencyMs: step.predictedLatencyMs,
      costUsd: step.predictedCostUsd,
    },
    plan: { ...d.plan, primary: step, backups: rest },
    rationale: [
      ...d.rationale,
      {
        factor: "reservation",
        detail: `${denied.map((x) => `site:${x.siteId} denied (${x.reason})`).join(", ")}; moved to the next target in the plan`,
      },
    ],
  };
}
