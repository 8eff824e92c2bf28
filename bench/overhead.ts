// What mec-router adds to a request's latency, beside Portkey's gateway, each against the floor of
// its own runtime, all in one run on loopback:
//
//   npm run bench:overhead [-- --runs 3 --duration 5 --connections 1,16,64 --upstream-ms 1
//                              --max-foreign 0.15 --no-pin --no-monitor]
//
// `--no-monitor` runs mec-router without its queue consumer (results: overhead-no-monitor-*):
// Miniflare runs the monitor's batches, their D1 (SQLite) work and learning on the servers' core,
// between the router's requests; in production they are invocations of their own and D1 is
// another service.
//
// Systems, all sent the same request body by the same load generator (autocannon, in this
// process, with its own sub-millisecond timing of every response):
//   direct        the fixed-latency upstream itself (a demo MEC site, bench/overhead-servers.ts)
//   node floor    a minimal Hono forwarder on Node (@hono/node-server)      — Portkey's floor
//   portkey       @portkey-ai/gateway on Node, pointed at the upstream
//   worker floor  the same Hono forwarder as a Worker under Miniflare        — mec-router's floor
//   mec-router    POST /v1/chat/completions under Miniflare: auth, validation, decision, lease at
//                 the site's Durable Object, the call, events to the queue (no static assets:
//                 Cloudflare routes those at its edge, before the Worker)
//   route floor   the Worker floor's POST /v1/route: parse a JSON body, answer JSON
//   mec-router route  POST /v1/route: decide only
// Each (system, connections) is measured `--runs` times, the systems interleaved and rotated
// within a run, concurrency levels lowest first; tables show medians over runs of each run's
// figures and of each run's ratios.
//
// Cores: servers share the first allowed CPU (`taskset`), the load generator takes the last, with
// kinesalite, where the monitor pushes its metrics (Kinesis is another service in production).
// A measurement during which other processes kept more than `--max-foreign` of a core busy
// (from /proc: all CPU time minus ours) is repeated once; the less disturbed is kept.

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { cpuTimeMs, ourProcesses, watchCpu } from "./cpu-load.ts";
import {
  BENCH_SITE_ID,
  chatRequestBody,
  DEVICE_KEY,
  OPERATOR_KEY,
  routeRequestBody,
} from "./overhead-servers.ts";
import { allowedCpus, pinToOneCore } from "./pin.ts";
import { progressBar } from "./progress.ts";
import { headerLines, median, round, runContext, writeChart, writeResults } from "./report.ts";
import { PALETTE, renderBarChart } from "./svg-chart.ts";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "1,16,64" },
    "upstream-ms": { type: "string", default: "1" },
    "max-foreign": { type: "string", default: "0.15" },
    "no-pin": { type: "boolean", default: false },
    // The monitor's queue consumer unbound (events are sent, nobody stores them): where its D1
    // writes and learning, which Miniflare runs on the servers' core, stop weighing on the router.
    "no-monitor": { type: "boolean", default: false },
  },
});
const NO_MONITOR = opts["no-monitor"];

// The CPUs allowed before pinning (the pinned child inherits them through the environment).
const CPUS_ENV = "MEC_BENCH_ALL_CPUS";
process.env[CPUS_ENV] ??= (allowedCpus() ?? cpus().map((_, i) => i)).join(",");
const ALL_CPUS = (process.env[CPUS_ENV] as string).split(",").map(Number);
const LOADGEN_CPU = ALL_CPUS.at(-1) ?? 0;
const pinning = pinToOneCore(!opts["no-pin"] && ALL_CPUS.length > 1, LOADGEN_CPU);
const SERVER_CPUS = pinning.pinned ? ALL_CPUS.filter((c) => c !== pinning.cpu) : [];

const RUNS = Math.max(3, Number(opts.runs));
const DURATION_S = Number(opts.duration);
const WARMUP_S = Number(opts.warmup);
const CONNECTIONS = opts.connections.split(",").map(Number);
const UPSTREAM_MS = Number(opts["upstream-ms"]);
const MAX_FOREIGN = Number(opts["max-foreign"]);
const RETRIES = 1;
if (
  ![RUNS, DURATION_S, WARMUP_S, UPSTREAM_MS, MAX_FOREIGN].every(Number.isFinite) ||
  !CONNECTIONS.every((c) => Number.isInteger(c) && c > 0)
) {
  console.error(
    "bad option: --runs, --duration, --warmup, --upstream-ms, --max-foreign take numbers",
  );
  process.exit(2);
}

