// Where mec-router's CPU per request goes under `npm run bench:overhead`'s load (same upstream,
// same requests, same Miniflare setup), in two ways:
//
//   npm run bench:overhead-profile [-- --paths chat,route,route-reserve --variants full,no-monitor
//                                      --connections 8 --duration 5 --repeat 3 --top 25]
//   npm run bench:overhead-profile -- --side-by-side [--baseline DIR] [same options]
//
// Profiles: for each variant a router of its own; per path, first `--repeat` passes without the
// profiler (workerd's CPU per request from /proc, the median), then one pass with V8 CPU profiles
// of every workerd isolate (the router with its Durable Objects and queue consumer, and
// Miniflare's own services: entry, assets, D1, queue broker). The profiler costs CPU itself and
// its samples are weighted by their intervals, so profiles give shares, not milliseconds; workerd's
// C++ (RPC, SQLite, sockets) shows as the self time of the JS that called it, or not at all.
// Side by side: one router per variant (and per checkout, with `--baseline DIR`, another
// checkout of mec-router, e.g. `git worktree add DIR main`), taking turns under the same load,
// nothing profiled: CPU per request of each, and its ratio to the first, measured in one run.
//
// Variants switch a part off, to measure it by difference: `full` is the router as
// `bench:overhead` serves it; `no-monitor` binds no queue consumer (events are still sent, nobody
// stores them); `no-assets` serves no static assets (Miniflare routes every request through
// three asset Workers first; Cloudflare does that at its edge, not in the Worker).
// Paths: `chat` and `route` are bench:overhead's requests; `route-reserve` is the route request
// with `"reserve": true`, i.e. plus one lease at the site's agent (never released: it expires).
//
// Each profile sample is charged to the nearest frame of our own code up its stack (library code
// such as zod or hono counts for the module of ours that called it), and that module to a part:
// durable-objects/<file> → that Durable Object, worker/monitor/ → monitor, the rest → router.

import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { cpuTimeMs, readStat } from "./cpu-load.ts";
import {
  applyMigrations,
  chatRequestBody,
  DEVICE_KEY,
  dryRunBundle,
  miniflare,
  registerSite,
  routeRequestBody,
  routerBindings,
  startKinesis,
  startUpstream,
  stop,
  waitUntilRouted,
} from "./overhead-servers.ts";
import { median, round, runContext, writeResults } from "./report.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "8" },
    paths: { type: "string", default: "chat,route" },
    variants: { type: "string", default: "full,no-monitor" },
    repeat: { type: "string", default: "3" },
    "sampling-us": { type: "string", default: "500" },
    top: { type: "string", default: "25" },
    baseline: { type: "string" },
    "side-by-side": { type: "boolean", default: false },
  },
});
const DURATION_S = Number(opts.duration);
const WARMUP_S = Number(opts.warmup);
const CONNECTIONS = Number(opts.connections);
const SAMPLING_US = Number(opts["sampling-us"]);
const TOP = Number(opts.top);
const REPEAT = Math.max(1, Number(opts.repeat));
const ROOT = new URL("../", import.meta.url).pathname;
const PATHS = opts.paths.split(",") as PathId[];
const VARIANTS = opts.variants.split(",") as VariantId[];

type PathId = "chat" | "route" | "route-reserve";
const VARIANT_IDS = ["full", "no-monitor", "no-assets"] as const;
type VariantId = (typeof VARIANT_IDS)[number];
const PATH_OF: Record<PathId, { url: string; body: string }> = {
  chat: { url: "/v1/chat/completions", body: chatRequestBody() },
  route: { url: "/v1/route", body: routeRequestBody() },
  "route-reserve": {
    url: "/v1/route",
    body: JSON.stringify({ ...JSON.parse(routeRequestBody()), reserve: true }),
  },
};
if (
  ![DURATION_S, WARMUP_S, CONNECTIONS, SAMPLING_US, TOP].every(Number.isFinite) ||
  !PATHS.every((p) => p in PATH_OF) ||
  !VARIANTS.every((v) => (VARIANT_IDS as readonly string[]).includes(v))
) {
  console.error(
    `bad option (paths: ${Object.keys(PATH_OF)}; variants: ${VARIANT_IDS}; the rest numbers)`,
  );
  process.exit(2);
}

