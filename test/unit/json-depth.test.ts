import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonDeeperThan } from "../../shared/json-depth.ts";

/** Nesting depth of a parsed value, the slow way. */
function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (v !== null && typeof v === "object") return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

describe("jsonDeeperThan", () => {
  it("agrees with the parsed value's depth, for any JSON and any limit", () => {
    fc.assert(
      fc.property(fc.jsonValue({ depthSize: "large" }), fc.nat(12), (value, max) => {
        const text = JSON.stringify(value);
        expect(jsonDeeperThan(text, max)).toBe(depth(value) > max);
      }),
      { numRuns: 2_000 },
    );
  });

  it("ignores brackets in strings, escaped quotes included", () => {
    expect(jsonDeeperThan(JSON.stringify({ a: '[[[\\"{{{' }), 1)).toBe(false);
    expect(jsonDeeperThan('["\\\\", [[]]]', 2)).toBe(true);
    expect(jsonDeeperThan('["\\\\", [[]]]', 3)).toBe(false);
  });

  it("bounds text that is not valid JSON too", () => {
    expect(jsonDeeperThan("[".repeat(1_000_000), 32)).toBe(true);
    expect(jsonDeeperThan("]]]]", 0)).toBe(false);
  });
});
