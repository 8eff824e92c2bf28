// The load test's engine (bench/loadtest.ts runs it for a minute; a short smoke of it runs in
// `npm test`): against a running local stack, find the fleet's capacity, then send `factor` times
// that for `seconds`, open loop, and count what every request got back.
//
// Capacity: what the fleet's GPUs can serve, C = Σ slots (maxConcurrent) ÷ the time one request
// takes, measured unloaded (one client per site, `calibrationSeconds`, the mean latency of the
// answered ones). Then requests leave at factor·C per second on a fixed schedule (so a slow
// answer never delays the next request), as a mix of critical / standard / sheddable, strict
// privacy (MEC only: the cloud tier cannot absorb the overload), spread over the sites' cities in
// proportion to their slots. Every request ends in exactly one of: an answer (its status), or
// lost (no answer within SLA + 20 s, or the connection failed). A health check runs every second.

import { mulberry32 } from "../scripts/demo-site-wire.mjs";

export const CLASSES = ["critical", "standard", "sheddable"] as const;
export type Criticality = (typeof CLASSES)[number];

export interface LoadSite {
  location: { lat: number; lon: number };
  slots: number;
}

export interface LoadOptions {
  url: string;
  sites: LoadSite[];
  seconds: number;
  calibrationSeconds: number;
  factor: number;
  /** Latency SLA of every request (complete answer), ms. */
  slaMs: number;
  /** Share of each class; the rest of 1 is `standard`. */
  mix: Record<Criticality, number>;
  seed: number;
  model: string;
  maxTokens: number;
}

export interface ClassResult {
  sent: number;
  ok: number;
  okWithinSla: number;
  /** 503 with Retry-After. */
  shed: number;
  /** Every refusal and failure, by status and code (`503 overloaded`, `504 upstream_timeout`). */
  refused: Record<string, number>;
  /**
   * Why, by what each refusal says: the decision's rejections (`decide: capacity×5`) or the
   * plan's attempts in order (`denied:capacity → timeout`), with how many requests said so.
   */
  reasons: Record<string, number>;
  /** No answer: connection failed or nothing within SLA + 20 s. */
  lost: number;
  /** Of the answered requests: any status without the typed error body. */
  untyped: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LoadResult {
  capacity: { slots: number; serviceMs: number; perSecond: number };
  rate: number;
  seconds: number;
  slaMs: number;
  classes: Record<Criticality, ClassResult>;
  health: { checks: number; failed: number; p99Ms: number | null };
  /** The most sites seen at once with their breaker open or half-open (sampled every 5 s). */
  breakersNotClosedMax: number;
}

const KEY = "Bearer dev-device-key";

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

interface Outcome {
  criticality: Criticality;
  status: number | "lost";
  /** The error body's code, when there is one. */
  code?: string;
  /** Why it was refused, from the error's details (see `ClassResult.reasons`). */
  reason?: string;
  ms: number;
  typed: boolean;
  retryAfter: boolean;
}

async function send(
  opts: LoadOptions,
  criticality: Criticality,
  site: LoadSite,
  id: number,
): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${opts.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: opts.model,
        messages: [{ role: "user", content: `Load test request ${id}: summarise MEC in a line.` }],
        max_tokens: opts.maxTokens,
        mec: {
          criticality,
          location: site.location,
          constraints: { privacy: "strict", latencySlaMs: opts.slaMs },
        },
      }),
      signal: AbortSignal.timeout(opts.slaMs + 20_000),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let code: string | undefined;
    let reason: string | undefined;
    if (!res.ok) {
      try {
        const body = JSON.parse(text) as { error?: { code?: unknown; details?: unknown } };
        if (typeof body.error?.code === "string") code = body.error.code;
        reason = refusalReason(body.error?.details);
      } catch {}
    }
    const typed = res.ok || code !== undefined;
    const retryAfter = res.headers.has("retry-after");
    return {
      criticality,
      status: res.status,
      ms,
      typed,
      retryAfter,
      ...(code ? { code } : {}),
      ...(reason ? { reason } : {}),
    };
  } catch {
    return {
      criticality,
      status: "lost",
      ms: performance.now() - t0,
      typed: false,
      retryAfter: false,
    };
  }
}

/** A refusal's details in a few words: the decision's rejections, or the plan's attempts. */
export function refusalReason(details: unknown): string | undefined {
  if (typeof details !== "object" || details === null) return undefined;
  const d = details as {
    rejected?: { reason?: string; detail?: string }[];
    attempts?: { errorClass?: string; detail?: string; status?: number }[];
  };
  if (Array.isArray(d.attempts)) {
    return d.attempts
      .map(
        (a) =>
          `${a.errorClass ?? "?"}${a.detail ? `:${a.detail}` : a.status ? `:${a.status}` : ""}`,
      )
      .join(" → ");
  }
  if (Array.isArray(d.rejected)) {
    const counts = new Map<string, number>();
    for (const r of d.rejected) {
      // "full (14/16; 2 kept for critical work)" → "full (kept for critical work)"
      const what = `${r.reason ?? "?"}${r.detail ? ` ${r.detail.replace(/\s*\([^)]*\)/, "")}` : ""}`;
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    return `decide: ${[...counts].map(([w, n]) => `${w}×${n}`).join(", ")}`;
  }
  return undefined;
}

function pickSite(sites: LoadSite[], r: number): LoadSite {
  const total = sites.reduce((n, s) => n + s.slots, 0);
  let x = r * total;
  for (const s of sites) {
    x -= s.slots;
    if (x < 0) return s;
  }
  return sites.at(-1) as LoadSite;
}

