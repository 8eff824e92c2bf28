// Benchmark of the monitor's pure aggregation path: outcome events/s through `aggregate` (rollup
// keys, counters, latency and TTFT sketch adds) and the merges that fold each queue batch into the
// running minute rollups, on one core; plus minutes → hours, row encoding, and how many rollup
// rows a queue batch produces (rows the consumer upserts per batch). A benchmark, not a test: it
// reports, it does not fail on a missed target.
//
//   npm run bench:monitor [-- --runs 5 --events 200000 --batch 100 --rate 1000 --cpu 1 --no-pin]
//
// Events are generated up front (seeded): a fleet-wide stream at `--rate` requests/s over 40 MEC
// sites (Zipf popularity), 4 cloud regions and devices, each tier with its own models, latency,
// TTFT, error rate, cost and SLAs. The timed code sees only ready `RollupOutcome`s. Passes are
// interleaved within each run; the figure reported is the median over runs.

import { parseArgs } from "node:util";
import {
  aggregate,
  mergeRollupMaps,
  type Rollup,
  type RollupOutcome,
  rebucket,
  toRollupRow,
} from "../shared/rollup.ts";
import type { Tier } from "../shared/types.ts";
import { pinToOneCore } from "./pin.ts";
import { createRng, type Rng, weightedPicker } from "./random.ts";
import { headerLines, median, round, runContext, writeResults } from "./report.ts";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    events: { type: "string", default: "200000" },
    batch: { type: "string", default: "100" },
    rate: { type: "string", default: "1000" },
    cpu: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
});
const pinning = pinToOneCore(
  !opts["no-pin"],
  opts.cpu === undefined ? undefined : Number(opts.cpu),
);

const RUNS = Math.max(3, Number(opts.runs));
const EVENTS = Number(opts.events);
const BATCH = Number(opts.batch);
const RATE = Number(opts.rate);
if (![RUNS, EVENTS, BATCH].every((n) => Number.isInteger(n) && n > 0) || !(RATE > 0)) {
  console.error("bad --runs, --events, --batch or --rate: expected positive integers");
  process.exit(2);
}
/** Target from the issue: events/s through the queue path on one core. */
const TARGET_EVENTS_PER_SEC = 200_000;
const SEED = 0x5eed_3017;
const START = Date.UTC(2026, 10, 25, 12, 0, 0);
const WARMUP_MS = 500;
/** The row passes are short; each run repeats them this many times over all minute rows. */
const ROW_PASSES = 20;

interface TierProfile {
  share: number;
  models: readonly (readonly [string, number])[];
  latencyMedianMs: number;
  latencySigma: number;
  errorRate: number;
  /** Median cost per request in USD; 0 for free. */
  costUsd: number;
}

const TIERS: Record<Tier, TierProfile> = {
  device: {
    share: 0.25,
    models: [
      ["llama-3.2-1b", 5],
      ["llama-3.2-3b", 3],
      ["whisper-base", 2],
    ],
    latencyMedianMs: 1_200,
    latencySigma: 0.6,
    errorRate: 0.005,
    costUsd: 0,
  },
  mec: {
    share: 0.55,
    models: [
      ["llama-3.1-8b", 5],
      ["qwen2.5-7b", 3],
      ["llama-3.2-3b", 2],
      ["qwen2.5-vl-7b", 1],
      ["whisper-large-v3-turbo", 1],
    ],
    latencyMedianMs: 350,
    latencySigma: 0.5,
    errorRate: 0.015,
    costUsd: 0.000_05,
  },
  cloud: {
    share: 0.2,
    models: [
      ["nova-micro", 5],
      ["nova-lite", 3],
      ["nova-pro", 1],
    ],
    latencyMedianMs: 900,
    latencySigma: 0.4,
    errorRate: 0.008,
    costUsd: 0.000_4,
  },
};
const SITES = Array.from({ length: 40 }, (_, i) => `site:mec-${String(i + 1).padStart(2, "0")}`);
const REGIONS = ["eu-central-1", "eu-west-3", "eu-north-1", "us-east-1"].map((r) => `cloud:${r}`);

/** The stream, in arrival order. */
function generate(n: number, rng: Rng): RollupOutcome[] {
  const tier = weightedPicker(
    rng,
    (Object.keys(TIERS) as Tier[]).map((t) => [t, TIERS[t].share] as const),
  );
  const site = weightedPicker(
    rng,
    SITES.map((s, i) => [s, 1 / (i + 1)] as const),
  );
  const region = weightedPicker(rng, [
    [REGIONS[0] as string, 5],
    [REGIONS[1] as string, 2],
    [REGIONS[2] as string, 1],
    [REGIONS[3] as string, 1],
  ]);
  const models = {
    device: weightedPicker(rng, TIERS.device.models),
    mec: weightedPicker(rng, TIERS.mec.models),
    cloud: weightedPicker(rng, TIERS.cloud.models),
  };
  const out: RollupOutcome[] = [];
  let at = START;
  for (let i = 0; i < n; i++) {
    at += -Math.log(1 - rng.next()) * (1000 / RATE);
    const t = tier();
    const p = TIERS[t];
    const ok = !rng.chance(p.errorRate);
    const latencyMs = ok ? rng.logNormal(p.latencyMedianMs, p.latencySigma) : rng.range(5, 30_000);
    const o: RollupOutcome = {
      at: Math.floor(at),
      tier: t,
      target: t === "mec" ? site() : t === "cloud" ? region() : "device",
      model: models[t](),
      ok,
      latencyMs,
    };
    if (rng.chance(0.4)) o.ttftMs = latencyMs * rng.range(0.1, 0.4);
    if (p.costUsd > 0) o.costUsd = rng.logNormal(p.costUsd, 0.8);
    if (rng.chance(0.7)) o.slaMs = rng.pick([1_000, 2_000, 5_000]);
    out.push(o);
  }
  return out;
}

