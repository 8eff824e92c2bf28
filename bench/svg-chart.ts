// Horizontal grouped bar charts as standalone SVG: no browser, no dependency. Panels are stacked
// vertically; each has its own scale; each row shows one bar per series with its value.

export interface ChartSeries {
  name: string;
  color: string;
}

export interface ChartRow {
  label: string;
  /** One value per series, in the series' order; null leaves a gap. */
  values: (number | null)[];
}

export interface ChartPanel {
  title: string;
  unit: string;
  rows: ChartRow[];
  /** Digits shown after the point on the bars. */
  digits?: number;
  /** Forces the scale's maximum (e.g. 100 for percentages). */
  max?: number;
}

export interface ChartSpec {
  title: string;
  subtitle: string;
  series: ChartSeries[];
  panels: ChartPanel[];
}

const WIDTH = 860;
const LABEL_W = 250;
const VALUE_W = 70;
const BAR_H = 11;
const BAR_GAP = 2;
const ROW_GAP = 8;
const FONT = "font-family='system-ui, -apple-system, Segoe UI, sans-serif'";

export const PALETTE = [
  "#2563eb",
  "#f59e0b",
  "#10b981",
  "#ef4444",
  "#8b5cf6",
  "#64748b",
  "#ec4899",
  "#0891b2",
];

const xmlEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A round axis maximum at or above `x`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export function renderBarChart(spec: ChartSpec): string {
  const plotW = WIDTH - LABEL_W - VALUE_W - 20;
  const out: string[] = [];
  let y = 24;
  out.push(
    `<text x="16" y="${y}" font-size="16" font-weight="600">${xmlEscape(spec.title)}</text>`,
  );
  y += 18;
  out.push(
    `<text x="16" y="${y}" font-size="11" fill="#475569">${xmlEscape(spec.subtitle)}</text>`,
  );
  y += 16;
  let lx = 16;
  for (const s of spec.series) {
    out.push(`<rect x="${lx}" y="${y}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 14}" y="${y + 9}" font-size="11">${xmlEscape(s.name)}</text>`);
    lx = Math.round(lx + 24 + s.name.length * 6.2);
  }
  y += 24;
  const perRow = spec.series.length * (BAR_H + BAR_GAP) - BAR_GAP + ROW_GAP;
  for (const panel of spec.panels) {
    const values = panel.rows.flatMap((r) =>
      r.values.filter((v): v is number => v !== null && Number.isFinite(v)),
    );
    const max = panel.max ?? niceMax(Math.max(0, ...values));
    out.push(
      `<text x="16" y="${y + 12}" font-size="13" font-weight="600">${xmlEscape(panel.title)}</text>`,
    );
    y += 22;
    const top = y;
    const height = panel.rows.length * perRow;
    for (let t = 0; t <= 4; t++) {
      const x = LABEL_W + (plotW * t) / 4;
      const v = (max * t) / 4;
      out.push(
        `<line x1="${x}" y1="${top - 2}" x2="${x}" y2="${top + height}" stroke="#e2e8f0"/>`,
        `<text x="${x}" y="${top + height + 12}" font-size="10" fill="#64748b" text-anchor="middle">${fmt(v, max)}${t === 4 ? ` ${xmlEscape(panel.unit)}` : ""}</text>`,
      );
    }
    for (const row of panel.rows) {
      const mid = y + (perRow - ROW_GAP) / 2;
      out.push(
        `<text x="${LABEL_W - 8}" y="${mid + 4}" font-size="11" text-anchor="end">${xmlEscape(row.label)}</text>`,
      );
      row.values.forEach((v, i) => {
        const by = y + i * (BAR_H + BAR_GAP);
        if (v === null) return;
        if (!Number.isFinite(v)) {
          out.push(
            `<text x="${LABEL_W + 4}" y="${by + BAR_H - 2}" font-size="10" fill="#94a3b8">no figure</text>`,
          );
          return;
        }
        const w = Math.max(1, (plotW * Math.min(v, max)) / max);
        const color = spec.series[i]?.color ?? "#333";
        out.push(
          `<rect x="${LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`,
          `<text x="${LABEL_W + w + 4}" y="${by + BAR_H - 2}" font-size="10" fill="#334155">${v.toFixed(panel.digits ?? 2)}</text>`,
        );
      });
      y += perRow;
    }
    y += 28;
  }
  const h = Math.ceil(y);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}" ${FONT}>`,
    `<rect width="${WIDTH}" height="${h}" fill="#ffffff"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

function fmt(v: number, max: number): string {
  return max >= 10 ? String(Math.round(v)) : v.toFixed(max >= 1 ? 1 : 2);
}
