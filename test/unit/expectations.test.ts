// The isolate's batches of calls to site agents: decide-only expectations
// (worker/fleet/expectations.ts), one call per site and model per flush, with the count; lease
// releases (worker/fleet/releases.ts), one call per site per flush, with its leases in order;
// neither ever rejects into a request. And the window batch under them (worker/window-batch.ts):
// the request that opens a window carries it.

import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { ReleasedLease } from "../../durable-objects/site-agent.ts";
import { expectationBatch } from "../../worker/fleet/expectations.ts";
import { releaseBatch } from "../../worker/fleet/releases.ts";
import { WindowBatch } from "../../worker/window-batch.ts";

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

describe("release batch", () => {
  it("sends one call per site with its leases in the order they ended, after the flush", async () => {
    const calls: [string, ReleasedLease[]][] = [];
    const timer = manualTimer();
    const batch = releaseBatch(async (site, leases) => {
      calls.push([site, leases]);
    }, timer.wait);
    const ok = { ok: true, latencyMs: 120 };
    const failed = { ok: false, latencyMs: 900, timedOut: true };
    const done = [
      batch.add({ siteId: "berlin-1", leaseId: "berlin-1.a", outcome: ok }),
      batch.add({ siteId: "paris-1", leaseId: "paris-1.b", outcome: failed }),
      batch.add({ siteId: "berlin-1", leaseId: "berlin-1.c", outcome: failed }),
    ];
    expect(timer.armed()).toBe(1);
    expect(calls).toEqual([]);
    timer.fire();
    await Promise.all(done);
    expect(calls).toEqual([
      [
        "berlin-1",
        [
          { leaseId: "berlin-1.a", outcome: ok },
          { leaseId: "berlin-1.c", outcome: failed },
        ],
      ],
      ["paris-1", [{ leaseId: "paris-1.b", outcome: failed }]],
    ]);
  });

  it("logs a failed call without rejecting, and the other sites' calls still go", async () => {
    const sent: string[] = [];
    const timer = manualTimer();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    onTestFinished(() => warn.mockRestore());
    const batch = releaseBatch(async (site) => {
      if (site === "down") throw new Error("agent unreachable");
      sent.push(site);
    }, timer.wait);
    const done = [
      batch.add({ siteId: "down", leaseId: "down.a", outcome: { ok: true } }),
      batch.add({ siteId: "up", leaseId: "up.b", outcome: { ok: true } }),
    ];
    timer.fire();
    await expect(Promise.all(done)).resolves.toEqual([undefined, undefined]);
    expect(sent).toEqual(["up"]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(warn.mock.calls[0]?.[0]))).toEqual({
      event: "feedback_failed",
      siteId: "down",
      leases: 1,
      message: "agent unreachable",
    });
  });
});

describe("window batch", () => {
  it("lets the request that opens a window carry it; the others return at once", async () => {
    const flushed: number[][] = [];
    const timer = manualTimer();
    const batch = new WindowBatch<number>(async (items) => {
      flushed.push(items);
    }, timer.wait);
    let openerDone = false;
    const opener = batch.add(1).then(() => {
      openerDone = true;
    });
    // A joiner's promise is already settled: it never waits on the opener's I/O.
    await batch.add(2, 3);
    expect(openerDone).toBe(false);
    expect(flushed).toEqual([]);
    timer.fire();
    await opener;
    expect(flushed).toEqual([[1, 2, 3]]);
    // The next item opens a new window with its own timer.
    const next = batch.add(4);
    expect(timer.armed()).toBe(1);
    timer.fire();
    await next;
    expect(flushed).toEqual([[1, 2, 3], [4]]);
  });
});
