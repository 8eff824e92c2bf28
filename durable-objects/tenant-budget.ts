// TenantBudget: one Durable Object per tenant with a cost budget, the exact account of what the
// tenant spent and has reserved in the current calendar period (shared/budget.ts).
//
// - `charge` (one call per request that spends, before it runs): reserves the predicted cost if it
//   fits. No `await` between the check and the write, so concurrent charges are serialised and
//   the sum of grants never passes the limit. Idempotent per id.
// - `settle` (from the monitor, batched per tenant): replaces reservations by actual costs.
//   Idempotent: a settled id is forgotten, so a redelivered outcome changes nothing.
// - `status`: the period's account, for operators.
// The limit comes with each call (it is tenant configuration, read with the tenant's key), so the
// object never reads D1.

import { DurableObject } from "cloudflare:workers";
import * as z from "zod/mini";
import {
  type BudgetPeriod,
  EMPTY_TOTALS,
  type PeriodTotals,
  periodOf,
  remaining,
  reserve,
  settle,
  toNano,
  toUsd,
} from "../shared/budget.ts";

export interface ChargeRequest {
  /** The decision id: settlement finds the reservation by it. */
  id: string;
  costUsd: number;
  limitUsd: number;
  period: BudgetPeriod;
}

export interface BudgetAccount {
  period: string;
  periodStart: number;
  periodEnd: number;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
}

export type ChargeResult = { granted: boolean } & BudgetAccount;

const totalsSchema = z.object({ spent: z.number(), reserved: z.number() });
const pendingSchema = z.object({ period: z.string(), cost: z.number(), at: z.number() });
type Pending = z.infer<typeof pendingSchema>;

/** Reservations never settled (an outcome lost) are dropped once this old. */
const PENDING_MAX_AGE_MS = 40 * 86_400_000;
const SWEEP_EVERY_MS = 3_600_000;

export class TenantBudget extends DurableObject<Env> {
  /** The clock; tests replace it (inside `runInDurableObject`). */
  now: () => number = () => Date.now();
  #totals = new Map<string, PeriodTotals>();
  #sweptAt = 0;

  charge(req: ChargeRequest): ChargeResult {
    const now = this.now();
    const window = periodOf(now, req.period);
    const limit = toNano(req.limitUsd);
    const kv = this.ctx.storage.kv;
    const existing = this.#pending(req.id);
    if (existing) {
      // A repeated call for the same request: granted once, not twice.
      return { granted: true, ...this.#account(window, existing.period, limit) };
    }
    this.#sweep(now);
    const cost = toNano(req.costUsd);
    const verdict = reserve(this.#get(window.key), cost, limit);
    if (verdict.granted) {
      this.#put(window.key, verdict.totals);
      kv.put(`p:${req.id}`, { period: window.key, cost, at: now } satisfies Pending);
    }
    return { granted: verdict.granted, ...this.#account(window, window.key, limit) };
  }

  settle(entries: readonly { id: string; actualUsd: number }[]): { settled: number } {
    const kv = this.ctx.storage.kv;
    let settled = 0;
    for (const { id, actualUsd } of entries) {
      const pending = this.#pending(id);
      if (!pending) continue;
      this.#put(pending.period, settle(this.#get(pending.period), pending.cost, toNano(actualUsd)));
      kv.delete(`p:${id}`);
      settled++;
    }
    return { settled };
  }

  status(limitUsd: number, period: BudgetPeriod): BudgetAccount {
    const window = periodOf(this.now(), period);
    return this.#account(window, window.key, toNano(limitUsd));
  }

  #account(
    window: { key: string; start: number; end: number },
    key: string,
    limit: number,
  ): BudgetAccount {
    const totals = this.#get(key);
    return {
      period: key,
      periodStart: window.start,
      periodEnd: window.end,
      limitUsd: toUsd(limit),
      spentUsd: toUsd(totals.spent),
      reservedUsd: toUsd(totals.reserved),
      remainingUsd: toUsd(remaining(totals, limit)),
    };
  }

  #get(period: string): PeriodTotals {
    const cached = this.#totals.get(period);
    if (cached) return cached;
    const stored = totalsSchema.safeParse(this.ctx.storage.kv.get(`t:${period}`));
    const totals = stored.success ? stored.data : EMPTY_TOTALS;
    this.#totals.set(period, totals);
    return totals;
  }

  #put(period: string, totals: PeriodTotals): void {
    this.#totals.set(period, totals);
    this.ctx.storage.kv.put(`t:${period}`, totals);
  }

  #pending(id: string): Pending | undefined {
    const stored = pendingSchema.safeParse(this.ctx.storage.kv.get(`p:${id}`));
    return stored.success ? stored.data : undefined;
  }

  /** Forgets reservations whose outcome never came, long after their period closed. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_EVERY_MS) return;
    this.#sweptAt = now;
    const kv = this.ctx.storage.kv;
    for (const [key, value] of kv.list({ prefix: "p:" })) {
      const pending = pendingSchema.safeParse(value);
      if (!pending.success || now - pending.data.at > PENDING_MAX_AGE_MS) kv.delete(key);
    }
  }
}
