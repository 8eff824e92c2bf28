import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  acquire,
  type Breaker,
  type BreakerConfig,
  breakerStateSchema,
  breakerView,
  DEFAULT_BREAKER_CONFIG,
  initialBreaker,
  nextWakeAt,
  observeProbe,
  record,
  releaseProbe,
  tick,
  trafficShare,
  trip,
  windowStats,
} from "../../shared/breaker.ts";

const cfg = DEFAULT_BREAKER_CONFIG;
const T0 = 1_700_000_000_000;
const MID = 0.5; // rand that puts the jittered wait exactly on its nominal value
const OK = { ok: true };
const FAIL = { ok: false };
const SLOW = { ok: true, durationMs: cfg.slowCallDurationMs + 1 };

/** Feeds outcomes in order at one instant. */
function feed(s: Breaker, outcomes: { ok: boolean; durationMs?: number }[], now = T0, c = cfg) {
  return outcomes.reduce((acc, o) => record(acc, o, now, c, MID), s);
}

function repeat<T>(n: number, x: T): T[] {
  return Array.from({ length: n }, () => x);
}

/** A breaker opened at `now` by consecutive failures. */
function tripped(now = T0, rand = MID, c = cfg): Breaker {
  let s = initialBreaker();
  for (let i = 0; i < c.consecutiveFailures; i++) s = record(s, FAIL, now, c, rand);
  expect(s.phase).toBe("open");
  return s;
}

/** Admits one probe and reports it. */
function probe(s: Breaker, ok: boolean, now: number, rand = MID): Breaker {
  const a = acquire(s, now, cfg);
  expect(a).toMatchObject({ admitted: true, probe: true });
  return record(a.state, { ok, probe: true }, now, cfg, rand);
}

/** From OPEN: waits out the ejection and closes with P successful probes; returns the close time. */
function recover(s: Breaker): { state: Breaker; closedAt: number } {
  const at = s.openUntil;
  let out = s;
  for (let i = 0; i < cfg.halfOpenProbes; i++) out = probe(out, true, at);
  expect(out.phase).toBe("closed");
  return { state: out, closedAt: at };
}

describe("CLOSED", () => {
  it("starts closed, admits everything, routes full traffic and needs no alarm", () => {
    const s = initialBreaker();
    expect(breakerView(s, T0)).toBe("closed");
    expect(acquire(s, T0, cfg)).toEqual({ state: s, admitted: true, probe: false });
    expect(trafficShare(s, T0, cfg)).toBe(1);
    expect(nextWakeAt(s)).toBeNull();
  });

  it("judges the failure rate only once minimumCalls are in the window, and trips at ≥ 50%", () => {
    // f o f o … never five in a row, so only the rate rule can fire.
    let s = initialBreaker();
    const alternating = Array.from({ length: 9 }, (_, i) => (i % 2 === 0 ? FAIL : OK));
    s = feed(s, alternating); // 5 failures of 9 calls: 56%, but 9 < minimumCalls
    expect(s.phase).toBe("closed");
    expect(windowStats(s)).toMatchObject({ calls: 9, failures: 5 });
    s = record(s, OK, T0, cfg, MID); // 5 of 10 = 50%
    expect(s.phase).toBe("open");
  });

  it("stays closed just under the failure rate", () => {
    const s = feed(initialBreaker(), [...repeat(6, OK), FAIL, OK, FAIL, OK, FAIL, FAIL]);
    expect(windowStats(s)).toMatchObject({ calls: 12, failures: 4 });
    expect(s.phase).toBe("closed");
  });

  it("keeps only the last windowSize outcomes", () => {
    const c: BreakerConfig = { ...cfg, consecutiveFailures: 1_000 };
    let s = feed(initialBreaker(), [...repeat(10, OK), ...repeat(9, FAIL), OK], T0, c);
    expect(windowStats(s)).toMatchObject({ calls: 20, failures: 9 });
    expect(s.phase).toBe("closed");
    // The 21st call pushes out the oldest success: 10 failures of 20.
    s = record(s, FAIL, T0, c, MID);
    expect(s.phase).toBe("open");

    const early = [...repeat(11, OK), ...repeat(9, FAIL)]; // 45%: closed
    const healed = feed(initialBreaker(), [...early, ...repeat(20, OK)], T0, c);
    expect(windowStats(healed)).toMatchObject({ calls: 20, failures: 0 });
    expect(healed.window).toHaveLength(cfg.windowSize);
  });

  it("opens on consecutiveFailures in a row, before minimumCalls", () => {
    const four = feed(initialBreaker(), repeat(4, FAIL));
    expect(four.phase).toBe("closed");
    expect(four.consecutiveFailures).toBe(4);
    // A success breaks the run.
    const broken = feed(four, [OK, ...repeat(4, FAIL)]);
    expect(broken.phase).toBe("closed");
    expect(record(four, FAIL, T0, cfg, MID).phase).toBe("open");
  });

  it("counts calls slower than slowCallDurationMs against the slow-call rate", () => {
    const atThreshold = { ok: true, durationMs: cfg.slowCallDurationMs };
    expect(windowStats(feed(initialBreaker(), [atThreshold])).slowCalls).toBe(0);
    expect(windowStats(feed(initialBreaker(), [SLOW])).slowCalls).toBe(1);

    // 7 slow of 10 = 70% < 80%: closed. Slow successes are not failures in a row.
    const seven = feed(initialBreaker(), [...repeat(7, SLOW), ...repeat(3, OK)]);
    expect(seven.phase).toBe("closed");
    expect(seven.consecutiveFailures).toBe(0);
    // 8 slow of 10 = 80%: open.
    const eight = feed(initialBreaker(), [...repeat(8, SLOW), ...repeat(2, OK)]);
    expect(eight.phase).toBe("open");
  });

  it("counts a slow failure as both slow and failed", () => {
    const s = feed(initialBreaker(), [{ ok: false, durationMs: 60_000 }, OK]);
    expect(windowStats(s)).toEqual({
      calls: 2,
      failures: 1,
      slowCalls: 1,
      failureRate: 0.5,
      slowCallRate: 0.5,
    });
  });

  it("never mutates its input and returns the same object when nothing changes", () => {
    const s = deepFreeze(feed(initialBreaker(), [OK, FAIL]));
    expect(() => record(s, FAIL, T0, cfg, MID)).not.toThrow();
    expect(observeProbe(s, true, T0, cfg, MID)).toBe(s);
    expect(tick(s, T0, cfg)).toBe(s);
    const open = deepFreeze(tripped());
    expect(acquire(open, T0 + 1, cfg).state).toBe(open);
    expect(() => tick(open, open.openUntil, cfg)).not.toThrow();
  });
});

