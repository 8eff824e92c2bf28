// Benchmark of the pure decision engine: decisions/s and p50/p99 latency of `decide()` over
// synthetic fleets of 10 … 10,000 sites, on one core. A benchmark, not a test: it reports, it
// does not fail on a missed target.
//
//   npm run bench:decide [-- --runs 5 --sizes 10,100,1000,10000,100000 --cpu 1 --no-pin]
//
// Each size gets its own fleet (prepared once, as per snapshot in production) and its own
// requests (validated and normalized up front), so the timed code is `decide()` alone. While a
// fleet is built, the heap (and array buffers) before and after, with a gc in between, give the
// memory per site of the snapshot's site views and of its spatial index; the JSON size per site
// is what the snapshot weighs on the wire. Sizes are
// interleaved within each run so that background noise spreads over all of them; the reported
// figure is the median over runs of each run's statistic.
//
// A second latency pass per size times the cached-Nova path: `decide()` followed by what a
// decision-cache hit adds on the request path in `maybeReason` (worker/reasoning/reason.ts),
// with the real pure functions of worker/reasoning/policy.ts and request.ts: the gate, the
// feasible candidates, the cache key, the Map lookup and `applyChoice`. The cache is filled up
// front so that every ok decision with two or more feasible targets hits, and the cached choice
// is the rules' first backup (the re-ordering branch of `applyChoice`). The two passes alternate
// in order from run to run.

import { parseArgs } from "node:util";
import { type DecideResult, decide } from "../shared/decide.ts";
import { type PreparedFleet, prepareFleet } from "../shared/fleet.ts";
import { nearest } from "../shared/geo.ts";
import { DEFAULT_POLICY } from "../shared/policy.ts";
import type { Decision, RouteRequest, Tier } from "../shared/types.ts";
import {
  applyChoice,
  CACHE_MAX_ENTRIES,
  CACHE_TTL_MS,
  type CachedChoice,
  cacheGet,
  cacheKey,
  DEFAULT_TIMEOUT_MS,
  gate,
  latencyBudget,
} from "../worker/reasoning/policy.ts";
import { candidatesOf } from "../worker/reasoning/request.ts";
import { pinToOneCore } from "./pin.ts";
import { progressBar } from "./progress.ts";
import { headerLines, median, round, runContext, writeChart, writeResults } from "./report.ts";
import { PALETTE, renderBarChart } from "./svg-chart.ts";
import { syntheticFleet } from "./synthetic-fleet.ts";
import { syntheticRequests } from "./synthetic-requests.ts";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    sizes: { type: "string", default: "10,100,1000,10000,100000" },
    cpu: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
});
const pinning = pinToOneCore(
  !opts["no-pin"],
  opts.cpu === undefined ? undefined : Number(opts.cpu),
);

const RUNS = Math.max(3, Number(opts.runs));
const SIZES = opts.sizes.split(",").map(Number);
if (!Number.isInteger(RUNS) || !SIZES.every((n) => Number.isInteger(n) && n > 0)) {
  console.error(`bad --runs ${opts.runs} or --sizes ${opts.sizes}: expected integers`);
  process.exit(2);
}
/** p99 targets from the issue, in µs. */
const TARGET_P99_US: Record<number, number> = { 100: 50, 10000: 500 };
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const FLEET_SEED = 0x5eed_f1ee;
const REQUEST_SEED = 0x5eed_0e0e;
/** Distinct requests per size; a latency pass walks them up to twice. */
const POOL = 10_000;
/** Timed decisions per run: as many as fit in LATENCY_MS, within these bounds. */
const MIN_SAMPLES = 5_000;
const MAX_SAMPLES = 2 * POOL;
const NEAREST_SAMPLES = 3_000;
const WARMUP_MS = 400;
const LATENCY_MS = 1_000;
const THROUGHPUT_MS = 400;
const policy = DEFAULT_POLICY;

