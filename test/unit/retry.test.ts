import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  classifyFailure,
  createRetryBudget,
  DEFAULT_BACKOFF,
  DEFAULT_RETRY_BUDGET,
  type FailureInput,
  type FailureVerdict,
  planAttemptTimeout,
  type RetryBudget,
  retryAfterMs,
  timerFiredLate,
} from "../../shared/retry.ts";

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

describe("backoffDelay", () => {
  it("stays within [0, min(cap, base·2ⁿ)] over 10⁵ samples", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 1_000_000 })),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, rand) => {
          const d = backoffDelay(attempt, { baseMs, capMs }, rand);
          // 0 · 2¹⁰²⁴ is 0 · ∞ = NaN in floating point; the ceiling is 0 all the same.
          const ceiling = baseMs === 0 ? 0 : Math.min(capMs, baseMs * 2 ** attempt);
          return Number.isFinite(d) && d >= 0 && d <= ceiling;
        },
      ),
      { numRuns: 100_000 },
    );
  });

  it("is rand · min(cap, base·2ⁿ): doubles from the base, then holds at the cap", () => {
    const top = (n: number) => backoffDelay(n, DEFAULT_BACKOFF, 1);
    expect([0, 1, 2, 3, 7, 8, 9, 50].map(top)).toEqual([
      100, 200, 400, 800, 12_800, 20_000, 20_000, 20_000,
    ]);
    expect(backoffDelay(3, DEFAULT_BACKOFF, 0.25)).toBe(200);
    expect(backoffDelay(3, DEFAULT_BACKOFF, 0)).toBe(0);
    for (let n = 1; n < 40; n++) expect(top(n)).toBeGreaterThanOrEqual(top(n - 1));
  });

  it("stays finite and non-negative for huge attempts and odd inputs", () => {
    const cfg = { baseMs: 100, capMs: 20_000 };
    for (const attempt of [1023, 1024, 10_000, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
      expect(backoffDelay(attempt, cfg, 0.5)).toBe(10_000);
    }
    expect(backoffDelay(-3, cfg, 1)).toBe(100);
    expect(backoffDelay(Number.NaN, cfg, 1)).toBe(100);
    expect(backoffDelay(2.9, cfg, 1)).toBe(400);
    expect(backoffDelay(5, cfg, -1)).toBe(0);
    expect(backoffDelay(5, cfg, 7)).toBe(3_200);
    expect(backoffDelay(5, cfg, Number.NaN)).toBe(1_600);
    expect(backoffDelay(10_000, { baseMs: 0, capMs: 20_000 }, 1)).toBe(0);
    expect(backoffDelay(3, { baseMs: -100, capMs: 20_000 }, 1)).toBe(0);
    expect(backoffDelay(3, { baseMs: 100, capMs: -1 }, 1)).toBe(0);
    // Without a finite cap the ceiling is setTimeout's limit.
    const uncapped = { baseMs: 100, capMs: Number.POSITIVE_INFINITY };
    expect(backoffDelay(10_000, uncapped, 1)).toBe(2_147_483_647);
  });
});

