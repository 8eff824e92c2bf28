// Policy from wrangler vars, parsed once per isolate. A bad value is logged and the default kept,
// so a typo in wrangler.toml degrades one knob, never the service.

import { DEFAULT_POLICY, type Policy } from "../shared/policy.ts";

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
