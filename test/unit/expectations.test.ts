// The isolate's batch of decide-only expectations (worker/fleet/expectations.ts): one call per
// site and model per flush, with the count, and never a rejection into the request.

import { describe, expect, it } from "vitest";
import { expectationBatch } from "../../worker/fleet/expectations.ts";

/** A flush timer the test fires by hand. */
function manualTimer() {
  const waiting: (() => void)[] = [];
  return {
    wait: () => new Promise<void>((resolve) => waiting.push(resolve)),
    fire: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
    armed: () => waiting.length,
  };
}

describe("expectation batch", () => {
  it("sends one call per site and model with the number of answers, after the flush", async () => {
    const calls: [string, string, number][] = [];
    const timer = manualTimer();
    const batch = expectationBatch(async (s, m, n) => {
      calls.push([s, m, n]);
    }, timer.wait);
    const done = [
      batch.add({ siteId: "berlin-1", model: "llama-3.2-1b" }),
      batch.add({ siteId: "berlin-1", model: "llama-3.2-1b" }),
      batch.add({ siteId: "berlin-1", model: "llama-3.1-8b" }),
      batch.add({ siteId: "paris-1", model: "llama-3.2-1b" }),
      batch.add({ siteId: "berlin-1", model: "llama-3.2-1b" }),
    ];
    expect(timer.armed()).toBe(1);
    expect(calls).toEqual([]);
    timer.fire();
    await Promise.all(done);
    expect(calls).toEqual([
      ["berlin-1", "llama-3.2-1b", 3],
      ["berlin-1", "llama-3.1-8b", 1],
      ["paris-1", "llama-3.2-1b", 1],
    ]);
  });

  it("starts a new batch after a flush, and a failed call rejects no request", async () => {
    const calls: number[] = [];
    const timer = manualTimer();
    let fail = true;
    const batch = expectationBatch(async (_s, _m, n) => {
      calls.push(n);
      if (fail) throw new Error("agent unreachable");
    }, timer.wait);
    const first = batch.add({ siteId: "a", model: "m" });
    timer.fire();
    await expect(first).resolves.toBeUndefined();
    fail = false;
    const second = [batch.add({ siteId: "a", model: "m" }), batch.add({ siteId: "a", model: "m" })];
    expect(timer.armed()).toBe(1);
    timer.fire();
    await Promise.all(second);
    expect(calls).toEqual([1, 2]);
  });
});
