// The servers of `npm run bench:overhead`, one process each so that the OS, not one event loop,
// interleaves them on the servers' core. Started by bench/overhead.ts under `taskset`; each
// prints one JSON line `{ "url": … }` once it serves, and runs until SIGTERM.
//
//   node bench/overhead-servers.ts upstream --latency-ms 1
//   node bench/overhead-servers.ts node-floor --upstream http://127.0.0.1:P/v1
//   node bench/overhead-servers.ts workers --upstream http://127.0.0.1:P/v1 --kinesis http://127.0.0.1:K
//   node bench/overhead-servers.ts kinesis
//
// `upstream`: a demo MEC site (scripts/demo-site.mjs) with no simulated compute (timeScale 0)
// and a fixed added latency, so it answers /health, /metrics and chat completions like a site.
// `node-floor`: bench/floor/forwarder.ts on @hono/node-server. `workers`: two Miniflare
// instances on the bundles `wrangler deploy --dry-run` writes — the same forwarder as a Worker,
// and mec-router with its Durable Objects, D1 (real migrations applied), queue and the dev API
// keys from .dev.vars — then registers the upstream as a MEC site and waits until a chat
// completion is really routed to it. `kinesis`: kinesalite with the router's stream, where the
// monitor pushes its metrics as it would to Kinesis in production — left at its default, the
// router would push to the AWS endpoint, whose name does not resolve offline, and the benchmark
// would measure the failure path (publish retries, the outbox's drain pauses) instead.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { startDemoSite } from "../scripts/demo-site.mjs";
import { startKinesalite } from "../scripts/kinesalite-local.mjs";
import { offlineEnv } from "../scripts/offline-env.mjs";
import { forwarder } from "./floor/forwarder.ts";

export const BENCH_SITE_ID = "bench-upstream";
export const BENCH_MODEL = "llama-3.2-1b";
export const DEVICE_KEY = "dev-device-key";
export const OPERATOR_KEY = "dev-operator-key";
const ROOT = new URL("../", import.meta.url).pathname;

const ready = (info: Record<string, unknown>) => console.log(JSON.stringify(info));
const cleanups: (() => Promise<unknown> | undefined)[] = [];
/** Runs what the servers started must undo (bundles, Miniflare instances, the upstream). */
export const stop = async (code = 0) => {
  for (const c of cleanups) await c()?.catch(() => undefined);
  process.exit(code);
};

/** `wrangler deploy --dry-run --outdir` into a temporary folder: the bundle that would deploy. */
export function dryRunBundle(configPath: string): { dir: string; main: string } {
  const dir = mkdtempSync(join(tmpdir(), "mec-bench-bundle-"));
  const r = spawnSync("wrangler", ["deploy", "--dry-run", "--outdir", dir, "-c", configPath], {
    cwd: ROOT,
    env: offlineEnv(),
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`wrangler dry run of ${configPath} failed:\n${r.stderr}`);
  const main = readdirSync(dir).find((f) => f.endsWith(".js"));
  if (!main) throw new Error(`wrangler dry run of ${configPath} wrote no .js file`);
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return { dir, main: join(dir, main) };
}

export async function startUpstream(latencyMs: number): Promise<string> {
  const site = await startDemoSite({
    id: BENCH_SITE_ID,
    models: [{ model: BENCH_MODEL, sizeGb: 3, tokensPerSec: 180, loadTimeMs: 4_000 }],
    residentModels: [BENCH_MODEL],
    maxConcurrent: 1_024,
    gpuMemoryGb: 24,
    timeScale: 0,
    faults: { addedLatencyMs: latencyMs },
  });
  cleanups.push(() => site.close());
  return `${site.url}/v1`;
}

function startNodeFloor(upstream: string): void {
  const server = serve(
    {
      fetch: (req) => forwarder.fetch(req, { UPSTREAM: upstream }),
      hostname: "127.0.0.1",
      port: 0,
    },
    (info) => ready({ url: `http://127.0.0.1:${info.port}` }),
  );
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
}

/** Options that are not bindings, or that the benchmark must not run (crons). */
const NOT_BINDINGS = new Set(["rootPath", "modulesRules", "cronTriggers", "name", "main"]);

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.values(v).every(isEmpty);
  return false;
}

/**
 * The router's bindings as `wrangler dev` would give them (wrangler.toml plus .dev.vars): vars,
 * secrets, Durable Objects, D1, queues, rate limits and whatever else the config declares.
 */
export function routerBindings(kinesisEndpoint?: string): Record<string, unknown> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
  const b: Record<string, unknown> = Object.fromEntries(
    Object.entries(workerOptions).filter(([k, v]) => !NOT_BINDINGS.has(k) && !isEmpty(v)),
  );
  if (kinesisEndpoint) {
    b.bindings = { ...(b.bindings as object), KINESIS_ENDPOINT: kinesisEndpoint };
  }
  return b;
}

/** kinesalite on loopback with the router's Kinesis stream; resolves with its URL. */
export async function startKinesis(): Promise<string> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
  const vars = (workerOptions.bindings ?? {}) as Record<string, unknown>;
  const kinesis = await startKinesalite({ streams: [{ name: String(vars.KINESIS_STREAM) }] });
  cleanups.push(() => kinesis.close());
  return kinesis.url;
}

