// Global setup of the `fuzz` project, run in Node: the fuzz suite's own world on free loopback
// ports — two demo MEC sites, a Converse stand-in for the cloud tier and Nova, kinesalite — so
// its traffic never touches the counters other test files assert on. FUZZ_RUNS, FUZZ_SEED and
// FUZZ_CASE (set by `npm run fuzz`) reach the suite through `provide`.

import type { TestProject } from "vitest/node";
import { startBedrockStandin } from "../../scripts/bedrock-standin.mjs";
import { startDemoSite } from "../../scripts/demo-site.mjs";
import { startKinesalite } from "../../scripts/kinesalite-local.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    fuzzSiteAUrl: string;
    fuzzSiteBUrl: string;
    fuzzBedrockUrl: string;
    fuzzKinesisUrl: string;
    /** Cases per run (FUZZ_RUNS, default 10⁵). */
    fuzzRuns: number;
    /** The seed (FUZZ_SEED): fixed in `npm test`, so a run is repeatable. */
    fuzzSeed: number;
    /** One case to replay (FUZZ_CASE), or -1 for all. */
    fuzzCase: number;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const sites = await Promise.all(
    ["fuzz-a", "fuzz-b"].map((id) =>
      startDemoSite({
        id,
        models: [
          { model: "llama-3.2-3b", sizeGb: 7, tokensPerSec: 110, loadTimeMs: 6_000 },
          { model: "qwen2.5-vl-7b", sizeGb: 17, tokensPerSec: 45, loadTimeMs: 14_000 },
        ],
        residentModels: ["llama-3.2-3b"],
        maxConcurrent: 64,
        gpuMemoryGb: 48,
        timeScale: 0,
      }),
    ),
  );
  const bedrock = await startBedrockStandin({ timeScale: 0, seed: 17 });
  const kinesis = await startKinesalite({ streams: [{ name: "mec-router-metrics", shards: 1 }] });
  project.provide("fuzzSiteAUrl", (sites[0] as { url: string }).url);
  project.provide("fuzzSiteBUrl", (sites[1] as { url: string }).url);
  project.provide("fuzzBedrockUrl", bedrock.url);
  project.provide("fuzzKinesisUrl", kinesis.url);
  project.provide("fuzzRuns", Number(process.env.FUZZ_RUNS ?? 100_000));
  project.provide("fuzzSeed", Number(process.env.FUZZ_SEED ?? 20_261_202));
  project.provide("fuzzCase", Number(process.env.FUZZ_CASE ?? -1));
  return async () => {
    await Promise.all([...sites.map((s) => s.close()), bedrock.close(), kinesis.close()]);
  };
}
