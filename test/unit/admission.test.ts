// Admission by criticality at a MEC site (shared/admission.ts): slots and queue wait.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ARRIVAL_TAU_MS,
  type ArrivalMeter,
  admissionLimit,
  CRITICAL_HEADROOM,
  CRITICAL_QUEUE_RESERVE,
  holding,
  type LeaseCheck,
  leaseFits,
  meterArrival,
  meterRate,
  overtakeRate,
  queueAllowanceMs,
  queueWaitMs,
  SCHEDULING_PRIORITY,
  siteLoad,
  waitingAhead,
  waitingByClass,
} from "../../shared/admission.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";

describe("admission headroom", () => {
  it("lets critical work fill every slot and keeps at least one (about 10 %) from the rest", () => {
    expect(admissionLimit({ maxConcurrent: 16, maxQueue: 32 }, "critical")).toBe(48);
    expect(admissionLimit({ maxConcurrent: 16, maxQueue: 32 }, "standard")).toBe(43);
    expect(admissionLimit({ maxConcurrent: 16, maxQueue: 32 }, "sheddable")).toBe(43);
    expect(admissionLimit({ maxConcurrent: 4, maxQueue: 0 }, "standard")).toBe(3);
    expect(admissionLimit({ maxConcurrent: 1, maxQueue: 0 }, "standard")).toBe(1);
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (c, q) => {
          const slots = c + q;
          const kept = slots - admissionLimit({ maxConcurrent: c, maxQueue: q }, "standard");
          return kept >= 1 && kept === Math.max(1, Math.ceil(slots * CRITICAL_HEADROOM));
        },
      ),
    );
  });
});

describe("queue wait by criticality", () => {
  it("gives critical work its whole slack and other work half of it", () => {
    expect(queueAllowanceMs("critical", 6_000)).toBe(6_000);
    expect(queueAllowanceMs("standard", 6_000)).toBe(6_000 * (1 - CRITICAL_QUEUE_RESERVE));
    expect(queueAllowanceMs("sheddable", 6_000)).toBe(3_000);
    expect(queueAllowanceMs("standard", -500)).toBe(0);
    expect(queueAllowanceMs("critical", -500)).toBe(0);
  });

  it("expects no wait while a run slot is free, then the queue ahead served maxConcurrent at a time", () => {
    expect(queueWaitMs(0, 4, 1_000)).toBe(0);
    expect(queueWaitMs(3, 4, 1_000)).toBe(0);
    expect(queueWaitMs(4, 4, 1_000)).toBe(250);
    expect(queueWaitMs(11, 4, 1_000)).toBe(2_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 60_000 }),
        (busy, c, ms) => queueWaitMs(busy + 1, c, ms) >= queueWaitMs(busy, c, ms),
      ),
    );
  });
});