export async function miniflare(
  name: string,
  bundle: { dir: string; main: string },
  extra: object,
  shared: { inspectorPort?: number } = {},
) {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      ...shared,
      // Worker logs are dropped here, after workerd wrote them, so the console is not the bottleneck.
      handleStructuredLogs: () => {},
      workers: [
        { name, modules: true, scriptPath: bundle.main, modulesRoot: bundle.dir, ...extra },
      ],
    }),
  );
  cleanups.push(() => mf.dispose());
  const url = await mf.ready;
  return { mf, url: url.href.replace(/\/$/, "") };
}

export async function applyMigrations(mf: Miniflare): Promise<number> {
  const db = await mf.getD1Database("DB");
  const dir = join(ROOT, "migrations");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  for (const f of files) {
    for (const stmt of readFileSync(join(dir, f), "utf8").split("--> statement-breakpoint")) {
      if (stmt.trim()) await db.prepare(stmt).run();
    }
  }
  return files.length;
}

export async function registerSite(router: string, upstream: string): Promise<void> {
  const root = upstream.replace(/\/v1$/, "");
  const res = await fetch(`${router}/v1/sites/${BENCH_SITE_ID}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${OPERATOR_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "benchmark upstream",
      location: { lat: 50.11, lon: 8.68 },
      country: "DE",
      trusted: true,
      certifications: ["gdpr"],
      endpoint: upstream,
      controlEndpoint: `${root}/control`,
      // The upstream answers in about a millisecond, so it takes far more than a GPU site. Each
      // decide-only answer counts as expected load at the site for 2 s (its client is assumed to
      // call the site next), so at ~1,000 answers/s a GPU-sized capacity would look full and the
      // router would rightly refuse: the registration says what this upstream can take.
      capacity: { maxConcurrent: 50_000, maxQueue: 50_000, gpus: 1, gpuMemoryGb: 24 },
      cost: { gpuHourUsd: 1 },
      models: [{ model: BENCH_MODEL }],
      residentModels: [BENCH_MODEL],
    }),
  });
  if (!res.ok) throw new Error(`registering the upstream: HTTP ${res.status} ${await res.text()}`);
}

/** Until a chat completion comes back from the registered site (probes done, snapshot fresh). */
export async function waitUntilRouted(router: string, body: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    const res = await fetch(`${router}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEVICE_KEY}`, "content-type": "application/json" },
      body,
    });
    last = `${res.status} ${res.headers.get("x-mec-target")} ${await res.text()}`.slice(0, 300);
    if (res.ok && res.headers.get("x-mec-target") === `site:${BENCH_SITE_ID}`) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`mec-router never routed to the upstream; last answer: ${last}`);
}

async function startWorkers(
  upstream: string,
  kinesis: string | undefined,
  chatBody: string,
  noMonitor: boolean,
): Promise<void> {
  const floor = await miniflare("floor", dryRunBundle("bench/floor/wrangler.toml"), {
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: { UPSTREAM: upstream },
  });
  // As Cloudflare runs it: static assets (the dashboard) are matched at its edge before the
  // Worker is invoked, outside the Worker's CPU. Miniflare emulates that with three Workers of
  // its own in front of ours, on the servers' core (~1.9 ms of CPU a request: see
  // bench:overhead-profile's `no-assets` variant), which the floor does not pay either.
  const { assets: _dashboard, ...bindings } = routerBindings(kinesis);
  if (noMonitor) delete bindings.queueConsumers;
  const router = await miniflare("mec-router", dryRunBundle("wrangler.toml"), bindings);
  const migrations = await applyMigrations(router.mf);
  await registerSite(router.url, upstream);
  await waitUntilRouted(router.url, chatBody);
  ready({ floorUrl: floor.url, routerUrl: router.url, migrations });
}

/** The one chat request every system gets (the router reads `model` as a catalog id). */
export function chatRequestBody(): string {
  return JSON.stringify({
    model: BENCH_MODEL,
    messages: [{ role: "user", content: "In five words: what is mobile edge computing?" }],
    max_tokens: 16,
  });
}

/** The decide-only request: a short text task near the site, with a 3 s SLA. */
export function routeRequestBody(): string {
  return JSON.stringify({
    task: { modality: "text", model: BENCH_MODEL, inputTokens: 300, maxOutputTokens: 64 },
    constraints: { latencySlaMs: 3_000 },
    network: { type: "5g" },
    location: { lat: 50.1, lon: 8.7 },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      "latency-ms": { type: "string", default: "1" },
      upstream: { type: "string" },
      kinesis: { type: "string" },
      "no-monitor": { type: "boolean", default: false },
    },
  });
  process.on("SIGTERM", () => stop());
  process.on("SIGINT", () => stop());
  const mode = positionals[0];
  try {
    if (mode === "upstream") {
      const latencyMs = Number(values["latency-ms"]);
      ready({ url: await startUpstream(latencyMs), latencyMs });
    } else if (mode === "node-floor" && values.upstream) startNodeFloor(values.upstream);
    else if (mode === "workers" && values.upstream)
      await startWorkers(values.upstream, values.kinesis, chatRequestBody(), values["no-monitor"]);
    else if (mode === "kinesis") ready({ url: await startKinesis() });
    else {
      console.error(
        "usage: overhead-servers.ts upstream|node-floor|workers|kinesis [--upstream URL] [--kinesis URL]",
      );
      process.exit(2);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await stop(1);
  }
}
