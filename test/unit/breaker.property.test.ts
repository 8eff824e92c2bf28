// The breaker against a deliberately naive reference model: it keeps every outcome since the last
// transition in a list, recomputes rates and the run of failures from that list each time, keeps
// the admission times (not deadlines) of probes, and does everything in one mutable object.

import fc from "fast-check";
import { describe, it } from "vitest";
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
} from "../../shared/breaker.ts";

type View = "closed" | "open" | "half_open";

class Model {
  cfg: BreakerConfig;
  mode: View = "closed";
  /** Every outcome since the breaker last closed (or was created). */
  history: { failed: boolean; slow: boolean }[] = [];
  ejections = 0;
  openUntil = 0;
  closedAt: number | null = null;
  /** Admission times of the probes in flight, oldest first. */
  admittedAt: number[] = [];
  successes = 0;

  constructor(cfg: BreakerConfig) {
    this.cfg = cfg;
  }

  /** Let time pass: the wait ends, probes time out, a lowered P closes. */
  catchUp(now: number) {
    if (this.mode === "open" && now >= this.openUntil) {
      this.mode = "half_open";
      this.admittedAt = [];
      this.successes = 0;
    }
    if (this.mode === "half_open") {
      if (this.successes >= this.cfg.halfOpenProbes) return this.close(now);
      this.admittedAt = this.admittedAt.filter((t) => now - t < this.cfg.probeTimeoutMs);
    }
  }

  acquire(now: number): { admitted: boolean; probe: boolean } {
    this.catchUp(now);
    if (this.mode === "closed") return { admitted: true, probe: false };
    if (this.mode === "open") return { admitted: false, probe: false };
    if (this.admittedAt.length + this.successes < this.cfg.halfOpenProbes) {
      this.admittedAt.push(now);
      return { admitted: true, probe: true };
    }
    return { admitted: false, probe: false };
  }

  record(ok: boolean, durationMs: number | undefined, probe: boolean, now: number, rand: number) {
    this.catchUp(now);
    const slow = durationMs !== undefined && durationMs > this.cfg.slowCallDurationMs;
    if (this.mode === "closed") return this.closedOutcome(!ok, slow, now, rand);
    if (this.mode === "open" || !probe) return;
    this.admittedAt.shift();
    if (ok && !slow) this.probeSuccess(now);
    else this.open(this.ejections + 1, now, rand);
  }

  heartbeat(ok: boolean, now: number, rand: number) {
    this.catchUp(now);
    if (this.mode === "closed") {
      if (!ok) this.closedOutcome(true, false, now, rand);
    } else if (this.mode === "half_open") {
      if (ok) this.probeSuccess(now);
      else this.open(this.ejections + 1, now, rand);
    }
  }

  release() {
    if (this.mode === "half_open") this.admittedAt.shift();
  }

  closedOutcome(failed: boolean, slow: boolean, now: number, rand: number) {
    this.history.push({ failed, slow });
    let run = 0;
    for (let i = this.history.length - 1; i >= 0 && this.history[i]?.failed; i--) run++;
    const recent = this.history.slice(-this.cfg.windowSize);
    const failures = recent.filter((o) => o.failed).length;
    const slows = recent.filter((o) => o.slow).length;
    const byRate =
      recent.length >= this.cfg.minimumCalls &&
      (failures / recent.length >= this.cfg.failureRateThreshold ||
        slows / recent.length >= this.cfg.slowCallRateThreshold);
    if (run >= this.cfg.consecutiveFailures || byRate) {
      let remembered = this.ejections;
      if (this.closedAt !== null && this.cfg.ejectionDecayMs > 0) {
        const steps = Math.floor(Math.max(0, now - this.closedAt) / this.cfg.ejectionDecayMs);
        remembered = Math.max(0, remembered - steps);
      }
      this.open(remembered + 1, now, rand);
    }
  }

  probeSuccess(now: number) {
    this.successes++;
    if (this.successes >= this.cfg.halfOpenProbes) this.close(now);
  }

  open(ejections: number, now: number, rand: number) {
    this.mode = "open";
    this.ejections = ejections;
    const r = Math.min(Math.max(rand, 0), 1);
    const wait = Math.min(this.cfg.baseEjectionMs * ejections, this.cfg.maxEjectionMs);
    this.openUntil = now + Math.round(wait * (1 + this.cfg.ejectionJitter * (2 * r - 1)));
    this.history = [];
    this.admittedAt = [];
    this.successes = 0;
    this.closedAt = null;
  }

  close(now: number) {
    this.mode = "closed";
    this.history = [];
    this.admittedAt = [];
    this.successes = 0;
    this.closedAt = now;
  }

  view(now: number): View {
    return this.mode === "open" && now >= this.openUntil ? "half_open" : this.mode;
  }

  share(now: number): number {
    const v = this.view(now);
    if (v === "open") return 0;
    if (v === "half_open") return Math.min(1, this.cfg.halfOpenProbes / this.cfg.windowSize);
    if (this.closedAt === null || now - this.closedAt >= this.cfg.slowStartMs) return 1;
    return Math.min(
      1,
      Math.max(this.cfg.slowStartMinShare, (now - this.closedAt) / this.cfg.slowStartMs),
    );
  }

  wakeAt(): number | null {
    if (this.mode === "open") return this.openUntil;
    if (this.mode === "half_open" && this.admittedAt.length > 0) {
      return Math.min(...this.admittedAt) + this.cfg.probeTimeoutMs;
    }
    return null;
  }
}