describe("retryAfterMs", () => {
  it("reads delta-seconds", () => {
    expect(retryAfterMs("120", T0)).toBe(120_000);
    expect(retryAfterMs("0", T0)).toBe(0);
    expect(retryAfterMs(" 5 ", T0)).toBe(5_000);
    expect(retryAfterMs("007", T0)).toBe(7_000);
  });

  it("reads an IMF-fixdate, clamping a past date to 0", () => {
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:30 GMT", T0)).toBe(30_000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:30 GMT", T0 + 500)).toBe(29_500);
    expect(retryAfterMs("Wed, 31 Dec 2025 23:59:00 GMT", T0)).toBe(0);
    expect(retryAfterMs("thu, 01 jan 2026 00:00:30 gmt", T0)).toBe(30_000);
  });

  it("reads the obsolete RFC 850 and asctime forms", () => {
    const nov6 = Date.UTC(1994, 10, 6, 8, 49, 0);
    expect(retryAfterMs("Sunday, 06-Nov-94 08:49:37 GMT", nov6)).toBe(37_000);
    expect(retryAfterMs("Sun Nov  6 08:49:37 1994", nov6)).toBe(37_000);
    expect(retryAfterMs("Sun Nov 16 08:49:37 1994", nov6)).toBe(864_037_000);
    // Two-digit years: up to 50 years ahead is this century, further is the last one.
    expect(retryAfterMs("Friday, 01-Jan-27 00:00:10 GMT", T0)).toBe(365 * 86_400_000 + 10_000);
    expect(retryAfterMs("Sunday, 06-Nov-94 08:49:37 GMT", T0)).toBe(0);
  });

  it("round-trips any whole-second date and any delta", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e7 }),
        fc.integer({ min: 0, max: 999 }),
        (offsetS, ms) => {
          const now = T0 + ms;
          const header = new Date(T0 + offsetS * 1000).toUTCString();
          return retryAfterMs(header, now) === Math.max(0, T0 + offsetS * 1000 - now);
        },
      ),
    );
    fc.assert(fc.property(fc.nat(), (s) => retryAfterMs(String(s), T0) === s * 1000));
  });

  it.each([
    ["absent (null)", null],
    ["absent (undefined)", undefined],
    ["empty", ""],
    ["negative", "-5"],
    ["fractional", "1.5"],
    ["signed", "+5"],
    ["a word", "soon"],
    ["an ISO date", "2026-01-01T00:00:30Z"],
    ["a numeric zone", "Thu, 01 Jan 2026 00:00:30 +0000"],
    ["31 February", "Tue, 31 Feb 2026 00:00:00 GMT"],
    ["hour 24", "Thu, 01 Jan 2026 24:00:00 GMT"],
    ["an unknown month", "Thu, 01 Foo 2026 00:00:00 GMT"],
    ["an overflowing delta", "9".repeat(400)],
  ])("is undefined for %s", (_, value) => {
    expect(retryAfterMs(value, T0)).toBeUndefined();
  });
});

describe("classifyFailure", () => {
  const retry = (errorClass: FailureVerdict["errorClass"]): FailureVerdict => ({
    retryable: true,
    failover: true,
    errorClass,
  });
  const stream: FailureVerdict = { retryable: false, failover: true, errorClass: "stream" };
  const clientFault: FailureVerdict = { retryable: false, failover: false, errorClass: "http_4xx" };
  const nothing: FailureVerdict = { retryable: false, failover: false, errorClass: "other" };
  const table: [string, FailureInput, FailureVerdict][] = [
    ["connect error", { error: "connect", afterFirstByte: false }, retry("connect")],
    ["reset before any byte", { error: "reset", afterFirstByte: false }, retry("connect")],
    ["timeout", { error: "timeout", afterFirstByte: false }, retry("timeout")],
    ["408", { status: 408, afterFirstByte: false }, retry("timeout")],
    ["429", { status: 429, afterFirstByte: false }, retry("http_429")],
    ["500", { status: 500, afterFirstByte: false }, retry("http_5xx")],
    ["502", { status: 502, afterFirstByte: false }, retry("http_5xx")],
    ["503", { status: 503, afterFirstByte: false }, retry("http_5xx")],
    ["504", { status: 504, afterFirstByte: false }, retry("http_5xx")],
    ["599", { status: 599, afterFirstByte: false }, retry("http_5xx")],
    ["400", { status: 400, afterFirstByte: false }, clientFault],
    ["401", { status: 401, afterFirstByte: false }, clientFault],
    ["403", { status: 403, afterFirstByte: false }, clientFault],
    ["404", { status: 404, afterFirstByte: false }, clientFault],
    ["413", { status: 413, afterFirstByte: false }, clientFault],
    ["422", { status: 422, afterFirstByte: false }, clientFault],
    ["499", { status: 499, afterFirstByte: false }, clientFault],
    ["reset mid-stream", { error: "reset", afterFirstByte: true }, stream],
    ["timeout mid-stream", { error: "timeout", afterFirstByte: true }, stream],
    ["connect mid-stream", { error: "connect", afterFirstByte: true }, stream],
    ["503 after first byte", { status: 503, afterFirstByte: true }, stream],
    ["429 after first byte", { status: 429, afterFirstByte: true }, stream],
    ["bare failure mid-stream", { afterFirstByte: true }, stream],
    ["aborted", { error: "aborted", afterFirstByte: false }, nothing],
    ["aborted mid-stream", { error: "aborted", afterFirstByte: true }, nothing],
    ["aborted with a 503", { status: 503, error: "aborted", afterFirstByte: false }, nothing],
    [
      "timeout beside a 200",
      { status: 200, error: "timeout", afterFirstByte: false },
      retry("timeout"),
    ],
    ["no status, no error", { afterFirstByte: false }, nothing],
    ["200", { status: 200, afterFirstByte: false }, nothing],
    ["304", { status: 304, afterFirstByte: false }, nothing],
    ["600", { status: 600, afterFirstByte: false }, nothing],
    ["NaN status", { status: Number.NaN, afterFirstByte: false }, nothing],
  ];

  it.each(table)("%s", (_, input, expected) => {
    expect(classifyFailure(input)).toEqual(expected);
  });

  it("never retries after the first byte or on a client fault; a retryable may fail over", () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
        fc.option(fc.constantFrom("timeout", "connect", "reset", "aborted" as const), {
          nil: undefined,
        }),
        fc.boolean(),
        (status, error, afterFirstByte) => {
          const v = classifyFailure({ status, error, afterFirstByte });
          if (afterFirstByte && v.retryable) return false;
          if (v.retryable && !v.failover) return false;
          const clientFault =
            !afterFirstByte &&
            error === undefined &&
            status !== undefined &&
            status >= 400 &&
            status < 500 &&
            status !== 408 &&
            status !== 429;
          return !(clientFault && (v.retryable || v.failover));
        },
      ),
    );
  });
});

