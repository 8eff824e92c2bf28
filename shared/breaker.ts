// Circuit breaker for one MEC site or cloud service: a pure state machine.
//
//   CLOSED ─ failure rate or slow-call rate ≥ threshold over the last `windowSize` calls (once
//            `minimumCalls` are in the window), or `consecutiveFailures` failures in a row ─▶ OPEN
//   OPEN ─── `openUntil` reached (noticed by tick, acquire or any event) ─────────────▶ HALF_OPEN
//   HALF_OPEN ─ a probe fails or is slow ─▶ OPEN again, for a longer wait
//   HALF_OPEN ─ `halfOpenProbes` probes succeed ─▶ CLOSED, traffic ramping back over `slowStartMs`
//
// The wait in OPEN is base × times ejected, capped, then spread by ± jitter (Envoy outlier
// detection), so a site that keeps failing is tried less and less often, and sites ejected by one
// outage do not all come back in the same second. There is no clock and no randomness inside:
// callers pass `now` (epoch ms) and, where jitter is drawn, `rand` in [0, 1). The state is a small
// JSON object; functions never mutate it and return the same object when nothing changed, so the
// Durable Object can skip the write. The Durable Object's whole job: load (validated with
// `breakerStateSchema`), apply one function, persist, and set its alarm to `nextWakeAt`.

import * as z from "zod/mini";
import type { BreakerState } from "./types.ts";

export interface BreakerConfig {
  /** Outcomes kept in the sliding window (count-based, like resilience4j's COUNT_BASED). */
  windowSize: number;
  /** Outcomes needed in the window before the rates are judged; keep ≤ `windowSize`. */
  minimumCalls: number;
  /** Failure share (0–1] of the window at or above which the breaker opens. */
  failureRateThreshold: number;
  /** A call taking longer than this is slow; `durationMs` should be time to first token. */
  slowCallDurationMs: number;
  /** Slow share (0–1] of the window at or above which the breaker opens. */
  slowCallRateThreshold: number;
  /** Failures in a row that open the breaker whatever the window says. */
  consecutiveFailures: number;
  /** Wait in OPEN = min(base × times ejected, max), then ± `ejectionJitter`. */
  baseEjectionMs: number;
  maxEjectionMs: number;
  /** Relative spread of the wait, e.g. 0.2 → uniformly within [0.8, 1.2) × wait. */
  ejectionJitter: number;
  /** Each full period spent CLOSED forgets one past ejection (0 disables the decay). */
  ejectionDecayMs: number;
  /** P: probes HALF_OPEN admits at once; P successes close the breaker. */
  halfOpenProbes: number;
  /** A probe slot with no outcome after this long is freed, so HALF_OPEN cannot deadlock. */
  probeTimeoutMs: number;
  /** After closing, the traffic share ramps linearly to 1 over this window (0 disables it). */
  slowStartMs: number;
  /** Lowest share during slow start. */
  slowStartMinShare: number;
}

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = {
  // resilience4j judges the last 100 calls once 100 are recorded. One site's Durable Object sees
  // far less traffic than a JVM service, so 20 and 10 let it react within seconds, not minutes.
  windowSize: 20,
  minimumCalls: 10,
  // resilience4j failureRateThreshold: 50%.
  failureRateThreshold: 0.5,
  // resilience4j: slowCallDurationThreshold 60 s, slowCallRateThreshold 100% (so slow calls alone
  // almost never trip it). An edge site exists to be fast: a first token later than 5 s is better
  // served by the cloud, and 80% keeps a few fast cache hits from hiding a sick GPU.
  slowCallDurationMs: 5_000,
  slowCallRateThreshold: 0.8,
  // Envoy outlier detection consecutive_5xx: 5.
  consecutiveFailures: 5,
  // Envoy base_ejection_time 30 s × times ejected, capped by max_ejection_time 300 s.
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  // Envoy's max_ejection_time_jitter only adds (default 0); ±20% spreads the probes of sites
  // ejected by one outage without shortening the average wait.
  ejectionJitter: 0.2,
  // Envoy steps the multiplier back down while a host stays healthy, once per 10 s `interval`;
  // edge traffic is sparser, so a site must stay closed a minute per step.
  ejectionDecayMs: 60_000,
  // resilience4j permittedNumberOfCallsInHalfOpenState: 10. At an edge site's rate 3 probes come
  // in quickly and risk fewer user requests on a site that may still be down.
  halfOpenProbes: 3,
  // resilience4j maxWaitDurationInHalfOpenState: 0 (wait for the outcomes forever), which deadlocks
  // when a probe's outcome is lost with its isolate; 30 s outlasts the router's attempt timeouts.
  probeTimeoutMs: 30_000,
  // Envoy slow start: linear (aggression 1.0), min_weight_percent 10%; the window has no default
  // there, 30 s covers a model server's warm-up after a restart.
  slowStartMs: 30_000,
  slowStartMinShare: 0.1,
};

