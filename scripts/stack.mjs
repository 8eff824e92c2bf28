// The whole local MEC world, offline, on 127.0.0.1, as a library: `npm start` (scripts/start.mjs),
// the browser test, the privacy canaries and the load test start it with `startStack(options)`.
// - the router under `wrangler dev`, with local Durable Objects, Queues and D1 (migrations
//   applied first);
// - the demo MEC sites of shared/seed/fleet.json (or the given ones), registered through the
//   fleet API and heartbeating to it, on their seed ports or on free ones, scheduling their
//   queues by priority as vLLM does with `--scheduling-policy priority`;
// - a Bedrock Converse stand-in, unless .dev.vars holds real AWS credentials (suites pass
//   `bedrock` options, which always mean the stand-in); with `nova`, a second one for Nova;
// - kinesalite, an in-memory Kinesis, with the metrics stream.
//
// Every port may be 0 (any free one), and `dir` gives the stack a folder of its own (local state,
// wrangler's dev registry, its configs) and, unless told otherwise, free ports and the Bedrock
// stand-in: a stack for a suite, which never collides with a developer's `npm start` nor leaves
// the machine. Unless wrangler's output goes to this terminal, every line it and workerd print
// is kept in `logs`. With `tap`, the router's queue producer sends to a tap queue instead, whose
// consumer (scripts/queue-tap.ts) posts each batch's message bodies here (`tapped`) and hands
// the batch on to the monitor's queue unchanged: what the monitor consumes is what was recorded.
//
// `stop()` ends everything it started (wrangler and workerd as one process group) and leaves
// `dir` for the caller to read and remove.

import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBedrockStandin } from "./bedrock-standin.mjs";
import { loadSeedSites, startDemoSite } from "./demo-site.mjs";
import { startKinesalite, startStreamReader } from "./kinesalite-local.mjs";
import { offlineEnv } from "./offline-env.mjs";

/** @import { BedrockStandin, BedrockStandinOptions } from "./bedrock-standin.mjs" */
/** @import { DemoSite, DemoSiteOptions, Faults } from "./demo-site.mjs" */

export const OPERATOR_KEY = "dev-operator-key";
export const DEVICE_KEY = "dev-device-key";
export const SITE_KEY = "dev-site-key";
const HOST = "127.0.0.1";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const STREAM = "mec-router-metrics";
const TAP_QUEUE = "mec-router-events-tap";

/** Real AWS credentials in .dev.vars mean the real Bedrock; the dev placeholder means the stand-in. */
export function usesRealBedrock() {
  const file = join(ROOT, ".dev.vars");
  if (!existsSync(file)) return false;
  const m = /^AWS_ACCESS_KEY_ID\s*=\s*"?([^"\n]*)"?/m.exec(readFileSync(file, "utf8"));
  return Boolean(m?.[1] && m[1] !== "local-standin");
}

/** A loopback port that was free a moment ago (for `wrangler dev`, which needs a number). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, HOST, () => resolve(undefined)));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  if (typeof address !== "object" || !address) throw new Error("no free port");
  return address.port;
}

/** @param {string} base @param {number} timeoutMs @param {() => boolean} gaveUp */
async function waitForHealth(base, timeoutMs, gaveUp) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * The repository's wrangler.toml with absolute paths (it runs from the stack's folder) and, with
 * a tap, the producer pointed at the tap queue.
 * @param {boolean} tap
 */
