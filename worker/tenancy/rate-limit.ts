// Per-key rate limits: the Workers rate-limiting binding of the key's scope, keyed by the key id.
// It is the cheap first line (a local counter per Cloudflare location, no Durable Object, no D1);
// cost budgets (TenantBudget) are the exact one. The platform's own keys are not limited.

import type { Principal } from "../auth.ts";
import { RateLimited } from "../errors.ts";

/** The binding's window, for `Retry-After`: the binding does not say when a window ends. */
const PERIOD_S = { device: 10, operator: 60, site: 60 } as const;

function limiter(env: Env, role: Principal["role"]): RateLimit {
  return role === "device"
    ? env.RATE_LIMIT_DEVICE
    : role === "operator"
      ? env.RATE_LIMIT_OPERATOR
      : env.RATE_LIMIT_SITE;
}

/** Throws 429 when the key is over its limit. A limiter that fails lets the request through. */
export async function enforceRateLimit(env: Env, principal: Principal): Promise<void> {
  if (principal.platform) return;
  let success = true;
  try {
    ({ success } = await limiter(env, principal.role).limit({ key: principal.keyId }));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.warn(JSON.stringify({ event: "rate_limit_failed", keyId: principal.keyId, message }));
  }
  if (!success) throw new RateLimited(principal.role, PERIOD_S[principal.role]);
}