/** Window codes, one character per outcome, oldest first. */
const OK = "o";
const SLOW = "s";
const FAILED = "f";
const FAILED_SLOW = "x";

/** The persisted breaker. Validate whatever comes back from storage with it. */
export const breakerStateSchema = z.strictObject({
  v: z.literal(1),
  phase: z.enum(["closed", "open", "half_open"]),
  /** The last `windowSize` outcomes while CLOSED, oldest first: o ok, s slow, f failed, x both. */
  window: z.string().check(z.maxLength(10_000), z.regex(/^[osfx]*$/)),
  consecutiveFailures: z.int().check(z.gte(0)),
  /** Times ejected, as of `closedAt` while CLOSED (decay is applied when it next opens). */
  ejections: z.int().check(z.gte(0)),
  /** End of the current (or last) OPEN wait, epoch ms; 0 if never opened. */
  openUntil: z.number(),
  /** HALF_OPEN: deadlines of the probes in flight, in the order they were admitted. */
  probes: z.array(z.number()).check(z.maxLength(1_000)),
  /** HALF_OPEN: probes that succeeded in this episode. */
  probeOk: z.int().check(z.gte(0)),
  /** When the breaker last closed after being open (slow start, decay); null if never. */
  closedAt: z.nullable(z.number()),
});
export type Breaker = z.infer<typeof breakerStateSchema>;

/** What one request (or attempt) at the guarded target came to. */
export interface Outcome {
  ok: boolean;
  /** Time to first token, or the whole call when not streaming; slow calls count against it. */
  durationMs?: number;
  /** True when `acquire` admitted this request as a HALF_OPEN probe. */
  probe?: boolean;
}

export interface Acquired {
  state: Breaker;
  admitted: boolean;
  /** The request is a HALF_OPEN probe: report its outcome with `probe: true`. */
  probe: boolean;
}

/** A closed breaker that has never tripped. */
export function initialBreaker(): Breaker {
  return {
    v: 1,
    phase: "closed",
    window: "",
    consecutiveFailures: 0,
    ejections: 0,
    openUntil: 0,
    probes: [],
    probeOk: 0,
    closedAt: null,
  };
}

/**
 * Asks to send one request. CLOSED admits; OPEN refuses until `openUntil`, then turns HALF_OPEN;
 * HALF_OPEN admits, as a probe, while probes in flight + probe successes < P, else refuses.
 * Persist the returned state before sending: a probe holds a slot until its outcome is recorded,
 * `releaseProbe` is called or `probeTimeoutMs` passes.
 */
export function acquire(state: Breaker, now: number, cfg: BreakerConfig): Acquired {
  const s = settle(state, now, cfg);
  if (s.phase === "closed") return { state: s, admitted: true, probe: false };
  if (s.phase === "open" || s.probes.length + s.probeOk >= cfg.halfOpenProbes) {
    return { state: s, admitted: false, probe: false };
  }
  const probes = [...s.probes, now + cfg.probeTimeoutMs];
  return { state: { ...s, probes }, admitted: true, probe: true };
}

/**
 * Applies a request outcome. CLOSED: the outcome enters the window and may open the breaker.
 * HALF_OPEN: a probe's outcome frees its slot (the oldest); a failed or slow probe re-opens with
 * the next, longer wait, and the P-th success closes. Outcomes of non-probe requests are ignored
 * while OPEN or HALF_OPEN: they were admitted before the breaker opened and already had their say.
 * @param rand in [0, 1), used for jitter only if the breaker opens
 */
