// Why mec-router misses where it does in `npm run bench:quality`: the same scenarios, traces and
// worlds, mec-router and the oracle only, every miss of mec-router broken down by the step that
// caused it (the decision's refusal and its reasons, each attempt's admission, true outcome and
// timeout, a late answer's prediction) beside what the oracle did with the same request, and the
// cost gap on the requests both served within the SLA.
//
//   npm run bench:quality:misses [-- --seed 1 --scenarios privacy-heavy --examples 5]
//
// A diagnosis, not a benchmark: it prints and writes no results file.

import { parseArgs } from "node:util";
import type { DecideResult } from "../shared/decide.ts";
import {
  type Admitting,
  mecRouter,
  oracle,
  type Plan,
  type SimPolicy,
  type Step,
} from "./sim/policy.ts";
import { scenarios } from "./sim/scenarios.ts";
import { type RequestResult, simulate } from "./sim/simulate.ts";
import { simWorkload } from "./sim/workload.ts";
import { evaluate, type SimRequest, type TargetRef, type World } from "./sim/world.ts";

const { values: opts } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    scenarios: { type: "string" },
    examples: { type: "string", default: "0" },
  },
});
const SEED = Number(opts.seed);
const EXAMPLES = Number(opts.examples);

interface Attempt {
  key: string;
  model: string;
  admitted: boolean;
  /** The attempt's true outcome, seen just before it was sent. */
  result?: "ok" | "refused" | "hang";
  trueMs?: number;
  timeoutMs: number;
}

interface Trace {
  decision?: DecideResult;
  plan?: Plan;
  attempts: Attempt[];
}

const keyOf = (t: TargetRef) =>
  t.kind === "device"
    ? "device"
    : t.kind === "site"
      ? `site:${t.site.view.id}`
      : `cloud:${t.region.id}`;

/** Wraps a policy to record, per request, its plan and each attempt's admission and truth. */
function recorded(
  make: (w: World, onDecide: (r: SimRequest, d: DecideResult) => void) => SimPolicy,
  world: World,
  traces: Trace[],
): SimPolicy {
  let current: SimRequest | undefined;
  const inner = make(world, (r, d) => {
    (traces[r.index] as Trace).decision = d;
  });
  const first = (r: SimRequest) => r.req.constraints.latencyTarget === "first_token";
  return {
    ...inner,
    plan(r, t) {
      current = r;
      traces[r.index] = { attempts: [] };
      const plan = inner.plan(r, t);
      (traces[r.index] as Trace).plan = plan;
      return plan;
    },
    admit(step: Step, t: number, request: Admitting) {
      const ok = inner.admit ? inner.admit(step, t, request) : true;
      const r = current as SimRequest;
      const a: Attempt = {
        key: keyOf(step.target),
        model: step.model.id,
        admitted: ok,
        timeoutMs: step.timeoutMs,
      };
      if (ok) {
        const out = evaluate(r, step.target, step.model, t, false);
        a.result = out.result;
        a.trueMs = (first(r) ? out.ttftMs : out.latencyMs) + (t - r.at);
      }
      (traces[r.index] as Trace).attempts.push(a);
      return ok;
    },
  };
}

const count = <K extends string>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
const table = (title: string, m: Map<string, number>) => {
  const rows = [...m].sort((a, b) => b[1] - a[1]);
  console.log(`\n  ${title}`);
  for (const [k, n] of rows) console.log(`    ${String(n).padStart(5)}  ${k}`);
};

/** "what the oracle did": met (by tier, and its latency as a share of the SLA), late, refused. */
function oracleDid(o: RequestResult, r: SimRequest): string {
  if (!o.served) return "oracle: nothing allowed";
  const sla = r.req.constraints.latencySlaMs;
  const x = o.latencyMs / sla;
  const band = x <= 0.8 ? "≤0.8" : x <= 0.95 ? "0.8–0.95" : x <= 1 ? "0.95–1" : ">1";
  return `oracle ${o.slaMet ? "met" : "late"} on ${o.tier} (latency/SLA ${band})`;
}

interface Run {
  trace: SimRequest[];
  mec: RequestResult[];
  orc: RequestResult[];
  mecTraces: Trace[];
  orcTraces: Trace[];
}

