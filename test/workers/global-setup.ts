// Global setup of the `workers` project, run in Node before any test file: starts one demo MEC
// site on 127.0.0.1 (any free port) and hands its URL to the tests through `provide`, which
// the Workers pool forwards to the tests inside workerd (`inject("demoSiteUrl")`). Site agents
// probe its `/health` and `/metrics` and call its control API, with real sockets.

import type { TestProject } from "vitest/node";
import { startBedrockStandin } from "../../scripts/bedrock-standin.mjs";
import { startDemoSite } from "../../scripts/demo-site.mjs";
import { startKinesalite, startStreamReader } from "../../scripts/kinesalite-local.mjs";
import { startKinesisFlaky } from "../../scripts/kinesis-flaky.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** The demo site's base URL without `/v1`, e.g. `http://127.0.0.1:40123`. */
    demoSiteUrl: string;
    /** Two demo sites that answer chat requests (fast), for execution tests; A takes faults. */
    execSiteAUrl: string;
    execSiteBUrl: string;
    /** Two more for fault injection (faults.test.ts only). */
    faultSiteAUrl: string;
    faultSiteBUrl: string;
    /** A demo site for the budget tests alone (budget.test.ts): no faults, no model changes. */
    budgetSiteUrl: string;
    /** A demo site serving the vision model qwen2.5-vl-7b (video execution, infer-video.test.ts). */
    visionSiteUrl: string;
    /** Demo sites scheduling by priority and in arrival order (priority.test.ts). */
    prioritySiteUrl: string;
    fcfsSiteUrl: string;
    /** A demo site that never answers a chat request (router-busy.test.ts). */
    hangSiteUrl: string;
    /** A demo site that sends malformed answers and metrics on demand (outbound.test.ts). */
    garbageSiteUrl: string;
    /** A Converse stand-in of its own for outbound.test.ts, which breaks its answers. */
    garbageBedrockUrl: string;
    /** The Bedrock Converse stand-in; the worker's BEDROCK_ENDPOINT in tests. */
    bedrockUrl: string;
    /** A second Converse stand-in for Nova reasoning (NOVA_ENDPOINT): its faults and call counts
     * stay apart from the cloud tier's. */
    novaUrl: string;
    /** A third, for the offline policy review (review.test.ts): its faults stay apart from the
     * hot path's. */
    reviewNovaUrl: string;
    /** kinesalite with the metrics stream (2 shards); the worker's KINESIS_ENDPOINT in tests. */
    kinesisUrl: string;
    /** GET /streams/{name}: the stream read back with @aws-sdk/client-kinesis from Node. */
    kinesisReaderUrl: string;
    /** A Kinesis that answers PutRecords with partial failures and throttling (kinesis.test.ts). */
    kinesisFlakyUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const site = await startDemoSite({
    id: "demo-workers",
    // Model sizes as in shared/catalog.ts. Twice the memory the test sites register (24 GB), so
    // the demo never evicts on its own: a model missing here was unloaded by a site agent.
    // site-agent.test.ts relies on this shape.
    models: [
      { model: "llama-3.2-3b", sizeGb: 7, tokensPerSec: 110, loadTimeMs: 6_000 },
      { model: "llama-3.1-8b", sizeGb: 16, tokensPerSec: 55, loadTimeMs: 12_000 },
      { model: "whisper-large-v3-turbo", sizeGb: 4, tokensPerSec: 400, loadTimeMs: 5_000 },
    ],
    residentModels: ["llama-3.2-3b"],
    maxConcurrent: 4,
    gpuMemoryGb: 48,
    // Cold loads answer at once: the tests drive time with the site agent's clock, not the demo's.
    timeScale: 0,
  });
  project.provide("demoSiteUrl", site.url);
  const exec = await Promise.all(
    ["exec-a", "exec-b", "fault-a", "fault-b", "budget"].map((id) =>
      startDemoSite({
        id,
        models: [{ model: "llama-3.2-3b", sizeGb: 7, tokensPerSec: 110, loadTimeMs: 6_000 }],
        residentModels: ["llama-3.2-3b"],
        maxConcurrent: 64,
        gpuMemoryGb: 24,
        timeScale: 0.05,
      }),
    ),
  );
  project.provide("execSiteAUrl", (exec[0] as { url: string }).url);
  project.provide("execSiteBUrl", (exec[1] as { url: string }).url);
  project.provide("faultSiteAUrl", (exec[2] as { url: string }).url);
  project.provide("faultSiteBUrl", (exec[3] as { url: string }).url);
  project.provide("budgetSiteUrl", (exec[4] as { url: string }).url);
  const vision = await startDemoSite({
    id: "vision",
    models: [{ model: "qwen2.5-vl-7b", sizeGb: 17, tokensPerSec: 45, loadTimeMs: 14_000 }],
    residentModels: ["qwen2.5-vl-7b"],
    maxConcurrent: 16,
    gpuMemoryGb: 24,
    timeScale: 0.02,
  });
  project.provide("visionSiteUrl", vision.url);
  const [priority, fcfs] = await Promise.all(
    (["priority", "fcfs"] as const).map((scheduling) =>
      startDemoSite({
        id: `${scheduling}-site`,
        models: [{ model: "llama-3.1-8b", sizeGb: 16, tokensPerSec: 55, loadTimeMs: 12_000 }],
        residentModels: ["llama-3.1-8b"],
        maxConcurrent: 16,
        gpuMemoryGb: 24,
        timeScale: 0.02,
        scheduling,
      }),
    ),
  );
  project.provide("prioritySiteUrl", (priority as { url: string }).url);
  project.provide("fcfsSiteUrl", (fcfs as { url: string }).url);
  const garbage = await startDemoSite({
    id: "garbage",
    models: [{ model: "llama-3.2-3b", sizeGb: 7, tokensPerSec: 110, loadTimeMs: 6_000 }],
    residentModels: ["llama-3.2-3b"],
    maxConcurrent: 16,
    gpuMemoryGb: 24,
    timeScale: 0.02,
  });
  project.provide("garbageSiteUrl", garbage.url);
  const hang = await startDemoSite({
    id: "hang",
    models: [{ model: "llama-3.2-3b", sizeGb: 7, tokensPerSec: 110, loadTimeMs: 6_000 }],
    residentModels: ["llama-3.2-3b"],
    maxConcurrent: 16,
    gpuMemoryGb: 24,
    timeScale: 0.02,
    faults: { hangRate: 1 },
  });
  project.provide("hangSiteUrl", hang.url);
  const garbageBedrock = await startBedrockStandin({ timeScale: 0.02, seed: 13 });
  project.provide("garbageBedrockUrl", garbageBedrock.url);
  const bedrock = await startBedrockStandin({ timeScale: 0.02 });
  project.provide("bedrockUrl", bedrock.url);
  const nova = await startBedrockStandin({ timeScale: 0.02, seed: 7 });
  project.provide("novaUrl", nova.url);
  const reviewNova = await startBedrockStandin({ timeScale: 0.02, seed: 11 });
  project.provide("reviewNovaUrl", reviewNova.url);
  const kinesis = await startKinesalite({ streams: [{ name: "mec-router-metrics", shards: 2 }] });
  const reader = await startStreamReader({ endpoint: kinesis.url });
  const flaky = await startKinesisFlaky({ streams: ["mec-router-metrics"] });
  project.provide("kinesisUrl", kinesis.url);
  project.provide("kinesisReaderUrl", reader.url);
  project.provide("kinesisFlakyUrl", flaky.url);
  return async () => {
    await Promise.all([
      site.close(),
      vision.close(),
      garbage.close(),
      hang.close(),
      priority?.close(),
      fcfs?.close(),
      garbageBedrock.close(),
      bedrock.close(),
      nova.close(),
      reviewNova.close(),
      ...exec.map((e) => e.close()),
    ]);
    await Promise.all([reader.close(), kinesis.close(), flaky.close()]);
  };
}