/** Every request fails; each wants up to `wanted` retries, asked for at once. Returns attempts. */
function hammer(budget: RetryBudget, times: number[], wanted: number): number {
  let attempts = 0;
  for (const now of times) {
    budget.recordRequest(now);
    attempts++;
    for (let r = 0; r < wanted && budget.tryRetry(now); r++) attempts++;
    const s = budget.stats(now);
    expect(s.retries).toBeLessThanOrEqual(s.allowance);
  }
  return attempts;
}

describe("createRetryBudget", () => {
  const { minRetries, windowMs } = DEFAULT_RETRY_BUDGET;

  it("keeps a 100% failing upstream at ≤ 1.2 attempts per request within one window", () => {
    const times = Array.from({ length: 1_000 }, (_, i) => T0 + i * 9);
    const attempts = hammer(createRetryBudget(), times, 3);
    expect(attempts / 1_000).toBeLessThanOrEqual(1.2 + minRetries / 1_000);
    expect(attempts).toBeGreaterThanOrEqual(1_190);
  });

  it("keeps it there when the requests span many windows", () => {
    const times = Array.from({ length: 1_000 }, (_, i) => T0 + i * 60);
    const windows = Math.ceil((times.length * 60) / windowMs) + 1;
    const attempts = hammer(createRetryBudget(), times, 3);
    expect(attempts / 1_000).toBeLessThanOrEqual(1.2 + (minRetries * windows) / 1_000);
    expect(attempts / 1_000).toBeGreaterThan(1.15);
  });

  it("bounds retries by the ratio plus the minimum per window, whatever the arrivals", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 5 }),
        (gaps, wanted) => {
          const times: number[] = [];
          let t = T0;
          for (const g of gaps) {
            t += g;
            times.push(t);
          }
          const attempts = hammer(createRetryBudget(), times, wanted);
          const span = (times.at(-1) ?? T0) - T0;
          const windows = Math.ceil(span / windowMs) + 1;
          return attempts - times.length <= 0.2 * times.length + minRetries * windows;
        },
      ),
      { numRuns: 200 },
    );
  });

  it("lets low traffic retry up to the minimum allowance", () => {
    const budget = createRetryBudget();
    budget.recordRequest(T0);
    expect([1, 2, 3, 4].map(() => budget.tryRetry(T0))).toEqual([true, true, true, false]);
    expect(budget.stats(T0)).toEqual({ requests: 1, retries: 3, allowance: 3, remaining: 0 });
  });

  it("counts 20% of requests once they outgrow the minimum", () => {
    const budget = createRetryBudget();
    for (let i = 0; i < 15; i++) budget.recordRequest(T0);
    expect(budget.stats(T0).allowance).toBe(3);
    budget.recordRequest(T0);
    for (let i = 0; i < 4; i++) budget.recordRequest(T0);
    expect(budget.stats(T0)).toEqual({ requests: 20, retries: 0, allowance: 4, remaining: 4 });
  });

  it("recovers as the window slides, bucket by bucket", () => {
    const budget = createRetryBudget();
    for (let i = 0; i < 50; i++) budget.recordRequest(T0);
    for (let i = 0; i < 10; i++) expect(budget.tryRetry(T0)).toBe(true);
    expect(budget.tryRetry(T0 + 5_000)).toBe(false);
    // Half a window later, new requests earn retries again.
    for (let i = 0; i < 50; i++) budget.recordRequest(T0 + 5_000);
    expect(budget.stats(T0 + 5_000)).toMatchObject({ requests: 100, retries: 10, remaining: 10 });
    // The first bucket leaves the window exactly one window after it started.
    expect(budget.stats(T0 + windowMs - 1)).toMatchObject({ requests: 100, retries: 10 });
    expect(budget.stats(T0 + windowMs)).toEqual({
      requests: 50,
      retries: 0,
      allowance: 10,
      remaining: 10,
    });
    expect(budget.stats(T0 + 5_000 + windowMs)).toMatchObject({ requests: 0, remaining: 3 });
    expect(budget.tryRetry(T0 + 10 * windowMs)).toBe(true);
  });

  it("treats a clock that steps back as standing still", () => {
    const budget = createRetryBudget();
    budget.recordRequest(T0 + 20_000);
    budget.recordRequest(T0);
    budget.recordRequest(Number.NaN);
    expect(budget.stats(T0).requests).toBe(3);
    expect(budget.stats(T0 + 30_000).requests).toBe(0);
  });

  it("honours its options", () => {
    const budget = createRetryBudget({ ratio: 0.5, minRetries: 0, windowMs: 1_000, buckets: 4 });
    budget.recordRequest(0);
    expect(budget.tryRetry(0)).toBe(false);
    budget.recordRequest(0);
    expect(budget.tryRetry(0)).toBe(true);
    expect(budget.tryRetry(0)).toBe(false);
    expect(budget.stats(999).requests).toBe(2);
    expect(budget.stats(1_000).requests).toBe(0);
  });

  it.each([
    [{ ratio: -0.1 }],
    [{ ratio: Number.NaN }],
    [{ minRetries: -1 }],
    [{ windowMs: 0 }],
    [{ buckets: 0 }],
    [{ buckets: 2.5 }],
  ])("rejects %o", (options) => {
    expect(() => createRetryBudget(options)).toThrow(RangeError);
  });
});

