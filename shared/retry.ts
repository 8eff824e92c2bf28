// Retries for one routed request: how long to wait, whether a failure may be retried in place or
// should move to another target, how much of the deadline an attempt may use, and a budget that
// keeps retries from multiplying the load on a failing upstream.
//
// - Backoff is AWS's "full jitter": sleep = rand · min(cap, base · 2ⁿ). Spreading the whole range
//   lets clients that failed together come back apart.
// - A retry budget (Envoy, Finagle) caps retries at a share of requests over a sliding window, so
//   a dead upstream sees at most ~1.2× its normal traffic instead of 1 + maxRetries ×. A small
//   floor lets a quiet router still retry.
//
// There is no clock and no randomness inside: callers pass `now` (epoch ms) and `rand` in [0, 1).

/** Full-jitter backoff settings, in ms. */
export interface BackoffConfig {
  /** Ceiling of the first retry's wait; doubles per retry. */
  baseMs: number;
  /** Largest ceiling, however many retries came before. */
  capMs: number;
}

/** AWS SDK standard retry mode: base 100 ms, max backoff 20 s. */
export const DEFAULT_BACKOFF: BackoffConfig = { baseMs: 100, capMs: 20_000 };

/** setTimeout's largest delay; longer ones overflow and fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Full-jitter wait before a retry: `rand · min(cap, base · 2^attempt)`.
 * Always in [0, min(cap, base · 2^attempt)], finite and never negative: a huge `attempt` just
 * reaches the cap, the ceiling never exceeds setTimeout's limit (2³¹ − 1 ms), and negative or NaN
 * settings count as 0.
 * @param attempt 0 for the first retry, 1 for the second, …; fractions are floored, negatives are 0
 * @param rand in [0, 1); clamped to [0, 1], NaN counts as 0.5
 */
export function backoffDelay(attempt: number, cfg: BackoffConfig, rand: number): number {
  const n = Number.isFinite(attempt) ? Math.max(0, Math.floor(attempt)) : attempt > 0 ? 1023 : 0;
  const base = nonNegative(cfg.baseMs);
  const cap = nonNegative(cfg.capMs);
  // 2^1023 is the largest finite power of two; any base > 0 has passed every cap by then.
  const ceiling = Math.min(cap, base * 2 ** Math.min(n, 1023), MAX_TIMER_MS);
  const r = Number.isNaN(rand) ? 0.5 : Math.min(Math.max(rand, 0), 1);
  return r * ceiling;
}

/**
 * Reads an HTTP `Retry-After` header (RFC 9110 §10.2.3): delta-seconds (`"120"`) or an HTTP-date
 * in any of the three forms recipients must accept (IMF-fixdate, RFC 850, asctime).
 * @param headerValue as `headers.get("retry-after")` returns it
 * @param now epoch ms, to turn a date into a wait
 * @returns the wait in ms, ≥ 0 (a date in the past gives 0); undefined when absent or invalid.
 * Unbounded: the caller decides whether a long wait is worth keeping the request for.
 */
export function retryAfterMs(
  headerValue: string | null | undefined,
  now: number,
): number | undefined {
  if (headerValue === null || headerValue === undefined) return undefined;
  const value = headerValue.trim();
  if (/^\d+$/.test(value)) {
    const ms = Number(value) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  const at = parseHttpDate(value, now);
  if (at === undefined || !Number.isFinite(now)) return undefined;
  return Math.max(0, at - now);
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY = "(?:mon|tue|wed|thu|fri|sat|sun)";
const LONG_DAY = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)";
const MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
/** Sun, 06 Nov 1994 08:49:37 GMT */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, "i");
/** Sunday, 06-Nov-94 08:49:37 GMT */
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, "i");
/** Sun Nov  6 08:49:37 1994 */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, "i");

/** An HTTP-date as epoch ms, or undefined. Strict: `Date.parse` also takes local-time strings. */
function parseHttpDate(value: string, now: number): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(m[3], m[2], m[1], m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(m[6], m[1], m[2], m[3], m[4], m[5]);
  m = RFC850_DATE.exec(value);
  if (!m) return undefined;
  // RFC 9110: a two-digit year more than 50 years in the future is the most recent past year
  // with those digits.
  const yy = Number(m[3]);
  const thisYear = new Date(Number.isFinite(now) ? now : 0).getUTCFullYear();
  let year = Math.floor(thisYear / 100) * 100 + yy;
  if (year > thisYear + 50) year -= 100;
  return utc(String(year), m[2], m[1], m[4], m[5], m[6]);
}