interface Memory {
  /** Bytes per site of the snapshot's site views (heap + array buffers, after gc). */
  viewsBytesPerSite: number;
  /** Bytes per site of the spatial index built once per snapshot. */
  indexBytesPerSite: number;
  /** JSON bytes per site: what the snapshot weighs on the wire. */
  jsonBytesPerSite: number;
  indexBuildMs: number;
  /**
   * Preparing the next snapshot when no site moved (every site's state changed): the index's
   * tree is kept (shared/fleet.ts), so this is what an isolate's refresh costs; median of 5.
   */
  refreshMs: number;
  /** False when run without --expose-gc (then the heap figures are not meaningful). */
  gcExposed: boolean;
}

interface Workload {
  sites: number;
  memory: Memory;
  fleet: PreparedFleet;
  requests: RouteRequest[];
  /** Requests with a location, for timing `nearest()` alone. */
  located: RouteRequest[];
  latencySamples: number;
  throughputIterations: number;
  /** The decision cache, filled so that every request that can take the hit path hits. */
  cache: Map<string, CachedChoice>;
  /** Requests whose decision takes the cache-hit path (ok, two or more feasible targets). */
  hitPathRequests: number;
}

interface RunStats {
  run: number;
  latencySamples: number;
  /** Times the OS took the core away during the timed decisions: other load on the machine. */
  preemptions: number;
  decisionsPerSec: number;
  throughputDecisions: number;
  throughputMs: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  nearestP50Us: number;
  nearestP99Us: number;
  /** decide() + the cache-hit path of maybeReason, individually timed (same requests, same count). */
  cachedMeanUs: number;
  cachedP50Us: number;
  cachedP90Us: number;
  cachedP99Us: number;
  cachedPreemptions: number;
  /** Which latency pass ran first in this run. */
  firstPass: "rules" | "cached";
}

/** Keeps every result observable so that no call can be optimised away. */
let sink = 0;
const consume = (r: DecideResult): void => {
  sink += r.ok ? r.decision.plan.backups.length + 1 : r.rejected.length;
};

const consumeDecision = (d: Decision): void => {
  sink += d.plan.backups.length + d.rationale.length;
};

/** A Nova Pro rationale of typical length (applyChoice clips it to 200 characters). */
const CACHED_RATIONALE =
  "The MEC site has the lowest predicted latency with headroom and keeps the data in region; " +
  "the cloud region is cheaper but close to the SLA.";

/**
 * What a decision-cache hit adds after `decide()` on the request path, as in `maybeReason`
 * (operator "auto", request "force", so the gate never short-circuits on confidence): the gate,
 * the feasible candidates, the key, the lookup and applying the cached choice. Not a copy of
 * `maybeReason`: the gate's verdict is computed but not obeyed (a hit is what is timed), and
 * the cache is a local Map. Returns the rules' decision when the hit path does not apply.
 */
function afterCacheHit(
  req: RouteRequest,
  r: DecideResult,
  cache: Map<string, CachedChoice>,
): Decision | undefined {
  if (!r.ok) return undefined;
  const decision = r.decision;
  const g = gate(
    "auto",
    "force",
    decision,
    req.constraints.latencySlaMs,
    latencyBudget("pro", undefined),
    DEFAULT_TIMEOUT_MS.pro,
  );
  sink += g.call ? 1 : 0;
  const candidates = candidatesOf(decision);
  if (candidates.length < 2) return decision;
  const key = cacheKey(
    req,
    decision,
    candidates.map((c) => c.key),
  );
  const hit = cacheGet(cache, key, NOW);
  if (!hit) return decision;
  return applyChoice(decision, hit.primary, hit.rationale, true, req.constraints.latencySlaMs);
}

function percentile(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

const gc = (): void => globalThis.gc?.();

function timerOverheadNs(): number {
  const n = 100_000;
  const ns = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return percentile(ns.sort(), 0.5);
}

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Median ms of preparing the next snapshot of `fleet` when every site's state changed. */
function refreshMs(fleet: PreparedFleet): number {
  const { data } = fleet;
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const changed = data.sites.map((site) => ({ ...site, load: { ...site.load, running: r } }));
    const t0 = performance.now();
    const next = prepareFleet({ ...data, sites: changed }, fleet);
    times.push(performance.now() - t0);
    if (next.siteIndex.xyz !== fleet.siteIndex.xyz) {
      throw new Error("the refresh rebuilt the index");
    }
  }
  return median(times);
}

