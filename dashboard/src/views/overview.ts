// Overview: the headline numbers, the tier split, and requests, SLA attainment, cost, error
// rate and failovers over time (GET /v1/analytics/summary and /timeseries).

import type { SummaryAnswer, TimeseriesAnswer, Totals } from "../../../shared/analytics-api.ts";
import { getJson } from "../api.ts";
import { COLORS, TimeChart } from "../chart.ts";
import { fill, h, table, tile } from "../dom.ts";
import { count, ms, pct, usd } from "../format.ts";
import { type LoadContext, TIERS, type View } from "../view.ts";

export function overviewView(): View {
  const tiles = h("div", { class: "tiles", "aria-label": "Headline numbers" });
  const tierTable = h("div", { class: "table-wrap" });
  const requests = new TimeChart({
    id: "requests",
    title: "Requests by tier",
    format: count,
    integer: true,
    reduce: "sum",
  });
  const sla = new TimeChart({
    id: "sla",
    title: "SLA attainment",
    format: pct,
    reduce: "mean",
    yRange: [0, 1],
  });
  const cost = new TimeChart({
    id: "cost",
    title: "Cost by tier (USD)",
    format: usd,
    reduce: "sum",
  });
  const errors = new TimeChart({ id: "errors", title: "Error rate", format: pct, reduce: "mean" });
  const failovers = new TimeChart({
    id: "failovers",
    title: "Failovers",
    format: count,
    integer: true,
    reduce: "sum",
  });
  const charts = [requests, sla, cost, errors, failovers];
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "overview-title" },
    h("h2", { id: "overview-title" }, "Overview"),
    tiles,
    h("h3", {}, "Tier split"),
    tierTable,
    h("div", { class: "charts" }, ...charts.map((c) => c.el)),
  );

  return {
    title: "Overview",
    el,
    async load({ range, signal }: LoadContext) {
      const [summary, series] = await Promise.all([
        getJson<SummaryAnswer>("/v1/analytics/summary", { range }, signal),
        getJson<TimeseriesAnswer>("/v1/analytics/timeseries", { range }, signal),
      ]);
      const t = summary.totals;
      fill(
        tiles,
        tile("Requests", count(t.decisions), `${count(t.outcomes)} executed or reported`),
        tile("SLA attainment", pct(t.slaAttainment), `${count(t.slaKnown)} with a known SLA`),
        tile("Error rate", pct(t.errorRate), `${count(t.errors)} errors`),
        tile("Failovers", count(t.failovers), `${count(t.attempts)} attempts`),
        tile("Cost", usd(t.costUsd), `Nova reasoning ${usd(summary.nova.costUsd)}`),
        tile(
          "Latency p50",
          ms(summary.latency.p50),
          `p95 ${ms(summary.latency.p95)} · p99 ${ms(summary.latency.p99)} over ${count(summary.latency.count)} successes`,
        ),
        tile(
          "Anomalies",
          `${count(summary.anomalies.open)} open`,
          h("a", { href: "#/anomalies" }, `${count(summary.anomalies.total)} in range`),
        ),
      );
      const tierRow = (name: string, x: Totals) => [
        name,
        count(x.decisions),
        pct(t.decisions > 0 ? x.decisions / t.decisions : null),
        count(x.outcomes),
        pct(x.slaAttainment),
        pct(x.errorRate),
        count(x.failovers),
        usd(x.costUsd),
        ms(x.meanLatencyMs),
      ];
      fill(
        tierTable,
        table(
          "Requests, SLA, errors and cost per tier",
          [
            "Tier",
            "Requests",
            "Share",
            "Outcomes",
            "SLA",
            "Error rate",
            "Failovers",
            "Cost",
            "Mean latency",
          ],
          [...TIERS.map((tier) => tierRow(tier, summary.tiers[tier])), tierRow("all", t)],
          { "data-table": "tiers" },
        ),
      );

      const perTier = (pick: (c: TimeseriesAnswer["total"]) => readonly (number | null)[]) =>
        TIERS.map((tier) => ({
          label: tier,
          color: COLORS[tier],
          values: pick(series.tiers[tier]),
        }));
      /** The measure for all tiers together, then per tier. */
      const allAndTiers = (pick: (c: TimeseriesAnswer["total"]) => readonly (number | null)[]) => [
        { label: "all", color: COLORS.total, values: pick(series.total) },
        ...perTier(pick),
      ];
      requests.update({ t: series.t, series: allAndTiers((c) => c.decisions) });
      sla.update({ t: series.t, series: allAndTiers((c) => c.slaAttainment) });
      cost.update({ t: series.t, series: perTier((c) => c.costUsd) });
      errors.update({ t: series.t, series: allAndTiers((c) => c.errorRate) });
      failovers.update({
        t: series.t,
        series: [
          { label: "failovers", color: COLORS.p99, values: series.total.failovers },
          {
            label: "extra attempts",
            color: COLORS.p95,
            dash: [4, 4],
            values: series.total.attempts.map((a, i) =>
              Math.max(0, a - (series.total.outcomes[i] ?? 0)),
            ),
          },
        ],
      });
    },
    destroy() {
      for (const c of charts) c.destroy();
    },
  };
}
