// The local stack as `npm start` runs it, on free loopback ports and with its own state folder,
// for suites that need the whole thing as it runs (the privacy canaries, the load test): the
// router under `wrangler dev` (real workerd, local D1, Durable Objects and Queues), the demo MEC
// sites of shared/seed/fleet.json registered through the fleet API and heartbeating, a Converse
// stand-in for the cloud tier (and, with `nova`, a second one for Nova reasoning), kinesalite
// with the metrics stream.
//
// Every line wrangler and workerd print is kept in `logs`: the worker's console output, request
// lines, runtime errors. With `tap`, the router's queue producer sends to a tap queue instead,
// whose consumer (scripts/queue-tap.ts) posts each batch's message bodies here (`tapped`) and
// hands the batch on to the monitor's queue unchanged: what the monitor consumes is what was
// recorded.
//
// `stop()` ends everything it started (wrangler's process group included) and leaves
// `stateDir` (D1, Durable Object storage) for the caller to read and remove.

import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBedrockStandin } from "./bedrock-standin.mjs";
import { loadSeedSites, startDemoSite } from "./demo-site.mjs";
import { startKinesalite, startStreamReader } from "./kinesalite-local.mjs";
import { offlineEnv } from "./offline-env.mjs";

/** @import { BedrockStandinOptions } from "./bedrock-standin.mjs" */
/** @import { DemoSiteOptions, Faults } from "./demo-site.mjs" */

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const OPERATOR_KEY = "dev-operator-key";
const SITE_KEY = "dev-site-key";
const STREAM = "mec-router-metrics";
const TAP_QUEUE = "mec-router-events-tap";

/** A port nothing listens on right now (the OS picks it). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  if (typeof address !== "object" || !address) throw new Error("no free port");
  return address.port;
}

/**
 * The repository's wrangler.toml with absolute paths (so it works from a temporary folder)
 * and, with a tap, the producer pointed at the tap queue.
 * @param {boolean} tap
 */
function routerConfig(tap) {
  let text = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = "([^"]+)"/m, (_, p) => `main = ${JSON.stringify(join(ROOT, p))}`)
    .replace(
      /^migrations_dir = "([^"]+)"/m,
      (_, p) => `migrations_dir = ${JSON.stringify(join(ROOT, p))}`,
    );
  if (tap) {
    const producer = /(\[\[queues\.producers\]\]\s*\nbinding = "EVENTS"\s*\nqueue = )"[^"]+"/;
    if (!producer.test(text)) throw new Error("wrangler.toml: the EVENTS producer was not found");
    text = text.replace(producer, `$1"${TAP_QUEUE}"`);
  }
  return text;
}

/** @param {string} collectorUrl */
function tapConfig(collectorUrl) {
  const main = join(ROOT, "scripts", "queue-tap.ts");
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date = "([^"]+)"/m.exec(toml)?.[1] ?? "2026-11-01";
  return `name = "mec-router-queue-tap"
main = ${JSON.stringify(main)}
compatibility_date = "${date}"

[vars]
TAP_URL = "${collectorUrl}"

[[queues.producers]]
binding = "FORWARD"
queue = "mec-router-events"

[[queues.consumers]]
queue = "${TAP_QUEUE}"
max_batch_size = 100
max_batch_timeout = 1
`;
}

/**
 * @param {{
 *   sites?: DemoSiteOptions[],
 *   siteFaults?: Partial<Faults>,
 *   timeScale?: number,
 *   seed?: number,
 *   bedrock?: BedrockStandinOptions,
 *   nova?: boolean | BedrockStandinOptions,
 *   tap?: boolean,
 *   heartbeatMs?: number,
 *   vars?: Record<string, string>,
 *   echo?: boolean,
 * }} [options]
 */