/** kinesalite, where the routers' monitors push (bench/overhead-servers.ts: `startKinesis`). */
let kinesisUrl: string | undefined;

function bindingsOf(variant: VariantId): Record<string, unknown> {
  const b = routerBindings(kinesisUrl);
  if (variant === "no-monitor") delete b.queueConsumers;
  if (variant === "no-assets") delete b.assets;
  return b;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The V8 inspector protocol, as much as profiling needs.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

class Inspector {
  readonly #ws: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, (msg: { result?: unknown; error?: unknown }) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: unknown };
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", reject, { once: true });
    });
    return new Inspector(ws);
  }

  send<T>(method: string, params: object = {}): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (msg) => {
        this.#pending.delete(id);
        if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
        else resolve(msg.result as T);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}

// ---------------------------------------------------------------------------------------------
// From a sample's frame to a module of the bundle: esbuild starts every module with a
// `// path/to/module` comment line.

class BundleMap {
  readonly #starts: { line: number; module: string }[] = [];
  constructor(bundlePath: string) {
    const lines = readFileSync(bundlePath, "utf8").split("\n");
    lines.forEach((text, i) => {
      const m =
        /^\/\/ (?:\S*\/)??((?:node_modules|worker|shared|durable-objects|scripts)\/\S+)$/.exec(
          text,
        );
      if (m?.[1]) this.#starts.push({ line: i, module: m[1] });
    });
  }
  /** The module holding a 0-based line. */
  moduleAt(line: number): string {
    let lo = 0;
    let hi = this.#starts.length - 1;
    let found = "(bundle prelude)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.#starts[mid] as { line: number; module: string };
      if (s.line <= line) {
        found = s.module;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}

const isOurs = (module: string) => !module.startsWith("node_modules/") && module.includes("/");

function partOf(module: string): string {
  if (module.startsWith("durable-objects/")) return module.replace(/^durable-objects\/|\.ts$/g, "");
  if (module.startsWith("worker/monitor/")) return "monitor";
  if (isOurs(module)) return "router";
  return module;
}

interface Attribution {
  /** Sampled milliseconds by part (router, monitor, site-agent, …, or a VM state). */
  parts: Map<string, number>;
  /** Sampled milliseconds by our module that ran or called the code. */
  modules: Map<string, number>;
  /** Self milliseconds by function (module:function). */
  functions: Map<string, number>;
  busyMs: number;
}

function attribute(profile: Profile, map: BundleMap | undefined, intervalUs: number): Attribution {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A sample stands for the time until the next one, but at most a few sampling intervals: an
  // isolate is sampled only while it runs, so a long gap after a sample is time it did not use.
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const dt = Math.min(profile.timeDeltas[i + 1] ?? intervalUs, 4 * intervalUs);
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  });
  const moduleOf = (n: ProfileNode) => {
    const { url, lineNumber, functionName } = n.callFrame;
    if (!url) return `(${functionName || "native"})`;
    return map && /index\.js$/.test(url) ? map.moduleAt(lineNumber) : url;
  };
  const out: Attribution = {
    parts: new Map(),
    modules: new Map(),
    functions: new Map(),
    busyMs: 0,
  };
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
  for (const [id, us] of selfUs) {
    const node = nodes.get(id) as ProfileNode;
    const name = node.callFrame.functionName;
    const ms = us / 1000;
    if (name === "(idle)") continue;
    out.busyMs += ms;
    const self = moduleOf(node);
    add(out.functions, `${self} ${name || "(anonymous)"}`, ms);
    if (name === "(program)" || name === "(garbage collector)") {
      add(out.parts, name, ms);
      add(out.modules, name, ms);
      continue;
    }
    let owner: string | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const m = moduleOf(nodes.get(at) as ProfileNode);
      if (isOurs(m)) {
        owner = m;
        break;
      }
    }
    const module = owner ?? `${self} (no caller of ours)`;
    add(out.modules, module, ms);
    add(out.parts, owner ? partOf(owner) : "(runtime/library, no caller of ours)", ms);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The workerd process's CPU time.

/** The workerd processes this process started (one per Miniflare instance). */
function workerdPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      const s = readStat(pid);
      return s?.comm === "workerd" && s.ppid === process.pid;
    });
}

