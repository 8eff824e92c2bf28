// Policy from wrangler vars, parsed once per isolate. A bad value is logged and the default kept,
// so a typo in wrangler.toml degrades one knob, never the service.
//
// A/B experiments: `POLICY_VARIANTS` (JSON, empty = no experiment) lists named variants with a
// traffic weight, each optionally overriding the score `weights`. `policyForDecision` assigns a
// decision to one by a stable hash of its id (`policyVariant`, shared/learning.ts), so the same
// id always gets the same variant on any isolate. An invalid value is logged and ignored: every
// decision then runs the base policy as variant "default".

import * as z from "zod/mini";
import { policyVariant } from "../shared/learning.ts";
import { DEFAULT_POLICY, type Policy } from "../shared/policy.ts";

/** The variant name of decisions made without an experiment (and of rows from before one). */
export const DEFAULT_VARIANT = "default";
export const MAX_POLICY_VARIANTS = 16;

let cached: { key: string; policy: Policy } | undefined;

function numberVar(name: string, raw: string | undefined, min: number, max: number) {
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= min && n <= max) return n;
  console.warn(JSON.stringify({ event: "config", problem: `${name} ignored`, range: [min, max] }));
  return undefined;
}

export function policyFor(env: Env): Policy {
  const key = `${env.CLOUD_BASE_RTT_MS}|${env.MAX_SITE_CANDIDATES}|${env.SITE_STALE_AFTER_MS}`;
  if (cached?.key === key) return cached.policy;
  const cloudBaseRttMs = numberVar("CLOUD_BASE_RTT_MS", env.CLOUD_BASE_RTT_MS, 0, 1000);
  const maxSites = numberVar("MAX_SITE_CANDIDATES", env.MAX_SITE_CANDIDATES, 1, 256);
  const staleAfterMs = numberVar("SITE_STALE_AFTER_MS", env.SITE_STALE_AFTER_MS, 1, 3_600_000);
  const policy: Policy = {
    ...DEFAULT_POLICY,
    cloudBaseRttMs: cloudBaseRttMs ?? DEFAULT_POLICY.cloudBaseRttMs,
    maxSiteCandidates:
      maxSites === undefined ? DEFAULT_POLICY.maxSiteCandidates : Math.floor(maxSites),
    staleAfterMs: staleAfterMs ?? DEFAULT_POLICY.staleAfterMs,
  };
  cached = { key, policy };
  return policy;
}

const weight = z.number().check(z.gte(0), z.lte(1000));

/** One entry of `POLICY_VARIANTS`; names fit the decision event's name pattern. */
export const policyVariantConfigSchema = z.strictObject({
  name: z.string().check(
    z.regex(/^[a-z][a-z0-9_-]{0,31}$/, "expected a lowercase name (a-z, 0-9, _ and -)"),
    z.refine((n) => n !== DEFAULT_VARIANT, `"${DEFAULT_VARIANT}" is reserved`),
  ),
  /** Share of traffic, relative to the other variants' weights. */
  weight,
  /** Overrides of the score weights; the rest come from the base policy. */
  weights: z.optional(
    z.strictObject({
      latency: z.optional(weight),
      cost: z.optional(weight),
      privacy: z.optional(weight),
      reliability: z.optional(weight),
    }),
  ),
});
export type PolicyVariantConfig = z.infer<typeof policyVariantConfigSchema>;

export const policyVariantsSchema = z.array(policyVariantConfigSchema).check(
  z.minLength(1),
  z.maxLength(MAX_POLICY_VARIANTS),
  z.refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, "duplicate variant name"),
  z.refine((vs) => vs.some((v) => v.weight > 0), "no variant has a positive weight"),
);

/**
 * `POLICY_VARIANTS` parsed: the variants in order, or undefined when there is no experiment
 * (empty) or the value is invalid (logged with the issues' paths, never the value).
 */
export function parsePolicyVariants(raw: string | undefined): PolicyVariantConfig[] | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    console.warn(JSON.stringify({ event: "config", problem: "POLICY_VARIANTS ignored: not JSON" }));
    return undefined;
  }
  const parsed = policyVariantsSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
    console.warn(JSON.stringify({ event: "config", problem: "POLICY_VARIANTS ignored", issues }));
    return undefined;
  }
  return parsed.data;
}

/** The base policy with a variant's overrides. */
export function variantPolicy(base: Policy, variant: PolicyVariantConfig): Policy {
  return variant.weights ? { ...base, weights: { ...base.weights, ...variant.weights } } : base;
}

interface Experiment {
  key: string;
  base: Policy;
  variants: PolicyVariantConfig[] | undefined;
  policies: Map<string, Policy>;
}
let experiment: Experiment | undefined;

/**
 * The policy a decision runs under and its variant's name (`"default"` without an experiment):
 * the same decision id always gets the same variant.
 */
export function policyForDecision(
  env: Env,
  decisionId: string,
): { policy: Policy; variant: string } {
  const base = policyFor(env);
  const key = env.POLICY_VARIANTS ?? "";
  if (experiment?.key !== key || experiment.base !== base) {
    const variants = parsePolicyVariants(key);
    const policies = new Map((variants ?? []).map((v) => [v.name, variantPolicy(base, v)]));
    experiment = { key, base, variants, policies };
  }
  const { variants, policies } = experiment;
  if (!variants) return { policy: base, variant: DEFAULT_VARIANT };
  const name = policyVariant(decisionId, variants);
  return { policy: policies.get(name) ?? base, variant: name };
}