export async function startLocalStack(options = {}) {
  /** @type {{ close(): Promise<void> }[]} */
  const services = [];
  /** @type {string[]} */
  const logs = [];
  /** @type {unknown[]} */
  const tapped = [];
  const dir = mkdtempSync(join(tmpdir(), "mec-router-stack-"));
  const stateDir = join(dir, "state");
  /** @type {import("node:child_process").ChildProcess | undefined} */
  let wrangler;

  const stop = async () => {
    if (wrangler?.pid && wrangler.exitCode === null) {
      const exited = new Promise((resolve) => wrangler?.once("exit", resolve));
      try {
        // wrangler starts workerd as a child: stop the whole process group.
        process.kill(-wrangler.pid, "SIGTERM");
      } catch {}
      const timer = setTimeout(() => {
        try {
          if (wrangler?.pid) process.kill(-wrangler.pid, "SIGKILL");
        } catch {}
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all(services.splice(0).map((s) => s.close().catch(() => {})));
  };

  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;

    const kinesis = await startKinesalite({ streams: [{ name: STREAM, shards: 2 }] });
    services.push(kinesis);
    const reader = await startStreamReader({ endpoint: kinesis.url });
    services.push(reader);
    const bedrock = await startBedrockStandin({ seed: options.seed ?? 1, ...options.bedrock });
    services.push(bedrock);
    const nova = options.nova
      ? await startBedrockStandin({
          seed: (options.seed ?? 1) + 1,
          timeScale: 0.1,
          ...(typeof options.nova === "object" ? options.nova : {}),
        })
      : undefined;
    if (nova) services.push(nova);

    let collectorUrl = "";
    if (options.tap) {
      const collector = createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          try {
            tapped.push(...JSON.parse(Buffer.concat(chunks).toString("utf8")));
            res.writeHead(204).end();
          } catch {
            res.writeHead(400).end();
          }
        });
      });
      await new Promise((resolve) => collector.listen(0, "127.0.0.1", () => resolve(undefined)));
      const address = collector.address();
      collectorUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      services.push({
        close: () => new Promise((resolve) => collector.close(() => resolve(undefined))),
      });
    }

    const configPath = join(dir, "wrangler.toml");
    writeFileSync(configPath, routerConfig(Boolean(options.tap)));
    copyFileSync(join(ROOT, ".dev.vars"), join(dir, ".dev.vars"));
    const configs = ["-c", configPath];
    if (options.tap) {
      const tapPath = join(dir, "queue-tap.toml");
      writeFileSync(tapPath, tapConfig(`${collectorUrl}/tap`));
      configs.push("-c", tapPath);
    }

    const migrate = spawnSync(
      process.execPath,
      [
        WRANGLER,
        "d1",
        "migrations",
        "apply",
        "DB",
        "--local",
        "-c",
        configPath,
        "--persist-to",
        stateDir,
      ],
      { env: offlineEnv(), stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" },
    );
    if (migrate.status !== 0) {
      throw new Error(`applying the D1 migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
    }

    const vars = {
      BEDROCK_ENDPOINT: bedrock.url,
      KINESIS_ENDPOINT: kinesis.url,
      ...(nova ? { REASONING: "auto", NOVA_ENDPOINT: nova.url } : {}),
      ...options.vars,
    };
    wrangler = spawn(
      process.execPath,
      [
        WRANGLER,
        "dev",
        ...configs,
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(await freePort()),
        "--persist-to",
        stateDir,
        "--show-interactive-dev-session=false",
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      { env: offlineEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true, cwd: dir },
    );
    for (const stream of [wrangler.stdout, wrangler.stderr]) {
      let rest = "";
      stream?.on("data", (chunk) => {
        const text = rest + chunk.toString("utf8");
        const lines = text.split("\n");
        rest = lines.pop() ?? "";
        logs.push(...lines);
        if (options.echo) for (const line of lines) console.log(`[wrangler] ${line}`);
      });
      stream?.on("end", () => {
        if (rest) logs.push(rest);
      });
    }

    const deadline = Date.now() + 90_000;
    for (;;) {
      if (wrangler.exitCode !== null) {
        throw new Error(
          `wrangler dev exited (${wrangler.exitCode}):\n${logs.slice(-30).join("\n")}`,
        );
      }
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) break;
      } catch {}
      if (Date.now() > deadline) {
        throw new Error(`the router did not come up:\n${logs.slice(-30).join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }

    const seedFleet = JSON.parse(readFileSync(join(ROOT, "shared", "seed", "fleet.json"), "utf8"));
    const siteOptions = options.sites ?? (await loadSeedSites());
    const sites = [];
    for (const s of siteOptions) {
      const site = await startDemoSite({
        ...s,
        port: 0,
        timeScale: options.timeScale ?? s.timeScale ?? 1,
        seed: options.seed ?? 1,
        faults: { ...s.faults, ...options.siteFaults },
        heartbeat: { routerUrl: url, siteKey: SITE_KEY, intervalMs: options.heartbeatMs ?? 2_000 },
      });
      services.push(site);
      sites.push(site);
      const registration = seedFleet.sites.find((x) => x.id === s.id);
      if (!registration) throw new Error(`site ${s.id} is not in the seed fleet`);
      const res = await fetch(`${url}/v1/sites/${s.id}`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_KEY}` },
        body: JSON.stringify({
          ...registration,
          endpoint: `${site.url}/v1`,
          controlEndpoint: `${site.url}/control`,
        }),
      });
      if (!res.ok) throw new Error(`registering ${s.id}: HTTP ${res.status} ${await res.text()}`);
    }

    return {
      url,
      sites,
      bedrock,
      nova,
      kinesis,
      /** Reads the metrics stream back: GET {readerUrl}/streams/{name}. */
      readerUrl: reader.url,
      stream: STREAM,
      logs,
      tapped,
      stateDir,
      dir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