describe("planAttemptTimeout", () => {
  it.each([
    ["the step timeout when time is plentiful", T0 + 10_000, T0, 2_000, 2_000],
    ["the time left when it is shorter", T0 + 1_500, T0, 2_000, 1_500],
    ["both when they are equal", T0 + 2_000, T0, 2_000, 2_000],
    ["0 at the deadline", T0, T0, 2_000, 0],
    ["0 past the deadline", T0 - 1, T0, 2_000, 0],
    ["fractions of a millisecond", T0 + 0.5, T0, 2_000, 0.5],
    ["0 for a zero step timeout", T0 + 10_000, T0, 0, 0],
    ["0 for a negative step timeout", T0 + 10_000, T0, -5, 0],
    ["the step timeout without a deadline", Number.POSITIVE_INFINITY, T0, 2_000, 2_000],
    ["0 for a NaN deadline", Number.NaN, T0, 2_000, 0],
    ["0 for a NaN step timeout", T0 + 10_000, T0, Number.NaN, 0],
  ])("gives %s", (_, deadline, now, step, expected) => {
    expect(planAttemptTimeout(deadline, now, step)).toBe(expected);
  });
});

describe("timerFiredLate", () => {
  it.each([
    ["on time", 2_000, 0, false],
    ["a few milliseconds late (an ordinary loop)", 2_000, 8, false],
    ["late by less than half a long timeout", 2_000, 900, false],
    ["late by more than half a long timeout", 2_000, 1_100, true],
    ["late by seconds", 300, 3_000, true],
    ["late by under 25 ms on a short timeout", 10, 20, false],
    ["late by over 25 ms on a short timeout", 10, 30, true],
  ])("timer %s → late: %s", (_, timeoutMs, lateMs, late) => {
    expect(timerFiredLate(timeoutMs, lateMs)).toBe(late);
  });
});
