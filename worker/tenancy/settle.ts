// Settles budget reservations from the monitor: each outcome event of a charged run replaces its
// decision's reservation by the run's actual cost. One TenantBudget call per tenant per batch of
// events, never on the request path.

import type { MonitorEvent } from "../../shared/events.ts";

export async function settleCharges(
  env: Pick<Env, "TENANT_BUDGET">,
  events: readonly MonitorEvent[],
): Promise<void> {
  const byTenant = new Map<string, { id: string; actualUsd: number }[]>();
  for (const e of events) {
    if (e.type !== "outcome" || !e.charged || e.tenant === undefined) continue;
    const list = byTenant.get(e.tenant) ?? [];
    list.push({ id: e.decisionId, actualUsd: e.costUsd });
    byTenant.set(e.tenant, list);
  }
  await Promise.all(
    [...byTenant].map(([tenant, entries]) => env.TENANT_BUDGET.getByName(tenant).settle(entries)),
  );
}
