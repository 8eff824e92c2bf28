// The isolate's batches of calls to site agents: decide-only expectations
// (worker/fleet/expectations.ts), one call per site and model per flush, with the count; lease
// releases (worker/fleet/releases.ts), one call per site per flush, with its leases in order,
// and the hand-on of a pending release's lease to the next request; neither ever rejects into a
// request. And the window batch under them (worker/window-batch.ts):
// the request that opens a window carries it.

import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { LeaseOutcome, ReleasedLease } from "../../durable-objects/site-agent.ts";
import { expectationBatch } from "../../worker/fleet/expectations.ts";
import {
  canHandOn,
  type HeldLease,
  handOn,
  type LeaseWant,
  noteQueueing,
  releaseBatch,
} from "../../worker/fleet/releases.ts";
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

/** A lease as the router holds it after a plain grant at T0. */
function held(siteId: string, leaseId: string, over: Partial<HeldLease> = {}): HeldLease {
  return {
    siteId,
    leaseId,
    model: "llama-3.2-1b",
    probe: false,
    queued: false,
    grantedAt: T0,
    expiresAt: T0 + 30_000,
    ...over,
  };
}
const T0 = 1_700_000_000_000;
const NOBODY_WAITING = { released: 0, queueing: false };

/** A release batch on a timer fired by hand, recording the calls it sends. */
function recordingBatch() {
  const calls: [string, ReleasedLease[]][] = [];
  const timer = manualTimer();
  const batch = releaseBatch(async (site, leases) => {
    calls.push([site, leases]);
    return NOBODY_WAITING;
  }, timer.wait);
  return { calls, timer, batch };
}

describe("release batch", () => {
  it("sends one call per site with its leases in the order they ended, after the flush", async () => {
    const { calls, timer, batch } = recordingBatch();
    const ok = { ok: true, latencyMs: 120 };
    const failed = { ok: false, latencyMs: 900, timedOut: true };
    const done = [
      batch.add({ lease: held("berlin-1", "berlin-1.a"), outcome: ok }),
      batch.add({ lease: held("paris-1", "paris-1.b"), outcome: failed }),
      batch.add({ lease: held("berlin-1", "berlin-1.c"), outcome: failed }),
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
      return NOBODY_WAITING;
    }, timer.wait);
    const done = [
      batch.add({ lease: held("down", "down.a"), outcome: { ok: true } }),
      batch.add({ lease: held("up", "up.b"), outcome: { ok: true } }),
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

describe("lease hand-on", () => {
  const want: LeaseWant = {
    siteId: "berlin-1",
    model: "llama-3.2-1b",
    criticality: "standard",
    ttlMs: 30_000,
  };
  const ok = { ok: true, latencyMs: 120 };
  const at = T0 + 200;

  it("hands a pending release's lease to the next request, which the agent hears of in the same call", async () => {
    const { calls, timer, batch } = recordingBatch();
    const first = batch.add({
      lease: held("berlin-1", "berlin-1.a", { criticality: "standard" }),
      outcome: ok,
    });
    const lease = handOn(batch, want, at, 1_000);
    expect(lease).toEqual(held("berlin-1", "berlin-1.a", { criticality: "standard" }));
    // Taken once: a second request finds nothing to take over.
    expect(handOn(batch, want, at, 1_000)).toBeUndefined();
    // The new holder ends within the same window; its release may go on in turn.
    batch.add({ lease: lease as HeldLease, outcome: { ok: true, latencyMs: 90 } });
    timer.fire();
    await first;
    expect(calls).toEqual([
      [
        "berlin-1",
        [
          {
            leaseId: "berlin-1.a",
            outcome: ok,
            handedOn: { criticality: "standard", ttlMs: 30_000 },
          },
          { leaseId: "berlin-1.a", outcome: { ok: true, latencyMs: 90 } },
        ],
      ],
    ]);
    // A flushed window holds nothing to take over.
    expect(handOn(batch, want, at, 1_000)).toBeUndefined();
  });

  it("hands nothing on at a site whose agent last said requests wait in its queue", async () => {
    const timer = manualTimer();
    let queueing = true;
    const batch = releaseBatch(async () => ({ released: 0, queueing }), timer.wait);
    const release = () =>
      batch.add({
        lease: held("berlin-1", "berlin-1.a", { criticality: "standard" }),
        outcome: ok,
      });
    // The batch's answer says so: a freed slot goes to the work already waiting there.
    const first = release();
    timer.fire();
    await first;
    const second = release();
    expect(handOn(batch, want, at, 1_000)).toBeUndefined();
    // A later answer (or a reserve's) says the queue is empty again.
    queueing = false;
    timer.fire();
    await second;
    release();
    expect(handOn(batch, want, at, 1_000)).toBeDefined();
    noteQueueing("berlin-1", true);
    release();
    expect(handOn(batch, want, at, 1_000)).toBeUndefined();
    noteQueueing("berlin-1", false);
    expect(handOn(batch, want, at, 1_000)).toBeDefined();
  });

  it("hands on only what the agent would have granted alike", () => {
    const release = (over: Partial<HeldLease>, outcome: LeaseOutcome | undefined = ok) => ({
      lease: held("berlin-1", "berlin-1.a", { criticality: "standard", ...over }),
      ...(outcome ? { outcome } : {}),
    });
    expect(canHandOn(release({}), want, at, 1_000)).toBe(true);
    // Handed back without a verdict (the router ran late): the slot is as good as before.
    expect(canHandOn(release({}, undefined), want, at, 1_000)).toBe(true);
    // A more urgent request may take a less urgent one's slot, not the other way round.
    expect(canHandOn(release({ criticality: "sheddable" }), want, at, 1_000)).toBe(true);
    expect(canHandOn(release({ criticality: undefined }), want, at, 1_000)).toBe(false);
    expect(canHandOn(release({ criticality: "critical" }), want, at, 1_000)).toBe(false);
    expect(canHandOn(release({}), { ...want, criticality: undefined }, at, 1_000)).toBe(true);
    // Failed requests go to the breaker first; probes settle it; queued leases had no run slot.
    expect(
      canHandOn(release({}, { ok: false, latencyMs: 900, timedOut: true }), want, at, 1_000),
    ).toBe(false);
    expect(canHandOn(release({ probe: true }), want, at, 1_000)).toBe(false);
    expect(canHandOn(release({ queued: true }), want, at, 1_000)).toBe(false);
    // Another site, model or tenant.
    expect(canHandOn(release({ siteId: "paris-1" }), want, at, 1_000)).toBe(false);
    expect(canHandOn(release({ model: "llama-3.1-8b" }), want, at, 1_000)).toBe(false);
    expect(canHandOn(release({ tenant: "acme" }), want, at, 1_000)).toBe(false);
    expect(canHandOn(release({ tenant: "acme" }), { ...want, tenant: "acme" }, at, 1_000)).toBe(
      true,
    );
    // Granted too long ago: the agent is asked again. Off with 0.
    expect(canHandOn(release({}), want, T0 + 1_000, 1_000)).toBe(true);
    expect(canHandOn(release({}), want, T0 + 1_001, 1_000)).toBe(false);
    expect(canHandOn(release({}), want, at, 0)).toBe(false);
    // It must outlast half the new request's lease time before the agent extends it.
    expect(canHandOn(release({ expiresAt: at + 15_000 }), want, at, 1_000)).toBe(true);
    expect(canHandOn(release({ expiresAt: at + 14_999 }), want, at, 1_000)).toBe(false);
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
