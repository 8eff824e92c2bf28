// Load test: the local stack (scripts/stack.mjs: the router under `wrangler dev`, the seed
// fleet's demo MEC sites at real speed, the stand-ins, kinesalite) at `--factor` × the fleet's
// measured capacity for `--seconds`, loopback only, stopping by itself. Prints a table per
// criticality, flags when critical requests miss their SLA, sheddable ones are not shed, a
// request is lost or the worker stopped answering, and writes bench/results/loadtest.json (and a
// dated copy).
//
//   npm run loadtest [-- --seconds 60 --factor 2 --sla-ms 10000 --time-scale 4 --seed 7]
//
// The demo sites decode `--time-scale` times slower than the catalog's figures (and say so in
// their heartbeats), so that what saturates is the fleet, as in production, and not the one
// local workerd that plays every edge isolate on a 2-core machine.
//
// A benchmark, not a test: it reports; it exits 1 only when the stack could not run.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startStack } from "../scripts/stack.mjs";
import { CLASSES, loadTable, loadVerdict, runLoad } from "./loadtest-run.ts";
import { headerLines, runContext, writeResults } from "./report.ts";

const { values: opts } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    calibration: { type: "string", default: "10" },
    factor: { type: "string", default: "2" },
    "sla-ms": { type: "string", default: "10000" },
    seed: { type: "string", default: "7" },
    "time-scale": { type: "string", default: "4" },
    "max-tokens": { type: "string", default: "96" },
  },
});
const seconds = Number(opts.seconds);
const factor = Number(opts.factor);
const slaMs = Number(opts["sla-ms"]);
if (!(seconds > 0 && seconds <= 600 && factor > 0 && factor <= 10 && slaMs >= 1_000)) {
  console.error("expected --seconds 1–600, --factor 0–10, --sla-ms ≥ 1000");
  process.exit(2);
}

const fleet = JSON.parse(
  readFileSync(new URL("../shared/seed/fleet.json", import.meta.url), "utf8"),
) as {
  sites: {
    id: string;
    trusted: boolean;
    location: { lat: number; lon: number };
    capacity: { maxConcurrent: number };
  }[];
};
// The load is strict-privacy, so only trusted sites may serve it: their slots are the capacity.
const serving = fleet.sites.filter((s) => s.trusted);
const MODEL = "llama-3.1-8b";

const ctx = runContext("loadtest", { pinned: false, how: "not pinned: the whole stack runs" });
const timeScale = Number(opts["time-scale"]);
// A folder of its own: free ports, the Bedrock stand-in, state apart from `npm start`'s.
const dir = mkdtempSync(join(tmpdir(), "mec-router-loadtest-"));
const stack = await startStack({
  dir,
  output: "ignore",
  seed: Number(opts.seed),
  siteTimeScale: timeScale,
});
let exitCode = 0;
try {
  // As an operator would before such traffic: the model resident at every serving site (a cold
  // load takes longer than the SLA, so a site without it could take none of this load).
  for (const site of serving) {
    const res = await fetch(`${stack.base}/v1/sites/${site.id}/models`, {
      method: "POST",
      headers: { authorization: "Bearer dev-operator-key", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL }),
    });
    if (!res.ok) {
      throw new Error(`loading ${MODEL} at ${site.id}: HTTP ${res.status} ${await res.text()}`);
    }
  }
  const result = await runLoad({
    url: stack.base,
    sites: serving.map((s) => ({ location: s.location, slots: s.capacity.maxConcurrent })),
    seconds,
    calibrationSeconds: Number(opts.calibration),
    factor,
    slaMs,
    mix: { critical: 0.2, standard: 0.5, sheddable: 0.3 },
    seed: Number(opts.seed),
    model: MODEL,
    maxTokens: Number(opts["max-tokens"]),
  });
  const verdict = loadVerdict(result);
  const lines = [
    ...headerLines(ctx, "mec-router load test"),
    `fleet: ${result.capacity.slots} MEC slots over the ${serving.length} trusted sites of ${fleet.sites.length} (strict privacy), ` +
      `${result.capacity.serviceMs} ms a request unloaded: capacity ${result.capacity.perSecond} req/s`,
    `load: ${result.rate} req/s (${factor}× capacity) for ${seconds} s, SLA ${slaMs} ms, sites at time scale ${timeScale}, ` +
      "strict privacy (MEC only), 20 % critical / 50 % standard / 30 % sheddable",
    "",
    ...loadTable(result),
    "",
    "refusals by what they say (most frequent first):",
    ...CLASSES.flatMap((c) =>
      Object.entries(result.classes[c].reasons)
        .sort(([, a], [, b]) => b - a)
        .slice(0, 6)
        .map(([why, n]) => `  ${c.padEnd(9)} ${String(n).padStart(5)}  ${why}`),
    ),
    "",
    `health checks: ${result.health.checks}, failed ${result.health.failed}, p99 ${result.health.p99Ms} ms; ` +
      `most site breakers not closed at once: ${result.breakersNotClosedMax} of ${fleet.sites.length}`,
    `critical kept SLA: ${verdict.criticalKeptSla ? "yes" : "NO"}; sheddable shed with 503: ` +
      `${verdict.sheddableShed ? "yes" : "NO"}; none lost: ${verdict.noneLost ? "yes" : "NO"}; ` +
      `all errors typed: ${verdict.allTyped ? "yes" : "NO"}; worker up: ${verdict.workerUp ? "yes" : "NO"}`,
  ];
  console.log(lines.join("\n"));
  writeResults(ctx, {
    options: { seconds, factor, slaMs, timeScale, seed: Number(opts.seed) },
    result,
    verdict,
  });
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  exitCode = 1;
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