type SystemId =
  | "direct"
  | "node-floor"
  | "portkey"
  | "worker-floor"
  | "mec-chat"
  | "route-floor"
  | "mec-route";

interface System {
  id: SystemId;
  label: string;
  runtime: string;
  url: string;
  body: string;
  /** The floor this system is judged against; the direct upstream for the floors. */
  floor?: SystemId;
}

interface Measurement {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  reqPerSec: number;
  ok: number;
  failed: number;
  /** Answers by HTTP status, and transport errors and timeouts. */
  statuses: Record<string, number>;
  /** Cores other processes kept busy on average (null off Linux). */
  foreignCores: number | null;
  /**
   * CPU time of all servers (upstream included) per successful request, the work left behind
   * (until the servers were idle again, see `settleMs`) included (null off Linux).
   */
  serverCpuMsPerReq: number | null;
  /** How long the servers stayed busy after the load stopped (a queue consumer's backlog). */
  settleMs: number;
  attempts: number;
  disturbed: boolean;
  /** After a mec-router measurement with failures: the site as its agent then saw it. */
  siteAfter?: unknown;
}

const children: ChildProcess[] = [];
function stopChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        child.kill("SIGTERM");
      }
    }
  }
}
process.on("exit", stopChildren);
process.on("SIGINT", () => process.exit(130));

/**
 * Spawns a server pinned to `cpus` (the servers' cores unless told); resolves with the JSON line
 * it prints.
 */
async function startServer(
  args: string[],
  cpus: readonly number[] = SERVER_CPUS,
): Promise<{ info: Record<string, string>; child: ChildProcess }> {
  const node = [process.execPath, "--experimental-strip-types", "--no-warnings", ...args];
  const [cmd, ...rest] = cpus.length > 0 ? ["taskset", "-c", cpus.join(","), ...node] : node;
  const child = spawn(cmd as string, rest, {
    cwd: new URL("../", import.meta.url).pathname,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4_000);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`${args.join(" ")} exited (${code}) before it was ready:\n${stderr}`);
  });
  const first = (async () => {
    for await (const line of lines) {
      if (line.startsWith("{")) return JSON.parse(line) as Record<string, string>;
    }
    throw new Error(`${args.join(" ")} closed its output before it was ready:\n${stderr}`);
  })();
  const info = await Promise.race([first, exited]);
  return { info, child };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server.close();
  return port;
}

/** Portkey's own Node server (its npm package's entry), told the upstream per request. */
async function startPortkey(
  headers: Record<string, string>,
  body: string,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const entry = new URL(
    "../node_modules/@portkey-ai/gateway/build/start-server.js",
    import.meta.url,
  ).pathname;
  const node = [process.execPath, entry, `--port=${port}`, "--headless"];
  const [cmd, ...rest] =
    SERVER_CPUS.length > 0 ? ["taskset", "-c", SERVER_CPUS.join(","), ...node] : node;
  const child = spawn(cmd as string, rest, {
    env: { ...process.env, NODE_ENV: "production" },
    stdio: "ignore",
    detached: true,
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers, body });
      if (res.ok) return { url, child };
      await res.body?.cancel();
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("Portkey's gateway did not answer through to the upstream within 30 s");
}

