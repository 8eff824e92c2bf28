// `npm start`: the router on 127.0.0.1 (PORT, default 8787) under `wrangler dev`, fully offline,
// with local Durable Objects, D1 and Queues. Prints the dev keys and copy-paste examples.
// Ctrl-C stops everything it started.

import { spawn } from "node:child_process";
import { offlineEnv } from "./offline-env.mjs";

const port = Number(process.env.PORT ?? 8787);
const host = "127.0.0.1";
const base = `http://${host}:${port}`;

const wrangler = spawn(
  "wrangler",
  ["dev", "--ip", host, "--port", String(port), "--show-interactive-dev-session=false"],
  { env: offlineEnv(), stdio: ["ignore", "inherit", "inherit"], detached: true },
);

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try {
    // wrangler starts workerd as a child: stop the whole process group.
    process.kill(-wrangler.pid, "SIGTERM");
  } catch {}
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
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

if (!(await waitForHealth())) {
  console.error(`mec-router did not come up on ${base} within 60 s`);
  stop(1);
} else {
  const example = JSON.stringify({
    task: { modality: "text", inputTokens: 300, maxOutputTokens: 64 },
    constraints: { latencySlaMs: 3000, privacy: "strict" },
    location: { lat: 52.52, lon: 13.4 },
  });
  console.log(`
mec-router is running at ${base}   (Ctrl-C stops it)

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