type Command =
  | { kind: "acquire" }
  | { kind: "burst"; n: number }
  | { kind: "record"; ok: boolean; durationMs: number | null; probe: boolean; rand: number }
  | { kind: "heartbeat"; ok: boolean; rand: number }
  | { kind: "advance"; fraction: number }
  | { kind: "wake"; early: boolean }
  | { kind: "rest"; periods: number; early: boolean }
  | { kind: "tick" }
  | { kind: "release" };

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: "acquire" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("burst" as const), n: fc.nat(12) }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("record" as const),
      ok: fc.integer({ min: 0, max: 9 }).map((n) => n < 7),
      // Around the slow threshold, as a fraction of it; null = no duration reported.
      durationMs: fc.option(fc.double({ min: 0, max: 3, noNaN: true })),
      probe: fc.boolean(),
      rand: unit,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("heartbeat" as const), ok: fc.boolean(), rand: unit }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), fraction: unit }),
  },
  // Jump to the alarm's time (or just before it), where the boundaries are.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("wake" as const), early: fc.boolean() }) },
  // Stay quiet for whole ejection-decay periods (or just under).
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("rest" as const),
      periods: fc.integer({ min: 1, max: 3 }),
      early: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "tick" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "release" as const }) },
);

/** Small, varied configurations so short sequences reach every transition; plus the defaults. */
const config: fc.Arbitrary<BreakerConfig> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(DEFAULT_BREAKER_CONFIG) },
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 10 }).chain((windowSize) =>
      fc.record({
        windowSize: fc.constant(windowSize),
        minimumCalls: fc.integer({ min: 1, max: windowSize }),
        failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
        slowCallDurationMs: fc.integer({ min: 1, max: 1_000 }),
        slowCallRateThreshold: fc.constantFrom(0.25, 0.5, 0.8, 1),
        consecutiveFailures: fc.integer({ min: 1, max: 6 }),
        baseEjectionMs: fc.integer({ min: 1, max: 2_000 }),
        maxEjectionMs: fc.integer({ min: 1, max: 12_000 }),
        ejectionJitter: fc.constantFrom(0, 0.2, 0.5),
        ejectionDecayMs: fc.constantFrom(0, 50, 500, 3_000),
        halfOpenProbes: fc.integer({ min: 1, max: 4 }),
        probeTimeoutMs: fc.integer({ min: 1, max: 3_000 }),
        slowStartMs: fc.constantFrom(0, 1_000, 4_000),
        slowStartMinShare: fc.constantFrom(0, 0.1, 0.5),
      }),
    ),
  },
);

const T0 = 1_700_000_000_000;

// Plain checks: `expect` in a loop of ~10⁶ steps would cost seconds.
function same<T>(what: string, actual: T, expected: T) {
  if (actual !== expected) throw new Error(`${what}: breaker ${actual}, model ${expected}`);
}

function sameAdmission(a: { admitted: boolean; probe: boolean }, m: typeof a) {
  same("admitted", a.admitted, m.admitted);
  same("probe", a.probe, m.probe);
}

describe("breaker vs reference model", () => {
  it("agrees on view, admissions, traffic share and alarm over 10⁴ random sequences", () => {
    fc.assert(
      fc.property(config, fc.array(command, { maxLength: 80, size: "max" }), (cfg, commands) => {
        const model = new Model(cfg);
        let state: Breaker = initialBreaker();
        let now = T0;
        // Time steps biased towards short ones, scaled to the longest wait of this config.
        const horizon =
          2 * cfg.maxEjectionMs + cfg.probeTimeoutMs + cfg.slowStartMs + 2 * cfg.ejectionDecayMs;

        for (const c of commands) {
          switch (c.kind) {
            case "acquire": {
              const a = acquire(state, now, cfg);
              state = a.state;
              sameAdmission(a, model.acquire(now));
              break;
            }
            case "burst": {
              for (let i = 0; i < c.n; i++) {
                const a = acquire(state, now, cfg);
                state = a.state;
                sameAdmission(a, model.acquire(now));
              }
              break;
            }
            case "record": {
              const durationMs =
                c.durationMs === null
                  ? undefined
                  : Math.round(c.durationMs * cfg.slowCallDurationMs);
              state = record(state, { ok: c.ok, durationMs, probe: c.probe }, now, cfg, c.rand);
              model.record(c.ok, durationMs, c.probe, now, c.rand);
              break;
            }
            case "heartbeat":
              state = observeProbe(state, c.ok, now, cfg, c.rand);
              model.heartbeat(c.ok, now, c.rand);
              break;
            case "advance":
              now += Math.floor(c.fraction ** 3 * horizon);
              break;
            case "wake": {
              const at = nextWakeAt(state);
              if (at !== null) now = Math.max(now, c.early ? at - 1 : at);
              break;
            }
            case "rest":
              now += Math.max(0, c.periods * cfg.ejectionDecayMs - (c.early ? 1 : 0));
              break;
            case "tick":
              state = tick(state, now, cfg);
              model.catchUp(now);
              break;
            case "release":
              state = releaseProbe(state);
              model.release();
              break;
          }
          same("view", breakerView(state, now), model.view(now));
          const share = trafficShare(state, now, cfg);
          same("trafficShare", share, model.share(now));
          same("nextWakeAt", nextWakeAt(state), model.wakeAt());
          // Invariants: never more than P probes in flight; the share stays in [0, 1].
          if (state.probes.length > cfg.halfOpenProbes) throw new Error("more than P probes");
          if (!(share >= 0 && share <= 1)) throw new Error(`share ${share} out of [0, 1]`);
        }
        const parsed = breakerStateSchema.safeParse(JSON.parse(JSON.stringify(state)));
        if (!parsed.success) throw new Error(`state fails its schema: ${parsed.error.message}`);
      }),
      { numRuns: 10_000 },
    );
  });
});
