// What a site's breaker learns from an outcome (shared/queued-outcome.ts): a busy site is not a
// sick one.

import { describe, expect, it } from "vitest";
import { breakerResult, nextServiceMs } from "../../shared/queued-outcome.ts";

describe("breakerResult", () => {
  it("passes every outcome of a request that started at once, slow first token included", () => {
    expect(breakerResult({ ok: false, timedOut: true }, false)).toEqual({ ok: false });
    expect(breakerResult({ ok: false }, false)).toEqual({ ok: false });
    expect(breakerResult({ ok: true, ttftMs: 9_000 }, false)).toEqual({
      ok: true,
      durationMs: 9_000,
    });
    expect(breakerResult({ ok: true }, false)).toEqual({ ok: true });
  });

  it("leaves out a queued request's timeout and its late first token, not its errors", () => {
    expect(breakerResult({ ok: false, timedOut: true, ttftMs: 12_000 }, true)).toBeUndefined();
    expect(breakerResult({ ok: true, ttftMs: 9_000 }, true)).toEqual({ ok: true });
    expect(breakerResult({ ok: false }, true)).toEqual({ ok: false });
    expect(breakerResult({ ok: false, timedOut: false }, true)).toEqual({ ok: false });
  });
});

describe("nextServiceMs", () => {
  it("starts at the first sample and moves a fifth of the way toward each next one", () => {
    expect(nextServiceMs(undefined, 1_000)).toBe(1_000);
    expect(nextServiceMs(1_000, 2_000)).toBe(1_200);
    expect(nextServiceMs(1_000, 0)).toBe(1_000);
    expect(nextServiceMs(1_000, Number.NaN)).toBe(1_000);
    expect(nextServiceMs(undefined, -3)).toBeUndefined();
  });
});
