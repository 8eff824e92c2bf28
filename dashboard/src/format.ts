// Number and time formatting for the views (the browser's locale; UTC nowhere, times are local).

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dec1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const dec2 = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

export const DASH = "—";

export function count(v: number | null | undefined): string {
  return v === null || v === undefined ? DASH : int.format(v);
}

/** A 0–1 rate as a percentage. */
export function pct(v: number | null | undefined): string {
  if (v === null || v === undefined) return DASH;
  return `${v >= 0.999 || v === 0 ? dec1.format(v * 100) : dec2.format(v * 100)} %`;
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return DASH;
  if (v >= 10_000) return `${dec1.format(v / 1000)} s`;
  return `${v >= 100 ? int.format(v) : dec1.format(v)} ms`;
}

/** US dollars, with enough digits for per-request costs. */
export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined) return DASH;
  if (v === 0) return "$0";
  const digits = v >= 100 ? 0 : v >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(Math.abs(v))));
  return `$${v.toFixed(digits)}`;
}

export function time(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function dateTime(epochMs: number): string {
  return new Date(epochMs).toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** The time of day for today's times, else the date and time (a compact table column). */
export function shortTime(epochMs: number, now = Date.now()): string {
  const d = new Date(epochMs);
  if (d.toDateString() === new Date(now).toDateString()) return time(epochMs);
  return d.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** "12 s ago", "3 min ago". */
export function ago(epochMs: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - epochMs) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  return `${dec1.format(s / 3600)} h ago`;
}

/** `closed` → `CLOSED`, `half_open` → `HALF_OPEN`: breaker states as operators write them. */
export function breaker(state: string): string {
  return state.toUpperCase();
}
