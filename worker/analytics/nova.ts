// Nova usage and cost from `nova_usage_rollups` (per minute, role, Bedrock model and outcome;
// fed by the usage events of worker/reasoning/usage.ts): series per role for charts and totals
// per role with every outcome counted.

import { sql } from "drizzle-orm";
import { ratio } from "../../shared/analytics-aggregate.ts";
import type { NovaAnswer, NovaRoleColumns, NovaRoleTotals } from "../../shared/analytics-api.ts";
import {
  type AnalyticsWindow,
  bucketIndexOf,
  bucketStarts,
} from "../../shared/analytics-window.ts";
import {
  NOVA_OUTCOMES,
  NOVA_ROLES,
  NOVA_SKIPS,
  type NovaOutcome,
  type NovaRole,
} from "../../shared/events.ts";
import { bucketOf, inWindow, rows, where } from "./sql.ts";

interface UsageRow {
  role: string;
  outcome: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencySumMs: number;
}

const SUMS = sql.raw(`sum(calls) AS calls, sum(input_tokens) AS inputTokens,
  sum(output_tokens) AS outputTokens, total(cost_usd) AS costUsd,
  total(latency_sum_ms) AS latencySumMs`);

const isRole = (v: string): v is NovaRole => (NOVA_ROLES as readonly string[]).includes(v);
const isOutcome = (v: string): v is NovaOutcome => (NOVA_OUTCOMES as readonly string[]).includes(v);
const isSkip = (v: string) => (NOVA_SKIPS as readonly string[]).includes(v);

function emptyColumns(points: number): NovaRoleColumns {
  const zeros = () => new Array<number>(points).fill(0);
  return {
    calls: zeros(),
    fallbacks: zeros(),
    inputTokens: zeros(),
    outputTokens: zeros(),
    costUsd: zeros(),
  };
}

/** Per-role series and totals over the window. */
export async function novaUsage(d1: D1Database, w: AnalyticsWindow): Promise<NovaAnswer> {
  const scope = where(inWindow(w, sql.raw("minute")));
  const [series, totals] = await Promise.all([
    rows<UsageRow & { t: number }>(
      d1,
      sql`SELECT ${bucketOf(w, sql.raw("minute"))} AS t, role, outcome, ${SUMS}
        FROM nova_usage_rollups WHERE ${scope} GROUP BY 1, 2, 3`,
    ),
    rows<UsageRow & { model: string }>(
      d1,
      sql`SELECT role, model, outcome, ${SUMS}
        FROM nova_usage_rollups WHERE ${scope} GROUP BY 1, 2, 3`,
    ),
  ]);
  const roles = Object.fromEntries(NOVA_ROLES.map((r) => [r, emptyColumns(w.points)])) as Record<
    NovaRole,
    NovaRoleColumns
  >;
  for (const r of series) {
    const i = bucketIndexOf(w, r.t);
    if (i < 0 || !isRole(r.role)) continue;
    const c = roles[r.role];
    const skip = isSkip(r.outcome);
    c.calls[i] = (c.calls[i] ?? 0) + (skip ? 0 : r.calls);
    if (r.outcome !== "ok") c.fallbacks[i] = (c.fallbacks[i] ?? 0) + r.calls;
    c.inputTokens[i] = (c.inputTokens[i] ?? 0) + r.inputTokens;
    c.outputTokens[i] = (c.outputTokens[i] ?? 0) + r.outputTokens;
    c.costUsd[i] = (c.costUsd[i] ?? 0) + r.costUsd;
  }
  return { window: w, t: bucketStarts(w), roles, totals: roleTotals(totals) };
}

/** Totals per role (every role listed), outcomes counted apart. */
export function roleTotals(found: readonly (UsageRow & { model: string })[]): NovaRoleTotals[] {
  const out = new Map<NovaRole, NovaRoleTotals & { latencySumMs: number }>();
  for (const role of NOVA_ROLES) {
    out.set(role, {
      role,
      calls: 0,
      fallbacks: 0,
      byOutcome: Object.fromEntries(NOVA_OUTCOMES.map((o) => [o, 0])) as Record<
        NovaOutcome,
        number
      >,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      meanLatencyMs: null,
      models: [],
      latencySumMs: 0,
    });
  }
  for (const r of found) {
    const t = isRole(r.role) ? out.get(r.role) : undefined;
    if (!t || !isOutcome(r.outcome)) continue;
    t.byOutcome[r.outcome] += r.calls;
    if (!isSkip(r.outcome)) {
      t.calls += r.calls;
      t.latencySumMs += r.latencySumMs;
    }
    if (r.outcome !== "ok") t.fallbacks += r.calls;
    t.inputTokens += r.inputTokens;
    t.outputTokens += r.outputTokens;
    t.costUsd += r.costUsd;
    if (!t.models.includes(r.model)) t.models.push(r.model);
  }
  return [...out.values()].map(({ latencySumMs, ...t }) => ({
    ...t,
    models: t.models.sort(),
    meanLatencyMs: ratio(latencySumMs, t.calls),
  }));
}