// ---------------------------------------------------------------------------------------------

async function drive(url: string, body: string, seconds: number) {
  const instance = autocannon({
    url,
    method: "POST",
    body,
    headers: { authorization: `Bearer ${DEVICE_KEY}`, "content-type": "application/json" },
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 10,
  });
  const r = await new Promise<{ "2xx": number; non2xx: number; errors: number; timeouts: number }>(
    (resolve) => instance.on("done", resolve),
  );
  return { ok: r["2xx"], other: r.non2xx + r.errors + r.timeouts };
}

interface PathResult {
  variant: VariantId;
  path: PathId;
  requests: number;
  failed: number;
  /** Without the profiler. */
  reqPerSec: number;
  workerdCpuMsPerReq: number;
  /** While profiling (the profiler's own cost included). */
  profiledReqPerSec: number;
  profiledCpuMsPerReq: number;
  /** Sampled (non-idle) JS time per request, by isolate. */
  isolatesMsPerReq: Record<string, number>;
  routerParts: Record<string, number>;
  routerModules: Record<string, number>;
  routerFunctions: Record<string, number>;
}

const perReq = (m: Map<string, number>, n: number, min = 0.005) =>
  Object.fromEntries(
    [...m]
      .map(([k, v]) => [k, round(v / n, 3)] as const)
      .filter(([, v]) => v >= min)
      .sort((a, b) => b[1] - a[1]),
  );

/**
 * A router on the bundle of the checkout at `root`, registered with the upstream and routing;
 * `pids` are its workerd processes.
 */
async function startRouter(
  root: string,
  variant: VariantId,
  upstream: string,
  shared: { inspectorPort?: number } = {},
) {
  const before = new Set(workerdPids());
  const bundle = dryRunBundle(join(root, "wrangler.toml"));
  const router = await miniflare("mec-router", bundle, bindingsOf(variant), shared);
  await applyMigrations(router.mf);
  await registerSite(router.url, upstream);
  await waitUntilRouted(router.url, chatRequestBody());
  return { ...router, bundle, pids: workerdPids().filter((p) => !before.has(p)) };
}

