// The whole local MEC world, offline, on 127.0.0.1, as a library: `npm start` (scripts/start.mjs)
// and the browser test start it with `startStack(options)`.
// - the router under `wrangler dev`, with local Durable Objects, Queues and D1 (migrations
//   applied first);
// - the demo MEC sites of shared/seed/fleet.json, registered through the fleet API and
//   heartbeating to it, on their seed ports or on free ones;
// - a Bedrock Converse stand-in, unless .dev.vars holds real AWS credentials;
// - kinesalite, an in-memory Kinesis, with the metrics stream.
// Every port may be 0 (any free one), and `persistTo` keeps the local state apart, so a test run
// never collides with a developer's `npm start`. `stop()` ends everything it started: wrangler
// and workerd as one process group.

import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { startBedrockStandin } from "./bedrock-standin.mjs";
import { loadSeedSites, startDemoSite } from "./demo-site.mjs";
import { startKinesalite } from "./kinesalite-local.mjs";
import { offlineEnv } from "./offline-env.mjs";

/** @import { DemoSite } from "./demo-site.mjs" */

export const OPERATOR_KEY = "dev-operator-key";
export const DEVICE_KEY = "dev-device-key";
export const SITE_KEY = "dev-site-key";
const HOST = "127.0.0.1";

/** Real AWS credentials in .dev.vars mean the real Bedrock; the dev placeholder means the stand-in. */
export function usesRealBedrock() {
  const file = new URL("../.dev.vars", import.meta.url);
  if (!existsSync(file)) return false;
  const m = /^AWS_ACCESS_KEY_ID\s*=\s*"?([^"\n]*)"?/m.exec(readFileSync(file, "utf8"));
  return Boolean(m?.[1] && m[1] !== "local-standin");
}

/** A port that was free a moment ago (for `wrangler dev`, which needs a number up front). */
async function freePort() {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
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
 * Registers every seed site through the fleet API (idempotent: PUT), pointing each at the demo
 * site that serves it (its seed endpoint, or the free port it got).
 * @param {string} base
 * @param {Map<string, string>} urls demo site base URL by site id
 */
async function registerSeedSites(base, urls) {
  const seed = JSON.parse(
    readFileSync(new URL("../shared/seed/fleet.json", import.meta.url), "utf8"),
  );
  for (const site of seed.sites) {
    const url = urls.get(site.id);
    const body = url ? { ...site, endpoint: `${url}/v1`, controlEndpoint: `${url}/control` } : site;
    const res = await fetch(`${base}/v1/sites/${site.id}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_KEY}` },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`registering ${site.id}: HTTP ${res.status} ${await res.text()}`);
  }
  return seed.sites.length;
}

/**
 * @typedef {object} StackOptions
 * @property {number} [port] the router; default 8787; 0 = a free port
 * @property {number} [bedrockPort] default 9200; 0 = a free port
 * @property {number} [kinesisPort] default 4567; 0 = a free port
 * @property {"seed" | "free"} [sitePorts] demo sites on their seed endpoints' ports (default) or
 *   on free ports (registered with those)
 * @property {string} [persistTo] local state folder for D1, DOs (default wrangler's .wrangler/state)
 * @property {string} [registryPath] wrangler's dev registry folder (default the user's): a
 *   folder of its own keeps this stack apart from other `wrangler dev` sessions, which otherwise
 *   reload each other's workers as they come and go
 * @property {Record<string, string>} [vars] extra worker vars (`--var NAME:value`)
 * @property {number} [siteTimeScale] multiplies the demo sites' simulated delays (default 1)
 * @property {number} [heartbeatMs] demo sites' heartbeat period (default 2000)
 * @property {"inherit" | "ignore" | ((chunk: string) => void)} [output] wrangler's output:
 *   to this terminal (default), nowhere, or to a function
 * @property {number} [startTimeoutMs] default 60000
 */

/**
 * @typedef {object} Stack
 * @property {string} base the router's URL, e.g. http://127.0.0.1:8787
 * @property {DemoSite[]} demoSites
 * @property {number} registered seed sites registered
 * @property {boolean} realBedrock
 * @property {string} bedrockUrl the stand-in's URL; "" with the real Bedrock
 * @property {string} kinesisUrl
 * @property {Promise<number | null>} exited resolves with wrangler's exit code
 * @property {() => Promise<void>} stop ends everything started; idempotent
 */

