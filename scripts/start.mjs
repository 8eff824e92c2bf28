// `npm start`: the router on 127.0.0.1 (PORT, default 8787) under `wrangler dev`, fully offline,
// with local Durable Objects, plus the demo MEC sites of shared/seed/fleet.json (ports 9101…),
// registered through the fleet API and heartbeating to it. Prints the dev keys and copy-paste
// examples. Ctrl-C stops everything it started.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadSeedSites, startDemoSite } from "./demo-site.mjs";
import { offlineEnv } from "./offline-env.mjs";

const OPERATOR_KEY = "dev-operator-key";
const SITE_KEY = "dev-site-key";

const port = Number(process.env.PORT ?? 8787);
const host = "127.0.0.1";
const base = `http://${host}:${port}`;

const wrangler = spawn(
  "wrangler",
  ["dev", "--ip", host, "--port", String(port), "--show-interactive-dev-session=false"],
  { env: offlineEnv(), stdio: ["ignore", "inherit", "inherit"], detached: true },
);

/** @type {Awaited<ReturnType<typeof startDemoSite>>[]} */
const demoSites = [];

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const site of demoSites) site.close().catch(() => {});
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
  const example = JSON.stringify({
    task: { modality: "text", inputTokens: 300, maxOutputTokens: 64 },
    constraints: { latencySlaMs: 3000, privacy: "strict" },
    location: { lat: 52.52, lon: 13.4 },
  });
  console.log(`
mec-router is running at ${base}   (Ctrl-C stops it)

Demo MEC sites (${registered}, registered and heartbeating):
${demoSites.map((d) => `  ${d.state.id.padEnd(12)} ${d.url}/v1`).join("\n")}

Dev keys (hashes in .dev.vars; never use them in production):
  device    dev-device-key
  operator  dev-operator-key
  site      dev-site-key

Try:
  curl -s ${base}/healthz
  curl -s ${base}/v1/catalog -H 'authorization: Bearer dev-device-key'
  curl -s ${base}/v1/route -H 'authorization: Bearer dev-device-key' \\
       -H 'content-type: application/json' \\
       -d '${example}'
`);
}
