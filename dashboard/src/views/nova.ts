// Nova: how often the reasoning roles called Bedrock, how often they left the decision to the
// rules (timeouts, throttling, breaker, budget), their tokens and cost (GET /v1/analytics/nova).

import type { NovaAnswer } from "../../../shared/analytics-api.ts";
import type { NovaRole } from "../../../shared/events.ts";
import { getJson } from "../api.ts";
import { COLORS, TimeChart } from "../chart.ts";
import { fill, h, table } from "../dom.ts";
import { count, ms, usd } from "../format.ts";
import type { LoadContext, View } from "../view.ts";

const ROLES: readonly NovaRole[] = ["micro", "lite", "pro", "review"];

export function novaView(): View {
  const totals = h("div", { class: "table-wrap" });
  const calls = new TimeChart({
    id: "nova-calls",
    title: "Nova calls by role",
    format: count,
    integer: true,
    reduce: "sum",
  });
  const cost = new TimeChart({
    id: "nova-cost",
    title: "Nova cost by role (USD)",
    format: usd,
    reduce: "sum",
  });
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "nova-title" },
    h("h2", { id: "nova-title" }, "Nova usage and cost"),
    h(
      "p",
      { class: "muted" },
      "Micro and Lite settle borderline request classes, Pro reconsiders low-confidence decisions, review proposes policy changes offline. A fallback leaves the decision to the rules.",
    ),
    totals,
    h("div", { class: "charts" }, calls.el, cost.el),
  );
  return {
    title: "Nova",
    el,
    async load({ range, signal }: LoadContext) {
      const answer = await getJson<NovaAnswer>("/v1/analytics/nova", { range }, signal);
      fill(
        totals,
        table(
          "Nova calls per role over the window",
          [
            "Role",
            "Calls",
            "Fallbacks",
            "By outcome",
            "Tokens in / out",
            "Cost",
            "Mean latency",
            "Models",
          ],
          answer.totals.map((r) => [
            r.role,
            count(r.calls),
            count(r.fallbacks),
            Object.entries(r.byOutcome)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${count(n)}`)
              .join(", ") || "—",
            `${count(r.inputTokens)} / ${count(r.outputTokens)}`,
            usd(r.costUsd),
            ms(r.meanLatencyMs),
            r.models.join(", ") || "—",
          ]),
          { "data-table": "nova" },
        ),
      );
      const perRole = (pick: (c: NovaAnswer["roles"][NovaRole]) => readonly number[]) =>
        ROLES.map((role) => ({
          label: role,
          color: COLORS[role],
          values: pick(answer.roles[role]),
        }));
      calls.update({ t: answer.t, series: perRole((c) => c.calls) });
      cost.update({ t: answer.t, series: perRole((c) => c.costUsd) });
    },
    destroy() {
      calls.destroy();
      cost.destroy();
    },
  };
}
