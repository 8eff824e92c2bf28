// One window at a glance (the dashboard's header, the MCP `analytics_summary` tool): totals in
// all and per tier, latency and TTFT percentiles, Nova calls and cost, anomalies.

import {
  addSums,
  percentilesOf,
  tierTotals,
  totalsOf,
  zeroSums,
} from "../../shared/analytics-aggregate.ts";
import type { SummaryAnswer } from "../../shared/analytics-api.ts";
import type { AnalyticsWindow } from "../../shared/analytics-window.ts";
import { latencySketches } from "../monitor/percentiles.ts";
import { countAnomalies } from "./anomalies.ts";
import { novaUsage } from "./nova.ts";
import { tierSums } from "./rollups.ts";

export async function summary(d1: D1Database, w: AnalyticsWindow): Promise<SummaryAnswer> {
  const [tiers, sketches, nova, anomalies] = await Promise.all([
    tierSums(d1, w),
    latencySketches(d1, { from: w.from, to: w.to }),
    novaUsage(d1, w),
    countAnomalies(d1, w.from, w.to - 1),
  ]);
  const all = zeroSums();
  for (const t of tiers) addSums(all, t);
  let calls = 0;
  let costUsd = 0;
  let fallbacks = 0;
  for (const r of nova.totals) {
    calls += r.calls;
    costUsd += r.costUsd;
    fallbacks += r.fallbacks;
  }
  return {
    window: w,
    totals: totalsOf(all),
    tiers: tierTotals(tiers),
    latency: percentilesOf(sketches.latency),
    ttft: percentilesOf(sketches.ttft),
    nova: { calls, costUsd, fallbacks },
    anomalies,
  };
}