describe("OPEN", () => {
  it("refuses until openUntil, then admits a probe as HALF_OPEN", () => {
    const s = tripped();
    expect(s.openUntil).toBe(T0 + 30_000);
    expect(nextWakeAt(s)).toBe(s.openUntil);
    for (const now of [T0, T0 + 15_000, s.openUntil - 1]) {
      expect(breakerView(s, now)).toBe("open");
      expect(trafficShare(s, now, cfg)).toBe(0);
      expect(acquire(s, now, cfg)).toMatchObject({ admitted: false, probe: false });
    }
    const a = acquire(s, s.openUntil, cfg);
    expect(a).toMatchObject({ admitted: true, probe: true });
    expect(a.state.phase).toBe("half_open");
    expect(a.state.probes).toEqual([s.openUntil + cfg.probeTimeoutMs]);
  });

  it("turns HALF_OPEN on the alarm's tick once the wait is over", () => {
    const s = tripped();
    expect(tick(s, s.openUntil - 1, cfg)).toBe(s);
    const h = tick(s, s.openUntil, cfg);
    expect(h.phase).toBe("half_open");
    expect(breakerView(h, s.openUntil)).toBe("half_open");
    expect(nextWakeAt(h)).toBeNull(); // nothing in flight, nothing to wait for
  });

  it("reads as half-open past openUntil even before anything persisted the change", () => {
    const s = tripped();
    expect(breakerView(s, s.openUntil)).toBe("half_open");
    expect(trafficShare(s, s.openUntil, cfg)).toBe(trafficShare(tick(s, s.openUntil, cfg), 0, cfg));
  });

  it("ignores request outcomes that arrive while open", () => {
    const s = tripped();
    expect(record(s, FAIL, T0 + 1, cfg, MID)).toBe(s);
    expect(record(s, { ok: true, probe: true }, T0 + 1, cfg, MID)).toBe(s);
  });

  it("keeps the jittered wait within ±ejectionJitter of base × ejections", () => {
    expect(tripped(T0, 0).openUntil - T0).toBe(24_000);
    expect(tripped(T0, 0.5).openUntil - T0).toBe(30_000);
    expect(tripped(T0, 0.999_999).openUntil - T0).toBe(36_000); // 35,999.99 rounds to the bound
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (rand) => {
        const wait = tripped(T0, rand).openUntil - T0;
        return wait >= 24_000 && wait <= 36_000;
      }),
      { numRuns: 300 },
    );
    // Out-of-range rand is clamped, NaN falls back to the nominal wait.
    expect(tripped(T0, -3).openUntil - T0).toBe(24_000);
    expect(tripped(T0, 7).openUntil - T0).toBe(36_000);
    expect(tripped(T0, Number.NaN).openUntil - T0).toBe(30_000);
  });

  it("backs off base × times ejected per re-ejection, capped at maxEjectionMs", () => {
    let s = tripped();
    const waits = [s.openUntil - T0];
    for (let i = 0; i < 12; i++) {
      const at = s.openUntil;
      s = probe(s, false, at);
      expect(s.phase).toBe("open");
      waits.push(s.openUntil - at);
    }
    expect(waits).toEqual([
      30_000, 60_000, 90_000, 120_000, 150_000, 180_000, 210_000, 240_000, 270_000, 300_000,
      300_000, 300_000, 300_000,
    ]);
    expect(s.ejections).toBe(13);
    // The cap holds under jitter too: at most max × (1 + jitter).
    const capped = probe(s, false, s.openUntil, 0.999_999);
    expect(capped.openUntil - s.openUntil).toBeLessThanOrEqual(360_000);
  });
});