function prepare(sites: number): Workload {
  gc();
  const before = used();
  const data = syntheticFleet(sites, FLEET_SEED + sites, NOW);
  gc();
  const afterViews = used();
  const t0 = performance.now();
  const fleet = prepareFleet(data);
  const indexBuildMs = performance.now() - t0;
  gc();
  const afterIndex = used();
  const memory: Memory = {
    viewsBytesPerSite: Math.round((afterViews - before) / sites),
    indexBytesPerSite: Math.round((afterIndex - afterViews) / sites),
    jsonBytesPerSite: Math.round(JSON.stringify(data.sites).length / sites),
    indexBuildMs: round(indexBuildMs, 1),
    // After the heap was read: the refreshed snapshots are garbage, but a frame may hold one.
    refreshMs: round(refreshMs(fleet), 2),
    gcExposed: Boolean(globalThis.gc),
  };
  const requests = syntheticRequests(fleet.data, POOL, REQUEST_SEED + sites);
  // Nova's cached choice per key: the rules' first backup, as if Nova had re-ordered the plan.
  // Not capped at CACHE_MAX_ENTRIES, so that every lookup hits; the key count is reported.
  const cache = new Map<string, CachedChoice>();
  let hitPathRequests = 0;
  for (const req of requests) {
    const r = decide(req, fleet, policy, NOW);
    if (!r.ok) continue;
    const candidates = candidatesOf(r.decision);
    const backup = candidates[1];
    if (!backup) continue;
    hitPathRequests++;
    const key = cacheKey(
      req,
      r.decision,
      candidates.map((c) => c.key),
    );
    if (!cache.has(key)) {
      cache.set(key, {
        primary: backup.key,
        rationale: CACHED_RATIONALE,
        expiresAt: NOW + CACHE_TTL_MS,
      });
    }
  }
  return {
    sites,
    memory,
    fleet,
    requests,
    located: requests.filter((r) => r.location).slice(0, NEAREST_SAMPLES),
    latencySamples: MIN_SAMPLES,
    throughputIterations: 0,
    cache,
    hitPathRequests,
  };
}

/** Runs decisions for WARMUP_MS, then sizes the latency pass and the throughput loop. */
function warmUp(w: Workload): void {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < WARMUP_MS || n < 2_000) {
    const req = w.requests[n % POOL] as RouteRequest;
    const r = decide(req, w.fleet, policy, NOW);
    consume(r);
    const d = afterCacheHit(req, r, w.cache);
    if (d) consumeDecision(d);
    n++;
  }
  const perDecisionMs = (performance.now() - start) / n;
  for (const r of w.located) {
    if (r.location) sink += nearest(w.fleet.siteIndex, r.location, policy.maxSiteCandidates).length;
  }
  const decisionsIn = (ms: number) => Math.round(ms / perDecisionMs);
  w.latencySamples = Math.min(MAX_SAMPLES, Math.max(MIN_SAMPLES, decisionsIn(LATENCY_MS)));
  w.throughputIterations = Math.max(1_000, decisionsIn(THROUGHPUT_MS));
}

/** The rule path alone: `decide()`, individually timed. */
function rulePass(w: Workload): { ns: Float64Array; preemptions: number } {
  const { fleet, requests } = w;
  gc();
  const samples = w.latencySamples;
  const ns = new Float64Array(samples);
  const switchesBefore = process.resourceUsage().involuntaryContextSwitches;
  for (let i = 0; i < samples; i++) {
    const req = requests[i % POOL] as RouteRequest;
    const t0 = process.hrtime.bigint();
    const r = decide(req, fleet, policy, NOW);
    const t1 = process.hrtime.bigint();
    ns[i] = Number(t1 - t0);
    consume(r);
  }
  const preemptions = process.resourceUsage().involuntaryContextSwitches - switchesBefore;
  return { ns, preemptions };
}

