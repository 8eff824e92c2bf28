// Decide-only answers tell the chosen site to expect the request (expected load for a moment,
// demand for its cache agent). One Durable Object call per answer would make a popular site's
// agent the bottleneck of /v1/route (one object serves on the order of 1,000 calls/s) and cost a
// call per answer; measured under `npm run bench:overhead`, it was the largest part of the
// route's CPU. So each isolate adds them up per site and model and sends one call per site and
// model every EXPECT_FLUSH_MS. Each request's `waitUntil` waits for the flush that carries its
// expectation, so the isolate stays alive until it is delivered; a failed call is dropped (the
// expectation is a hint, and the next heartbeat corrects the load).

import { WindowBatch, windowOf } from "../window-batch.ts";
import { siteStub } from "./site-stub.ts";

export const EXPECT_FLUSH_MS = 50;

export type SendExpectation = (siteId: string, model: string, requests: number) => Promise<unknown>;

interface Expectation {
  siteId: string;
  model: string;
}

/** A batch that sends one call per site and model of a window, with the number of answers. */
export function expectationBatch(
  send: SendExpectation,
  wait: () => Promise<void>,
): WindowBatch<Expectation> {
  return new WindowBatch(async (items) => {
    const counts = new Map<string, Expectation & { requests: number }>();
    for (const { siteId, model } of items) {
      const key = `${siteId}\u0000${model}`;
      const entry = counts.get(key);
      if (entry) entry.requests++;
      else counts.set(key, { siteId, model, requests: 1 });
    }
    await Promise.all(
      [...counts.values()].map((c) => send(c.siteId, c.model, c.requests).catch(() => undefined)),
    );
  }, wait);
}

let batch: WindowBatch<Expectation> | undefined;

/** The isolate's batch: tells `siteId` to expect one more request for `model`. */
export function expectAtSite(env: Env, siteId: string, model: string): Promise<void> {
  batch ??= expectationBatch(
    (site, m, n) => siteStub(env, site).expect(m, n),
    windowOf(EXPECT_FLUSH_MS),
  );
  return batch.add({ siteId, model });
}
