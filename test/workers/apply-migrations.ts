// Setup file of the `workers` project: applies the real D1 migrations (migrations/*.sql, read by
// `readD1Migrations` in vitest.config.ts and passed in as the TEST_MIGRATIONS binding) before a
// test file runs. `applyD1Migrations` skips what is already applied, so running it per file is safe.

import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";

const testEnv: Env & { TEST_MIGRATIONS?: D1Migration[] } = env;
if (!testEnv.TEST_MIGRATIONS) throw new Error("TEST_MIGRATIONS is not bound (vitest.config.ts)");
await applyD1Migrations(env.DB, testEnv.TEST_MIGRATIONS);
