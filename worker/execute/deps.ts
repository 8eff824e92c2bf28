// What the plan runner needs in the worker: the tier clients, the isolate's retry budget, the
// clock, the stall limit and the lease hand-on window from configuration.

import { createRetryBudget, type RetryBudget } from "../../shared/retry.ts";
import { DEFAULT_LEASE_REUSE_MS } from "../fleet/releases.ts";
import { bedrockClient } from "./bedrock-client.ts";
import { mecClient } from "./mec-client.ts";
import type { RunDeps } from "./run-plan.ts";

/** One budget per isolate: retries stay within 20 % of the requests it served recently. */
let budget: RetryBudget | undefined;

export function executionDeps(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  admission?: RunDeps["admission"],
): RunDeps {
  budget ??= createRetryBudget();
  const stall = Number(env.STREAM_STALL_MS);
  const reuse = Number(env.SITE_LEASE_REUSE_MS);
  return {
    env,
    clients: { mec: mecClient(env), cloud: bedrockClient(env) },
    budget,
    // Feedback to Durable Objects after the response: a failure there must not surface as an
    // unhandled rejection, only as a log line.
    waitUntil: (p) =>
      waitUntil(
        p.catch((err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          console.warn(JSON.stringify({ event: "feedback_failed", message }));
        }),
      ),
    now: () => Date.now(),
    rand: Math.random,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    stallMs: Number.isFinite(stall) && stall > 0 ? stall : 5_000,
    leaseReuseMs: Number.isFinite(reuse) && reuse >= 0 ? reuse : DEFAULT_LEASE_REUSE_MS,
    ...(admission ? { admission } : {}),
  };
}