/** Each miss of mec-router by kind, the step that caused it, and what the oracle did instead. */
function misses({ trace, mec, orc, mecTraces }: Run): void {
  const byKind = new Map<string, number>();
  const refusedWhy = new Map<string, number>();
  const refusedVsOracle = new Map<string, number>();
  const failedWhy = new Map<string, number>();
  const lateWhy = new Map<string, number>();
  const examples: string[] = [];
  for (const r of trace) {
    const m = mec[r.index] as RequestResult;
    const o = orc[r.index] as RequestResult;
    if (m.slaMet) continue;
    const tr = mecTraces[r.index] as Trace;
    const c = r.req.constraints;
    const who = `${r.req.task.modality} ${r.req.task.criticality} ${c.privacy}${c.latencyTarget === "first_token" ? " ttft" : ""}`;
    if (!m.served && m.attempts === 0) {
      count(byKind, "refused");
      const d = tr.decision;
      if (!d || d.ok) {
        count(refusedWhy, d ? "planned, every step denied admission" : "no decision");
      } else {
        const reasons = [...new Set(d.rejected.map((x) => x.reason))].sort().join("+");
        const queued = d.rejected.some((x) => x.detail.startsWith("queue over"));
        count(refusedWhy, `${d.code}: ${reasons}${queued ? " incl. a queue" : ""}`);
        if (examples.length < EXAMPLES && o.slaMet) {
          examples.push(
            `#${r.index} ${who} sla ${c.latencySlaMs}: ${d.code}; ` +
              `${d.rejected.map((x) => `${x.target} ${x.reason} ${x.detail}`).join(" | ")} ` +
              `→ oracle ${o.tier} ${Math.round(o.latencyMs)} ms`,
          );
        }
      }
      count(refusedVsOracle, `${who} → ${oracleDid(o, r)}`);
    } else if (!m.served) {
      count(byKind, "failed");
      const tier = (a: Attempt) => a.key.split(":")[0];
      const why = tr.attempts
        .map((a) =>
          !a.admitted
            ? `${tier(a)} not admitted`
            : a.result === "ok"
              ? `${tier(a)} timeout (true ${((a.trueMs as number) / c.latencySlaMs).toFixed(1)}×SLA)`
              : `${tier(a)} ${a.result}`,
        )
        .join(", ");
      count(failedWhy, `${why || "no attempt before the deadline"} → ${oracleDid(o, r)}`);
    } else {
      count(byKind, "late");
      const d = tr.decision;
      const plan = !d?.ok
        ? "?"
        : d.decision.plan.primary.predictedLatencyMs > c.latencySlaMs
          ? "expected late (best effort)"
          : d.decision.bestEffort
            ? "best effort for a long answer"
            : "planned in SLA";
      const fo = m.failovers > 0 ? `after ${m.failovers} failover(s)` : "first attempt";
      count(lateWhy, `${m.tier} ${plan}, ${fo} → ${oracleDid(o, r)}`);
    }
  }
  console.log(`  misses: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  table("refused: decision code and rejection reasons", refusedWhy);
  table("refused: request → what the oracle did", refusedVsOracle);
  table("failed: attempts → what the oracle did", failedWhy);
  table("late: plan, attempt → what the oracle did", lateWhy);
  if (examples.length) console.log(`\n  examples:\n    ${examples.join("\n    ")}`);
}

/** Prediction against truth for every primary sent at once: latency, and cost when served. */
function bias({ trace, mec, mecTraces }: Run): void {
  const ratios = new Map<string, number[]>();
  const add = (k: string, x: number) => ratios.set(k, [...(ratios.get(k) ?? []), x]);
  for (const r of trace) {
    const tr = mecTraces[r.index] as Trace;
    const d = tr.decision;
    const a = tr.attempts[0];
    if (!d?.ok || !a?.admitted || a.result !== "ok" || a.trueMs === undefined) continue;
    const step = d.decision.plan.primary;
    const ttft = r.req.constraints.latencyTarget === "first_token" ? " ttft" : "";
    add(
      `latency ${step.tier} ${r.req.task.modality}${ttft}`,
      a.trueMs / Math.max(1, step.predictedLatencyMs),
    );
    const m = mec[r.index] as RequestResult;
    if (m.served && m.failovers === 0 && step.predictedCostUsd > 0) {
      add(`cost ${step.tier} ${r.req.task.modality}`, m.costUsd / step.predictedCostUsd);
    }
  }
  const q = (xs: number[], p: number) =>
    (xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number).toFixed(2);
  console.log("\n  true / predicted, primaries sent at once (n, p10, median, p90)");
  for (const [k, xs] of [...ratios].sort()) {
    xs.sort((x, y) => x - y);
    console.log(
      `    ${k.padEnd(30)} ${String(xs.length).padStart(5)}  ${q(xs, 0.1)}  ${q(xs, 0.5)}  ${q(xs, 0.9)}`,
    );
  }
}

/** Cost on the requests both met the SLA on: where mec-router paid more than the oracle. */
function costGap({ trace, mec, orc, mecTraces, orcTraces }: Run): void {
  let both = 0;
  let mecCost = 0;
  let orcCost = 0;
  const shift = new Map<string, number>();
  const extra = new Map<string, number>();
  for (const r of trace) {
    const m = mec[r.index] as RequestResult;
    const o = orc[r.index] as RequestResult;
    if (!(m.slaMet && o.slaMet)) continue;
    both++;
    mecCost += m.costUsd;
    orcCost += o.costUsd;
    const ma = (mecTraces[r.index] as Trace).attempts.at(-1);
    const oa = (orcTraces[r.index] as Trace).attempts.at(-1);
    const where =
      m.tier !== "mec" || o.tier !== "mec"
        ? ""
        : `, ${ma?.key === oa?.key ? "same" : "other"} site, ${ma?.model === oa?.model ? "same" : "other"} model`;
    const k = `${m.tier} → oracle ${o.tier}${where}`;
    count(shift, k);
    extra.set(k, (extra.get(k) ?? 0) + m.costUsd - o.costUsd);
  }
  console.log(
    `\n  cost on the ${both} requests both met: ` +
      `${((mecCost / Math.max(1e-12, orcCost)) * 100).toFixed(1)}% of the oracle's`,
  );
  for (const [k, usd] of [...extra].sort((a, b) => b[1] - a[1])) {
    console.log(
      `    ${String(shift.get(k)).padStart(5)}  ${k.padEnd(44)} extra $${usd.toFixed(5)}`,
    );
  }
}