/** The cached-Nova path: `decide()` + what a cache hit adds, individually timed. */
function cachedPass(w: Workload): { ns: Float64Array; preemptions: number } {
  const { fleet, requests, cache } = w;
  gc();
  const samples = w.latencySamples;
  const ns = new Float64Array(samples);
  const switchesBefore = process.resourceUsage().involuntaryContextSwitches;
  for (let i = 0; i < samples; i++) {
    const req = requests[i % POOL] as RouteRequest;
    const t0 = process.hrtime.bigint();
    const r = decide(req, fleet, policy, NOW);
    const d = afterCacheHit(req, r, cache);
    const t1 = process.hrtime.bigint();
    ns[i] = Number(t1 - t0);
    consume(r);
    if (d) consumeDecision(d);
  }
  const preemptions = process.resourceUsage().involuntaryContextSwitches - switchesBefore;
  return { ns, preemptions };
}

function measure(w: Workload, run: number): RunStats {
  const { fleet, requests } = w;
  const samples = w.latencySamples;
  const firstPass = run % 2 === 1 ? "rules" : "cached";
  let cached: { ns: Float64Array; preemptions: number };
  let rules: { ns: Float64Array; preemptions: number };
  if (firstPass === "rules") {
    rules = rulePass(w);
    cached = cachedPass(w);
  } else {
    cached = cachedPass(w);
    rules = rulePass(w);
  }
  const { ns, preemptions } = rules;
  let sum = 0;
  for (const x of ns) sum += x;
  ns.sort();
  const cns = cached.ns;
  let csum = 0;
  for (const x of cns) csum += x;
  cns.sort();

  // The spatial pre-filter alone, to show how much of a decision it takes.
  gc();
  const k = policy.maxSiteCandidates;
  const nn = new Float64Array(w.located.length);
  for (let i = 0; i < w.located.length; i++) {
    const at = w.located[i]?.location as NonNullable<RouteRequest["location"]>;
    const t0 = process.hrtime.bigint();
    const found = nearest(fleet.siteIndex, at, k);
    const t1 = process.hrtime.bigint();
    nn[i] = Number(t1 - t0);
    sink += found.length;
  }
  nn.sort();

  gc();
  const iterations = w.throughputIterations;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    consume(decide(requests[i % POOL] as RouteRequest, fleet, policy, NOW));
  }
  const elapsedNs = Number(process.hrtime.bigint() - t0);

  return {
    run,
    latencySamples: samples,
    preemptions,
    decisionsPerSec: Math.round(iterations / (elapsedNs / 1e9)),
    throughputDecisions: iterations,
    throughputMs: round(elapsedNs / 1e6, 1),
    meanUs: round(sum / samples / 1e3),
    p50Us: round(percentile(ns, 0.5) / 1e3),
    p90Us: round(percentile(ns, 0.9) / 1e3),
    p99Us: round(percentile(ns, 0.99) / 1e3),
    p999Us: round(percentile(ns, 0.999) / 1e3),
    maxUs: round(percentile(ns, 1) / 1e3),
    nearestP50Us: round(percentile(nn, 0.5) / 1e3),
    nearestP99Us: round(percentile(nn, 0.99) / 1e3),
    cachedMeanUs: round(csum / samples / 1e3),
    cachedP50Us: round(percentile(cns, 0.5) / 1e3),
    cachedP90Us: round(percentile(cns, 0.9) / 1e3),
    cachedP99Us: round(percentile(cns, 0.99) / 1e3),
    cachedPreemptions: cached.preemptions,
    firstPass,
  };
}

