// Decision quality: a trace-driven simulation in which mec-router's real decision engine
// (shared/decide.ts) and the policies it is compared with route the same mobile workload over the
// same simulated MEC fleet and Bedrock regions, scenario by scenario, against an oracle.
//
//   npm run bench:quality [-- --seeds 1,2,3,4,5 --scale 1 --scenarios steady,flash-crowd]
//
// Every figure comes from the first seed; the targets are judged for each seed (each seed is
// another trace and another fleet's hidden truths), so a target met on one draw alone shows.
//
// Policies: cloud-only, nearest-site, least-busy (LiteLLM), latency-based (LiteLLM), random
// (LiteLLM simple-shuffle), mec-router, the oracle (cheapest option that meets the SLA), and the
// same oracle taking the fastest option (the bound on latency) (bench/sim/baselines.ts and
// policy.ts say how each behaves). Same seed → same trace, same world, same figures.

import { parseArgs } from "node:util";
import { type Pinning, pinToOneCore } from "./pin.ts";
import { progressBar } from "./progress.ts";
import { headerLines, round, runContext, writeChart, writeResults } from "./report.ts";
import { cloudOnly, latencyBased, leastBusy, nearestSite, randomShuffle } from "./sim/baselines.ts";
import { fastestOracle, mecRouter, oracle, type SimPolicy } from "./sim/policy.ts";
import { type Scenario, scenarios } from "./sim/scenarios.ts";
import { type RequestResult, type Summary, simulate, summarize } from "./sim/simulate.ts";
import { simWorkload } from "./sim/workload.ts";
import type { SimRequest, World } from "./sim/world.ts";
import { PALETTE, renderBarChart } from "./svg-chart.ts";