function routerConfig(tap) {
  let text = readFileSync(join(ROOT, "wrangler.toml"), "utf8").replace(
    /^(main|migrations_dir|directory) = "([^"]+)"/gm,
    (_, key, p) => `${key} = ${JSON.stringify(join(ROOT, p))}`,
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
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date = "([^"]+)"/m.exec(toml)?.[1] ?? "2026-11-01";
  return `name = "mec-router-queue-tap"
main = ${JSON.stringify(join(ROOT, "scripts", "queue-tap.ts"))}
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
 * A loopback server that keeps the message bodies the tap consumer posts.
 * @param {unknown[]} into
 */
async function startTapCollector(into) {
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        into.push(...JSON.parse(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://${HOST}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * Registers each started site through the fleet API (idempotent: PUT) with its seed
 * registration, pointed at the demo site that serves it and scheduling as it does.
 * @param {string} base
 * @param {DemoSite[]} sites
 * @param {"fcfs" | "priority"} scheduling
 */
async function registerSites(base, sites, scheduling) {
  const seed = JSON.parse(readFileSync(join(ROOT, "shared", "seed", "fleet.json"), "utf8"));
  for (const site of sites) {
    const registration = seed.sites.find(
      (/** @type {{ id: string }} */ s) => s.id === site.state.id,
    );
    if (!registration) throw new Error(`site ${site.state.id} is not in the seed fleet`);
    const res = await fetch(`${base}/v1/sites/${site.state.id}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_KEY}` },
      body: JSON.stringify({
        ...registration,
        endpoint: `${site.url}/v1`,
        controlEndpoint: `${site.url}/control`,
        scheduling,
      }),
    });
    if (!res.ok) {
      throw new Error(`registering ${site.state.id}: HTTP ${res.status} ${await res.text()}`);
    }
  }
  return sites.length;
}

/**
 * @typedef {object} StackOptions
 * @property {number} [port] the router; default 8787 (with `dir`, 0); 0 = a free port
 * @property {number} [bedrockPort] default 9200 (with `dir`, 0); 0 = a free port
 * @property {number} [kinesisPort] default 4567 (with `dir`, 0); 0 = a free port
 * @property {"seed" | "free"} [sitePorts] demo sites on their seed endpoints' ports (default) or
 *   on free ports (with `dir`, the default), registered with those
 * @property {DemoSiteOptions[]} [sites] the demo sites (default the seed fleet's); each must be a
 *   seed site, whose registration is used
 * @property {number} [siteTimeScale] multiplies the demo sites' simulated delays (default each
 *   site's own, else 1)
 * @property {Partial<Faults>} [siteFaults] faults every demo site starts with
 * @property {"fcfs" | "priority"} [siteScheduling] how the demo sites order their queues, and
 *   how they are registered (default priority)
 * @property {number} [seed] seeds the demo sites' and stand-ins' draws (default 1)
 * @property {number} [heartbeatMs] demo sites' heartbeat period (default 2000)
 * @property {"auto" | BedrockStandinOptions} [bedrock] "auto" (default without `dir`): the real
 *   Bedrock when .dev.vars holds AWS credentials, else the stand-in; options (default `{}` with
 *   `dir`): always the stand-in, with them
 * @property {boolean | BedrockStandinOptions} [nova] Nova reasoning on (`REASONING=auto`)
 *   against a Converse stand-in of its own
 * @property {boolean} [tap] record every queue message through the tap consumer (`tapped`);
 *   needs `dir`
 * @property {boolean} [streamReader] serve the metrics stream back at `readerUrl`
 * @property {string} [dir] a folder of the stack's own: local state (`dir/state`), wrangler's
 *   dev registry (`dir/registry`: other `wrangler dev` sessions otherwise reload each other's
 *   workers as they come and go) and its configs; default the repository's, as `npm start`.
 *   Ports then default to free ones, and the cloud tier to the stand-in
 * @property {Record<string, string>} [vars] extra worker vars (`--var NAME:value`)
 * @property {"inherit" | "ignore" | ((chunk: string) => void)} [output] wrangler's output: to
 *   this terminal (default), nowhere, or to a function; kept in `logs` unless "inherit"
 * @property {number} [startTimeoutMs] default 60000
 */

/**
 * @typedef {object} Stack
 * @property {string} base the router's URL, e.g. http://127.0.0.1:8787
 * @property {DemoSite[]} demoSites
 * @property {number} registered sites registered
 * @property {boolean} realBedrock
 * @property {string} bedrockUrl the stand-in's URL; "" with the real Bedrock
 * @property {BedrockStandin | undefined} bedrock the stand-in
 * @property {BedrockStandin | undefined} nova Nova's stand-in
 * @property {string} kinesisUrl
 * @property {string} stream the metrics stream's name
 * @property {string} readerUrl GET {readerUrl}/streams/{stream} reads it back ("" without
 *   `streamReader`)
 * @property {string[]} logs every line wrangler and workerd printed (unless output "inherit")
 * @property {unknown[]} tapped every queue message body the router sent (with `tap`)
 * @property {string | undefined} stateDir local state of D1 and Durable Objects (with `dir`)
 * @property {Promise<number | null>} exited resolves with wrangler's exit code
 * @property {() => Promise<void>} stop ends everything started; idempotent
 */

/**
 * Starts the local world and resolves once the router answers and the sites are registered; on
 * failure stops what it started and throws.
 * @param {StackOptions} [options]
 * @returns {Promise<Stack>}
 */
export async function startStack(options = {}) {
  const { dir, vars = {}, output = "inherit" } = options;
  const { seed = 1, heartbeatMs = 2_000, startTimeoutMs = 60_000 } = options;
  const scheduling = options.siteScheduling ?? "priority";
  // A stack with a folder of its own is a suite's: apart from everything else on the machine.
  const apart = dir !== undefined;
  const sitePorts = options.sitePorts ?? (apart ? "free" : "seed");
  /** @param {number | undefined} port @param {number} fixed */
  const portOf = (port, fixed) => port ?? (apart ? 0 : fixed);
  if (options.tap && dir === undefined) throw new TypeError("startStack: tap needs a dir");

  /** @type {{ close(): Promise<void> }[]} */
  const services = [];
  /** @type {DemoSite[]} */
  const demoSites = [];
  /** @type {string[]} */
  const logs = [];
  /** @type {unknown[]} */
  const tapped = [];
  /** @type {import("node:child_process").ChildProcess | undefined} */
  let wrangler;
  /** @type {Promise<number | null>} */
  let exited = Promise.resolve(null);
  let stopped = false;

  async function stop() {
    if (stopped) return;
    stopped = true;
    if (wrangler?.pid !== undefined && wrangler.exitCode === null && wrangler.signalCode === null) {
      // wrangler starts workerd as a child: stop the whole process group.
      const group = -wrangler.pid;
      try {
        process.kill(group, "SIGTERM");
      } catch {}
      const killed = setTimeout(() => {
        try {
          process.kill(group, "SIGKILL");
        } catch {}
      }, 5_000);
      await exited;
      clearTimeout(killed);
    }
    await Promise.allSettled([...demoSites, ...services].map((s) => s.close()));
  }

  try {
    const bedrockOptions = options.bedrock ?? (apart ? {} : "auto");
    const realBedrock = bedrockOptions === "auto" && usesRealBedrock();
    /** @type {BedrockStandin | undefined} */
    let bedrock;
    if (!realBedrock) {
      bedrock = await startBedrockStandin({
        port: portOf(options.bedrockPort, 9200),
        seed,
        ...(bedrockOptions === "auto" ? {} : bedrockOptions),
      });
      services.push(bedrock);
    }
    const nova = options.nova
      ? await startBedrockStandin({
          seed: seed + 1,
          timeScale: 0.1,
          ...(typeof options.nova === "object" ? options.nova : {}),
        })
      : undefined;
    if (nova) services.push(nova);
    const kinesis = await startKinesalite({
      port: portOf(options.kinesisPort, 4567),
      streams: [{ name: STREAM, shards: 2 }],
    });
    services.push(kinesis);
    let readerUrl = "";
    if (options.streamReader) {
      const reader = await startStreamReader({ endpoint: kinesis.url });
      services.push(reader);
      readerUrl = reader.url;
    }

    // With a folder of its own, the stack runs from there on configs written for it.
    /** @type {string[]} */
    const configs = [];
    /** @type {string[]} */
    const persist = [];
    const stateDir = dir === undefined ? undefined : join(dir, "state");
    if (dir !== undefined && stateDir !== undefined) {
      mkdirSync(dir, { recursive: true });
      const configPath = join(dir, "wrangler.toml");
      writeFileSync(configPath, routerConfig(Boolean(options.tap)));
      copyFileSync(join(ROOT, ".dev.vars"), join(dir, ".dev.vars"));
      configs.push("-c", configPath);
      persist.push("--persist-to", stateDir);
      if (options.tap) {
        const collector = await startTapCollector(tapped);
        services.push(collector);
        const tapPath = join(dir, "queue-tap.toml");
        writeFileSync(tapPath, tapConfig(`${collector.url}/tap`));
        configs.push("-c", tapPath);
      }
    }
    const cwd = dir ?? ROOT;
    const quiet = output !== "inherit";

    // Local D1 gets the real migrations before the worker starts (idempotent).
    const migrate = spawnSync(
      process.execPath,
      [WRANGLER, "d1", "migrations", "apply", "DB", "--local", ...configs.slice(0, 2), ...persist],
      {
        cwd,
        env: offlineEnv(),
        stdio: ["ignore", quiet ? "pipe" : "inherit", quiet ? "pipe" : "inherit"],
        encoding: "utf8",
      },
    );
    if (migrate.status !== 0) {
      throw new Error(
        `applying the D1 migrations failed\n${migrate.stdout ?? ""}${migrate.stderr ?? ""}`,
      );
    }

    const requested = portOf(options.port, 8787);
    const port = requested === 0 ? await freePort() : requested;
    const base = `http://${HOST}:${port}`;
    const allVars = {
      ...(bedrock ? { BEDROCK_ENDPOINT: bedrock.url } : {}),
      KINESIS_ENDPOINT: kinesis.url,
      ...(nova ? { REASONING: "auto", NOVA_ENDPOINT: nova.url } : {}),
      ...vars,
    };
    const args = [
      WRANGLER,
      "dev",
      ...configs,
      "--ip",
      HOST,
      "--port",
      String(port),
      ...persist,
      "--show-interactive-dev-session=false",
    ];
    // On a free port, the inspector too: two stacks must not fight over the default one.
    if (requested === 0) args.push("--inspector-port", String(await freePort()));
    for (const [name, value] of Object.entries(allVars)) args.push("--var", `${name}:${value}`);
    const child = spawn(process.execPath, args, {
      cwd,
      env: offlineEnv(dir === undefined ? {} : { WRANGLER_REGISTRY_PATH: join(dir, "registry") }),
      stdio: ["ignore", quiet ? "pipe" : "inherit", quiet ? "pipe" : "inherit"],
      detached: true,
    });
    wrangler = child;
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    for (const stream of quiet ? [child.stdout, child.stderr] : []) {
      let rest = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (/** @type {string} */ chunk) => {
        if (typeof output === "function") output(chunk);
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        logs.push(...lines);
      });
      stream?.on("end", () => {
        if (rest) logs.push(rest);
      });
    }

    for (const siteOptions of options.sites ?? (await loadSeedSites())) {
      const site = await startDemoSite({
        ...siteOptions,
        ...(sitePorts === "free" ? { port: 0 } : {}),
        timeScale: options.siteTimeScale ?? siteOptions.timeScale ?? 1,
        seed,
        faults: { ...siteOptions.faults, ...options.siteFaults },
        scheduling,
        heartbeat: { routerUrl: base, siteKey: SITE_KEY, intervalMs: heartbeatMs },
      }).catch((err) => {
        throw new Error(`demo site ${siteOptions.id} on port ${siteOptions.port}: ${err.message}`);
      });
      demoSites.push(site);
    }

    const gaveUp = () => child.exitCode !== null || child.signalCode !== null;
    if (!(await waitForHealth(base, startTimeoutMs, gaveUp))) {
      const said = quiet ? `\n${logs.slice(-30).join("\n")}` : "";
      throw new Error(
        gaveUp()
          ? `wrangler dev exited (${child.exitCode ?? child.signalCode})${said}`
          : `mec-router did not come up on ${base} within ${startTimeoutMs / 1000} s${said}`,
      );
    }
    const registered = await registerSites(base, demoSites, scheduling);
    return {
      base,
      demoSites,
      registered,
      realBedrock,
      bedrockUrl: bedrock?.url ?? "",
      bedrock,
      nova,
      kinesisUrl: kinesis.url,
      stream: STREAM,
      readerUrl,
      logs,
      tapped,
      stateDir,
      exited,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