export function record(
  state: Breaker,
  outcome: Outcome,
  now: number,
  cfg: BreakerConfig,
  rand: number,
): Breaker {
  const s = settle(state, now, cfg);
  const slow = outcome.durationMs !== undefined && outcome.durationMs > cfg.slowCallDurationMs;
  if (s.phase === "closed") {
    const code = outcome.ok ? (slow ? SLOW : OK) : slow ? FAILED_SLOW : FAILED;
    return observe(s, code, now, cfg, rand);
  }
  if (s.phase === "open" || outcome.probe !== true) return s;
  const freed = { ...s, probes: s.probes.slice(1) };
  return outcome.ok && !slow ? probeSucceeded(freed, now, cfg) : reopen(freed, now, cfg, rand);
}

/**
 * Applies an active health probe or a site heartbeat (`ok` = it answered and reports healthy).
 * - CLOSED: a failure counts like a failed request (window and consecutive count); a success
 *   changes nothing, since "alive" says nothing about how requests fare and would dilute the window.
 * - OPEN before `openUntil`: ignored; the wait runs its course.
 * - HALF_OPEN (or OPEN past `openUntil`): a success counts as one probe success without taking a
 *   request slot, so a site that heartbeats healthily needs fewer user requests to close; a
 *   failure re-opens with the next, longer wait.
 * A missing heartbeat is the caller's to turn into `ok: false` (the alarm's stale check).
 */
export function observeProbe(
  state: Breaker,
  ok: boolean,
  now: number,
  cfg: BreakerConfig,
  rand: number,
): Breaker {
  const s = settle(state, now, cfg);
  if (s.phase === "closed") return ok ? s : observe(s, FAILED, now, cfg, rand);
  if (s.phase === "open") return s;
  return ok ? probeSucceeded(s, now, cfg) : reopen(s, now, cfg, rand);
}

/**
 * Frees the oldest probe slot when a probe request was abandoned without an outcome (client gone,
 * plan changed). Slots also expire by themselves after `probeTimeoutMs`.
 */
export function releaseProbe(state: Breaker): Breaker {
  if (state.phase !== "half_open" || state.probes.length === 0) return state;
  return { ...state, probes: state.probes.slice(1) };
}

/**
 * Opens the breaker at once, whatever the window says: for a site that went silent (no heartbeat
 * within the staleness limit), so no request reaches it until probes bring it back through
 * HALF_OPEN. CLOSED or HALF_OPEN → OPEN with the next, longer wait; OPEN stays as it is.
 */
export function trip(state: Breaker, now: number, cfg: BreakerConfig, rand: number): Breaker {
  const s = settle(state, now, cfg);
  if (s.phase === "open") return s;
  const ejections = s.phase === "closed" ? decayedEjections(s, now, cfg) + 1 : s.ejections + 1;
  return open(s, ejections, now, cfg, rand);
}

/** For the alarm: OPEN turns HALF_OPEN once its wait is over; expired probe slots are freed. */
export function tick(state: Breaker, now: number, cfg: BreakerConfig): Breaker {
  return settle(state, now, cfg);
}

/**
 * When the Durable Object's alarm should next fire, epoch ms: the end of the OPEN wait or the
 * first probe slot's deadline; null when nothing is scheduled. Slow start needs no alarm:
 * `trafficShare` is a function of `now`.
 */
export function nextWakeAt(state: Breaker): number | null {
  if (state.phase === "open") return state.openUntil;
  if (state.phase === "half_open" && state.probes.length > 0) return Math.min(...state.probes);
  return null;
}

/** The breaker as fleet snapshots show it; an OPEN breaker past its wait already reads half-open. */
export function breakerView(state: Breaker, now: number): BreakerState {
  if (state.phase === "open" && now >= state.openUntil) return "half_open";
  return state.phase;
}

/**
 * Share of its normal traffic the target should get, 0–1: 0 when OPEN, P / `windowSize` when
 * HALF_OPEN, Envoy's linear slow start max(floor, elapsed / `slowStartMs`) after closing, else 1.
 */
export function trafficShare(state: Breaker, now: number, cfg: BreakerConfig): number {
  const view = breakerView(state, now);
  if (view === "open") return 0;
  if (view === "half_open") return Math.min(1, cfg.halfOpenProbes / cfg.windowSize);
  if (state.closedAt === null) return 1;
  const elapsed = now - state.closedAt;
  if (elapsed >= cfg.slowStartMs) return 1;
  return Math.min(1, Math.max(cfg.slowStartMinShare, elapsed / cfg.slowStartMs));
}

