// Fleet: every MEC site's health, breaker, load and resident models, on a map and in a table,
// the cloud and Nova breakers, and one site agent's own state on demand
// (GET /v1/analytics/fleet and /fleet/:siteId). Live, whatever the range.

import type { FleetAnswer, FleetSite, SiteStatusAnswer } from "../../../shared/analytics-api.ts";
import { getJson } from "../api.ts";
import { facts, fill, h, table, tile } from "../dom.ts";
import { ago, breaker, count, dateTime, ms, pct } from "../format.ts";
import { fleetMap, siteState } from "../map.ts";
import type { LoadContext, Shell, View } from "../view.ts";

function breakerBadge(state: string): HTMLElement {
  return h("span", { class: `badge breaker-${state}`, "data-breaker": state }, breaker(state));
}

function siteRow(site: FleetSite, open: (id: string) => void): HTMLTableRowElement {
  const l = site.load;
  return h(
    "tr",
    { "data-site": site.id, "data-state": siteState(site) },
    h(
      "th",
      { scope: "row" },
      h("button", { type: "button", class: "link", onclick: () => open(site.id) }, site.id),
      h(
        "div",
        { class: "muted" },
        `${site.name}, ${site.country}${site.trusted ? ", trusted" : ""}`,
      ),
    ),
    h(
      "td",
      {},
      site.healthy ? "healthy" : h("strong", { class: "bad" }, "unhealthy"),
      site.draining ? " · draining" : "",
    ),
    h("td", {}, breakerBadge(site.breaker)),
    h("td", { class: "num" }, pct(site.trafficShare)),
    h(
      "td",
      { class: "num" },
      h("meter", {
        min: 0,
        max: 1,
        low: 0.7,
        high: 0.9,
        optimum: 0,
        value: Math.min(1, l.utilization),
        "aria-label": `load of ${site.id}`,
      }),
      ` ${pct(l.utilization)}`,
      h("div", { class: "muted" }, `${count(l.running)} running · ${count(l.waiting)} waiting`),
    ),
    h("td", { class: "num" }, pct(l.kvCacheUsage)),
    h(
      "td",
      { class: "num" },
      pct(l.gpuUtilization),
      h(
        "div",
        { class: "muted" },
        `${l.freeGpuMemoryGb.toFixed(0)} of ${site.capacity.gpuMemoryGb} GB free`,
      ),
    ),
    h(
      "td",
      {},
      site.residentModels.length > 0
        ? site.residentModels.join(", ")
        : h("span", { class: "muted" }, "none"),
    ),
    h("td", { class: "num" }, pct(site.errorRate)),
    h("td", {}, l.updatedAt > 0 ? ago(l.updatedAt) : "never"),
  );
}

function siteDetail(status: SiteStatusAnswer): HTMLElement {
  const { site, agent, recent } = status;
  const b = agent.breaker;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "site-detail-title", "data-site-detail": site.id },
    h("h3", { id: "site-detail-title" }, `${site.name} (${site.id})`),
    facts([
      ["Breaker", breakerBadge(site.breaker)],
      [
        "Breaker detail",
        `${b.phase}, ${b.consecutiveFailures} failures in a row, ejected ${b.ejections}×${b.phase === "open" ? `, until ${dateTime(b.openUntil)}` : ""}`,
      ],
      ["Leases held", count(agent.leases)],
      [
        "Last probe",
        agent.lastProbeAt > 0
          ? `${ago(agent.lastProbeAt)}, ${agent.lastProbeOk ? "ok" : "failed"}`
          : "never",
      ],
      [
        "Capacity",
        `${site.capacity.maxConcurrent} concurrent + ${site.capacity.maxQueue} queued, ${site.capacity.gpus} GPUs, ${site.capacity.gpuMemoryGb} GB`,
      ],
      ["Models served", site.models.join(", ")],
      [
        "Last 15 min",
        `${count(recent.totals.decisions)} requests, ${count(recent.totals.outcomes)} outcomes, error rate ${pct(recent.totals.errorRate)}, p95 ${ms(recent.latency.p95)}`,
      ],
    ]),
    agent.cache.resident.length === 0
      ? h("p", { class: "muted" }, "No model resident.")
      : table(
          "Resident models (cache agent)",
          ["Model", "Size", "Loaded", "Last used", "Pinned"],
          agent.cache.resident.map((m) => [
            m.model,
            `${m.sizeGb} GB`,
            ago(m.loadedAt),
            ago(m.lastUsedAt),
            m.pinned ? "yes" : "no",
          ]),
        ),
  );
}