/** The unloaded service time (one client per site), and the capacity it gives the fleet. */
async function calibrate(opts: LoadOptions): Promise<LoadResult["capacity"]> {
  const slots = opts.sites.reduce((n, s) => n + s.slots, 0);
  const end = performance.now() + opts.calibrationSeconds * 1000;
  const times: number[] = [];
  let id = 0;
  await Promise.all(
    opts.sites.map(async (site) => {
      while (performance.now() < end) {
        const o = await send(opts, "standard", site, id++);
        if (o.status === 200) times.push(o.ms);
      }
    }),
  );
  if (times.length === 0) throw new Error("no request was answered while measuring capacity");
  const serviceMs = times.reduce((a, b) => a + b, 0) / times.length;
  return {
    slots,
    serviceMs: Math.round(serviceMs),
    perSecond: Math.round((slots / (serviceMs / 1000)) * 10) / 10,
  };
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const capacity = await calibrate(opts);
  const rate = Math.max(1, capacity.perSecond * opts.factor);
  const rand = mulberry32(opts.seed);
  const total = Math.round(rate * opts.seconds);
  const outcomes: Promise<Outcome>[] = [];
  const health: { ok: boolean; ms: number }[] = [];
  const t0 = performance.now();
  let stopHealth = false;
  let breakersNotClosedMax = 0;
  const breakers = async () => {
    const res = await fetch(`${opts.url}/v1/sites`, {
      headers: { authorization: "Bearer dev-operator-key" },
      signal: AbortSignal.timeout(10_000),
    });
    const { sites } = (await res.json()) as { sites: { breaker: string }[] };
    const notClosed = sites.filter((s) => s.breaker !== "closed").length;
    breakersNotClosedMax = Math.max(breakersNotClosedMax, notClosed);
  };
  const healthLoop = (async () => {
    for (let tick = 0; !stopHealth; tick++) {
      if (tick % 5 === 4) await breakers().catch(() => {});
      const h0 = performance.now();
      try {
        const res = await fetch(`${opts.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        health.push({ ok: res.ok, ms: performance.now() - h0 });
      } catch {
        health.push({ ok: false, ms: performance.now() - h0 });
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const r = rand();
    const criticality: Criticality =
      r < opts.mix.critical
        ? "critical"
        : r < opts.mix.critical + opts.mix.sheddable
          ? "sheddable"
          : "standard";
    outcomes.push(send(opts, criticality, pickSite(opts.sites, rand()), i));
  }
  const all = await Promise.all(outcomes);
  stopHealth = true;
  await healthLoop;

  const classes = {} as Record<Criticality, ClassResult>;
  for (const c of CLASSES) {
    const mine = all.filter((o) => o.criticality === c);
    const okMs = mine
      .filter((o) => o.status === 200)
      .map((o) => o.ms)
      .sort((a, b) => a - b);
    const refused: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    for (const o of mine) {
      if (o.status === "lost" || o.status === 200) continue;
      const key = `${o.status} ${o.code ?? "(untyped)"}`;
      refused[key] = (refused[key] ?? 0) + 1;
      const why = `${key}: ${o.reason ?? "?"}`;
      reasons[why] = (reasons[why] ?? 0) + 1;
    }
    const r0 = (x: number | null) => (x === null ? null : Math.round(x));
    classes[c] = {
      sent: mine.length,
      ok: okMs.length,
      okWithinSla: okMs.filter((ms) => ms <= opts.slaMs).length,
      shed: mine.filter((o) => o.status === 503 && o.retryAfter).length,
      refused,
      reasons,
      lost: mine.filter((o) => o.status === "lost").length,
      untyped: mine.filter((o) => o.status !== "lost" && !o.typed).length,
      p50Ms: r0(quantile(okMs, 0.5)),
      p95Ms: r0(quantile(okMs, 0.95)),
      p99Ms: r0(quantile(okMs, 0.99)),
      maxMs: r0(okMs.at(-1) ?? null),
    };
  }
  const hMs = health.map((h) => h.ms).sort((a, b) => a - b);
  return {
    capacity,
    rate: Math.round(rate * 10) / 10,
    seconds: opts.seconds,
    slaMs: opts.slaMs,
    classes,
    health: {
      checks: health.length,
      failed: health.filter((h) => !h.ok).length,
      p99Ms: hMs.length ? Math.round(quantile(hMs, 0.99) as number) : null,
    },
    breakersNotClosedMax,
  };
}

/** The printed table: one row per class. */
export function loadTable(r: LoadResult): string[] {
  const rows = [
    "| class | sent | 200 | within SLA | 503 shed | refusals by code | lost | p50 ms | p95 ms | p99 ms |",
    "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
  ];
  const pct = (n: number, d: number) => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)} %`);
  for (const c of CLASSES) {
    const x = r.classes[c];
    const other = Object.entries(x.refused)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
    rows.push(
      `| ${c} | ${x.sent} | ${x.ok} | ${x.okWithinSla} (${pct(x.okWithinSla, x.sent)}) | ${x.shed} | ${other || "–"} | ${x.lost} | ${x.p50Ms ?? "–"} | ${x.p95Ms ?? "–"} | ${x.p99Ms ?? "–"} |`,
    );
  }
  return rows;
}

/** What the run says about the overload behaviour the router promises. */
export function loadVerdict(r: LoadResult) {
  const { critical, sheddable } = r.classes;
  const all = CLASSES.map((c) => r.classes[c]);
  return {
    /** Every critical request answered within its SLA (99 % allowed for tail noise). */
    criticalKeptSla: critical.sent > 0 && critical.okWithinSla >= 0.99 * critical.sent,
    /** Sheddable requests were shed with 503 + Retry-After. */
    sheddableShed: sheddable.shed > 0,
    noneLost: all.every((x) => x.lost === 0),
    allTyped: all.every((x) => x.untyped === 0),
    workerUp: r.health.checks > 0 && r.health.failed === 0,
  };
}