/** What the decisions were, so the reader sees the engine did real work (untimed). */
function outcomes(w: Workload) {
  const tiers: Record<Tier, number> = { device: 0, mec: 0, cloud: 0 };
  let ok = 0;
  let infeasible = 0;
  let overloaded = 0;
  let rejections = 0;
  for (const req of w.requests) {
    const r = decide(req, w.fleet, policy, NOW);
    if (r.ok) {
      ok++;
      tiers[r.decision.tier]++;
      rejections += r.decision.rejected.length;
    } else {
      if (r.code === "infeasible") infeasible++;
      else overloaded++; // 503s: sheddable work shed, or every fitting target unavailable now

      rejections += r.rejected.length;
    }
  }
  const pct = (n: number) => round((100 * n) / w.requests.length, 1);
  return {
    requests: w.requests.length,
    withLocationPct: pct(w.requests.filter((r) => r.location).length),
    okPct: pct(ok),
    infeasiblePct: pct(infeasible),
    overloadedPct: pct(overloaded),
    tierPctOfAll: { device: pct(tiers.device), mec: pct(tiers.mec), cloud: pct(tiers.cloud) },
    rejectionsPerDecision: round(rejections / w.requests.length, 1),
  };
}

function medians(runs: RunStats[]) {
  const m = (f: (r: RunStats) => number) => round(median(runs.map(f)));
  return {
    decisionsPerSec: Math.round(median(runs.map((r) => r.decisionsPerSec))),
    meanUs: m((r) => r.meanUs),
    p50Us: m((r) => r.p50Us),
    p90Us: m((r) => r.p90Us),
    p99Us: m((r) => r.p99Us),
    p999Us: m((r) => r.p999Us),
    maxUs: m((r) => r.maxUs),
    nearestP50Us: m((r) => r.nearestP50Us),
    nearestP99Us: m((r) => r.nearestP99Us),
    cachedMeanUs: m((r) => r.cachedMeanUs),
    cachedP50Us: m((r) => r.cachedP50Us),
    cachedP90Us: m((r) => r.cachedP90Us),
    cachedP99Us: m((r) => r.cachedP99Us),
  };
}

/** The commit measured, and whether `shared/` differs from it (best effort, outside git: null). */

