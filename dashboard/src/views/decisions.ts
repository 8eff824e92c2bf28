// The decision explorer: recent decisions, filterable by tier, target, model and outcome,
// newest first, paged; open one for its rationale, the targets it rejected and why, its plan,
// and every outcome with its attempts (GET /v1/analytics/decisions and /decisions/:id).

import type {
  DecisionDetailAnswer,
  DecisionSummary,
  DecisionsAnswer,
  OutcomeSummary,
} from "../../../shared/analytics-api.ts";
import { ApiError, getJson } from "../api.ts";
import { facts, fill, h, table } from "../dom.ts";
import { count, DASH, dateTime, ms, pct, shortTime, usd } from "../format.ts";
import { type LoadContext, type Shell, TIERS, type View } from "../view.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function outcomeText(o: OutcomeSummary | null): string {
  if (!o) return "none";
  const how = o.ok ? (o.failover ? "failover" : "ok") : `error (${o.errorClass ?? "?"})`;
  return `${how}, ${ms(o.latencyMs)}`;
}

function outcomeClass(o: OutcomeSummary | null): string {
  if (!o) return "muted";
  return o.ok ? (o.failover ? "warn" : "good") : "bad";
}

function detailPanel(answer: DecisionDetailAnswer, close: () => void): HTMLElement {
  const d = answer.decision;
  const r = d.request;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "decision-title", "data-decision": d.id, tabindex: -1 },
    h(
      "div",
      { class: "panel-head" },
      h("h3", { id: "decision-title" }, `Decision ${d.id}`),
      h("button", { type: "button", class: "secondary", onclick: close }, "Close"),
    ),
    facts([
      ["Time", dateTime(d.time)],
      ["Chosen", `${d.tier} · ${d.target} · ${d.model}`],
      ["Classification", `${d.classification}, complexity ${d.complexity.toFixed(2)}`],
      ["Confidence", pct(d.confidence)],
      ["Decided by", d.reasoner],
      ["Policy variant", d.policyVariant],
      [
        "Predicted",
        `${ms(d.predicted.latencyMs)} (first token ${ms(d.predicted.firstTokenMs)}), ${usd(d.predicted.costUsd)}`,
      ],
      ["Backups in plan", count(d.backups)],
    ]),
    h("h4", {}, "Request (features only)"),
    facts([
      ["Modality", r.modality],
      ["Model asked", r.modelAsked],
      ["Tokens in / out", `${count(r.inputTokens)} / ${count(r.maxOutputTokens)}`],
      ["Payload", `${count(r.payloadBytes)} bytes`],
      ["SLA", `${ms(r.latencySlaMs)} (${r.latencyTarget.replace("_", " ")})`],
      ["Criticality", r.criticality],
      ["Privacy", r.privacy],
      ["Residency / compliance rules", `${r.residencyCount} / ${r.complianceCount}`],
      ["Network, device", `${r.networkType}, ${r.deviceClass}${r.hasLocation ? ", located" : ""}`],
    ]),
    h("h4", {}, "Rationale"),
    d.rationale.length === 0
      ? h("p", { class: "muted" }, "No rationale stored.")
      : h(
          "ol",
          { class: "rationale" },
          ...d.rationale.map((x) =>
            h("li", {}, h("strong", {}, x.factor), x.detail ? `: ${x.detail}` : ""),
          ),
        ),
    h("h4", {}, "Rejected targets"),
    d.rejected.length === 0
      ? h("p", { class: "muted" }, "None rejected.")
      : table(
          `Rejected targets${d.rejectedTotal !== null && d.rejectedTotal > d.rejected.length ? ` (${d.rejected.length} of ${d.rejectedTotal} shown)` : ""}`,
          ["Target", "Reason", "Detail"],
          d.rejected.map((x) => [x.target, x.reason.replaceAll("_", " "), x.detail ?? DASH]),
          { "data-table": "rejected" },
        ),
    h("h4", {}, "Plan"),
    d.plan === null
      ? h("p", { class: "muted" }, "Not stored for this decision.")
      : table(
          "Execution plan, primary first",
          ["Step", "Tier", "Target", "Model", "Predicted latency", "Predicted cost", "Timeout"],
          d.plan.map((p, i) => [
            i === 0 ? "primary" : `backup ${i}`,
            p.tier,
            p.target,
            p.model,
            ms(p.predictedLatencyMs),
            usd(p.predictedCostUsd),
            ms(p.timeoutMs),
          ]),
          { "data-table": "plan" },
        ),
    h("h4", {}, "Outcomes"),
    answer.outcomes.length === 0
      ? h("p", { class: "muted" }, "No outcome reported (decide only, or not yet).")
      : h(
          "ol",
          { class: "outcomes" },
          ...answer.outcomes.map((o) =>
            h(
              "li",
              { "data-outcome": o.ok ? "ok" : "error" },
              h("span", { class: outcomeClass(o) }, outcomeText(o)),
              ` at ${o.finalTarget} (${o.finalModel}), ${o.attempts} attempt${o.attempts === 1 ? "" : "s"}, SLA ${o.slaMet === null ? "unknown" : o.slaMet ? "met" : "missed"}, ${usd(o.costUsd)}`,
              o.attemptLog && o.attemptLog.length > 0
                ? table(
                    "Attempts",
                    ["Target", "Tier", "Result", "Latency"],
                    o.attemptLog.map((a) => [
                      a.target,
                      a.tier,
                      a.ok ? "ok" : (a.errorClass ?? "error"),
                      ms(a.latencyMs),
                    ]),
                  )
                : null,
            ),
          ),
        ),
  );
}