/** The requests no target was expected to serve in time (a best effort), and what they cost. */
function bestEffort({ trace, mec, orc, mecTraces }: Run): void {
  let n = 0;
  let met = 0;
  let mecCost = 0;
  let orcCost = 0;
  for (const r of trace) {
    const d = (mecTraces[r.index] as Trace).decision;
    if (!d?.ok || d.decision.plan.primary.predictedLatencyMs <= r.req.constraints.latencySlaMs)
      continue;
    const m = mec[r.index] as RequestResult;
    n++;
    if (m.slaMet) met++;
    mecCost += m.costUsd;
    orcCost += (orc[r.index] as RequestResult).costUsd;
  }
  console.log(
    `  expected late everywhere (a best effort): ${n} requests, ${met} met the SLA; ` +
      `cost $${mecCost.toFixed(4)}, the oracle's $${orcCost.toFixed(4)} on them`,
  );
}

function main(): void {
  const all = scenarios(1);
  const list = all.filter((s) => !opts.scenarios || opts.scenarios.split(",").includes(s.id));
  for (const s of list) {
    // Seeded as bench/quality.ts seeds it: by the scenario's place among all of them.
    const trace = simWorkload(s.spec, SEED * 1_000 + all.indexOf(s));
    const mecTraces: Trace[] = [];
    const orcTraces: Trace[] = [];
    const run: Run = {
      trace,
      mec: simulate(trace, recorded(mecRouter, s.world(SEED), mecTraces)),
      orc: simulate(trace, recorded(oracle, s.world(SEED), orcTraces)),
      mecTraces,
      orcTraces,
    };
    const met = (rs: RequestResult[]) => rs.filter((x) => x.slaMet).length;
    console.log(
      `\n${s.id}: ${trace.length} requests; SLA met by mec-router ${met(run.mec)}, ` +
        `by the oracle ${met(run.orc)}`,
    );
    bestEffort(run);
    misses(run);
    bias(run);
    costGap(run);
  }
}

main();