describe("a lease at a site's agent (leaseFits)", () => {
  const saturation = DEFAULT_POLICY.saturation;
  const at = (over: Partial<LeaseCheck>): LeaseCheck => ({
    capacity: { maxConcurrent: 4, maxQueue: 6 },
    busy: 0,
    waiting: 0,
    kvCacheUsage: 0,
    criticality: "standard",
    ...over,
  });

  it("counts what the site holds by its leases or its fresh report, whichever is more", () => {
    const report = { running: 4, waiting: 2, kvCacheUsage: 0.7 };
    expect(holding(3, report, 4)).toEqual({ busy: 6, waiting: 2, kvCacheUsage: 0.7 });
    // More leases than reported: those beyond the run slots queue.
    expect(holding(9, report, 4)).toEqual({ busy: 9, waiting: 5, kvCacheUsage: 0.7 });
    // A stale report (undefined) counts for nothing.
    expect(holding(2, undefined, 4)).toEqual({ busy: 2, waiting: 0, kvCacheUsage: 0 });
  });

  it("stops each class at its admission limit", () => {
    // 10 slots: standard work leaves one to critical work.
    expect(leaseFits(at({ busy: 8, waiting: 4 }), saturation)).toBe(true);
    expect(leaseFits(at({ busy: 9, waiting: 5 }), saturation)).toBe(false);
    expect(leaseFits(at({ busy: 9, waiting: 5, criticality: "critical" }), saturation)).toBe(true);
    expect(leaseFits(at({ busy: 10, waiting: 6, criticality: "critical" }), saturation)).toBe(
      false,
    );
  });

  it("sheds sheddable work at a saturated site only", () => {
    const full = { busy: 3, kvCacheUsage: saturation.kvCache };
    expect(leaseFits(at({ ...full, criticality: "sheddable" }), saturation)).toBe(false);
    expect(leaseFits(at(full), saturation)).toBe(true);
  });

  it("refuses a queue longer than the class may wait, once a service time is known", () => {
    // 4 run slots, 7 held: this request waits for 4 ahead of it, 1,000 ms each → 1,000 ms.
    const queued = { busy: 7, waiting: 3, serviceMs: 1_000 };
    // Standard work may wait half its slack: (3,500 − 1,000) / 2 = 1,250 ms, then 750 ms.
    expect(leaseFits(at({ ...queued, budgetMs: 3_500 }), saturation)).toBe(true);
    expect(leaseFits(at({ ...queued, budgetMs: 2_500 }), saturation)).toBe(false);
    // Critical work may wait its whole slack (1,500 ms).
    expect(leaseFits(at({ ...queued, budgetMs: 2_500, criticality: "critical" }), saturation)).toBe(
      true,
    );
    // Not judged without a measured service time or a deadline.
    expect(leaseFits(at({ busy: 7, waiting: 3, budgetMs: 1 }), saturation)).toBe(true);
    // Queued work that starts after it (less urgent, at a priority site) is not ahead of it.
    expect(leaseFits(at({ ...queued, budgetMs: 2_500, behind: 3 }), saturation)).toBe(true);
  });
});

describe("work that overtakes a queued request", () => {
  it("lengthens the wait by its share of the site's time, without end once it fills the site", () => {
    // 4 ahead at 250 ms a slot-turn: 1 s; work arriving at 2/s takes half the turns: 2 s.
    expect(queueWaitMs(11, 4, 1_000, 0)).toBe(2_000);
    expect(queueWaitMs(11, 4, 1_000, 0.002)).toBe(4_000);
    expect(queueWaitMs(11, 4, 1_000, 0.004)).toBe(Number.POSITIVE_INFINITY);
    // Nothing waits ahead: it starts at once whatever arrives later.
    expect(queueWaitMs(3, 4, 1_000, 0.004)).toBe(0);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 0.01, noNaN: true }),
        (busy, c, ms, rate) => queueWaitMs(busy, c, ms, rate) >= queueWaitMs(busy, c, ms),
      ),
    );
  });

  it("comes only from more urgent classes, and only at a priority site", () => {
    const rates = { critical: 0.001, standard: 0.01, sheddable: 0.1 };
    const rateOf = (c: keyof typeof rates) => rates[c];
    expect(overtakeRate("priority", "critical", rateOf)).toBe(0);
    expect(overtakeRate("priority", "standard", rateOf)).toBe(0.001);
    expect(overtakeRate("priority", "sheddable", rateOf)).toBeCloseTo(0.011, 12);
    expect(overtakeRate("fcfs", "sheddable", rateOf)).toBe(0);
    expect(overtakeRate(undefined, "sheddable", rateOf)).toBe(0);
  });

  it("is measured by a meter that reads a steady rate and forgets an old burst", () => {
    let m: ArrivalMeter | undefined;
    // 5 per second for a minute.
    for (let t = 0; t <= 60_000; t += 200) m = meterArrival(m, t);
    expect(meterRate(m, 60_000)).toBeCloseTo(0.005, 3);
    // A minute later it reads e⁻⁶ of that.
    expect(meterRate(m, 120_000)).toBeCloseTo(0.005 * Math.exp(-60_000 / ARRIVAL_TAU_MS), 4);
    expect(meterRate(undefined, 0)).toBe(0);
    // A clock that steps back does not inflate it.
    expect(meterRate(m, 0)).toBeCloseTo(meterRate(m, 60_000), 12);
  });
});

