// Policy A/B comparison: per variant of POLICY_VARIANTS, decisions, outcomes, errors, SLA
// attainment and cost over the chosen range (GET /v1/analytics/policies, from the raw rows).

import type { PoliciesAnswer } from "../../../shared/analytics-api.ts";
import { getJson } from "../api.ts";
import { fill, h, table } from "../dom.ts";
import { count, dateTime, pct, usd } from "../format.ts";
import { type LoadContext, RANGE_MS, type View } from "../view.ts";

export function policiesView(): View {
  const body = h("div", { class: "table-wrap" });
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "policies-title" },
    h("h2", { id: "policies-title" }, "Policy A/B comparison"),
    h(
      "p",
      { class: "muted" },
      "Decisions are split among the variants of POLICY_VARIANTS by a stable hash of their id; without an experiment every decision uses the default policy.",
    ),
    body,
  );
  return {
    title: "Policies",
    el,
    async load({ range, signal }: LoadContext) {
      const to = Date.now();
      const answer = await getJson<PoliciesAnswer>(
        "/v1/analytics/policies",
        { from: to - RANGE_MS[range], to },
        signal,
      );
      const v = answer.variants;
      const bestSla = Math.max(...v.map((x) => x.slaAttainment ?? -1));
      const cheapest = Math.min(...v.map((x) => x.meanCostUsd ?? Number.POSITIVE_INFINITY));
      fill(
        body,
        v.length === 0
          ? h("p", { class: "empty" }, "No decision in this range.")
          : table(
              `Policy variants, ${dateTime(answer.from)} to ${dateTime(answer.to)}`,
              [
                "Variant",
                "Decisions",
                "Outcomes",
                "Errors",
                "SLA attainment",
                "Cost",
                "Mean cost per outcome",
              ],
              v.map((x) =>
                h(
                  "tr",
                  { "data-variant": x.variant },
                  h("th", { scope: "row" }, x.variant),
                  h("td", { class: "num" }, count(x.decisions)),
                  h("td", { class: "num" }, count(x.outcomes)),
                  h("td", { class: "num" }, count(x.errors)),
                  h(
                    "td",
                    { class: "num" },
                    x.slaAttainment === null
                      ? "—"
                      : h("meter", {
                          min: 0,
                          max: 1,
                          value: x.slaAttainment,
                          "aria-label": `SLA attainment of ${x.variant}`,
                        }),
                    ` ${pct(x.slaAttainment)}`,
                    v.length > 1 && x.slaAttainment === bestSla
                      ? h("span", { class: "badge good" }, "best")
                      : null,
                  ),
                  h("td", { class: "num" }, usd(x.costUsd)),
                  h(
                    "td",
                    { class: "num" },
                    usd(x.meanCostUsd),
                    v.length > 1 && x.meanCostUsd === cheapest
                      ? h("span", { class: "badge good" }, "cheapest")
                      : null,
                  ),
                ),
              ),
              { "data-table": "policies" },
            ),
      );
    },
  };
}
