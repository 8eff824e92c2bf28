// The pure parts of tenancy: the issued key format, the isolate's stale-while-revalidate cache,
// and the budget ledger and its calendar periods.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  KEY_ID_PATTERN,
  keyPrefix,
  newIssuedKey,
  parseIssuedKey,
  sha256,
  toHex,
} from "../../shared/api-key.ts";
import {
  EMPTY_TOTALS,
  type PeriodTotals,
  periodOf,
  remaining,
  reserve,
  settle,
  toNano,
} from "../../shared/budget.ts";
import { SwrCache } from "../../shared/swr-cache.ts";

describe("issued keys", () => {
  it("are mec_<scope>_<id>_<secret>, parse back to scope and id, and hash to what is stored", async () => {
    for (const scope of ["device", "operator", "site"] as const) {
      const { key, id, hash } = await newIssuedKey(scope);
      expect(key).toMatch(new RegExp(`^mec_${scope}_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`));
      expect(id).toMatch(KEY_ID_PATTERN);
      expect(key.startsWith(`${keyPrefix(scope, id)}_`)).toBe(true);
      expect(parseIssuedKey(key)).toEqual({ scope, id });
      expect(hash).toBe(toHex(await sha256(key)));
      expect(hash).not.toContain(key.slice(-43));
    }
  });

  it("never repeat an id or a secret over 2,000 keys", async () => {
    const keys = await Promise.all(Array.from({ length: 2_000 }, () => newIssuedKey("device")));
    expect(new Set(keys.map((k) => k.id)).size).toBe(2_000);
    expect(new Set(keys.map((k) => k.key.slice(-43))).size).toBe(2_000);
  });

  it("refuse anything else: the dev keys, truncations, other scopes, bad characters", () => {
    const good = `mec_device_${"a".repeat(16)}_${"B".repeat(43)}`;
    expect(parseIssuedKey(good)).toEqual({ scope: "device", id: "a".repeat(16) });
    for (const bad of [
      "dev-device-key",
      "",
      good.slice(0, -1),
      `${good}x`,
      good.replace("device", "admin"),
      good.replace("aaaa", "aa1a"),
      good.replace("BBBB", "B+BB"),
      ` ${good}`,
    ]) {
      expect(parseIssuedKey(bad)).toBeUndefined();
    }
  });
});

describe("SwrCache", () => {
  const opts = { freshMs: 10, maxAgeMs: 30, maxEntries: 3 };
  /** A source whose loads finish only when the test says so. */
  const source = () => {
    const pending: ((v: string) => void)[] = [];
    return {
      pending,
      load: () => new Promise<string>((resolve) => pending.push(resolve)),
      finish: (value: string) => (pending.shift() as (v: string) => void)(value),
    };
  };

  it("answers fresh entries as is, stale ones while one background reload runs, old ones after a load", async () => {
    const cache = new SwrCache<string>(opts);
    const src = source();
    const background: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => background.push(p);
    const first = cache.get("k", 0, src.load, waitUntil);
    src.finish("v0");
    expect(await first).toBe("v0");
    expect(await cache.get("k", 9, src.load, waitUntil)).toBe("v0");
    expect(src.pending).toHaveLength(0);
    // Stale: the old value at once, and one reload in the background however many ask.
    expect(await cache.get("k", 15, src.load, waitUntil)).toBe("v0");
    expect(await cache.get("k", 16, src.load, waitUntil)).toBe("v0");
    expect(src.pending).toHaveLength(1);
    src.finish("v1");
    await Promise.all(background);
    expect(await cache.get("k", 17, src.load, waitUntil)).toBe("v1");
    // Too old (maxAgeMs after the reload that began at 15): the caller waits for a load.
    const late = cache.get("k", 45, src.load, waitUntil);
    expect(src.pending).toHaveLength(1);
    src.finish("v2");
    expect(await late).toBe("v2");
  });

  it("caches absence, and reloads stale entries in the foreground without waitUntil", async () => {
    const cache = new SwrCache<string | null>(opts);
    let loads = 0;
    const load = async () => {
      loads++;
      return null;
    };
    expect(await cache.get("x", 0, load)).toBeNull();
    expect(loads).toBe(1);
    expect(await cache.get("x", 5, load)).toBeNull();
    expect(loads).toBe(1);
    expect(await cache.get("x", 20, load)).toBeNull();
    expect(loads).toBe(2);
  });

  it("never makes a caller await a load another caller started", async () => {
    const cache = new SwrCache<string>(opts);
    const src = source();
    // The first caller's load never settles (its request was cancelled).
    void cache.get("k", 0, src.load);
    const second = cache.get("k", 1, src.load);
    expect(src.pending).toHaveLength(2);
    (src.pending[1] as (v: string) => void)("v");
    expect(await second).toBe("v");
    expect(await cache.get("k", 2, src.load)).toBe("v");
    // Stale, and its background reload never settles: after freshMs another one starts.
    const waitUntil = () => {};
    expect(await cache.get("k", 12, src.load, waitUntil)).toBe("v");
    expect(src.pending).toHaveLength(3);
    expect(await cache.get("k", 22, src.load, waitUntil)).toBe("v");
    expect(src.pending).toHaveLength(3);
    expect(await cache.get("k", 23, src.load, waitUntil)).toBe("v");
    expect(src.pending).toHaveLength(4);
  });

  it("forgets a deleted key at once, and a load begun before the delete cannot write it back", async () => {
    const cache = new SwrCache<string>(opts);
    let release: (v: string) => void = () => {};
    const slow = () =>
      new Promise<string>((resolve) => {
        release = resolve;
      });
    const pending = cache.get("k", 0, slow);
    cache.delete("k");
    release("revoked-soon");
    expect(await pending).toBe("revoked-soon");
    expect(cache.size).toBe(0);
    expect(await cache.get("k", 1, async () => "current")).toBe("current");
  });

  it("keeps a stale value when its background reload fails, and reports the failure", async () => {
    const cache = new SwrCache<string>(opts);
    const errors: unknown[] = [];
    const background: Promise<unknown>[] = [];
    await cache.get("k", 0, async () => "v1");
    const value = await cache.get(
      "k",
      15,
      async () => {
        throw new Error("D1 down");
      },
      (p) => background.push(p),
      (err) => errors.push(err),
    );
    await Promise.all(background);
    expect(value).toBe("v1");
    expect(errors).toHaveLength(1);
    // Past maxAgeMs the stale value is no longer served: the caller sees the failure.
    await expect(
      cache.get("k", 30, async () => {
        throw new Error("still down");
      }),
    ).rejects.toThrow("still down");
  });

  it("holds at most maxEntries keys, dropping the oldest", async () => {
    const cache = new SwrCache<string>(opts);
    for (const k of ["a", "b", "c", "d"]) await cache.get(k, 0, async () => k);
    expect(cache.size).toBe(3);
    let reloaded = false;
    await cache.get("a", 1, async () => {
      reloaded = true;
      return "a";
    });
    expect(reloaded).toBe(true);
  });
});