export function fleetView(shell: Shell): View {
  let selected: string | undefined;
  const tiles = h("div", { class: "tiles" });
  const map = h("div", { class: "map-wrap" });
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Map legend" },
    ...(
      [
        ["ok", "healthy, breaker closed"],
        ["half_open", "breaker half-open (probing)"],
        ["open", "breaker open"],
        ["unhealthy", "unhealthy (silent or failing probes)"],
        ["draining", "draining"],
      ] as const
    ).map(([state, text]) =>
      h("li", {}, h("span", { class: `swatch state-${state}`, "aria-hidden": "true" }), text),
    ),
    h("li", {}, "ring: share of slots in use"),
  );
  const sites = h("div", { class: "table-wrap" });
  const services = h("div", { class: "table-wrap" });
  const detail = h("div", {});
  const select = (id: string) => {
    selected = id;
    shell.setParam(id);
    shell.refresh();
  };
  const el = h(
    "section",
    { class: "view", "aria-labelledby": "fleet-title" },
    h("h2", { id: "fleet-title" }, "Fleet"),
    tiles,
    h("div", { class: "map-row" }, map, legend),
    h("h3", {}, "MEC sites"),
    sites,
    detail,
    h("h3", {}, "Cloud and Nova breakers"),
    services,
  );

  return {
    title: "Fleet",
    el,
    async load({ signal, param }: LoadContext) {
      selected = param ?? selected;
      const [fleet, status] = await Promise.all([
        getJson<FleetAnswer>("/v1/analytics/fleet", {}, signal),
        selected
          ? getJson<SiteStatusAnswer>(
              `/v1/analytics/fleet/${encodeURIComponent(selected)}`,
              {},
              signal,
            )
          : Promise.resolve(undefined),
      ]);
      const c = fleet.counts;
      fill(
        tiles,
        tile("Sites", count(c.sites), `${count(c.healthy)} healthy, ${count(c.draining)} draining`),
        tile("Breakers closed", count(c.breakers.closed)),
        tile("Half-open", count(c.breakers.half_open)),
        tile(
          "Open",
          count(c.breakers.open),
          undefined,
          c.breakers.open > 0 ? { class: "tile alert" } : undefined,
        ),
      );
      fill(map, fleetMap(fleet.sites, select));
      fill(
        sites,
        fleet.sites.length === 0
          ? h("p", { class: "empty" }, "No MEC site is registered.")
          : table(
              `MEC sites (as of ${dateTime(fleet.generatedAt)})`,
              [
                "Site",
                "Health",
                "Breaker",
                "Traffic share",
                "Load",
                "KV cache",
                "GPU",
                "Resident models",
                "Error rate",
                "Last report",
              ],
              fleet.sites.map((site) => siteRow(site, select)),
              { "data-table": "sites" },
            ),
      );
      fill(
        services,
        fleet.services.length === 0
          ? h("p", { class: "empty" }, "No cloud service breaker has reported yet.")
          : table(
              "Cloud service breakers",
              ["Service", "Breaker", "Error rate", "Updated"],
              fleet.services.map((x) => [
                x.service,
                breakerBadge(x.breaker),
                pct(x.errorRate),
                ago(x.updatedAt),
              ]),
            ),
      );
      fill(detail, status ? siteDetail(status) : null);
    },
  };
}