export function decisionsView(shell: Shell): View {
  let opened: string | undefined;
  let rows: DecisionSummary[] = [];
  let next: string | null = null;

  const tier = h(
    "select",
    { id: "decisions-tier", name: "tier" },
    h("option", { value: "" }, "any"),
    ...TIERS.map((t) => h("option", { value: t }, t)),
  );
  const outcome = h(
    "select",
    { id: "decisions-outcome", name: "outcome" },
    h("option", { value: "" }, "any"),
    ...(["ok", "error", "failover", "none"] as const).map((o) => h("option", { value: o }, o)),
  );
  const target = h("input", {
    id: "decisions-target",
    name: "target",
    placeholder: "site:berlin-1",
    size: 16,
    spellcheck: "false",
  });
  const model = h("input", {
    id: "decisions-model",
    name: "model",
    placeholder: "llama-3.1-8b",
    size: 14,
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter decisions" },
    h("label", { for: "decisions-tier" }, "Tier "),
    tier,
    h("label", { for: "decisions-outcome" }, "Outcome "),
    outcome,
    h("label", { for: "decisions-target" }, "Target "),
    target,
    h("label", { for: "decisions-model" }, "Model "),
    model,
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    shell.refresh();
  });
  const list = h("div", { class: "table-wrap" });
  const more = h("div", {});
  const detail = h("div", { class: "detail" });
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "decisions-title" },
    h("h2", { id: "decisions-title" }, "Decision explorer"),
    form,
    h("div", { class: "explorer" }, h("div", {}, list, more), detail),
  );

  const filters = () => ({
    tier: tier.value || undefined,
    outcome: outcome.value || undefined,
    target: target.value.trim() || undefined,
    model: model.value.trim() || undefined,
  });

  const renderList = () => {
    fill(
      list,
      rows.length === 0
        ? h("p", { class: "empty" }, "No decision matches in this range.")
        : table(
            "Decisions, newest first",
            [
              "Time",
              "Tier",
              "Target",
              "Model",
              { label: "Class", class: "optional" },
              "Confidence",
              { label: "By", class: "optional" },
              { label: "Variant", class: "optional" },
              { label: "Predicted", class: "optional" },
              "Outcome",
            ],
            rows.map((d) =>
              h(
                "tr",
                {
                  "data-decision": d.id,
                  ...(d.id === opened ? { "aria-current": "true", class: "current" } : {}),
                },
                h(
                  "th",
                  { scope: "row" },
                  h(
                    "button",
                    { type: "button", class: "link", onclick: () => open(d.id) },
                    shortTime(d.time),
                  ),
                ),
                h("td", {}, d.tier),
                h("td", {}, d.target),
                h("td", {}, d.model),
                h("td", { class: "optional" }, d.classification),
                h("td", { class: "num" }, pct(d.confidence)),
                h("td", { class: "optional" }, d.reasoner),
                h("td", { class: "optional" }, d.policyVariant),
                h("td", { class: "num optional" }, ms(d.predicted.latencyMs)),
                h("td", { class: outcomeClass(d.outcome) }, outcomeText(d.outcome)),
              ),
            ),
            { "data-table": "decisions" },
          ),
    );
  };

  async function showDetail(id: string, signal?: AbortSignal): Promise<void> {
    try {
      const answer = await getJson<DecisionDetailAnswer>(
        `/v1/analytics/decisions/${id}`,
        {},
        signal,
      );
      const panel = detailPanel(answer, close);
      fill(detail, panel);
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      fill(
        detail,
        h(
          "p",
          { class: "error", role: "alert" },
          `No decision ${id}: unknown, or older than the raw history kept.`,
        ),
      );
    }
  }

  function open(id: string): void {
    opened = id;
    shell.setParam(id);
    renderList();
    showDetail(id)
      .then(() => detail.querySelector<HTMLElement>("[data-decision]")?.focus())
      .catch((err) => shell.fail(err));
  }

  function close(): void {
    opened = undefined;
    shell.setParam(undefined);
    fill(detail);
    renderList();
  }

  async function loadMore(range: LoadContext["range"]): Promise<void> {
    if (!next) return;
    const page = await getJson<DecisionsAnswer>("/v1/analytics/decisions", {
      range,
      ...filters(),
      before: next,
      limit: 50,
    });
    rows = [...rows, ...page.decisions];
    next = page.next;
    renderList();
    renderMore(range);
  }

  function renderMore(range: LoadContext["range"]): void {
    fill(
      more,
      next
        ? h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: () => loadMore(range).catch((err) => shell.fail(err)),
            },
            "Load older decisions",
          )
        : rows.length > 0
          ? h(
              "p",
              { class: "muted" },
              `${rows.length} decisions shown; no older ones in this range.`,
            )
          : null,
    );
  }

  return {
    title: "Decisions",
    el,
    async load({ range, signal, param }: LoadContext) {
      opened = param && UUID.test(param) ? param : undefined;
      const page = await getJson<DecisionsAnswer>(
        "/v1/analytics/decisions",
        { range, ...filters(), limit: 50 },
        signal,
      );
      rows = page.decisions;
      next = page.next;
      renderList();
      renderMore(range);
      if (opened) await showDetail(opened, signal);
      else fill(detail);
    },
  };
}
