// One Nova call under the guards every role shares: the isolate's per-minute spend budget (at
// catalog prices), the role's ServiceBreaker, a deadline within the role's timeout, and the
// role's measured latency (an EWMA, which sets its budget). Never throws: a refusal or a
// failure comes back with the reason the rationale gives. The call's usage (and a call refused
// by the budget or the breaker) goes to the monitor through the queue (usage.ts).

import { catalogModel } from "../../shared/catalog.ts";
import { type NovaResult, novaModel } from "./client.ts";
import {
  budgetAllows,
  callCostUsd,
  DEFAULT_BUDGET_USD_PER_MIN,
  DEFAULT_TIMEOUT_MS,
  latencyBudget,
  NO_SPEND,
  nextEwma,
  type Spend,
  spend,
} from "./policy.ts";
import { maxTokens, type Role } from "./request.ts";
import { type NovaUsageSink, queueUsage, reportSkip } from "./usage.ts";

// Isolate memory: the latency EWMA per role and this minute's spend across roles.
const ewma: Partial<Record<Role, number>> = {};
let spent: Spend = NO_SPEND;

export const BREAKER: Record<Role, string> = {
  micro: "nova:micro",
  lite: "nova:lite",
  pro: "nova:pro",
};

export const ROLE_NAME: Record<Role, string> = {
  micro: "Nova Micro",
  lite: "Nova Lite",
  pro: "Nova Pro",
};

const CATALOG_ID: Record<Role, string> = {
  micro: "nova-micro",
  lite: "nova-lite",
  pro: "nova-pro",
};

function positive(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** Per-role call timeout: `NOVA_<ROLE>_TIMEOUT_MS` or the default. */
export function roleTimeout(env: Env, role: Role): number {
  const raw =
    role === "micro"
      ? env.NOVA_MICRO_TIMEOUT_MS
      : role === "lite"
        ? env.NOVA_LITE_TIMEOUT_MS
        : env.NOVA_PRO_TIMEOUT_MS;
  return positive(raw, DEFAULT_TIMEOUT_MS[role]);
}

/** The latency a request must be able to spare before it waits for this role. */
export function roleBudgetMs(role: Role): number {
  return latencyBudget(role, ewma[role]);
}

export type Guarded<T> = { ok: true; answer: T } | { ok: false; why: string };

/**
 * Runs one call of `role` when the budget and the breaker allow, giving it what is left until
 * `deadline` (epoch ms, capped by the role's timeout), and settles the spend against the tokens
 * Bedrock reports.
 * @param promptTokens the input size the budget reserves before the call
 * @param run the call itself, given its timeout in ms and where its usage goes
 */
export async function guardedCall<T>(
  env: Env,
  role: Role,
  promptTokens: number,
  deadline: number,
  waitUntil: (p: Promise<unknown>) => void,
  run: (timeoutMs: number, usage: NovaUsageSink) => Promise<NovaResult<T>>,
): Promise<Guarded<T>> {
  const name = ROLE_NAME[role];
  const usage = queueUsage(env, { waitUntil });
  const started = Date.now();
  const price = catalogModel(CATALOG_ID[role])?.cloud;
  if (!price) return { ok: false, why: `${name} has no catalog price` };
  const estimate = callCostUsd(price, promptTokens, maxTokens(role));
  const limit = positive(env.NOVA_BUDGET_USD_PER_MIN, DEFAULT_BUDGET_USD_PER_MIN);
  if (!budgetAllows(spent, started, estimate, limit)) {
    reportSkip(usage, role, novaModel(env, role), "budget");
    return { ok: false, why: `Nova budget of $${limit}/min exhausted` };
  }

  const service = BREAKER[role];
  const breaker = env.SERVICE_BREAKER.getByName(service);
  let gate: { admitted: boolean; probe: boolean };
  try {
    gate = await breaker.acquire(service);
  } catch {
    return { ok: false, why: `breaker ${service} unreachable` };
  }
  if (!gate.admitted) {
    reportSkip(usage, role, novaModel(env, role), "breaker_open");
    return { ok: false, why: `breaker ${service} open` };
  }
  const left = Math.min(roleTimeout(env, role), deadline - Date.now());
  if (left < 1) {
    waitUntil(breaker.abandonProbe(service).catch(() => {}));
    return { ok: false, why: "no SLA slack left after the breaker check" };
  }

  spent = spend(spent, started, estimate, promptTokens + maxTokens(role));
  const result = await run(left, usage);
  ewma[role] = nextEwma(ewma[role], result.ms);
  // A schema-violating answer is Nova's mistake, not an outage: the breaker does not count it.
  const failed = !result.ok && result.failure !== "invalid";
  waitUntil(
    breaker
      .record(service, { ok: !failed, durationMs: result.ms, probe: gate.probe })
      .catch(() => {}),
  );
  if (!result.ok) return { ok: false, why: `${name} ${result.failure} (${result.detail})` };
  const actual = callCostUsd(price, result.inputTokens, result.outputTokens);
  spent = spend(
    spent,
    Date.now(),
    actual - estimate,
    result.inputTokens + result.outputTokens - promptTokens - maxTokens(role),
  );
  return { ok: true, answer: result.answer };
}
