// Latency: p50 / p95 / p99 over time for all tiers, one tier or one target, and per tier and
// per site over the window (GET /v1/analytics/latency and /targets). Latency is the whole
// request; time to first token is what a streaming client feels.

import type {
  LatencyAnswer,
  PercentileColumns,
  TargetsAnswer,
} from "../../../shared/analytics-api.ts";
import type { Tier } from "../../../shared/types.ts";
import { getJson } from "../api.ts";
import { COLORS, TimeChart } from "../chart.ts";
import { fill, h, table } from "../dom.ts";
import { count, ms, pct, usd } from "../format.ts";
import { type LoadContext, type Shell, TIERS, type View } from "../view.ts";

type Metric = "latency" | "ttft";

export function latencyView(shell: Shell): View {
  let metric: Metric = "latency";
  let tier: Tier | "all" = "all";
  let target: string | undefined;

  const metricSelect = h(
    "select",
    { id: "latency-metric" },
    h("option", { value: "latency" }, "whole request"),
    h("option", { value: "ttft" }, "time to first token"),
  );
  const tierSelect = h(
    "select",
    { id: "latency-tier" },
    h("option", { value: "all" }, "all tiers"),
    ...TIERS.map((t) => h("option", { value: t }, t)),
  );
  metricSelect.addEventListener("change", () => {
    metric = metricSelect.value === "ttft" ? "ttft" : "latency";
    shell.refresh();
  });
  tierSelect.addEventListener("change", () => {
    const v = tierSelect.value;
    tier = v === "device" || v === "mec" || v === "cloud" ? v : "all";
    target = undefined;
    shell.refresh();
  });
  const scope = h("p", { class: "scope", "aria-live": "polite" });
  const chart = new TimeChart({
    id: "latency",
    title: "Latency percentiles",
    format: ms,
    reduce: "mean",
  });
  const overall = h("div", { class: "table-wrap" });
  const targets = h("div", { class: "table-wrap" });
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "latency-title" },
    h("h2", { id: "latency-title" }, "Latency"),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "latency-metric" }, "Measure "),
      metricSelect,
      h("label", { for: "latency-tier" }, "Tier "),
      tierSelect,
    ),
    scope,
    chart.el,
    h("h3", {}, "Per tier"),
    overall,
    h("h3", {}, "Per site and region"),
    targets,
  );

  return {
    title: "Latency",
    el,
    async load({ range, signal }: LoadContext) {
      const [lat, tgt] = await Promise.all([
        getJson<LatencyAnswer>("/v1/analytics/latency", { range, metric, target }, signal),
        getJson<TargetsAnswer>("/v1/analytics/targets", { range, limit: 100 }, signal),
      ]);
      const cols: PercentileColumns = target || tier === "all" ? lat.total : lat.tiers[tier];
      const what = metric === "ttft" ? "Time to first token" : "Latency";
      fill(
        scope,
        target ? `${what} at ${target} ` : `${what}, ${tier === "all" ? "all tiers" : tier}`,
        target
          ? h(
              "button",
              {
                type: "button",
                class: "link",
                onclick: () => {
                  target = undefined;
                  shell.refresh();
                },
              },
              "show all",
            )
          : null,
      );
      chart.update({
        t: lat.t,
        series: [
          { label: "p50", color: COLORS.p50, values: cols.p50 },
          { label: "p95", color: COLORS.p95, values: cols.p95 },
          { label: "p99", color: COLORS.p99, values: cols.p99 },
        ],
      });
      fill(
        overall,
        table(
          `${what} percentiles per tier over the window`,
          ["Tier", "Measured", "p50", "p95", "p99"],
          [
            ...TIERS.map((t) => {
              const p = lat.overall.tiers[t];
              return [t, count(p.count), ms(p.p50), ms(p.p95), ms(p.p99)];
            }),
            [
              "all",
              count(lat.overall.count),
              ms(lat.overall.p50),
              ms(lat.overall.p95),
              ms(lat.overall.p99),
            ],
          ],
        ),
      );
      fill(
        targets,
        tgt.targets.length === 0
          ? h("p", { class: "empty" }, "No traffic in this range.")
          : table(
              `Latency per target (whole request), busiest first${tgt.truncated ? "; more targets had traffic" : ""}`,
              ["Target", "Tier", "Outcomes", "p50", "p95", "p99", "Error rate", "SLA", "Cost", ""],
              tgt.targets.map((x) =>
                h(
                  "tr",
                  { "data-target": x.target },
                  h("th", { scope: "row" }, x.target),
                  h("td", {}, x.tier),
                  h("td", { class: "num" }, count(x.outcomes)),
                  h("td", { class: "num" }, ms(x.latency.p50)),
                  h("td", { class: "num" }, ms(x.latency.p95)),
                  h("td", { class: "num" }, ms(x.latency.p99)),
                  h("td", { class: "num" }, pct(x.errorRate)),
                  h("td", { class: "num" }, pct(x.slaAttainment)),
                  h("td", { class: "num" }, usd(x.costUsd)),
                  h(
                    "td",
                    {},
                    x.target === "device"
                      ? null
                      : h(
                          "button",
                          {
                            type: "button",
                            class: "link",
                            "aria-label": `Chart ${x.target}`,
                            onclick: () => {
                              target = x.target;
                              shell.refresh();
                            },
                          },
                          "chart",
                        ),
                  ),
                ),
              ),
              { "data-table": "targets" },
            ),
      );
    },
    destroy() {
      chart.destroy();
    },
  };
}
