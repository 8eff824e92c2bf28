// Spending against a tenant's cost budget (TenantBudget Durable Object). A request that runs
// (chat, infer, or a MEC reservation) reserves its plan's dearest step before it runs: one
// Durable Object call, none for a tenant without a budget or for a free plan (the device). When
// the budget cannot cover it, the request is decided again with what is left as its cost limit,
// so it goes to a cheaper target if its constraints allow one (a second call); else 402.
// Reservations are settled with the actual cost later (the monitor, from the outcome event).

import type { ChargeResult } from "../../durable-objects/tenant-budget.ts";
import type { DecideResult } from "../../shared/decide.ts";
import type { Decision, RouteRequest } from "../../shared/types.ts";
import type { Principal } from "../auth.ts";
import { BudgetExhausted, Unavailable } from "../errors.ts";

/**
 * What running `d` here may cost at most: its dearest step (a failover may end there); nothing
 * when the device is the primary (the phone runs it).
 */
export function planCost(d: Decision): number {
  if (d.tier === "device") return 0;
  return Math.max(0, ...[d.plan.primary, ...d.plan.backups].map((s) => s.predictedCostUsd));
}

async function charge(
  env: Env,
  principal: Principal,
  budget: NonNullable<Principal["budget"]>,
  id: string,
  costUsd: number,
): Promise<ChargeResult> {
  try {
    return await env.TENANT_BUDGET.getByName(principal.tenantId).charge({
      id,
      costUsd,
      limitUsd: budget.limitUsd,
      period: budget.period,
    });
  } catch (err) {
    // Budgets are a hard limit: without the account, nothing that costs runs.
    const message = err instanceof Error ? err.message : String(err);
    console.error(
      JSON.stringify({ event: "budget_unreachable", tenant: principal.tenantId, message }),
    );
    throw new Unavailable("the tenant's budget account is not reachable; try again", undefined, 2);
  }
}

export interface Spent {
  decision: Decision;
  /** USD reserved in the budget for this decision (0: nothing was). */
  chargedUsd: number;
}

/**
 * Reserves the cost of running `decision` in the caller's budget, or of a cheaper decision when
 * the budget is short (`redecide` decides the request again under a cost limit); throws 402 when
 * nothing within the budget meets the request.
 */
export async function spendWithinBudget(
  env: Env,
  principal: Principal | undefined,
  id: string,
  req: RouteRequest,
  decision: Decision,
  redecide: (req: RouteRequest) => DecideResult,
): Promise<Spent> {
  const cost = planCost(decision);
  const budget = principal?.budget;
  if (!principal || !budget || cost <= 0) return { decision, chargedUsd: 0 };
  const first = await charge(env, principal, budget, id, cost);
  if (first.granted) return { decision, chargedUsd: cost };

  const limit = Math.min(
    req.constraints.maxCostUsd ?? Number.POSITIVE_INFINITY,
    first.remainingUsd,
  );
  const cheaper = redecide({ ...req, constraints: { ...req.constraints, maxCostUsd: limit } });
  const refuse = (rejected: unknown) =>
    new BudgetExhausted(
      `the tenant's ${budget.period === "day" ? "daily" : "monthly"} budget has $${round(first.remainingUsd)} left ` +
        `and no target that meets this request's constraints costs that little ` +
        `(it needs $${round(cost)}); it renews at ${new Date(first.periodEnd).toISOString()}`,
      { budget: accountOf(first), neededUsd: cost, rejected },
    );
  if (!cheaper.ok) throw refuse(cheaper.rejected);
  const rerouted: Decision = {
    ...cheaper.decision,
    rationale: [
      ...cheaper.decision.rationale,
      {
        factor: "budget",
        detail:
          `the tenant's budget has $${round(first.remainingUsd)} left this period, short of ` +
          `$${round(cost)}: chose the best target within it`,
      },
    ],
  };
  const cheaperCost = planCost(rerouted);
  if (cheaperCost <= 0) return { decision: rerouted, chargedUsd: 0 };
  const second = await charge(env, principal, budget, id, cheaperCost);
  if (!second.granted) throw refuse([]);
  return { decision: rerouted, chargedUsd: cheaperCost };
}

/** Replaces a reservation made in this request by its final cost, after the response. */
export function settleNow(
  env: Env,
  principal: Principal,
  id: string,
  actualUsd: number,
  waitUntil: (p: Promise<unknown>) => void,
): void {
  waitUntil(
    env.TENANT_BUDGET.getByName(principal.tenantId)
      .settle([{ id, actualUsd }])
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        console.warn(JSON.stringify({ event: "budget_settle_failed", id, message }));
      }),
  );
}

function accountOf(r: ChargeResult) {
  const { granted: _granted, ...account } = r;
  return account;
}

function round(usd: number): string {
  return usd >= 0.01 ? usd.toFixed(2) : usd.toPrecision(3);
}
