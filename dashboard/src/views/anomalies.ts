// Anomalies: what the monitor's detector found per target (latency and error-rate shifts
// against a seasonal baseline), with the evidence it stored (GET /v1/analytics/anomalies).

import type { AnomaliesAnswer, AnomalyView } from "../../../shared/analytics-api.ts";
import { getJson } from "../api.ts";
import { facts, fill, h, table } from "../dom.ts";
import { DASH, dateTime, ms, pct } from "../format.ts";
import type { LoadContext, Shell, View } from "../view.ts";

/** A value of the anomaly's metric: latency in ms, error rates as percentages. */
function metricValue(metric: string, v: number | null): string {
  if (v === null) return DASH;
  return metric === "error_rate" ? pct(v) : metric === "latency" ? ms(v) : v.toFixed(3);
}

/** The detector's evidence: a flat object as label–value pairs, anything else as JSON. */
function evidence(a: AnomalyView): HTMLElement {
  const d = a.detail;
  if (d && typeof d === "object" && !Array.isArray(d)) {
    const pairs = Object.entries(d).map(([k, v]): [string, string] => {
      if (typeof v === "number" && (k === "baseline" || k === "sd"))
        return [k, metricValue(a.metric, v)];
      return [k, typeof v === "object" ? JSON.stringify(v) : String(v)];
    });
    return facts([
      ["observed", metricValue(a.metric, a.observed)],
      ["expected", metricValue(a.metric, a.expected)],
      ["z-score", a.score === null ? DASH : a.score.toFixed(2)],
      ...pairs,
    ]);
  }
  return h("pre", {}, JSON.stringify(d, null, 2));
}

export function anomaliesView(shell: Shell): View {
  let openOnly = false;
  const openBox = h("input", { type: "checkbox", id: "anomalies-open" });
  openBox.addEventListener("change", () => {
    openOnly = openBox.checked;
    shell.refresh();
  });
  const list = h("div", { class: "table-wrap" });
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "anomalies-title" },
    h("h2", { id: "anomalies-title" }, "Anomalies"),
    h(
      "div",
      { class: "filters" },
      openBox,
      h("label", { for: "anomalies-open" }, " open ones only"),
    ),
    list,
  );
  return {
    title: "Anomalies",
    el,
    async load({ range, signal }: LoadContext) {
      const answer = await getJson<AnomaliesAnswer>(
        "/v1/analytics/anomalies",
        { range, open: openOnly ? "true" : undefined, limit: 200 },
        signal,
      );
      // Evidence an operator opened stays open across refreshes.
      const opened = new Set(
        [...list.querySelectorAll<HTMLElement>("tr[data-anomaly]:has(details[open])")].map(
          (tr) => tr.dataset.anomaly,
        ),
      );
      fill(
        list,
        answer.anomalies.length === 0
          ? h("p", { class: "empty" }, "No anomaly in this range.")
          : table(
              "Anomalies, newest first",
              [
                "Minute",
                "Target",
                "Metric",
                "Observed",
                "Expected",
                "Severity",
                "State",
                "Evidence",
              ],
              answer.anomalies.map((a) =>
                h(
                  "tr",
                  { "data-anomaly": a.id },
                  h("th", { scope: "row" }, dateTime(a.minute)),
                  h("td", {}, a.target ?? a.tier ?? DASH),
                  h("td", {}, a.kind.replace("_", " ")),
                  h("td", { class: "num" }, metricValue(a.metric, a.observed)),
                  h("td", { class: "num" }, metricValue(a.metric, a.expected)),
                  h("td", {}, h("span", { class: `badge severity-${a.severity}` }, a.severity)),
                  h(
                    "td",
                    {},
                    a.resolvedAt === null
                      ? h("strong", {}, "open")
                      : `resolved ${dateTime(a.resolvedAt)}`,
                  ),
                  h(
                    "td",
                    {},
                    h("details", { open: opened.has(a.id) }, h("summary", {}, "show"), evidence(a)),
                  ),
                ),
              ),
              { "data-table": "anomalies" },
            ),
      );
    },
  };
}