describe("siteLoad", () => {
  it("counts a queue once, whether the site reported it or the leases hold it", () => {
    // 30 leases at a 16-slot site that reports 16 running and 14 waiting: the same 30 requests.
    expect(siteLoad({ running: 16, waiting: 14 }, 30, 0, 16)).toEqual({ running: 16, waiting: 14 });
    // Stale report, 40 leases: 16 run, 24 wait.
    expect(siteLoad({ running: 0, waiting: 0 }, 40, 0, 16)).toEqual({ running: 16, waiting: 24 });
    // Below the run slots nothing waits, expected requests included.
    expect(siteLoad({ running: 3, waiting: 0 }, 0, 2, 16)).toEqual({ running: 5, waiting: 0 });
    // What the site says waits (behind a cold load) keeps waiting.
    expect(siteLoad({ running: 2, waiting: 5 }, 0, 0, 8)).toEqual({ running: 2, waiting: 5 });
    fc.assert(
      fc.property(
        fc.nat(64),
        fc.nat(64),
        fc.nat(128),
        fc.nat(8),
        fc.integer({ min: 1, max: 64 }),
        (running, waiting, leases, expected, c) => {
          const load = siteLoad({ running, waiting }, leases, expected, c);
          return (
            load.running + load.waiting === Math.max(running + waiting, leases) + expected &&
            load.waiting >= waiting &&
            load.running >= 0
          );
        },
      ),
    );
  });
});

describe("queues by class at a priority site", () => {
  const leased = { critical: 3, standard: 20, sheddable: 10 };

  it("maps classes to vLLM priorities, most urgent lowest", () => {
    expect(SCHEDULING_PRIORITY).toEqual({ critical: 0, standard: 1, sheddable: 2 });
  });

  it("takes the waiting requests to be the least urgent ones held", () => {
    // 33 leases at 16 slots: 17 wait, sheddable first, then standard.
    expect(waitingByClass(17, 33, leased)).toEqual({ critical: 0, standard: 7, sheddable: 10 });
    // Everything waits: critical too.
    expect(waitingByClass(33, 33, leased)).toEqual({ critical: 3, standard: 20, sheddable: 10 });
    // Requests held beyond the leases carry no priority, so they queue as critical (priority 0).
    expect(waitingByClass(35, 38, leased)).toEqual({ critical: 5, standard: 20, sheddable: 10 });
    // A site reporting more waiting than anyone holds: the rest is of unknown class too.
    expect(waitingByClass(5, 0, { critical: 0, standard: 0, sheddable: 0 })).toEqual({
      critical: 5,
      standard: 0,
      sheddable: 0,
    });
    fc.assert(
      fc.property(fc.nat(100), fc.nat(100), fc.nat(50), fc.nat(50), fc.nat(50), (w, h, a, b, c) => {
        const byClass = waitingByClass(w, h, { critical: a, standard: b, sheddable: c });
        return byClass.critical + byClass.standard + byClass.sheddable === w;
      }),
    );
  });

  it("counts ahead only the queue of the request's class or above, and all of it under fcfs", () => {
    const load = { waiting: 17, waitingByClass: waitingByClass(17, 33, leased) };
    expect(waitingAhead(load, "priority", "critical")).toBe(0);
    expect(waitingAhead(load, "priority", "standard")).toBe(7);
    expect(waitingAhead(load, "priority", "sheddable")).toBe(17);
    for (const c of ["critical", "standard", "sheddable"] as const) {
      expect(waitingAhead(load, "fcfs", c)).toBe(17);
      expect(waitingAhead(load, undefined, c)).toBe(17);
      // Without a per-class estimate, a priority site's whole queue counts.
      expect(waitingAhead({ waiting: 17 }, "priority", c)).toBe(17);
    }
  });
});