/** Counts over the current window, e.g. for a site's `errorRate`. */
export function windowStats(state: Breaker): {
  calls: number;
  failures: number;
  slowCalls: number;
  failureRate: number;
  slowCallRate: number;
} {
  let failures = 0;
  let slowCalls = 0;
  for (const c of state.window) {
    if (c === FAILED || c === FAILED_SLOW) failures++;
    if (c === SLOW || c === FAILED_SLOW) slowCalls++;
  }
  const calls = state.window.length;
  return {
    calls,
    failures,
    slowCalls,
    failureRate: calls === 0 ? 0 : failures / calls,
    slowCallRate: calls === 0 ? 0 : slowCalls / calls,
  };
}

/** Applies the passage of time: OPEN past its wait → HALF_OPEN; expired probe slots freed. */
function settle(s: Breaker, now: number, cfg: BreakerConfig): Breaker {
  if (s.phase === "open") {
    return now < s.openUntil ? s : { ...s, phase: "half_open", probes: [], probeOk: 0 };
  }
  if (s.phase === "half_open") {
    // Only after a configuration change lowered P.
    if (s.probeOk >= cfg.halfOpenProbes) return close(s, now);
    const live = s.probes.filter((deadline) => deadline > now);
    return live.length === s.probes.length ? s : { ...s, probes: live };
  }
  return s;
}

/** CLOSED: one more outcome in the window; opens when a rule says so. */
function observe(s: Breaker, code: string, now: number, cfg: BreakerConfig, rand: number): Breaker {
  const failed = code === FAILED || code === FAILED_SLOW;
  const next: Breaker = {
    ...s,
    window: (s.window + code).slice(-cfg.windowSize),
    consecutiveFailures: failed ? s.consecutiveFailures + 1 : 0,
  };
  if (!shouldTrip(next, cfg)) return next;
  return open(next, decayedEjections(s, now, cfg) + 1, now, cfg, rand);
}

function shouldTrip(s: Breaker, cfg: BreakerConfig): boolean {
  if (s.consecutiveFailures >= cfg.consecutiveFailures) return true;
  const stats = windowStats(s);
  if (stats.calls < cfg.minimumCalls) return false;
  return (
    stats.failureRate >= cfg.failureRateThreshold || stats.slowCallRate >= cfg.slowCallRateThreshold
  );
}

/** Ejections remembered at `now`: one forgotten per full `ejectionDecayMs` spent CLOSED. */
function decayedEjections(s: Breaker, now: number, cfg: BreakerConfig): number {
  if (s.closedAt === null || cfg.ejectionDecayMs <= 0) return s.ejections;
  const steps = Math.floor(Math.max(0, now - s.closedAt) / cfg.ejectionDecayMs);
  return Math.max(0, s.ejections - steps);
}

function reopen(s: Breaker, now: number, cfg: BreakerConfig, rand: number): Breaker {
  return open(s, s.ejections + 1, now, cfg, rand);
}

function open(
  s: Breaker,
  ejections: number,
  now: number,
  cfg: BreakerConfig,
  rand: number,
): Breaker {
  const r = Number.isFinite(rand) ? Math.min(Math.max(rand, 0), 1) : 0.5;
  const wait = Math.min(cfg.baseEjectionMs * ejections, cfg.maxEjectionMs);
  const jittered = wait * (1 + cfg.ejectionJitter * (2 * r - 1));
  return {
    ...s,
    phase: "open",
    window: "",
    consecutiveFailures: 0,
    ejections,
    openUntil: now + Math.round(jittered),
    probes: [],
    probeOk: 0,
    closedAt: null,
  };
}

function probeSucceeded(s: Breaker, now: number, cfg: BreakerConfig): Breaker {
  const probeOk = s.probeOk + 1;
  return probeOk >= cfg.halfOpenProbes ? close(s, now) : { ...s, probeOk };
}

/** Closes with a fresh window; keeps the ejection count so a flapping site backs off further. */
function close(s: Breaker, now: number): Breaker {
  return {
    ...s,
    phase: "closed",
    window: "",
    consecutiveFailures: 0,
    probes: [],
    probeOk: 0,
    closedAt: now,
  };
}