describe("HALF_OPEN", () => {
  it("admits exactly P probes when many requests arrive at once", () => {
    const s = tripped();
    let state = s;
    const admitted: boolean[] = [];
    for (let i = 0; i < 100; i++) {
      const a = acquire(state, s.openUntil, cfg);
      state = a.state;
      admitted.push(a.admitted);
      if (a.admitted) expect(a.probe).toBe(true);
    }
    expect(admitted.filter(Boolean)).toHaveLength(cfg.halfOpenProbes);
    expect(admitted.slice(0, cfg.halfOpenProbes).every(Boolean)).toBe(true);
    expect(state.probes).toHaveLength(cfg.halfOpenProbes);
  });

  it("admits min(k, P) of any burst of k simultaneous requests, for any P", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 300 }), (p, k) => {
        const c = { ...cfg, halfOpenProbes: p };
        let state = tripped(T0, MID, c);
        const at = state.openUntil;
        let admitted = 0;
        for (let i = 0; i < k; i++) {
          const a = acquire(state, at, c);
          state = a.state;
          if (a.admitted) admitted++;
        }
        return admitted === Math.min(k, p) && state.probes.length === Math.min(k, p);
      }),
      { numRuns: 200 },
    );
  });

  it("counts a succeeded probe against P, so a finished probe does not free a new slot", () => {
    let s = tripped();
    const at = s.openUntil;
    s = probe(s, true, at);
    s = acquire(s, at, cfg).state;
    s = acquire(s, at, cfg).state; // 1 ok + 2 in flight = P
    expect(acquire(s, at, cfg).admitted).toBe(false);
    s = record(s, { ok: true, probe: true }, at, cfg, MID); // 2 ok + 1 in flight
    expect(s.phase).toBe("half_open");
    expect(acquire(s, at, cfg).admitted).toBe(false);
    s = record(s, { ok: true, probe: true }, at + 10, cfg, MID);
    expect(s.phase).toBe("closed");
    expect(s.closedAt).toBe(at + 10);
  });

  it("closes on P successful probes with a fresh window, keeping the ejection count", () => {
    const { state, closedAt } = recover(tripped());
    expect(state).toMatchObject({
      phase: "closed",
      window: "",
      consecutiveFailures: 0,
      probes: [],
      probeOk: 0,
      ejections: 1,
      closedAt,
    });
    expect(acquire(state, closedAt, cfg).admitted).toBe(true);
  });

  it("re-opens on a failed probe, and on a slow one", () => {
    const s = tripped();
    const failed = probe(s, false, s.openUntil);
    expect(failed).toMatchObject({ phase: "open", ejections: 2 });
    expect(failed.openUntil).toBe(s.openUntil + 60_000);

    const a = acquire(s, s.openUntil, cfg);
    const slow = record(a.state, { ...SLOW, probe: true }, s.openUntil, cfg, MID);
    expect(slow).toMatchObject({ phase: "open", ejections: 2 });
  });

  it("ignores outcomes of requests that were not probes", () => {
    const a = acquire(tripped(), T0 + 30_000, cfg);
    expect(record(a.state, FAIL, T0 + 30_000, cfg, MID)).toBe(a.state);
    expect(record(a.state, OK, T0 + 30_000, cfg, MID)).toBe(a.state);
  });

  it("frees a probe slot after probeTimeoutMs so a lost outcome cannot deadlock it", () => {
    const s = tripped();
    const at = s.openUntil;
    let h = s;
    for (let i = 0; i < cfg.halfOpenProbes; i++) h = acquire(h, at + i, cfg).state;
    expect(nextWakeAt(h)).toBe(at + cfg.probeTimeoutMs);
    expect(acquire(h, at + cfg.probeTimeoutMs - 1, cfg).admitted).toBe(false);
    // The first slot expires at its deadline: one new probe fits, and no more.
    const later = acquire(h, at + cfg.probeTimeoutMs, cfg);
    expect(later).toMatchObject({ admitted: true, probe: true });
    expect(acquire(later.state, at + cfg.probeTimeoutMs, cfg).admitted).toBe(false);
    // The alarm frees them too.
    const ticked = tick(h, at + cfg.probeTimeoutMs + 5, cfg);
    expect(ticked.probes).toHaveLength(0);
    expect(nextWakeAt(ticked)).toBeNull();
  });

  it("frees a probe slot at once with releaseProbe", () => {
    const s = tripped();
    const at = s.openUntil;
    let h = s;
    for (let i = 0; i < cfg.halfOpenProbes; i++) h = acquire(h, at, cfg).state;
    expect(acquire(h, at, cfg).admitted).toBe(false);
    const released = releaseProbe(h);
    expect(released.probes).toHaveLength(cfg.halfOpenProbes - 1);
    expect(acquire(released, at, cfg).admitted).toBe(true);
    // Nothing to release elsewhere.
    expect(releaseProbe(s)).toBe(s);
    const closed = initialBreaker();
    expect(releaseProbe(closed)).toBe(closed);
  });

  it("routes a small share while probing", () => {
    const s = tick(tripped(), T0 + 30_000, cfg);
    expect(trafficShare(s, T0 + 30_000, cfg)).toBe(cfg.halfOpenProbes / cfg.windowSize);
  });

  it("closes on the next event when the configuration lowers P below the successes so far", () => {
    let s = tripped();
    s = probe(s, true, s.openUntil);
    s = probe(s, true, s.openUntil);
    expect(s).toMatchObject({ phase: "half_open", probeOk: 2 });
    const lowered = tick(s, s.openUntil + 1, { ...cfg, halfOpenProbes: 2 });
    expect(lowered).toMatchObject({ phase: "closed", closedAt: s.openUntil + 1 });
  });
});