interface RunStats {
  run: number;
  /** Queue path: aggregate each batch, merge it into the running minute rollups. */
  queueEventsPerSec: number;
  queueMs: number;
  /** One `aggregate` over the whole stream, no merges. */
  aggregateEventsPerSec: number;
  /** Minute rollups → hour rollups. */
  rebucketRowsPerSec: number;
  /** Minute rollups → stored rows (sketches to base64url). */
  encodeRowsPerSec: number;
  preemptions: number;
}

let sink = 0;
const gc = (): void => globalThis.gc?.();

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** The queue consumer's pure work: one `aggregate` per batch, merged into the minute rollups. */
function queuePath(events: RollupOutcome[]): Map<string, Rollup> {
  const minutes = new Map<string, Rollup>();
  for (let i = 0; i < events.length; i += BATCH) {
    mergeRollupMaps(minutes, aggregate(events.slice(i, i + BATCH)).values());
  }
  return minutes;
}

function timeMs(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function measure(events: RollupOutcome[], run: number): RunStats {
  const switchesBefore = process.resourceUsage().involuntaryContextSwitches;
  gc();
  let minutes = new Map<string, Rollup>();
  const queueMs = timeMs(() => {
    minutes = queuePath(events);
  });
  gc();
  const aggregateMs = timeMs(() => {
    sink += aggregate(events).size;
  });
  const rows = [...minutes.values()];
  gc();
  const rebucketMs = timeMs(() => {
    for (let i = 0; i < ROW_PASSES; i++) sink += rebucket(rows).size;
  });
  gc();
  const encodeMs = timeMs(() => {
    for (let i = 0; i < ROW_PASSES; i++) {
      for (const r of rows) sink += toRollupRow(r).latency.length;
    }
  });
  const preemptions = process.resourceUsage().involuntaryContextSwitches - switchesBefore;
  const perSec = (n: number, ms: number) => Math.round(n / (ms / 1000));
  return {
    run,
    queueEventsPerSec: perSec(events.length, queueMs),
    queueMs: round(queueMs, 1),
    aggregateEventsPerSec: perSec(events.length, aggregateMs),
    rebucketRowsPerSec: perSec(ROW_PASSES * rows.length, rebucketMs),
    encodeRowsPerSec: perSec(ROW_PASSES * rows.length, encodeMs),
    preemptions,
  };
}

/** Rows a batch of `size` consecutive events produces (untimed). */
function rowsPerBatch(events: RollupOutcome[], size: number) {
  const counts: number[] = [];
  for (let i = 0; i + size <= events.length; i += size) {
    counts.push(aggregate(events.slice(i, i + size)).size);
  }
  const sorted = [...counts].sort((a, b) => a - b);
  const mean = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
  return {
    batchSize: size,
    batches: counts.length,
    meanRows: round(mean, 1),
    p50Rows: percentile(sorted, 0.5),
    p95Rows: percentile(sorted, 0.95),
    maxRows: sorted.at(-1) ?? 0,
    eventsPerRow: round(size / mean, 2),
  };
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function main(): void {
  const started = performance.now();
  const ctx = runContext("monitor", pinning);

  const events = generate(EVENTS, createRng(SEED));
  const spanS = ((events.at(-1)?.at ?? START) - START) / 1000;

  const warm = performance.now();
  while (performance.now() - warm < WARMUP_MS) {
    const sample = queuePath(events.slice(0, 20_000));
    sink += aggregate(events.slice(0, 20_000)).size + rebucket(sample.values()).size;
    for (const r of sample.values()) sink += toRollupRow(r).ttft.length;
  }

  const runs: RunStats[] = [];
  for (let run = 1; run <= RUNS; run++) runs.push(measure(events, run));

  const minutes = queuePath(events);
  const hours = rebucket(minutes.values());
  const rowsOf = [...minutes.values()].map(toRollupRow);
  const rowBytes = rowsOf.map((r) => JSON.stringify(r).length).sort((a, b) => a - b);
  const sketchBytes = rowsOf
    .map((r) => Math.ceil((r.latency.length * 3) / 4) + Math.ceil((r.ttft.length * 3) / 4))
    .sort((a, b) => a - b);
  const batches = [rowsPerBatch(events, BATCH)];
  if (BATCH !== 10) batches.unshift(rowsPerBatch(events, 10));

  const m = (f: (r: RunStats) => number) => Math.round(median(runs.map(f)));
  const range = (f: (r: RunStats) => number) =>
    `${fmt(Math.min(...runs.map(f)))}–${fmt(Math.max(...runs.map(f)))}`;
  const median_ = {
    queueEventsPerSec: m((r) => r.queueEventsPerSec),
    aggregateEventsPerSec: m((r) => r.aggregateEventsPerSec),
    rebucketRowsPerSec: m((r) => r.rebucketRowsPerSec),
    encodeRowsPerSec: m((r) => r.encodeRowsPerSec),
  };
  const met = median_.queueEventsPerSec >= TARGET_EVENTS_PER_SEC;
  const nsPer = (perSec: number) => fmt(1e9 / perSec);

  const lines = [
    ...headerLines(ctx, "monitor aggregation benchmark"),
    `${fmt(EVENTS)} events (${fmt(RATE)}/s fleet-wide over ${fmt(spanS, 1)} s: 40 MEC sites, ` +
      `4 regions, devices; 12 models), queue batches of ${BATCH}; ${RUNS} runs, median of runs`,
    "",
    "| pass | per second (median) | min–max of runs | ns each | target | met |",
    "|:-----|--------------------:|----------------:|--------:|-------:|:---:|",
    `| queue path: aggregate per batch + merge into minutes (events) | ${fmt(median_.queueEventsPerSec)} | ` +
      `${range((r) => r.queueEventsPerSec)} | ${nsPer(median_.queueEventsPerSec)} | ` +
      `≥ ${fmt(TARGET_EVENTS_PER_SEC)} | ${met ? "yes" : "**NO**"} |`,
    `| aggregate, whole stream at once (events) | ${fmt(median_.aggregateEventsPerSec)} | ` +
      `${range((r) => r.aggregateEventsPerSec)} | ${nsPer(median_.aggregateEventsPerSec)} | — | — |`,
    `| minutes → hours (minute rows) | ${fmt(median_.rebucketRowsPerSec)} | ` +
      `${range((r) => r.rebucketRowsPerSec)} | ${nsPer(median_.rebucketRowsPerSec)} | — | — |`,
    `| encode rows for D1 (minute rows) | ${fmt(median_.encodeRowsPerSec)} | ` +
      `${range((r) => r.encodeRowsPerSec)} | ${nsPer(median_.encodeRowsPerSec)} | — | — |`,
    "",
    "| batch size | batches | rollup rows per batch: mean | p50 | p95 | max | events per row |",
    "|-----------:|--------:|----------------------------:|----:|----:|----:|---------------:|",
    ...batches.map(
      (b) =>
        `| ${b.batchSize} | ${fmt(b.batches)} | ${b.meanRows} | ${b.p50Rows} | ${b.p95Rows} | ` +
        `${b.maxRows} | ${b.eventsPerRow} |`,
    ),
    "",
    `minute rows in the stream: ${fmt(minutes.size)}; hour rows: ${fmt(hours.size)}; ` +
      `stored row JSON p50 / p95 / max: ${percentile(rowBytes, 0.5)} / ${percentile(rowBytes, 0.95)} / ` +
      `${rowBytes.at(-1) ?? 0} bytes (latency + TTFT sketches p50 / max: ` +
      `${percentile(sketchBytes, 0.5)} / ${sketchBytes.at(-1) ?? 0} bytes binary)`,
    `preemptions per run (min–max): ${Math.min(...runs.map((r) => r.preemptions))}–` +
      `${Math.max(...runs.map((r) => r.preemptions))}`,
  ];
  const totalS = round((performance.now() - started) / 1000, 1);
  lines.push("", `total ${totalS} s`);
  console.log(lines.join("\n"));

  writeResults(ctx, {
    config: {
      runs: RUNS,
      events: EVENTS,
      batchSize: BATCH,
      ratePerSec: RATE,
      streamSeconds: round(spanS, 1),
      seed: SEED,
      start: new Date(START).toISOString(),
      sites: SITES.length,
      regions: REGIONS.length,
      tiers: TIERS,
      warmupMs: WARMUP_MS,
      rowPassesPerRun: ROW_PASSES,
    },
    targetEventsPerSec: TARGET_EVENTS_PER_SEC,
    targetMet: met,
    median: median_,
    rowsPerBatch: batches,
    minuteRows: minutes.size,
    hourRows: hours.size,
    storedRowJsonBytes: {
      p50: percentile(rowBytes, 0.5),
      p95: percentile(rowBytes, 0.95),
      max: rowBytes.at(-1) ?? 0,
    },
    sketchBinaryBytesPerRow: {
      p50: percentile(sketchBytes, 0.5),
      max: sketchBytes.at(-1) ?? 0,
    },
    runs,
    totalSeconds: totalS,
    /** Sum over every result, so that no timed call could be dropped as dead code. */
    resultChecksum: sink,
  });
}

main();