const fmt = (x: number, digits = 1) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function main(): void {
  const started = performance.now();
  const ctx = runContext("decide", pinning);
  const timerNs = timerOverheadNs();

  const progress = progressBar(SIZES.length * (2 + RUNS));
  const workloads = SIZES.map((n) => {
    progress.tick(`building a fleet of ${fmt(n, 0)} sites and its requests`);
    return prepare(n);
  });
  for (const w of workloads) {
    progress.tick(`warm-up ${fmt(w.sites, 0)} sites`);
    warmUp(w);
  }
  const runs = new Map<number, RunStats[]>(SIZES.map((s) => [s, []]));
  for (let run = 1; run <= RUNS; run++) {
    for (const w of workloads) {
      progress.tick(`run ${run}/${RUNS}, ${fmt(w.sites, 0)} sites`);
      runs.get(w.sites)?.push(measure(w, run));
    }
  }
  progress.done();

  const results = workloads.map((w) => {
    const all = runs.get(w.sites) ?? [];
    const target = TARGET_P99_US[w.sites];
    const med = medians(all);
    return {
      sites: w.sites,
      regions: w.fleet.data.regions.length,
      median: med,
      p99RangeUs: [Math.min(...all.map((r) => r.p99Us)), Math.max(...all.map((r) => r.p99Us))],
      targetP99Us: target ?? null,
      targetMet: target === undefined ? null : med.p99Us <= target,
      outcome: outcomes(w),
      memory: w.memory,
      cachedNova: {
        /** Share of requests whose decision takes the cache-hit path (the rest: rules only). */
        hitPathPct: round((100 * w.hitPathRequests) / w.requests.length, 1),
        distinctCacheKeys: w.cache.size,
        cacheMaxEntries: CACHE_MAX_ENTRIES,
        rulesP50Us: med.p50Us,
        rulesP99Us: med.p99Us,
        cachedP50Us: med.cachedP50Us,
        cachedP99Us: med.cachedP99Us,
        /** Difference of the medians over runs. */
        overheadP50Us: round(med.cachedP50Us - med.p50Us),
        overheadP99Us: round(med.cachedP99Us - med.p99Us),
        cachedP99RangeUs: [
          Math.min(...all.map((r) => r.cachedP99Us)),
          Math.max(...all.map((r) => r.cachedP99Us)),
        ],
      },
      runs: all,
    };
  });

  const lines = [
    ...headerLines(ctx, "decide() benchmark"),
    `${RUNS} runs per size (sizes interleaved), median of runs; per run: ${fmt(MIN_SAMPLES, 0)}–` +
      `${fmt(MAX_SAMPLES, 0)} individually timed decisions (~${LATENCY_MS} ms) over ` +
      `${fmt(POOL, 0)} requests, then a ~${THROUGHPUT_MS} ms untimed-per-call loop for decisions/s; ` +
      `hrtime overhead ~${timerNs} ns per sample (included)`,
    "",
    "| sites | decisions/s | p50 µs | p99 µs | p99 min–max of runs | p99 target | met | ok | infeasible (422) | overloaded or unavailable (503) | nearest() p50 / p99 µs |",
    "|------:|------------:|-------:|-------:|--------------------:|-----------:|:---:|---:|-----------:|-----------:|-----------------------:|",
  ];
  for (const r of results) {
    const m = r.median;
    const o = r.outcome;
    const target = r.targetP99Us === null ? "—" : `≤ ${fmt(r.targetP99Us, 0)}`;
    const met = r.targetMet === null ? "—" : r.targetMet ? "yes" : "**NO**";
    lines.push(
      `| ${fmt(r.sites, 0)} | ${fmt(m.decisionsPerSec, 0)} | ${fmt(m.p50Us)} | ${fmt(m.p99Us)} | ` +
        `${fmt(r.p99RangeUs[0] ?? 0)}–${fmt(r.p99RangeUs[1] ?? 0)} | ${target} | ${met} | ` +
        `${o.okPct}% | ${o.infeasiblePct}% | ${o.overloadedPct}% | ` +
        `${fmt(m.nearestP50Us)} / ${fmt(m.nearestP99Us)} |`,
    );
  }
  lines.push(
    "",
    "| sites | routed to device / MEC / cloud (% of all) | rejected targets per decision | timed decisions per run | preemptions per run (min–max) |",
    "|------:|-------------------------------------------:|------------------------------:|------------------------:|------------------------------:|",
  );
  for (const r of results) {
    const t = r.outcome.tierPctOfAll;
    lines.push(
      `| ${fmt(r.sites, 0)} | ${t.device} / ${t.mec} / ${t.cloud} | ` +
        `${r.outcome.rejectionsPerDecision} | ${fmt(r.runs[0]?.latencySamples ?? 0, 0)} | ` +
        `${Math.min(...r.runs.map((x) => x.preemptions))}–${Math.max(...r.runs.map((x) => x.preemptions))} |`,
    );
  }
  lines.push(
    "",
    "Rule path unchanged vs. cached-Nova path: decide() alone, and decide() + a decision-cache hit " +
      "(gate, candidatesOf, cacheKey, Map lookup, applyChoice from worker/reasoning/); same " +
      "requests, same count, passes alternating in order; overhead = difference of medians",
    "",
    "| sites | rules p50 µs | rules p99 µs | + cache hit p50 µs | + cache hit p99 µs | overhead p50 µs | overhead p99 µs | on hit path | cache keys |",
    "|------:|-------------:|-------------:|-------------------:|-------------------:|----------------:|----------------:|------------:|-----------:|",
  );
  for (const r of results) {
    const c = r.cachedNova;
    const signed = (x: number) => `${x >= 0 ? "+" : "−"}${fmt(Math.abs(x), 2)}`;
    lines.push(
      `| ${fmt(r.sites, 0)} | ${fmt(c.rulesP50Us)} | ${fmt(c.rulesP99Us)} | ` +
        `${fmt(c.cachedP50Us)} | ${fmt(c.cachedP99Us)} | ${signed(c.overheadP50Us)} | ` +
        `${signed(c.overheadP99Us)} | ${c.hitPathPct}% | ${fmt(c.distinctCacheKeys, 0)} |`,
    );
  }
  // Growth from one size to the next (p50 is robust to preemptions; p99 is shown for the tail).
  const steps = results.slice(1).map((r, i) => {
    const prev = results[i] as (typeof results)[number];
    return {
      from: prev.sites,
      to: r.sites,
      p50Ratio: round(r.median.p50Us / prev.median.p50Us, 2),
      p99Ratio: round(r.median.p99Us / prev.median.p99Us, 2),
    };
  });
  const first = results[0];
  const last = results.at(-1);
  const growth = {
    steps,
    p50Ratio: first && last ? round(last.median.p50Us / first.median.p50Us, 2) : Number.NaN,
    p99Ratio: first && last ? round(last.median.p99Us / first.median.p99Us, 2) : Number.NaN,
    sitesRatio: first && last ? last.sites / first.sites : Number.NaN,
  };
  lines.push(
    "",
    `Growth: ${fmt(growth.sitesRatio, 0)}× the sites → ${fmt(growth.p50Ratio, 2)}× the p50 and ` +
      `${fmt(growth.p99Ratio, 2)}× the p99; per step: ` +
      steps
        .map(
          (x) =>
            `${fmt(x.from, 0)}→${fmt(x.to, 0)} p50 ×${fmt(x.p50Ratio, 2)}, p99 ×${fmt(x.p99Ratio, 2)}`,
        )
        .join("; "),
    "",
    `Fleet snapshot memory per site (heap + array buffers after gc${globalThis.gc ? "" : " — NOT exposed: run with --expose-gc"}):`,
    "",
    "| sites | site views B/site | spatial index B/site | total B/site | JSON B/site | index build ms | refresh, no site moved, ms |",
    "|------:|------------------:|---------------------:|-------------:|------------:|---------------:|---------------------------:|",
  );
  for (const r of results) {
    const m = r.memory;
    lines.push(
      `| ${fmt(r.sites, 0)} | ${fmt(m.viewsBytesPerSite, 0)} | ${fmt(m.indexBytesPerSite, 0)} | ` +
        `${fmt(m.viewsBytesPerSite + m.indexBytesPerSite, 0)} | ${fmt(m.jsonBytesPerSite, 0)} | ${fmt(m.indexBuildMs, 1)} | ${fmt(m.refreshMs, 2)} |`,
    );
  }
  const totalS = round((performance.now() - started) / 1000, 1);
  lines.push("", `total ${totalS} s`);
  console.log(lines.join("\n"));

  writeResults(ctx, {
    config: {
      runs: RUNS,
      requestsPerSize: POOL,
      latencySamplesPerRun: [MIN_SAMPLES, MAX_SAMPLES],
      latencyBudgetMs: LATENCY_MS,
      nearestSamplesPerRun: NEAREST_SAMPLES,
      warmupMs: WARMUP_MS,
      throughputMs: THROUGHPUT_MS,
      fleetSeed: FLEET_SEED,
      requestSeed: REQUEST_SEED,
      now: new Date(NOW).toISOString(),
      policy: "DEFAULT_POLICY",
      maxSiteCandidates: policy.maxSiteCandidates,
      timerOverheadNs: timerNs,
      cachedNova: {
        path: "decide() + gate + candidatesOf + cacheKey + cacheGet + applyChoice (worker/reasoning/)",
        cachedChoice: "the rules' first backup",
        cacheCapped: false,
        passOrder: "rules first in odd runs, cached first in even runs",
      },
    },
    sizes: results,
    growth,
    totalSeconds: totalS,
    /** Sum over every result, so that no timed call could be dropped as dead code. */
    resultChecksum: sink,
  });
  writeChart(
    "decide",
    renderBarChart({
      title: "decide() latency by fleet size (one pinned core)",
      subtitle: `${ctx.date.toISOString().slice(0, 10)} · median of ${RUNS} runs · npm run bench:decide`,
      series: [
        { name: "p50", color: PALETTE[0] as string },
        { name: "p99", color: PALETTE[1] as string },
      ],
      panels: [
        {
          title: "µs per decision",
          unit: "µs",
          digits: 1,
          rows: results.map((r) => ({
            label: `${fmt(r.sites, 0)} sites`,
            values: [r.median.p50Us, r.median.p99Us],
          })),
        },
      ],
    }),
  );
}

main();