describe("slow start and ejection memory", () => {
  it("ramps the traffic share from the floor to 1 over slowStartMs after closing", () => {
    const { state, closedAt } = recover(tripped());
    const share = (dt: number) => trafficShare(state, closedAt + dt, cfg);
    expect(share(0)).toBe(0.1);
    expect(share(1_500)).toBe(0.1); // 5% of the window is under the 10% floor
    expect(share(6_000)).toBeCloseTo(0.2, 12);
    expect(share(15_000)).toBeCloseTo(0.5, 12);
    expect(share(29_999)).toBeLessThan(1);
    expect(share(30_000)).toBe(1);
    expect(share(3_600_000)).toBe(1);
    expect(nextWakeAt(state)).toBeNull();
    expect(trafficShare(state, closedAt + 1, { ...cfg, slowStartMs: 0 })).toBe(1);
  });

  it("backs off further when a recovered site fails again soon", () => {
    const { state, closedAt } = recover(tripped());
    const reopened = feed(state, repeat(5, FAIL), closedAt + 59_999);
    expect(reopened).toMatchObject({ phase: "open", ejections: 2 });
    expect(reopened.openUntil - (closedAt + 59_999)).toBe(60_000);
  });

  it("forgets one ejection per ejectionDecayMs spent closed", () => {
    let s = tripped();
    s = probe(s, false, s.openUntil); // 2
    s = probe(s, false, s.openUntil); // 3
    const { state, closedAt } = recover(s);
    expect(state.ejections).toBe(3);
    const ejectionsAfter = (dt: number) => feed(state, repeat(5, FAIL), closedAt + dt).ejections;
    expect(ejectionsAfter(59_999)).toBe(4);
    expect(ejectionsAfter(60_000)).toBe(3);
    expect(ejectionsAfter(120_000)).toBe(2);
    expect(ejectionsAfter(3_600_000)).toBe(1);
    const noDecay = { ...cfg, ejectionDecayMs: 0 };
    expect(feed(state, repeat(5, FAIL), closedAt + 3_600_000, noDecay).ejections).toBe(4);
  });
});