async function profileVariant(variant: VariantId, upstream: string): Promise<PathResult[]> {
  const inspectorPort = await freePort();
  const router = await startRouter(ROOT, variant, upstream, { inspectorPort });
  const { pids } = router;
  const map = new BundleMap(router.bundle.main);
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const inspectors = await Promise.all(
    targets.map(async (t) => ({ id: t.id, insp: await Inspector.connect(t.webSocketDebuggerUrl) })),
  );
  for (const { insp } of inspectors) {
    await insp.send("Profiler.enable");
    await insp.send("Profiler.setSamplingInterval", { interval: SAMPLING_US });
  }
  const results: PathResult[] = [];
  for (const path of PATHS) {
    const { url, body } = PATH_OF[path];
    await drive(`${router.url}${url}`, body, WARMUP_S);
    // First without the profiler (which costs CPU itself): the process's CPU per request, the
    // median of `--repeat` passes.
    const plainCpu: number[] = [];
    const plainRate: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const plain0 = cpuTimeMs(pids);
      const plain = await drive(`${router.url}${url}`, body, DURATION_S);
      plainCpu.push((cpuTimeMs(pids) - plain0) / Math.max(1, plain.ok));
      plainRate.push(plain.ok / DURATION_S);
    }
    const plainCpuMsPerReq = median(plainCpu);
    const plainReqPerSec = median(plainRate);
    for (const { insp } of inspectors) await insp.send("Profiler.start");
    const cpu0 = cpuTimeMs(pids);
    const t0 = performance.now();
    const load = await drive(`${router.url}${url}`, body, DURATION_S);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuTimeMs(pids);
    const profiles = await Promise.all(
      inspectors.map(async ({ id, insp }) => ({
        id,
        profile: (await insp.send<{ profile: Profile }>("Profiler.stop")).profile,
      })),
    );
    const n = Math.max(1, load.ok);
    const isolates = new Map<string, number>();
    let routerAttr: Attribution | undefined;
    for (const { id, profile } of profiles) {
      const a = attribute(profile, id === "core:user:mec-router" ? map : undefined, SAMPLING_US);
      isolates.set(id, a.busyMs);
      if (id === "core:user:mec-router") routerAttr = a;
    }
    results.push({
      variant,
      path,
      requests: load.ok,
      failed: load.other,
      reqPerSec: Math.round(plainReqPerSec),
      workerdCpuMsPerReq: round(plainCpuMsPerReq, 3),
      profiledReqPerSec: Math.round(load.ok / seconds),
      profiledCpuMsPerReq: round((cpu1 - cpu0) / n, 3),
      isolatesMsPerReq: perReq(isolates, n),
      routerParts: routerAttr ? perReq(routerAttr.parts, n) : {},
      routerModules: routerAttr ? perReq(routerAttr.modules, n) : {},
      routerFunctions: routerAttr
        ? Object.fromEntries(Object.entries(perReq(routerAttr.functions, n)).slice(0, TOP))
        : {},
    });
  }
  for (const { insp } of inspectors) insp.close();
  await router.mf.dispose();
  return results;
}

function table(title: string, rows: Record<string, number>, limit = Number.POSITIVE_INFINITY) {
  const lines = [`  ${title}`];
  for (const [k, v] of Object.entries(rows).slice(0, limit)) {
    lines.push(`    ${v.toFixed(3).padStart(8)}  ${k}`);
  }
  return lines.join("\n");
}

/**
 * Routers side by side, one per (checkout, variant), taking turns under the same load: `--repeat`
 * rounds of `--duration` s each per path, the order rotated from round to round. Each one's
 * workerd CPU per answered request, and its ratio to the first router's, per round, then the
 * median: measured in one run, so other load on the machine touches all of them alike.
 */
/** Longer than the queue's batch timeout (5 s): the last turn's events are consumed by then. */
const DRAIN_MS = 7_000;