describe("budget periods", () => {
  it("are UTC calendar days and months", () => {
    const t = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    expect(periodOf(t, "day")).toEqual({
      key: "2026-12-31",
      start: Date.UTC(2026, 11, 31),
      end: Date.UTC(2027, 0, 1),
    });
    expect(periodOf(t, "month")).toEqual({
      key: "2026-12",
      start: Date.UTC(2026, 11, 1),
      end: Date.UTC(2027, 0, 1),
    });
    expect(periodOf(Date.UTC(2028, 1, 29, 12), "month").end).toBe(Date.UTC(2028, 2, 1));
  });

  it("contain their instant, for any instant", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom("day", "month"),
        (t, p) => {
          const w = periodOf(t, p as "day" | "month");
          return w.start <= t && t < w.end && periodOf(w.start, p as "day").key === w.key;
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe("budget ledger", () => {
  it("grants only what fits with every outstanding reservation, in any order of charges and settlements", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("charge"), cost: fc.integer({ min: 0, max: 2_000 }) }),
            fc.record({
              kind: fc.constant("settle"),
              factor: fc.double({ min: 0, max: 1, noNaN: true }),
            }),
          ),
          { maxLength: 200 },
        ),
        (limit, ops) => {
          let totals: PeriodTotals = EMPTY_TOTALS;
          const open: number[] = [];
          for (const op of ops) {
            if (op.kind === "charge") {
              const before = totals;
              const r = reserve(totals, op.cost, limit);
              if (r.granted) open.push(op.cost);
              else expect(r.totals).toBe(before);
              expect(r.granted).toBe(before.spent + before.reserved + op.cost <= limit);
              totals = r.totals;
            } else if (open.length > 0) {
              const cost = open.shift() as number;
              // Actual costs at or below the prediction never take spending past the limit.
              totals = settle(totals, cost, Math.floor(cost * op.factor));
            }
            expect(totals.spent + totals.reserved).toBeLessThanOrEqual(limit);
            expect(remaining(totals, limit)).toBe(limit - totals.spent - totals.reserved);
          }
          expect(totals.reserved).toBe(open.reduce((a, b) => a + b, 0));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("counts in nano-USD, rounding a cost up", () => {
    expect(toNano(0.1)).toBe(100_000_000);
    expect(toNano(0.000_000_000_4)).toBe(1);
    expect(toNano(0)).toBe(0);
    const tenths = Array.from({ length: 10 }, () => toNano(0.1)).reduce((a, b) => a + b, 0);
    expect(tenths).toBe(toNano(1));
  });
});
