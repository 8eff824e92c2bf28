// worker/config.ts: POLICY_VARIANTS parsing (invalid values logged and ignored) and the
// assignment of decisions to variants with their policies.

import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import {
  DEFAULT_VARIANT,
  parsePolicyVariants,
  policyFor,
  policyForDecision,
  variantPolicy,
} from "../../worker/config.ts";

const EXAMPLE = JSON.stringify([
  { name: "control", weight: 1 },
  { name: "cost-lean", weight: 1, weights: { cost: 0.4, latency: 0.35 } },
]);

function envWith(vars: Partial<Env>): Env {
  return {
    CLOUD_BASE_RTT_MS: "35",
    MAX_SITE_CANDIDATES: "16",
    SITE_STALE_AFTER_MS: "10000",
    POLICY_VARIANTS: "",
    ...vars,
  } as Env;
}

afterEach(() => vi.restoreAllMocks());

describe("parsePolicyVariants", () => {
  it("reads no experiment from an empty value", () => {
    expect(parsePolicyVariants("")).toBeUndefined();
    expect(parsePolicyVariants("  ")).toBeUndefined();
    expect(parsePolicyVariants(undefined)).toBeUndefined();
  });

  it("parses variants with weight overrides", () => {
    expect(parsePolicyVariants(EXAMPLE)).toEqual([
      { name: "control", weight: 1 },
      { name: "cost-lean", weight: 1, weights: { cost: 0.4, latency: 0.35 } },
    ]);
  });

  it.each([
    ["not JSON", "[{name:"],
    ["not an array", JSON.stringify({ name: "a", weight: 1 })],
    ["no variant", "[]"],
    ["a bad name", JSON.stringify([{ name: "Cost Lean", weight: 1 }])],
    ["the reserved name", JSON.stringify([{ name: DEFAULT_VARIANT, weight: 1 }])],
    [
      "a duplicate name",
      JSON.stringify([
        { name: "a", weight: 1 },
        { name: "a", weight: 2 },
      ]),
    ],
    ["a negative weight", JSON.stringify([{ name: "a", weight: -1 }])],
    ["only zero weights", JSON.stringify([{ name: "a", weight: 0 }])],
    ["an unknown override", JSON.stringify([{ name: "a", weight: 1, maxBackups: 5 }])],
    ["an unknown weight", JSON.stringify([{ name: "a", weight: 1, weights: { speed: 1 } }])],
    ["a negative score weight", JSON.stringify([{ name: "a", weight: 1, weights: { cost: -1 } }])],
  ])("logs and ignores %s", (_what, raw) => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(parsePolicyVariants(raw)).toBeUndefined();
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/POLICY_VARIANTS ignored/);
  });
});

describe("variantPolicy", () => {
  it("overrides only the named weights", () => {
    const p = variantPolicy(DEFAULT_POLICY, { name: "x", weight: 1, weights: { cost: 0.4 } });
    expect(p.weights).toEqual({ ...DEFAULT_POLICY.weights, cost: 0.4 });
    expect({ ...p, weights: DEFAULT_POLICY.weights }).toEqual(DEFAULT_POLICY);
    expect(variantPolicy(DEFAULT_POLICY, { name: "x", weight: 1 })).toBe(DEFAULT_POLICY);
  });
});

describe("policyForDecision", () => {
  const ids = Array.from(
    { length: 20_000 },
    (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  );

  it("is the base policy as 'default' without an experiment", () => {
    const env = envWith({});
    expect(policyForDecision(env, ids[0] as string)).toEqual({
      policy: policyFor(env),
      variant: DEFAULT_VARIANT,
    });
  });

  it("is the base policy as 'default' when the experiment is invalid", () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const env = envWith({ POLICY_VARIANTS: '[{"name":"a","weight":0}]' });
    expect(policyForDecision(env, ids[0] as string).variant).toBe(DEFAULT_VARIANT);
  });

  it("assigns each id the same variant every time, with that variant's weights", () => {
    const env = envWith({ POLICY_VARIANTS: EXAMPLE });
    const base = policyFor(env);
    for (const id of ids.slice(0, 500)) {
      const a = policyForDecision(env, id);
      expect(policyForDecision(env, id)).toEqual(a);
      expect(policyForDecision(envWith({ POLICY_VARIANTS: EXAMPLE }), id).variant).toBe(a.variant);
      if (a.variant === "control") expect(a.policy).toEqual(base);
      else expect(a.policy.weights).toEqual({ ...base.weights, cost: 0.4, latency: 0.35 });
    }
  });

  it("splits traffic by the variants' weights", () => {
    const env = envWith({
      POLICY_VARIANTS: JSON.stringify([
        { name: "control", weight: 3 },
        { name: "cost-lean", weight: 1, weights: { cost: 0.4 } },
        { name: "off", weight: 0 },
      ]),
    });
    const counts = new Map<string, number>();
    for (const id of ids) {
      const { variant } = policyForDecision(env, id);
      counts.set(variant, (counts.get(variant) ?? 0) + 1);
    }
    expect(Math.abs((counts.get("control") ?? 0) / ids.length - 0.75)).toBeLessThan(0.02);
    expect(Math.abs((counts.get("cost-lean") ?? 0) / ids.length - 0.25)).toBeLessThan(0.02);
    expect(counts.has("off")).toBe(false);
  });
});