const { values: opts } = parseArgs({
  options: {
    seeds: { type: "string", default: "1,2,3,4,5" },
    scale: { type: "string", default: "1" },
    scenarios: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
});
const pinning: Pinning = pinToOneCore(!opts["no-pin"]);
const SEEDS = opts.seeds.split(",").map(Number);
const SEED = SEEDS[0] as number;
const SCALE = Number(opts.scale);
if (SEEDS.length === 0 || !SEEDS.every(Number.isInteger) || !(SCALE > 0)) {
  console.error("bad --seeds (integers, comma-separated) or --scale (> 0)");
  process.exit(2);
}

export const POLICIES: { id: string; make: (w: World) => SimPolicy }[] = [
  { id: "cloud-only", make: cloudOnly },
  { id: "nearest-site", make: nearestSite },
  { id: "least-busy", make: leastBusy },
  { id: "latency-based", make: latencyBased },
  { id: "random", make: randomShuffle },
  { id: "mec-router", make: mecRouter },
  { id: "oracle", make: oracle },
  { id: "oracle-fastest", make: fastestOracle },
];
const BASELINES = ["cloud-only", "nearest-site", "least-busy", "latency-based", "random"];

const fmt = (x: number, digits = 1) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "—";

interface ScenarioResult {
  scenario: string;
  title: string;
  requests: number;
  policies: Record<string, Summary & { name: string; decideMsTotal: number }>;
  targets: {
    slaVsOracle: { value: number; target: number; met: boolean };
    costVsOracle: { value: number; target: number; met: boolean };
    missesVsBestBaseline: { value: number; best: string; target: number; met: boolean };
    latencyVsCloudOnly: {
      value: number;
      target: number;
      met: boolean;
      /** The same ratio over the requests both served, and the fastest oracle's there. */
      common: { requests: number; value: number; fastest: number };
    };
    violations: { value: number; target: number; met: boolean };
  };
}

/** Mean latency over the requests every one of `runs` served. */
function commonMeans(runs: readonly (readonly RequestResult[])[]): {
  requests: number;
  means: number[];
} {
  const sums = runs.map(() => 0);
  let n = 0;
  const length = runs[0]?.length ?? 0;
  for (let i = 0; i < length; i++) {
    if (!runs.every((r) => r[i]?.served)) continue;
    n++;
    runs.forEach((r, k) => {
      sums[k] = (sums[k] as number) + (r[i] as RequestResult).latencyMs;
    });
  }
  return { requests: n, means: sums.map((x) => x / Math.max(1, n)) };
}

function judge(
  s: Scenario,
  policies: ScenarioResult["policies"],
  results: Record<string, RequestResult[]>,
): ScenarioResult["targets"] {
  const mec = policies["mec-router"] as Summary;
  const orc = policies.oracle as Summary;
  const cloud = policies["cloud-only"] as Summary;
  const best = BASELINES.map((id) => ({ id, misses: (policies[id] as Summary).slaMisses })).sort(
    (a, b) => a.misses - b.misses,
  )[0] as { id: string; misses: number };
  const slaVsOracle = orc.slaAttainment > 0 ? mec.slaAttainment / orc.slaAttainment : 0;
  const costVsOracle = orc.costUsd > 0 ? mec.costUsd / orc.costUsd : Number.POSITIVE_INFINITY;
  const fewer = best.misses > 0 ? 1 - mec.slaMisses / best.misses : 0;
  const faster = cloud.meanLatencyMs / mec.meanLatencyMs;
  // Cloud-only refuses what Bedrock cannot take (speech, strict privacy): compare on the
  // requests cloud-only, mec-router and the fastest oracle all served.
  const common = commonMeans([
    results["cloud-only"] ?? [],
    results["mec-router"] ?? [],
    results["oracle-fastest"] ?? [],
  ]);
  const [cloudMean = Number.NaN, mecMean = Number.NaN, fastestMean = Number.NaN] = common.means;
  void s;
  return {
    slaVsOracle: { value: round(slaVsOracle, 4), target: 0.99, met: slaVsOracle >= 0.99 },
    costVsOracle: { value: round(costVsOracle, 3), target: 1.1, met: costVsOracle <= 1.1 },
    missesVsBestBaseline: { value: round(fewer, 3), best: best.id, target: 0.3, met: fewer >= 0.3 },
    latencyVsCloudOnly: {
      value: round(faster, 2),
      target: 3,
      met: faster >= 3,
      common: {
        requests: common.requests,
        value: round(cloudMean / mecMean, 2),
        fastest: round(cloudMean / fastestMean, 2),
      },
    },
    violations: { value: mec.violations.total, target: 0, met: mec.violations.total === 0 },
  };
}

/** The targets as the tables show them: each one's figure per scenario, and its format. */
const TARGET_ROWS: {
  name: string;
  get: (t: ScenarioResult["targets"]) => { value: number; met: boolean };
  show: (v: number) => string;
  /** Said after the figure in the one-seed table. */
  note?: (t: ScenarioResult["targets"]) => string;
  /** A row of its own after it in the one-seed table. */
  followedBy?: { name: string; cell: (t: ScenarioResult["targets"]) => string };
}[] = [
  {
    name: "SLA attainment ≥ 99% of the oracle's",
    get: (t) => t.slaVsOracle,
    show: (v) => `${fmt(100 * v, 1)}%`,
  },
  { name: "cost ≤ 1.1× the oracle's", get: (t) => t.costVsOracle, show: (v) => `${fmt(v, 3)}×` },
  {
    name: "≥ 30% fewer SLA misses than the best baseline",
    get: (t) => t.missesVsBestBaseline,
    show: (v) => `${fmt(100 * v, 0)}%`,
    note: (t) => ` vs ${t.missesVsBestBaseline.best}`,
  },
  {
    name: "mean latency ≥ 3× lower than cloud-only",
    get: (t) => t.latencyVsCloudOnly,
    show: (v) => `${fmt(v, 1)}×`,
    // Cloud-only's mean covers only what it serves: the same ratio on the requests all served.
    followedBy: {
      name: "… on the requests both served (fastest oracle)",
      cell: (t) => {
        const c = t.latencyVsCloudOnly.common;
        return `${fmt(c.value, 1)}× (${fmt(c.fastest, 1)}×)`;
      },
    },
  },
  {
    name: "zero privacy / residency violations",
    get: (t) => t.violations,
    show: (v) => fmt(v, 0),
  },
];

/** Every policy over every scenario's trace for one seed. */
function runSeed(
  seed: number,
  list: Scenario[],
  traces: SimRequest[][],
  progress: ReturnType<typeof progressBar>,
): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  for (const [i, s] of list.entries()) {
    const trace = traces[i] ?? [];
    const policies: ScenarioResult["policies"] = {};
    const results: Record<string, RequestResult[]> = {};
    for (const p of POLICIES) {
      const world = s.world(seed);
      const policy = p.make(world);
      let last = 0;
      const label = `seed ${seed} ${s.id} ${p.id}`;
      const t0 = performance.now();
      const run = simulate(trace, policy, (n) => {
        progress.tick(label, Math.floor(n / 1_000) - last);
        last = Math.floor(n / 1_000);
      });
      const ms = performance.now() - t0;
      progress.tick(label, Math.ceil(trace.length / 1_000) - last);
      policies[p.id] = { name: policy.name, ...summarize(run), decideMsTotal: round(ms, 0) };
      results[p.id] = run;
    }
    out.push({
      scenario: s.id,
      title: s.title,
      requests: trace.length,
      policies,
      targets: judge(s, policies, results),
    });
  }
  return out;
}