async function sideBySide(baseline: string | undefined, upstream: string): Promise<void> {
  const context = ctx("overhead-side-by-side");
  const checkouts = baseline ? [["baseline", baseline] as const] : [];
  const contestants = [];
  for (const [name, root] of [...checkouts, ["this", ROOT] as const]) {
    for (const variant of VARIANTS) {
      contestants.push({
        name: `${name} ${variant}`,
        router: await startRouter(root, variant, upstream),
      });
    }
  }
  const first = contestants[0]?.name;
  console.log(
    `side by side, taking turns: ${contestants.map((c) => c.name).join(", ")}` +
      `${baseline ? ` (baseline: ${baseline})` : ""}; ${CONNECTIONS} connections, ${REPEAT} × ` +
      `${DURATION_S} s each per path; workerd CPU ms per answered request, and its ratio to ` +
      `${first}'s in the same round (median of rounds)\n`,
  );
  console.log("| path | router | CPU ms/req | ratio | req/s |");
  console.log("|---|---|---:|---:|---:|");
  const rows: Record<string, unknown>[] = [];
  for (const path of PATHS) {
    const { url, body } = PATH_OF[path];
    const cpu = contestants.map(() => [] as number[]);
    const rate = contestants.map(() => [] as number[]);
    for (const c of contestants) await drive(`${c.router.url}${url}`, body, WARMUP_S);
    // What a turn leaves behind (queue batches consumed up to 5 s later, batched releases) runs
    // while the others take theirs: each turn is charged its router's CPU until that router's
    // next turn starts, the last one until a drain after the last round (idle work, such as the
    // site agent's probes, is charged too, alike for every router).
    const starts = contestants.map(() => [] as number[]);
    const answered = contestants.map(() => [] as number[]);
    for (let round = 0; round < REPEAT; round++) {
      for (let k = 0; k < contestants.length; k++) {
        const i = (k + round) % contestants.length;
        const { router } = contestants[i] as (typeof contestants)[number];
        starts[i]?.push(cpuTimeMs(router.pids));
        const load = await drive(`${router.url}${url}`, body, DURATION_S);
        answered[i]?.push(load.ok);
        rate[i]?.push(load.ok / DURATION_S);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
    contestants.forEach((c, i) => {
      const at = [...(starts[i] as number[]), cpuTimeMs(c.router.pids)];
      (answered[i] as number[]).forEach((n, r) => {
        cpu[i]?.push(((at[r + 1] as number) - (at[r] as number)) / Math.max(1, n));
      });
    });
    const base = cpu[0] as number[];
    contestants.forEach((c, i) => {
      const mine = cpu[i] as number[];
      const row = {
        path,
        router: c.name,
        cpuMsPerReq: round(median(mine), 3),
        ratio: round(median(mine.map((x, r) => x / (base[r] as number))), 3),
        reqPerSec: Math.round(median(rate[i] as number[])),
        rounds: mine.map((x) => round(x, 3)),
      };
      rows.push(row);
      console.log(`| ${path} | ${c.name} | ${row.cpuMsPerReq} | ${row.ratio} | ${row.reqPerSec} |`);
    });
  }
  for (const c of contestants) await c.router.mf.dispose();
  writeResults(context, {
    config: config(),
    baseline: baseline ?? null,
    rows,
  });
}

const ctx = (name: string) => runContext(name, { pinned: false, how: "not pinned" });
const config = () => ({
  connections: CONNECTIONS,
  durationS: DURATION_S,
  warmupS: WARMUP_S,
  repeat: REPEAT,
  samplingUs: SAMPLING_US,
  variants: VARIANTS,
  paths: PATHS,
  upstreamLatencyMs: 1,
});

async function main(): Promise<void> {
  const upstream = await startUpstream(1);
  kinesisUrl = await startKinesis();
  if (opts.baseline || opts["side-by-side"]) return sideBySide(opts.baseline, upstream);
  const context = ctx("overhead-profile");
  console.log(
    `profiling mec-router under Miniflare: ${CONNECTIONS} connections, ${DURATION_S} s per path, ` +
      `V8 sampling every ${SAMPLING_US} µs; ms of CPU per answered request\n`,
  );
  const all: PathResult[] = [];
  for (const variant of VARIANTS) {
    for (const r of await profileVariant(variant, upstream)) {
      all.push(r);
      console.log(
        `${r.variant} ${r.path}: ${r.reqPerSec} req/s, workerd CPU ${r.workerdCpuMsPerReq} ms/req; ` +
          `profiled: ${r.requests} answered (${r.failed} not), ${r.profiledReqPerSec} req/s, ` +
          `workerd CPU ${r.profiledCpuMsPerReq} ms/req`,
      );
      console.log(table("by isolate (sampled JS: shares, see above)", r.isolatesMsPerReq));
      console.log(table("router isolate by part", r.routerParts));
      console.log(table("router isolate by module of ours", r.routerModules, TOP));
      console.log(table("router isolate, self time by function", r.routerFunctions, TOP));
      console.log("");
    }
  }
  writeResults(context, { config: config(), results: all });
}

main()
  .then(() => stop(0))
  .catch(async (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    await stop(1);
  });
