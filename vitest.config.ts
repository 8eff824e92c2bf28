import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // CI machines have two shared cores: a test that takes 2 s alone may take three times that.
    testTimeout: 20_000,
    projects: [
      {
        // Route modules import `cloudflare:workers` (waitUntil); the tests that read their routes
        // and schemas in Node load them with this stand-in (see the file).
        resolve: {
          alias: { "cloudflare:workers": "./scripts/cloudflare-workers-stub.ts" },
        },
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
          sequence: { groupOrder: 1 },
        },
      },
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            main: "./worker/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            // A stalled stream is noticed in 300 ms instead of 5 s.
            // Bedrock calls go to the local Converse stand-in started by the global setup.
            // The real D1 migrations, applied by test/workers/apply-migrations.ts.
            miniflare: {
              bindings: {
                STREAM_STALL_MS: "300",
                BEDROCK_ENDPOINT: inject("bedrockUrl"),
                // Nova reasoning on (only low-confidence decisions with SLA slack call it), against
                // its own Converse stand-in.
                REASONING: "auto",
                NOVA_ENDPOINT: inject("novaUrl"),
                // Kinesis: kinesalite, started (stream created) by the global setup.
                KINESIS_ENDPOINT: inject("kinesisUrl"),
                // Signs dashboard session cookies; a test-only value.
                SESSION_SECRET: "test-session-secret-0123456789abcdef",
                TEST_MIGRATIONS: await readD1Migrations("migrations"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          // One demo MEC site on 127.0.0.1 for the site agent's probes and control calls.
          globalSetup: ["test/workers/global-setup.ts"],
          setupFiles: ["test/workers/apply-migrations.ts"],
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: "browser",
          environment: "node",
          include: ["test/browser/**/*.test.ts"],
          // The dashboard in Chromium against the whole local stack (wrangler dev, demo sites,
          // stand-ins): it runs after the other projects (the highest group), so it has the
          // machine to itself. (With the others in group 0, vitest 5.1 ran this one first.)
          sequence: { groupOrder: 4 },
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
      {
        // The fuzz suite, inside workerd like `workers`, against a world of its own (demo sites,
        // a Converse stand-in for the cloud tier and Nova, kinesalite).
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            main: "./worker/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                BEDROCK_ENDPOINT: inject("fuzzBedrockUrl"),
                REASONING: "auto",
                NOVA_ENDPOINT: inject("fuzzBedrockUrl"),
                KINESIS_ENDPOINT: inject("fuzzKinesisUrl"),
                TEST_MIGRATIONS: await readD1Migrations("migrations"),
              },
            },
          })),
        ],
        test: {
          name: "fuzz",
          include: ["test/fuzz/**/*.test.ts"],
          globalSetup: ["test/fuzz/global-setup.ts"],
          setupFiles: ["test/workers/apply-migrations.ts"],
          // After unit and workers, alone: one long file of 10⁵ cases at 128 in flight, which
          // under the other projects' load now and then left a case unanswered for a minute.
          sequence: { groupOrder: 2 },
        },
      },
      {
        // The whole local stack (scripts/stack.mjs) from Node: wrangler dev, demo sites,
        // stand-ins, kinesalite.
        test: {
          name: "stack",
          environment: "node",
          include: ["test/stack/**/*.test.ts"],
          // After the tests inside workerd: the load smoke measures the fleet's capacity.
          sequence: { groupOrder: 3 },
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
