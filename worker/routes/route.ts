// POST /v1/route — decide only: where should this request run? With `"reserve": true` it also
// takes a slot at the chosen site (one Durable Object call) and answers with a lease.

import { Hono } from "hono";
import { routeRequestSchema } from "../../shared/route-request.ts";
import type { Decision, PlanStep } from "../../shared/types.ts";
import { requireRole } from "../auth.ts";
import { decideRequest, routeAnswer } from "../decide-request.ts";
import { Overloaded } from "../errors.ts";
import { siteStub } from "../fleet/site-stub.ts";
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
  const decided = await decideRequest(c, input);
  const { decisionId, waitUntil } = decided;
  let decision = decided.decision;
  let lease: Lease | undefined;
  if (input.reserve) {
    ({ decision, lease } = await reserve(c.env, decision));
  } else if (decision.target.kind === "site") {
    // Decide-only: tell the site to expect this request, without making the client wait.
    waitUntil(
      siteStub(c.env, decision.target.siteId)
        .expect(decision.model)
        .catch(() => {}),
    );
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
  const body = routeAnswer(decided, decision);
  return c.json(lease ? { ...body, lease } : body);
});

/**
 * Walks the plan, primary first, taking a slot at the first MEC site that grants one (a device
 * or cloud step needs none). A denial moves to the next step and is named in the rationale.
 */
async function reserve(env: Env, d: Decision): Promise<{ decision: Decision; lease?: Lease }> {
  const steps = [d.plan.primary, ...d.plan.backups];
  const denied: { siteId: string; reason: string }[] = [];
  for (const [i, step] of steps.entries()) {
    let lease: Lease | undefined;
    if (step.target.kind === "site") {
      const { siteId } = step.target;
      const res = await siteStub(env, siteId).reserve({
        model: step.model,
        ttlMs: step.timeoutMs * 4,
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
