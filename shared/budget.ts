// Cost budgets per tenant and calendar period (UTC): the pure ledger the TenantBudget Durable
// Object keeps. Amounts are integers of nano-USD (1e-9 $), so sums are exact however many tiny
// charges add up.
//
// A charge reserves a request's predicted cost before it runs and is granted only when
// spent + reserved + cost ≤ limit; settling replaces the reservation by the actual cost. Since
// every grant is checked against all outstanding reservations, concurrent requests cannot
// overspend together; only an actual cost above its prediction can push spending past the limit.

export const BUDGET_PERIODS = ["day", "month"] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

export const NANO_PER_USD = 1_000_000_000;

/** USD → nano-USD, rounded up (a reservation never comes out smaller than its cost). */
export function toNano(usd: number): number {
  return Math.max(0, Math.ceil(usd * NANO_PER_USD - 1e-6));
}

export function toUsd(nano: number): number {
  return nano / NANO_PER_USD;
}

export interface PeriodWindow {
  /** `2026-11-25` for a day, `2026-11` for a month. */
  key: string;
  start: number;
  end: number;
}

/** The calendar period (UTC) that contains `now`. */
export function periodOf(now: number, period: BudgetPeriod): PeriodWindow {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const mm = String(m + 1).padStart(2, "0");
  if (period === "month") {
    return { key: `${y}-${mm}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  }
  const day = d.getUTCDate();
  const dd = String(day).padStart(2, "0");
  return { key: `${y}-${mm}-${dd}`, start: Date.UTC(y, m, day), end: Date.UTC(y, m, day + 1) };
}

/** One period's account, in nano-USD. */
export interface PeriodTotals {
  spent: number;
  reserved: number;
}

export const EMPTY_TOTALS: PeriodTotals = { spent: 0, reserved: 0 };

/** What is left to reserve, never negative. */
export function remaining(totals: PeriodTotals, limit: number): number {
  return Math.max(0, limit - totals.spent - totals.reserved);
}

/** Reserves `cost` if it fits under `limit`; otherwise the totals are unchanged. */
export function reserve(
  totals: PeriodTotals,
  cost: number,
  limit: number,
): { granted: boolean; totals: PeriodTotals } {
  if (totals.spent + totals.reserved + cost > limit) return { granted: false, totals };
  return { granted: true, totals: { ...totals, reserved: totals.reserved + cost } };
}

/** Turns a reservation of `reserved` into the actual cost `actual`. */
export function settle(totals: PeriodTotals, reserved: number, actual: number): PeriodTotals {
  return {
    spent: totals.spent + actual,
    reserved: Math.max(0, totals.reserved - reserved),
  };
}
