// `npm start`: the whole local MEC world, offline, on 127.0.0.1:
// - the router (PORT, default 8787) under `wrangler dev`, with local Durable Objects;
// - the demo MEC sites of shared/seed/fleet.json (ports 9101…), registered through the fleet API
//   and heartbeating to it;
// - a Bedrock Converse stand-in (BEDROCK_PORT, default 9200) unless .dev.vars holds real AWS
//   credentials, in which case the real Bedrock is used;
// - kinesalite, an in-memory Kinesis (KINESIS_PORT, default 4567).
// Prints the dev keys and copy-paste examples. Ctrl-C stops everything it started.

import { startStack } from "./stack.mjs";

const port = Number(process.env.PORT ?? 8787);
const bedrockPort = Number(process.env.BEDROCK_PORT ?? 9200);
const kinesisPort = Number(process.env.KINESIS_PORT ?? 4567);

let stack;
try {
  stack = await startStack({ port, bedrockPort, kinesisPort });
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
const { base, demoSites, registered, realBedrock, bedrockUrl } = stack;
const kinesis = { url: stack.kinesisUrl };

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  stack.stop().finally(() => process.exit(code));
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("SIGHUP", () => stop(0));
stack.exited.then((code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code ?? "signal"})`);
    stop(code ?? 1);
  }
});

/** The welcome text: where everything runs, the dev keys, copy-paste examples. */
function printWelcome() {
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
Dashboard:  ${base}/dashboard/   (log in with the operator key below)

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

printWelcome();
