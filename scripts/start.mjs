// `npm start`: the whole local MEC world, offline, on 127.0.0.1:
// - the router (PORT, default 8787) under `wrangler dev`, with local Durable Objects;
// - the demo MEC sites of shared/seed/fleet.json (ports 9101…), registered through the fleet API
//   and heartbeating to it;
// - a Bedrock Converse stand-in (BEDROCK_PORT, default 9200) unless .dev.vars holds real AWS
//   credentials, in which case the real Bedrock is used;
// - kinesalite, an in-memory Kinesis (KINESIS_PORT, default 4567).
// Prints the dev keys and copy-paste examples. Ctrl-C stops everything it started.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { startBedrockStandin } from "./bedrock-standin.mjs";
import { loadSeedSites, startDemoSite } from "./demo-site.mjs";
import { startKinesalite } from "./kinesalite-local.mjs";
import { offlineEnv } from "./offline-env.mjs";

const OPERATOR_KEY = "dev-operator-key";
const SITE_KEY = "dev-site-key";

const port = Number(process.env.PORT ?? 8787);
const bedrockPort = Number(process.env.BEDROCK_PORT ?? 9200);
const kinesisPort = Number(process.env.KINESIS_PORT ?? 4567);
const host = "127.0.0.1";
const base = `http://${host}:${port}`;

/** Real AWS credentials in .dev.vars mean the real Bedrock; the dev placeholder means the stand-in. */
function usesRealBedrock() {
  const file = new URL("../.dev.vars", import.meta.url);
  if (!existsSync(file)) return false;
  const m = /^AWS_ACCESS_KEY_ID\s*=\s*"?([^"\n]*)"?/m.exec(readFileSync(file, "utf8"));
  return Boolean(m?.[1] && m[1] !== "local-standin");
}

/** @type {{ close(): Promise<void> }[]} */
const services = [];

const realBedrock = usesRealBedrock();
let bedrockUrl = "";
if (!realBedrock) {
  const standin = await startBedrockStandin({ port: bedrockPort });
  services.push(standin);
  bedrockUrl = standin.url;
}

const kinesis = await startKinesalite({
  port: kinesisPort,
  streams: [{ name: "mec-router-metrics", shards: 2 }],
});
services.push(kinesis);

// Local D1 gets the real migrations before the worker starts (idempotent).
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], {
  env: offlineEnv(),
  stdio: ["ignore", "inherit", "inherit"],
});
if (migrate.status !== 0) {
  console.error("applying the D1 migrations failed");
  for (const service of services) await service.close();
  process.exit(1);
}

const wrangler = spawn(
  "wrangler",
  [
    "dev",
    "--ip",
    host,
    "--port",
    String(port),
    "--show-interactive-dev-session=false",
    "--var",
    `BEDROCK_ENDPOINT:${bedrockUrl}`,
    "--var",
    `KINESIS_ENDPOINT:${kinesis.url}`,
  ],
  { env: offlineEnv(), stdio: ["ignore", "inherit", "inherit"], detached: true },
);

/** @type {Awaited<ReturnType<typeof startDemoSite>>[]} */
const demoSites = [];

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const site of demoSites) site.close().catch(() => {});
  for (const service of services) service.close().catch(() => {});
  try {
    // wrangler starts workerd as a child: stop the whole process group.
    process.kill(-wrangler.pid, "SIGTERM");
  } catch {}
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("SIGHUP", () => stop(0));
wrangler.on("exit", (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code ?? "signal"})`);
    process.exit(code ?? 1);
  }
});

async function waitForHealth(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** Registers every seed site through the fleet API (idempotent: PUT). */
async function registerSeedSites() {
  const seed = JSON.parse(
    readFileSync(new URL("../shared/seed/fleet.json", import.meta.url), "utf8"),
  );
  for (const site of seed.sites) {
    const res = await fetch(`${base}/v1/sites/${site.id}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_KEY}` },
      body: JSON.stringify(site),
    });
    if (!res.ok) throw new Error(`registering ${site.id}: HTTP ${res.status} ${await res.text()}`);
  }
  return seed.sites.length;
}

for (const options of await loadSeedSites()) {
  try {
    demoSites.push(
      await startDemoSite({
        ...options,
        heartbeat: { routerUrl: base, siteKey: SITE_KEY, intervalMs: 2_000 },
      }),
    );
  } catch (err) {
    console.error(`demo site ${options.id} on port ${options.port}: ${err.message}`);
    stop(1);
  }
}

if (!(await waitForHealth())) {
  console.error(`mec-router did not come up on ${base} within 60 s`);
  stop(1);
} else {
  const registered = await registerSeedSites();
  const route = JSON.stringify({
    task: { modality: "text", inputTokens: 300, maxOutputTokens: 64 },
    constraints: { latencySlaMs: 3000, privacy: "strict" },
    location: { lat: 52.52, lon: 13.4 },
  });
  const chat = JSON.stringify({
    model: "auto",
    messages: [{ role: "user", content: "What is mobile edge computing?" }],
    max_tokens: 64,
    mec: { location: { lat: 48.86, lon: 2.35 }, constraints: { latencySlaMs: 5000 } },
  });
  const stream = JSON.stringify({
    model: "auto",
    stream: true,
    messages: [{ role: "user", content: "Tell me about 5G." }],
    max_tokens: 64,
    mec: { location: { lat: 40.42, lon: -3.7 } },
  });
  console.log(`
mec-router is running at ${base}   (Ctrl-C stops it)

Demo MEC sites (${registered}, registered and heartbeating):
${demoSites.map((d) => `  ${d.state.id.padEnd(12)} ${d.url}/v1`).join("\n")}
Cloud tier: ${realBedrock ? "the real Bedrock (AWS credentials in .dev.vars)" : `Bedrock stand-in ${bedrockUrl}`}
Kinesis:    kinesalite ${kinesis.url} (in memory), stream mec-router-metrics
History:    local D1 (.wrangler/state), written by the queue consumer within seconds
API docs:   ${base}/docs (OpenAPI: ${base}/openapi.json)
MCP:        ${base}/mcp (Streamable HTTP; Authorization: Bearer dev-operator-key)

Dev keys (hashes in .dev.vars; never use them in production):
  device    dev-device-key
  operator  dev-operator-key
  site      dev-site-key

Try:
  # where should this run?
  curl -s ${base}/v1/route -H 'authorization: Bearer dev-device-key' \\
       -H 'content-type: application/json' -d '${route}'

  # run it (OpenAI-compatible); the x-mec-* response headers say where it ran
  curl -si ${base}/v1/chat/completions -H 'authorization: Bearer dev-device-key' \\
       -H 'content-type: application/json' -d '${chat}'

  # streamed
  curl -sN ${base}/v1/chat/completions -H 'authorization: Bearer dev-device-key' \\
       -H 'content-type: application/json' -d '${stream}'

Drive a mixed mobile workload against it: npm run demo
`);
}