function utc(
  year: string | undefined,
  month: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | undefined {
  const y = Number(year);
  const mo = MONTHS.indexOf((month ?? "").toLowerCase());
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  // The grammar allows 60 for a leap second; Date folds it into the next minute.
  const s = Number(second);
  if (mo < 0 || h > 23 || mi > 59 || s > 60) return undefined;
  // Rejects day 0, 31 Feb and the like, which Date.UTC would roll into a neighbouring month.
  if (new Date(Date.UTC(y, mo, d)).getUTCDate() !== d) return undefined;
  const ms = Date.UTC(y, mo, d, h, mi, s);
  return Number.isFinite(ms) ? ms : undefined;
}

/** What went wrong with one attempt, as the caller saw it. */
export interface FailureInput {
  /** HTTP status of the upstream's response, when one arrived. */
  status?: number;
  /**
   * Transport failure: `timeout` (the attempt's timer fired), `connect` (no connection), `reset`
   * (connection dropped), `aborted` (the client left or the plan was cancelled).
   */
  error?: "timeout" | "connect" | "reset" | "aborted";
  /** Whether any byte of the response body had reached the client. */
  afterFirstByte: boolean;
}

export type ErrorClass =
  | "timeout"
  | "connect"
  | "http_4xx"
  | "http_429"
  | "http_5xx"
  | "stream"
  | "other";

export interface FailureVerdict {
  /** Try the same target again (after `backoffDelay`, within budget and deadline). */
  retryable: boolean;
  /** Another target (the next backup in the plan) may serve the request. */
  failover: boolean;
  errorClass: ErrorClass;
}

/**
 * Decides what one failed attempt allows, in this order:
 * 1. `aborted`: nothing; nobody is waiting for the answer (class `other`).
 * 2. After the first byte: never retried in place, since the client already has part of an
 *    answer; class `stream`, `failover: true` so the caller can continue on another target.
 * 3. `timeout`, `connect`, `reset` (a reset before any response counts as `connect`): retryable.
 * 4. 408 Request Timeout: class `timeout`, retryable. 429: retryable (honour `Retry-After`).
 *    5xx: retryable. Other 4xx: the request itself is at fault; neither retried nor failed over,
 *    so the client gets the 4xx.
 * 5. Anything else (no status or error, or a non-error status): class `other`, nothing allowed.
 * Every retryable failure may also fail over.
 */
export function classifyFailure(input: FailureInput): FailureVerdict {
  const { status, error, afterFirstByte } = input;
  if (error === "aborted") return verdict(false, false, "other");
  if (afterFirstByte) return verdict(false, true, "stream");
  if (error === "timeout") return verdict(true, true, "timeout");
  if (error === "connect" || error === "reset") return verdict(true, true, "connect");
  if (status === undefined || !Number.isInteger(status)) return verdict(false, false, "other");
  if (status === 408) return verdict(true, true, "timeout");
  if (status === 429) return verdict(true, true, "http_429");
  if (status >= 500 && status <= 599) return verdict(true, true, "http_5xx");
  if (status >= 400 && status <= 499) return verdict(false, false, "http_4xx");
  return verdict(false, false, "other");
}

function verdict(retryable: boolean, failover: boolean, errorClass: ErrorClass): FailureVerdict {
  return { retryable, failover, errorClass };
}

export interface RetryBudgetConfig {
  /** Retries allowed per request in the window (Envoy budget_percent 20%, Finagle 0.2). */
  ratio: number;
  /** Retries allowed per window however few requests came (Envoy min_retry_concurrency 3). */
  minRetries: number;
  /** Sliding window length, ms (Finagle's ttl 10 s). */
  windowMs: number;
  /** The window moves in steps of `windowMs / buckets`. */
  buckets: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetConfig = {
  ratio: 0.2,
  minRetries: 3,
  windowMs: 10_000,
  buckets: 10,
};

export interface RetryBudgetStats {
  /** Requests recorded in the window. */
  requests: number;
  /** Retries granted in the window. */
  retries: number;
  /** Retries the window allows: max(minRetries, ⌊ratio · requests⌋). */
  allowance: number;
  /** Retries still available now. */
  remaining: number;
}

export interface RetryBudget {
  /** Counts one original request (not its retries). */
  recordRequest(now: number): void;
  /** Asks for one retry; true means granted and counted, false means give up or fail over. */
  tryRetry(now: number): boolean;
  stats(now: number): RetryBudgetStats;
}

/**
 * A retry budget over a sliding window: a retry is granted while the retries in the window stay
 * within max(`minRetries`, ⌊`ratio` × requests in the window⌋). The window is a ring of
 * `buckets` counters, so memory stays constant whatever the traffic. One budget per upstream
 * (or per isolate) is the usual grain. A clock that steps back is treated as standing still.
 * @throws RangeError on a negative ratio or minimum, a window ≤ 0 or a bucket count < 1
 */
export function createRetryBudget(options: Partial<RetryBudgetConfig> = {}): RetryBudget {
  const cfg = { ...DEFAULT_RETRY_BUDGET, ...options };
  const { ratio, minRetries, windowMs, buckets } = cfg;
  if (!(ratio >= 0 && Number.isFinite(ratio))) throw new RangeError("ratio must be ≥ 0");
  if (!(minRetries >= 0 && Number.isFinite(minRetries))) {
    throw new RangeError("minRetries must be ≥ 0");
  }
  if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError("windowMs must be > 0");
  if (!(Number.isInteger(buckets) && buckets >= 1)) {
    throw new RangeError("buckets must be an integer ≥ 1");
  }
  const width = windowMs / buckets;
  const empty = () => ({ step: Number.NEGATIVE_INFINITY, requests: 0, retries: 0 });
  const ring = Array.from({ length: buckets }, empty);
  /** Index of the newest time step seen; the window is steps (head − buckets, head]. */
  let head = 0;

  function advance(now: number): void {
    const step = Number.isFinite(now) ? Math.floor(now / width) : head;
    if (step > head) head = step;
  }

  function current() {
    const slot = ring[head % buckets] ?? empty();
    if (slot.step !== head) {
      slot.step = head;
      slot.requests = 0;
      slot.retries = 0;
    }
    return slot;
  }

  function stats(now: number): RetryBudgetStats {
    advance(now);
    let requests = 0;
    let retries = 0;
    for (const slot of ring) {
      if (slot.step > head - buckets && slot.step <= head) {
        requests += slot.requests;
        retries += slot.retries;
      }
    }
    // The epsilon keeps 0.2 × 15 (= 3.0000000000000004 in floating point) from losing a retry.
    const allowance = Math.max(minRetries, Math.floor(ratio * requests + 1e-9));
    return { requests, retries, allowance, remaining: Math.max(0, allowance - retries) };
  }

  return {
    recordRequest(now) {
      advance(now);
      current().requests++;
    },
    tryRetry(now) {
      if (stats(now).remaining < 1) return false;
      current().retries++;
      return true;
    },
    stats,
  };
}

/**
 * Time the next attempt may take: min(`stepTimeoutMs`, `deadline` − `now`), never negative.
 * 0 means no time is left: fail (or answer from what is at hand) instead of starting an attempt.
 * An infinite deadline leaves the step timeout; NaN anywhere gives 0.
 * @param deadline epoch ms by which the whole request must be answered
 * @param now epoch ms
 * @param stepTimeoutMs the plan step's own timeout
 */
export function planAttemptTimeout(deadline: number, now: number, stepTimeoutMs: number): number {
  const left = Math.min(stepTimeoutMs, deadline - now);
  return Number.isNaN(left) || left <= 0 ? 0 : left;
}

/** A timer is late when it fired this long after it was due, and half its span or more. */
const LATE_TIMER_MIN_MS = 25;
const LATE_TIMER_SHARE = 0.5;

/**
 * Whether an attempt timer of `timeoutMs` that fired `lateMs` after it was due says the router
 * was busy rather than the target slow. The timer runs on the same event loop as the reading of
 * the answer: firing well after it was due means neither could run, and the answer may have been
 * waiting. Such a timeout is no verdict on the target (its breaker learns nothing).
 */
export function timerFiredLate(timeoutMs: number, lateMs: number): boolean {
  return lateMs > Math.max(LATE_TIMER_MIN_MS, timeoutMs * LATE_TIMER_SHARE);
}

function nonNegative(x: number): number {
  return Number.isNaN(x) || x < 0 ? 0 : x;
}
