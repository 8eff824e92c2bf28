// A time-series chart: uPlot on a canvas, a one-line summary, and the same numbers as a data
// table (for screen readers, copying, and anyone who wants the values rather than the line).

import uPlot from "uplot";
import { h } from "./dom.ts";
import { DASH, dateTime } from "./format.ts";

export interface SeriesSpec {
  label: string;
  color: string;
  values: readonly (number | null)[];
  dash?: number[];
}

export interface ChartData {
  /** Bucket starts, epoch ms. */
  t: readonly number[];
  series: readonly SeriesSpec[];
}

export interface ChartOptions {
  /** Stable id, `data-chart` on the figure. */
  id: string;
  title: string;
  /** Formats a value (axis, legend, table). */
  format: (v: number) => string;
  /** How the summary line reduces each series: a sum (counts, money) or a mean (rates). */
  reduce: "sum" | "mean";
  /** Counts: ticks on whole numbers only. */
  integer?: boolean;
  /** Lower and upper bound of the y axis when known (e.g. 0–1 for rates). */
  yRange?: [number, number];
  height?: number;
}

function reduce(values: readonly (number | null)[], how: "sum" | "mean"): number | null {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v === null || Number.isNaN(v)) continue;
    sum += v;
    n += 1;
  }
  if (n === 0) return null;
  return how === "sum" ? sum : sum / n;
}

/** Tick steps of a count axis: 1, 2, 5, 10, 20, 50, … */
const INTEGER_STEPS = Array.from({ length: 8 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat();

/** Indexes of values with no value beside them: a line cannot show them, a dot does (uPlot
 * draws these points even with `show: false`, and no others). */
function isolated(u: uPlot, seriesIdx: number): number[] | null {
  const values = u.data[seriesIdx] ?? [];
  const at = (i: number) => values[i] ?? null;
  const found: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (at(i) !== null && at(i - 1) === null && at(i + 1) === null) found.push(i);
  }
  return found.length > 0 ? found : null;
}

export class TimeChart {
  readonly el: HTMLElement;
  #plot: uPlot | undefined;
  #plotEl: HTMLElement;
  #summary: HTMLElement;
  #details: HTMLDetailsElement;
  #data: ChartData = { t: [], series: [] };
  #resize: ResizeObserver;

  readonly options: ChartOptions;

  constructor(options: ChartOptions) {
    this.options = options;
    const titleId = `chart-${options.id}-title`;
    this.#summary = h("p", { class: "chart-summary" });
    this.#plotEl = h("div", { class: "plot", role: "img", "aria-labelledby": titleId });
    this.#details = h("details", { class: "chart-data" }, h("summary", {}, "Data table"));
    this.#details.addEventListener("toggle", () => this.#renderTable());
    this.el = h(
      "figure",
      { class: "chart", "data-chart": options.id },
      h("figcaption", {}, h("h3", { id: titleId }, options.title), this.#summary),
      this.#plotEl,
      this.#details,
    );
    this.#resize = new ResizeObserver(() => {
      const width = this.#width();
      if (this.#plot && width !== this.#plot.width) {
        this.#plot.setSize({ width, height: this.options.height ?? 220 });
      }
    });
    this.#resize.observe(this.#plotEl);
  }

  #width(): number {
    return Math.max(280, Math.floor(this.#plotEl.clientWidth || 600));
  }

  update(data: ChartData): void {
    this.#data = data;
    const { format } = this.options;
    const aligned: uPlot.AlignedData = [
      [...data.t],
      ...data.series.map((s) => s.values.map((v) => (v === null ? null : v))),
    ];
    const shape = data.series.map((s) => s.label).join("|");
    if (
      this.#plot &&
      this.#plot.series
        .slice(1)
        .map((s) => s.label)
        .join("|") === shape
    ) {
      this.#plot.setData(aligned);
    } else {
      this.#plot?.destroy();
      this.#plot = new uPlot(
        {
          width: this.#width(),
          height: this.options.height ?? 220,
          ms: 1,
          scales: {
            x: { time: true },
            y: this.options.yRange
              ? { range: this.options.yRange }
              : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
          },
          series: [
            { label: "Time", value: (_u, v) => (v === null ? DASH : dateTime(v)) },
            ...data.series.map((s) => ({
              label: s.label,
              stroke: s.color,
              width: 2,
              ...(s.dash ? { dash: s.dash } : {}),
              points: { show: false, size: 7, fill: s.color, filter: isolated },
              value: (_u: uPlot, v: number | null) => (v === null ? DASH : format(v)),
            })),
          ],
          axes: [
            { stroke: "#475569", grid: { stroke: "#e2e8f0" } },
            {
              stroke: "#475569",
              grid: { stroke: "#e2e8f0" },
              // Wide enough for the longest label ("$0.000500", "1,250 ms").
              size: (_u, values) => 18 + 7.5 * Math.max(3, ...(values ?? []).map((v) => v.length)),
              values: (_u, splits) => splits.map((v) => format(v)),
              ...(this.options.integer ? { incrs: INTEGER_STEPS } : {}),
            },
          ],
          legend: { live: true },
        },
        aligned,
        this.#plotEl,
      );
    }
    const parts = data.series.map((s) => {
      const v = reduce(s.values, this.options.reduce);
      return `${s.label} ${v === null ? DASH : format(v)}`;
    });
    const how = this.options.reduce === "sum" ? "total" : "mean";
    this.#summary.textContent = `${how}: ${parts.join(" · ")}`;
    this.#plotEl.setAttribute(
      "aria-label",
      `${this.options.title}, ${data.t.length} points; ${how}: ${parts.join(", ")}`,
    );
    this.#renderTable();
  }

  #renderTable(): void {
    const old = this.#details.querySelector("table");
    if (!this.#details.open) {
      old?.remove();
      return;
    }
    const { t, series } = this.#data;
    const { format } = this.options;
    const rows = t.map((at, i) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, dateTime(at)),
        ...series.map((s) => {
          const v = s.values[i];
          return h("td", { class: "num" }, v === null || v === undefined ? DASH : format(v));
        }),
      ),
    );
    const table = h(
      "table",
      {},
      h("caption", {}, this.options.title),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Time"),
          ...series.map((s) => h("th", { scope: "col" }, s.label)),
        ),
      ),
      h("tbody", {}, ...rows),
    );
    if (old) old.replaceWith(table);
    else this.#details.append(table);
  }

  destroy(): void {
    this.#resize.disconnect();
    this.#plot?.destroy();
  }
}

/** Tier and percentile colours, shared by the views (chosen to differ for colour-blind eyes). */
export const COLORS = {
  total: "#334155",
  device: "#15803d",
  mec: "#1d4ed8",
  cloud: "#c2410c",
  p50: "#1d4ed8",
  p95: "#7e22ce",
  p99: "#b91c1c",
  micro: "#0f766e",
  lite: "#1d4ed8",
  pro: "#7e22ce",
  review: "#a16207",
} as const;