function main(): void {
  const started = performance.now();
  const ctx = runContext("quality", pinning);
  const all = scenarios(SCALE);
  const list = all.filter((s) => !opts.scenarios || opts.scenarios.split(",").includes(s.id));
  // Each scenario's trace is seeded by its place among all scenarios, so that a run of some of
  // them (--scenarios) gives the same figures as the full run.
  const traces = SEEDS.map((seed) =>
    list.map((s) => simWorkload(s.spec, seed * 1_000 + all.indexOf(s))),
  );
  const total = traces.flat().reduce((n, t) => n + t.length, 0) * POLICIES.length;
  const progress = progressBar(Math.ceil(total / 1_000));
  const bySeed = SEEDS.map((seed, k) => ({
    seed,
    scenarios: runSeed(seed, list, traces[k] ?? [], progress),
  }));
  progress.done();
  const out = bySeed[0]?.scenarios ?? [];

  const lines = [
    ...headerLines(ctx, "Decision quality (trace-driven simulation)"),
    `seeds ${SEEDS.join(", ")} (the tables: seed ${SEED}; the targets: every seed), scale ${SCALE}: ` +
      `${list.length} scenarios × ${POLICIES.length} policies; each scenario: the same trace and ` +
      "the same fleet for every policy",
  ];
  for (const r of out) {
    lines.push(
      "",
      `${r.scenario}: ${r.title} — ${fmt(r.requests, 0)} requests`,
      "",
      "| policy | SLA met | misses: refused / failed / late | mean ms | p99 ms | cost $/1k | failovers | violations | over budget | device J/req | device / MEC / cloud % |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const p of POLICIES) {
      const x = r.policies[p.id] as Summary & { name: string };
      const pct = (n: number) => fmt((100 * n) / Math.max(1, x.served), 0);
      lines.push(
        `| ${x.name} | ${fmt(100 * x.slaAttainment, 2)}% | ` +
          `${fmt(x.misses.refused, 0)} / ${fmt(x.misses.failed, 0)} / ${fmt(x.misses.late, 0)} | ` +
          `${fmt(x.meanLatencyMs, 0)} | ${fmt(x.p99LatencyMs, 0)} | ` +
          `${fmt(x.costPer1kUsd, 4)} | ${fmt(x.failovers, 0)} | ` +
          `${x.violations.total === 0 ? "0" : `${x.violations.total} (${x.violations.privacy} privacy, ${x.violations.residency} residency, ${x.violations.compliance} compliance)`} | ${fmt(x.overBudget, 0)} | ` +
          `${fmt(x.deviceEnergyJPerRequest, 2)} | ${pct(x.tiers.device)} / ${pct(x.tiers.mec)} / ${pct(x.tiers.cloud)} |`,
      );
    }
  }
  const matrix = (title: string, cell: (x: Summary) => string) => {
    lines.push(
      "",
      title,
      "",
      `| policy | ${out.map((r) => r.scenario).join(" | ")} |`,
      `|---|${out.map(() => "---:").join("|")}|`,
    );
    for (const p of POLICIES) {
      const name = (out[0]?.policies[p.id] as { name: string } | undefined)?.name ?? p.id;
      lines.push(`| ${name} | ${out.map((r) => cell(r.policies[p.id] as Summary)).join(" | ")} |`);
    }
  };
  matrix("SLA attainment per scenario", (x) => `${fmt(100 * x.slaAttainment, 2)}%`);
  matrix("Mean latency (ms, served requests) per scenario", (x) => fmt(x.meanLatencyMs, 0));
  matrix("Cost per 1,000 requests ($) per scenario", (x) => fmt(x.costPer1kUsd, 4));
  const mark = (m: boolean) => (m ? "✓" : "✗");
  const header = [
    `| target (mec-router) | ${out.map((r) => r.scenario).join(" | ")} |`,
    `|---|${out.map(() => "---:").join("|")}|`,
  ];
  const row = (name: string, cell: (r: ScenarioResult, i: number) => string) =>
    `| ${name} | ${out.map(cell).join(" | ")} |`;
  lines.push(
    "",
    ...header,
    ...TARGET_ROWS.flatMap((t) => {
      const seed1 = row(t.name, (r) => {
        const j = t.get(r.targets);
        return `${t.show(j.value)}${t.note?.(r.targets) ?? ""} ${mark(j.met)}`;
      });
      const next = t.followedBy;
      return next ? [seed1, row(next.name, (r) => next.cell(r.targets))] : [seed1];
    }),
  );
  // The same targets for every seed: how often each is met, and the range of its value.
  lines.push(
    "",
    `Targets met per seed (seeds ${SEEDS.join(", ")}; the range over the seeds):`,
    "",
    ...header,
    ...TARGET_ROWS.map((t) =>
      row(t.name, (_, i) => {
        const xs = bySeed.map((b) => t.get((b.scenarios[i] as ScenarioResult).targets));
        const values = xs.map((x) => x.value);
        const met = xs.filter((x) => x.met).length;
        return `${met} of ${xs.length} (${t.show(Math.min(...values))}–${t.show(Math.max(...values))})`;
      }),
    ),
  );
  const totalS = round((performance.now() - started) / 1000, 1);
  lines.push("", `total ${totalS} s`);
  console.log(lines.join("\n"));

  writeResults(ctx, {
    config: {
      seeds: SEEDS,
      seed: SEED,
      scale: SCALE,
      policies: POLICIES.map((p) => p.id),
      scenarios: list.map((s) => ({ id: s.id, title: s.title, spec: s.spec })),
    },
    scenarios: out,
    targetsBySeed: bySeed.map((b) => ({
      seed: b.seed,
      scenarios: b.scenarios.map((r) => ({ scenario: r.scenario, targets: r.targets })),
    })),
    totalSeconds: totalS,
  });
  const series = out.map((r, i) => ({
    name: r.scenario,
    color: PALETTE[i % PALETTE.length] as string,
  }));
  const names = POLICIES.map(
    (p) => (out[0]?.policies[p.id] as { name: string } | undefined)?.name ?? p.id,
  );
  writeChart(
    "quality",
    renderBarChart({
      title: "Decision quality per policy and scenario (simulation): SLA misses and cost",
      subtitle: `${ctx.date.toISOString().slice(0, 10)} · seed ${SEED} · npm run bench:quality`,
      series,
      panels: [
        {
          // Misses rather than attainment: 96 % and 99 % look alike on a 0–100 axis.
          title: "SLA misses (100 % − attainment; lower is better)",
          unit: "%",
          digits: 2,
          rows: POLICIES.map((p, i) => ({
            label: names[i] as string,
            values: out.map((r) => 100 * (1 - (r.policies[p.id] as Summary).slaAttainment)),
          })),
        },
        {
          title: "cost per 1,000 requests",
          unit: "$",
          digits: 3,
          rows: POLICIES.map((p, i) => ({
            label: names[i] as string,
            values: out.map((r) => (r.policies[p.id] as Summary).costPer1kUsd),
          })),
        },
      ],
    }),
  );
}

main();