function percentile(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

const HEADERS_BASE = { "content-type": "application/json" };

async function load(
  system: System,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<
  Omit<Measurement, "foreignCores" | "serverCpuMsPerReq" | "settleMs" | "attempts" | "disturbed">
> {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  const instance = autocannon({
    url: system.url,
    method: "POST",
    headers,
    body: system.body,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status < 200 || status >= 300) {
      failed++;
      return;
    }
    if (n === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[n++] = ms;
  });
  const result = await new Promise<{ errors: number; timeouts: number }>((resolve) =>
    instance.on("done", resolve),
  );
  const sorted = latencies.subarray(0, n).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    p50Ms: round(percentile(sorted, 0.5), 3),
    p90Ms: round(percentile(sorted, 0.9), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
    meanMs: round(n > 0 ? sum / n : Number.NaN, 3),
    reqPerSec: Math.round(n / seconds),
    ok: n,
    failed: failed + result.errors + result.timeouts,
    statuses: { ...statuses, errors: result.errors, timeouts: result.timeouts },
  };
}

async function measure(
  system: System,
  headers: Record<string, string>,
  connections: number,
  pids: { ours: number[]; servers: number[] },
): Promise<Measurement> {
  let best: Measurement | undefined;
  for (let attempt = 1; attempt <= 1 + RETRIES; attempt++) {
    const watch = watchCpu(pids.ours, pids.servers);
    const m = await load(system, headers, connections, DURATION_S);
    const cpu = watch.stop();
    const settled = await settle(pids.servers);
    const foreignCores = cpu === null ? null : round(cpu.foreignCores, 3);
    const disturbed = foreignCores !== null && foreignCores > MAX_FOREIGN;
    const serverMs = cpu === null ? null : 1000 * cpu.serverCpuS + settled.cpuMs;
    const entry = {
      ...m,
      foreignCores,
      serverCpuMsPerReq: serverMs === null || m.ok === 0 ? null : round(serverMs / m.ok, 3),
      settleMs: settled.ms,
      attempts: attempt,
      disturbed,
    };
    if (!best || (foreignCores ?? 0) < (best.foreignCores ?? 0)) best = entry;
    if (!disturbed) break;
  }
  return { ...(best as Measurement), attempts: Math.min(1 + RETRIES, best?.attempts ?? 1) };
}

const SETTLE_POLL_MS = 250;
/** Servers using less than this share of a core over a poll are idle. */
const SETTLE_IDLE_CORES = 0.1;
const SETTLE_MAX_MS = 20_000;

/**
 * Waits until the servers are idle (below SETTLE_IDLE_CORES over a poll, at most SETTLE_MAX_MS):
 * what a system leaves behind — mec-router's queue consumer working off its backlog — would
 * otherwise run during the next system's measurement, and be charged to it. Returns how long that
 * took and the servers' CPU time meanwhile, which is charged to the system just measured.
 */
async function settle(servers: readonly number[]): Promise<{ ms: number; cpuMs: number }> {
  const start = Date.now();
  const cpu0 = cpuTimeMs(servers);
  let last = cpu0;
  while (Date.now() - start < SETTLE_MAX_MS) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    const now = cpuTimeMs(servers);
    const busy = (now - last) / SETTLE_POLL_MS;
    last = now;
    if (busy < SETTLE_IDLE_CORES) break;
  }
  return { ms: Date.now() - start, cpuMs: last - cpu0 };
}

interface Derived {
  /** p50 / p99 over the direct upstream, same run. */
  addedP50Ms: number;
  addedP99Ms: number;
  /** Over its own floor, same run (floors: over direct). */
  overFloorP50Ms: number;
  overFloorP99Ms: number;
  /** req/s as a share of its floor's, same run. */
  keptOfFloor: number;
}

function derive(m: Record<SystemId, Measurement>, s: System): Derived {
  const direct = m.direct;
  const floor = s.floor ? m[s.floor] : direct;
  return {
    addedP50Ms: m[s.id].p50Ms - direct.p50Ms,
    addedP99Ms: m[s.id].p99Ms - direct.p99Ms,
    overFloorP50Ms: m[s.id].p50Ms - floor.p50Ms,
    overFloorP99Ms: m[s.id].p99Ms - floor.p99Ms,
    keptOfFloor: m[s.id].reqPerSec / floor.reqPerSec,
  };
}

/** Why the router refused: its site agent's view of the upstream (health, breaker, probes). */
async function siteState(routerUrl: string): Promise<unknown> {
  try {
    const res = await fetch(`${routerUrl}/v1/sites/${BENCH_SITE_ID}`, {
      headers: { authorization: `Bearer ${OPERATOR_KEY}` },
    });
    const d = (await res.json()) as {
      view?: { healthy?: boolean; breaker?: string };
      breaker?: { phase?: string; window?: string; ejections?: number };
      lastProbeOk?: boolean;
      lastProbeAt?: number;
    };
    return {
      healthy: d.view?.healthy,
      breaker: d.breaker?.phase,
      window: d.breaker?.window,
      ejections: d.breaker?.ejections,
      lastProbeOk: d.lastProbeOk,
      lastProbeAgeMs: d.lastProbeAt === undefined ? undefined : Date.now() - d.lastProbeAt,
    };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Non-2xx answers and errors over a system's runs, e.g. `503 ×120`. */
function failures(runs: Measurement[]): string {
  const total: Record<string, number> = {};
  for (const r of runs) {
    for (const [k, n] of Object.entries(r.statuses)) {
      if (n > 0 && !/^2\d\d$/.test(k)) total[k] = (total[k] ?? 0) + n;
    }
  }
  return Object.entries(total)
    .map(([k, n]) => `${k} ×${n}`)
    .join(", ");
}

const fmt = (x: number, digits = 2) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "—";
const signed = (x: number, digits = 2) => (x >= 0 ? `+${fmt(x, digits)}` : `−${fmt(-x, digits)}`);
const pct = (x: number) => `${fmt(100 * x, 0)}%`;

async function main(): Promise<void> {
  const started = performance.now();
  const ctx = runContext(NO_MONITOR ? "overhead-no-monitor" : "overhead", pinning);
  const chatBody = chatRequestBody();
  const routeBody = routeRequestBody();
  const progress = progressBar(RUNS * CONNECTIONS.length * 7 + 7);

  progress.note("starting the upstream");
  const upstream = await startServer([
    "bench/overhead-servers.ts",
    "upstream",
    "--latency-ms",
    String(UPSTREAM_MS),
  ]);
  const upstreamUrl = upstream.info.url as string;
  // Every system gets the same headers: each reads its own and ignores the others'.
  const headers = {
    ...HEADERS_BASE,
    authorization: `Bearer ${DEVICE_KEY}`,
    "x-portkey-provider": "openai",
    "x-portkey-custom-host": upstreamUrl,
  };
  progress.note("starting the Node floor and Portkey");
  const nodeFloor = await startServer([
    "bench/overhead-servers.ts",
    "node-floor",
    "--upstream",
    upstreamUrl,
  ]);
  const { url: portkeyUrl, child: portkey } = await startPortkey(headers, chatBody);
  // Kinesis is a remote service in production: kinesalite runs beside the load generator, off
  // the servers' core, and its CPU is charged to no system.
  progress.note("starting kinesalite (the monitor's Kinesis)");
  const kinesis = await startServer(
    ["bench/overhead-servers.ts", "kinesis"],
    pinning.pinned && pinning.cpu !== undefined ? [pinning.cpu] : [],
  );
  progress.note("bundling and starting the Workers (floor, mec-router) under Miniflare");
  const workers = await startServer([
    "bench/overhead-servers.ts",
    "workers",
    "--upstream",
    upstreamUrl,
    "--kinesis",
    kinesis.info.url as string,
    ...(NO_MONITOR ? ["--no-monitor"] : []),
  ]);
  const { floorUrl, routerUrl } = workers.info as { floorUrl: string; routerUrl: string };

  const systems: System[] = [
    {
      id: "direct",
      label: "direct upstream",
      runtime: "Node",
      url: `${upstreamUrl}/chat/completions`,
      body: chatBody,
    },
    {
      id: "node-floor",
      label: "Hono forwarder (floor)",
      runtime: "Node",
      url: `${nodeFloor.info.url}/v1/chat/completions`,
      body: chatBody,
    },
    {
      id: "portkey",
      label: "Portkey gateway 1.15.2",
      runtime: "Node",
      url: `${portkeyUrl}/v1/chat/completions`,
      body: chatBody,
      floor: "node-floor",
    },
    {
      id: "worker-floor",
      label: "Hono forwarder (floor)",
      runtime: "workerd",
      url: `${floorUrl}/v1/chat/completions`,
      body: chatBody,
    },
    {
      id: "mec-chat",
      label: "mec-router chat/completions",
      runtime: "workerd",
      url: `${routerUrl}/v1/chat/completions`,
      body: chatBody,
      floor: "worker-floor",
    },
    {
      id: "route-floor",
      label: "Hono JSON answer (floor)",
      runtime: "workerd",
      url: `${floorUrl}/v1/route`,
      body: routeBody,
    },
    {
      id: "mec-route",
      label: "mec-router /v1/route",
      runtime: "workerd",
      url: `${routerUrl}/v1/route`,
      body: routeBody,
      floor: "route-floor",
    },
  ];
  const pids = {
    ours: ourProcesses(),
    servers: [upstream.child, nodeFloor.child, portkey, workers.child].flatMap((c) =>
      c.pid ? ourProcesses(c.pid) : [],
    ),
  };

  for (const s of systems) {
    progress.tick(`warm-up ${s.id}`);
    // At concurrency 1: enough to compile the hot paths, without overloading the servers' core
    // (which could open the router's site breaker before anything is measured).
    await load(s, headers, 1, WARMUP_S);
  }

  // Concurrency levels one after the other, lowest first: a level that overloads the servers'
  // core (and may open the site's breaker at the router) cannot spoil the levels before it.
  const runs: Record<number, Record<SystemId, Measurement>>[] = [];
  for (let run = 1; run <= RUNS; run++) runs.push({});
  for (const c of CONNECTIONS) {
    for (let run = 1; run <= RUNS; run++) {
      const m = {} as Record<SystemId, Measurement>;
      // Rotate the order from run to run, so no system always follows the same one.
      const order = systems.map((_, i) => systems[(i + run - 1) % systems.length] as System);
      for (const s of order) {
        progress.tick(`c=${c} run ${run}/${RUNS} ${s.id}`);
        m[s.id] = await measure(s, headers, c, pids);
        const done = m[s.id] as Measurement;
        if (done.failed > 0 && s.id.startsWith("mec-")) done.siteAfter = await siteState(routerUrl);
      }
      (runs[run - 1] as Record<number, Record<SystemId, Measurement>>)[c] = m;
    }
  }
  progress.done();
  stopChildren();

  const results = CONNECTIONS.map((c) => {
    const perRun = runs.map((r) => r[c] as Record<SystemId, Measurement>);
    const rows = systems.map((s) => {
      const ms = perRun.map((r) => r[s.id]);
      const d = perRun.map((r) => derive(r, s));
      // Over the runs that answered at all: a run refused entirely has no latency to count.
      const finite = (xs: number[]) => {
        const ok = xs.filter(Number.isFinite);
        return ok.length > 0 ? median(ok) : Number.NaN;
      };
      const med = (f: (x: Measurement) => number) => finite(ms.map(f));
      const medD = (f: (x: Derived) => number) => finite(d.map(f));
      const portkeyOverFloor = perRun.map((r) => derive(r, systems[2] as System).overFloorP50Ms);
      return {
        system: s.id,
        label: s.label,
        runtime: s.runtime,
        floor: s.floor ?? null,
        p50Ms: round(
          med((x) => x.p50Ms),
          3,
        ),
        p90Ms: round(
          med((x) => x.p90Ms),
          3,
        ),
        p99Ms: round(
          med((x) => x.p99Ms),
          3,
        ),
        reqPerSec: Math.round(med((x) => x.reqPerSec)),
        serverCpuMsPerReq: round(
          med((x) => x.serverCpuMsPerReq ?? Number.NaN),
          3,
        ),
        settleMs: Math.round(med((x) => x.settleMs)),
        addedP50Ms: round(
          medD((x) => x.addedP50Ms),
          3,
        ),
        addedP99Ms: round(
          medD((x) => x.addedP99Ms),
          3,
        ),
        overFloorP50Ms: round(
          medD((x) => x.overFloorP50Ms),
          3,
        ),
        overFloorP99Ms: round(
          medD((x) => x.overFloorP99Ms),
          3,
        ),
        keptOfFloor: round(
          medD((x) => x.keptOfFloor),
          3,
        ),
        /** This system's added p50 over its floor ÷ Portkey's over its floor, per run. */
        overFloorP50VsPortkey: round(
          median(d.map((x, i) => x.overFloorP50Ms / (portkeyOverFloor[i] as number))),
          3,
        ),
        failed: ms.reduce((n, x) => n + x.failed, 0),
        disturbedRuns: ms.filter((x) => x.disturbed).length,
        foreignCoresMax: Math.max(...ms.map((x) => x.foreignCores ?? 0)),
        runs: ms,
      };
    });
    const row = (id: SystemId) => rows.find((r) => r.system === id) as (typeof rows)[number];
    const chat = row("mec-chat");
    const portkey = row("portkey");
    const route = row("mec-route");
    return {
      connections: c,
      rows,
      targets: {
        chatKeepsOfFloor: { value: chat.keptOfFloor, target: 0.85, met: chat.keptOfFloor >= 0.85 },
        chatOverFloorP50VsPortkey: {
          mecMs: chat.overFloorP50Ms,
          portkeyMs: portkey.overFloorP50Ms,
          target: 0.5,
          met: chat.overFloorP50Ms <= 0.5 * portkey.overFloorP50Ms,
        },
        routeOverFloorP99: {
          valueMs: route.overFloorP99Ms,
          targetMs: 1,
          met: route.overFloorP99Ms <= 1,
        },
      },
    };
  });

  const lines = [
    ...headerLines(
      ctx,
      `Overhead benchmark (loopback)${NO_MONITOR ? ", mec-router's queue consumer unbound" : ""}`,
    ),
    `servers on CPU ${SERVER_CPUS.join(",") || "any"} (taskset), load generator (autocannon ${"9.0.0"}) on CPU ${pinning.pinned ? pinning.cpu : "any"}; ` +
      `upstream: demo MEC site with ${UPSTREAM_MS} ms fixed latency; ${RUNS} runs × ${DURATION_S} s per system and concurrency, ` +
      `median of runs; runs with > ${MAX_FOREIGN} cores of other load repeated (≤ ${RETRIES}×)`,
  ];
  for (const r of results) {
    lines.push(
      "",
      `concurrency ${r.connections}`,
      "",
      "| system | runtime | p50 ms | p99 ms | req/s | server CPU ms/req | added p50 / p99 vs direct ms | over own floor p50 / p99 ms | req/s of floor | over-floor p50 ÷ Portkey's | notes |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    );
    for (const x of r.rows) {
      const isProxy = x.floor !== null;
      lines.push(
        `| ${x.label} | ${x.runtime} | ${fmt(x.p50Ms)} | ${fmt(x.p99Ms)} | ${fmt(x.reqPerSec, 0)} | ${fmt(x.serverCpuMsPerReq)} | ` +
          `${x.system === "direct" ? "—" : `${signed(x.addedP50Ms)} / ${signed(x.addedP99Ms)}`} | ` +
          `${isProxy ? `${signed(x.overFloorP50Ms)} / ${signed(x.overFloorP99Ms)}` : "—"} | ` +
          `${isProxy ? pct(x.keptOfFloor) : "—"} | ` +
          `${isProxy && x.system !== "mec-route" ? fmt(x.overFloorP50VsPortkey) : "—"} | ` +
          [
            x.disturbedRuns > 0
              ? `${x.disturbedRuns} disturbed run${x.disturbedRuns > 1 ? "s" : ""}`
              : "",
            x.failed > 0 ? `${x.failed} failed: ${failures(x.runs)}` : "",
          ]
            .filter(Boolean)
            .join("; ") +
          " |",
      );
    }
  }
  const mark = (met: boolean) => (met ? "✓" : "✗");
  lines.push(
    "",
    `| target (same run) | ${CONNECTIONS.map((c) => `c=${c}`).join(" | ")} |`,
    `|---|${CONNECTIONS.map(() => "---:").join("|")}|`,
    `| mec-router chat keeps ≥ 85% of its floor's req/s | ${results.map((r) => `${pct(r.targets.chatKeepsOfFloor.value)} ${mark(r.targets.chatKeepsOfFloor.met)}`).join(" | ")} |`,
    `| mec-router chat adds ≤ ½ of Portkey's p50 over floor | ${results.map((r) => `${signed(r.targets.chatOverFloorP50VsPortkey.mecMs)} vs ${signed(r.targets.chatOverFloorP50VsPortkey.portkeyMs)} ms ${mark(r.targets.chatOverFloorP50VsPortkey.met)}`).join(" | ")} |`,
    `| /v1/route adds ≤ 1 ms p99 over its floor | ${results.map((r) => `${signed(r.targets.routeOverFloorP99.valueMs)} ms ${mark(r.targets.routeOverFloorP99.met)}`).join(" | ")} |`,
  );
  const totalS = round((performance.now() - started) / 1000, 1);
  lines.push("", `total ${totalS} s`);
  console.log(lines.join("\n"));

  writeResults(ctx, {
    config: {
      runs: RUNS,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      connections: CONNECTIONS,
      upstreamLatencyMs: UPSTREAM_MS,
      maxForeignCores: MAX_FOREIGN,
      retriesWhenDisturbed: RETRIES,
      serverCpus: SERVER_CPUS,
      loadGeneratorCpu: pinning.pinned ? pinning.cpu : null,
      loadGenerator: "autocannon 9.0.0 (in process; each response timed from its 'response' event)",
      chatRequest: JSON.parse(chatBody),
      routeRequest: JSON.parse(routeBody),
    },
    concurrency: results,
    totalSeconds: totalS,
  });
  writeChart(
    ctx.name,
    renderBarChart({
      title: "Latency per system (loopback, fixed-latency upstream)",
      subtitle: `${ctx.date.toISOString().slice(0, 10)} · ${cpus().length} CPUs · median of ${RUNS} runs × ${DURATION_S} s · npm run bench:overhead`,
      series: [
        { name: "p50", color: PALETTE[0] as string },
        { name: "p99", color: PALETTE[1] as string },
      ],
      panels: results.map((r) => ({
        title: `concurrency ${r.connections}`,
        unit: "ms",
        rows: r.rows.map((x) => ({
          label: `${x.label} (${x.runtime})`,
          values: [x.p50Ms, x.p99Ms],
        })),
      })),
    }),
  );
}

main().catch((err) => {
  stopChildren();
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