/**
 * Starts the local world and resolves once the router answers and the seed sites are
 * registered; on failure stops what it started and throws.
 * @param {StackOptions} [options]
 * @returns {Promise<Stack>}
 */
export async function startStack(options = {}) {
  const { sitePorts = "seed", persistTo, registryPath, vars = {}, output = "inherit" } = options;
  const { siteTimeScale = 1, heartbeatMs = 2_000, startTimeoutMs = 60_000 } = options;

  /** @type {{ close(): Promise<void> }[]} */
  const services = [];
  /** @type {DemoSite[]} */
  const demoSites = [];
  /** @type {import("node:child_process").ChildProcess | undefined} */
  let wrangler;
  /** @type {Promise<number | null>} */
  let exited = Promise.resolve(null);
  let stopped = false;

  async function stop() {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([...demoSites, ...services].map((s) => s.close()));
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
  }

  try {
    const realBedrock = usesRealBedrock();
    let bedrockUrl = "";
    if (!realBedrock) {
      const standin = await startBedrockStandin({ port: options.bedrockPort ?? 9200 });
      services.push(standin);
      bedrockUrl = standin.url;
    }
    const kinesis = await startKinesalite({
      port: options.kinesisPort ?? 4567,
      streams: [{ name: "mec-router-metrics", shards: 2 }],
    });
    services.push(kinesis);

    const persist = persistTo === undefined ? [] : ["--persist-to", persistTo];
    const quiet = output !== "inherit";
    // Local D1 gets the real migrations before the worker starts (idempotent).
    const migrate = spawnSync(
      "wrangler",
      ["d1", "migrations", "apply", "DB", "--local", ...persist],
      {
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

    const port = options.port === 0 ? await freePort() : (options.port ?? 8787);
    const base = `http://${HOST}:${port}`;
    const allVars = { BEDROCK_ENDPOINT: bedrockUrl, KINESIS_ENDPOINT: kinesis.url, ...vars };
    const args = [
      "dev",
      "--ip",
      HOST,
      "--port",
      String(port),
      "--show-interactive-dev-session=false",
    ];
    for (const [name, value] of Object.entries(allVars)) args.push("--var", `${name}:${value}`);
    const child = spawn("wrangler", [...args, ...persist], {
      env: offlineEnv(registryPath ? { WRANGLER_REGISTRY_PATH: registryPath } : {}),
      stdio: [
        "ignore",
        output === "inherit" ? "inherit" : "pipe",
        output === "inherit" ? "inherit" : "pipe",
      ],
      detached: true,
    });
    wrangler = child;
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    if (typeof output === "function") {
      child.stdout?.setEncoding("utf8").on("data", output);
      child.stderr?.setEncoding("utf8").on("data", output);
    } else if (output === "ignore") {
      child.stdout?.resume();
      child.stderr?.resume();
    }

    /** @type {Map<string, string>} */
    const urls = new Map();
    for (const seedOptions of await loadSeedSites()) {
      const site = await startDemoSite({
        ...seedOptions,
        ...(sitePorts === "free" ? { port: 0 } : {}),
        timeScale: siteTimeScale,
        heartbeat: { routerUrl: base, siteKey: SITE_KEY, intervalMs: heartbeatMs },
      }).catch((err) => {
        throw new Error(`demo site ${seedOptions.id} on port ${seedOptions.port}: ${err.message}`);
      });
      demoSites.push(site);
      if (sitePorts === "free") urls.set(site.state.id, site.url);
    }

    const gaveUp = () => child.exitCode !== null || child.signalCode !== null;
    if (!(await waitForHealth(base, startTimeoutMs, gaveUp))) {
      throw new Error(
        gaveUp()
          ? `wrangler dev exited (${child.exitCode ?? child.signalCode})`
          : `mec-router did not come up on ${base} within ${startTimeoutMs / 1000} s`,
      );
    }
    const registered = await registerSeedSites(base, urls);
    return {
      base,
      demoSites,
      registered,
      realBedrock,
      bedrockUrl,
      kinesisUrl: kinesis.url,
      exited,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