describe("health probes and heartbeats", () => {
  it("CLOSED: a success changes nothing, a failure counts like a failed request", () => {
    const s = feed(initialBreaker(), [OK, OK]);
    expect(observeProbe(s, true, T0, cfg, MID)).toBe(s);
    let hb = s;
    for (let i = 0; i < cfg.consecutiveFailures - 1; i++)
      hb = observeProbe(hb, false, T0, cfg, MID);
    expect(hb).toMatchObject({ phase: "closed", consecutiveFailures: 4, window: "ooffff" });
    expect(observeProbe(hb, false, T0, cfg, MID).phase).toBe("open");
  });

  it("OPEN: ignored until the wait is over", () => {
    const s = tripped();
    expect(observeProbe(s, true, s.openUntil - 1, cfg, MID)).toBe(s);
    expect(observeProbe(s, false, s.openUntil - 1, cfg, MID)).toBe(s);
  });

  it("past the wait: successes count as probe successes and P of them close it", () => {
    const s = tripped();
    let h = observeProbe(s, true, s.openUntil + 5, cfg, MID);
    expect(h).toMatchObject({ phase: "half_open", probeOk: 1, probes: [] });
    h = observeProbe(h, true, s.openUntil + 10, cfg, MID);
    // A heartbeat takes no request slot, but its success leaves fewer for requests.
    const a = acquire(h, s.openUntil + 10, cfg);
    expect(a.admitted).toBe(true);
    expect(acquire(a.state, s.openUntil + 10, cfg).admitted).toBe(false);
    h = observeProbe(h, true, s.openUntil + 15, cfg, MID);
    expect(h).toMatchObject({ phase: "closed", closedAt: s.openUntil + 15 });
  });

  it("past the wait: a failure re-opens with the next ejection", () => {
    const s = tripped();
    const r = observeProbe(s, false, s.openUntil, cfg, MID);
    expect(r).toMatchObject({ phase: "open", ejections: 2, openUntil: s.openUntil + 60_000 });
  });
});

describe("breakerStateSchema", () => {
  it("validates every state after a JSON round trip", () => {
    const open = tripped();
    const half = acquire(open, open.openUntil, cfg).state;
    const closed = recover(open).state;
    const busy = feed(initialBreaker(), [OK, SLOW, FAIL, { ok: false, durationMs: 9_000 }]);
    for (const s of [initialBreaker(), busy, open, half, closed]) {
      const back = breakerStateSchema.parse(JSON.parse(JSON.stringify(s)));
      expect(back).toEqual(s);
    }
  });

  it("rejects what is not a breaker", () => {
    const good = initialBreaker();
    const bad = [
      { ...good, window: "ok" },
      { ...good, phase: "ajar" },
      { ...good, v: 2 },
      { ...good, ejections: 1.5 },
      { ...good, extra: true },
      { ...good, closedAt: undefined },
      null,
    ];
    for (const b of bad) expect(breakerStateSchema.safeParse(b).success).toBe(false);
  });
});

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === "object") {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

describe("trip (a site gone silent)", () => {
  it("opens a closed breaker at once with the next ejection, then returns through HALF_OPEN", () => {
    const t0 = 1_000_000;
    const tripped = trip(initialBreaker(), t0, cfg, 0.5);
    expect(breakerView(tripped, t0)).toBe("open");
    expect(tripped.ejections).toBe(1);
    expect(tripped.openUntil).toBe(t0 + cfg.baseEjectionMs);
    const later = tripped.openUntil;
    expect(breakerView(tripped, later)).toBe("half_open");
    let s = tripped;
    for (let i = 0; i < cfg.halfOpenProbes; i++) s = observeProbe(s, true, later + i, cfg, 0.5);
    expect(breakerView(s, later + cfg.halfOpenProbes)).toBe("closed");
  });

  it("leaves an open breaker's wait alone and backs off from HALF_OPEN", () => {
    const t0 = 5_000_000;
    const open1 = trip(initialBreaker(), t0, cfg, 0.5);
    expect(trip(open1, t0 + 1, cfg, 0.9)).toBe(open1);
    const halfOpenAt = open1.openUntil;
    const again = trip(open1, halfOpenAt, cfg, 0.5);
    expect(again.phase).toBe("open");
    expect(again.ejections).toBe(2);
    expect(again.openUntil).toBe(halfOpenAt + 2 * cfg.baseEjectionMs);
  });
});
