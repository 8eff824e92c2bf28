// Decide-only answers tell the chosen site to expect the request (expected load for a moment,
// demand for its cache agent), and any decision may tell a site that it would have taken the
// request had a model been resident there (demand only: `SiteAgent.want`). One Durable Object call per answer would make a popular site's
// agent the bottleneck of /v1/route (one object serves on the order of 1,000 calls/s) and cost a
// call per answer; measured under `npm run bench:overhead`, it was the largest part of the
// route's CPU. So each isolate adds them up per site and model and sends one call per site and
// model every EXPECT_FLUSH_MS. Each request's `waitUntil` waits for the flush that carries its
// expectation, so the isolate stays alive until it is delivered; a failed call is dropped (the
// expectation is a hint, and the next heartbeat corrects the load).

import { siteStub } from "./site-stub.ts";

export const EXPECT_FLUSH_MS = 50;

export type SendExpectation = (siteId: string, model: string, requests: number) => Promise<unknown>;

export class ExpectationBatch {
  readonly #send: SendExpectation;
  readonly #wait: () => Promise<void>;
  #pending = new Map<string, { siteId: string; model: string; requests: number }>();
  #flushed: Promise<void> | undefined;

  constructor(send: SendExpectation, wait: () => Promise<void>) {
    this.#send = send;
    this.#wait = wait;
  }

  /** Counts one expectation; resolves once the flush that carries it is done (never rejects). */
  add(siteId: string, model: string): Promise<void> {
    const key = `${siteId}\u0000${model}`;
    const entry = this.#pending.get(key);
    if (entry) entry.requests++;
    else this.#pending.set(key, { siteId, model, requests: 1 });
    this.#flushed ??= this.#wait().then(() => this.#flush());
    return this.#flushed;
  }

  async #flush(): Promise<void> {
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    this.#flushed = undefined;
    await Promise.all(
      batch.map((b) => this.#send(b.siteId, b.model, b.requests).catch(() => undefined)),
    );
  }
}

let batch: ExpectationBatch | undefined;
let wants: ExpectationBatch | undefined;

const flushWait = () => new Promise<void>((resolve) => setTimeout(resolve, EXPECT_FLUSH_MS));

/** The isolate's batch: tells `siteId` to expect one more request for `model`. */
export function expectAtSite(env: Env, siteId: string, model: string): Promise<void> {
  batch ??= new ExpectationBatch((site, m, n) => siteStub(env, site).expect(m, n), flushWait);
  return batch.add(siteId, model);
}

/** The same for a request that wanted `model` at `siteId` but could not have it resident there. */
export function wantAtSite(env: Env, siteId: string, model: string): Promise<void> {
  wants ??= new ExpectationBatch((site, m, n) => siteStub(env, site).want(m, n), flushWait);
  return wants.add(siteId, model);
}
