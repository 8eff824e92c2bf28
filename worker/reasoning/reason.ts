// The hot-path shell of Nova reasoning: after the rules decided, maybe ask Nova Pro to choose
// among their feasible targets (policy.ts says when), within the request's SLA slack, the
// role's breaker and the isolate's spend budget. Any failure keeps the rules' decision.
// Isolate memory: the decision cache, the latency EWMA per role, this minute's spend.

import { catalogModel } from "../../shared/catalog.ts";
import type { Decision, RouteRequest } from "../../shared/types.ts";
import { decideWithNova, novaModel } from "./client.ts";
import {
  applyChoice,
  budgetAllows,
  type CachedChoice,
  cacheGet,
  cacheKey,
  cachePut,
  callCostUsd,
  checkChoice,
  DEFAULT_BUDGET_USD_PER_MIN,
  DEFAULT_TIMEOUT_MS,
  gate,
  keepRules,
  latencyBudget,
  NO_SPEND,
  nextEwma,
  type RequestMode,
  type Spend,
  spend,
} from "./policy.ts";
import { candidatesOf, converseInput, maxTokens, type Role, requestFeatures } from "./request.ts";

const cache = new Map<string, CachedChoice>();
const ewma: Partial<Record<Role, number>> = {};
let spent: Spend = NO_SPEND;

export const BREAKER: Record<Role, string> = {
  micro: "nova:micro",
  lite: "nova:lite",
  pro: "nova:pro",
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

/**
 * The rules' decision, or Nova Pro's re-ordering of it. Returns at once (no I/O) unless
 * reasoning is on, wanted, and the SLA slack covers Nova Pro's latency budget.
 */
export async function maybeReason(
  env: Env,
  req: RouteRequest,
  decision: Decision,
  mode: RequestMode,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Decision> {
  const operator = env.REASONING === "auto" ? "auto" : "off";
  const started = Date.now();
  const g = gate(
    operator,
    mode,
    decision,
    req.constraints.latencySlaMs,
    latencyBudget("pro", ewma.pro),
    roleTimeout(env, "pro"),
  );
  if (!g.call) return g.why ? keepRules(decision, g.why) : decision;
  const candidates = candidatesOf(decision);
  // One feasible target leaves nothing to choose.
  if (candidates.length < 2) return decision;

  const key = cacheKey(
    req,
    decision,
    candidates.map((c) => c.key),
  );
  const hit = cacheGet(cache, key, started);
  if (hit) return applyChoice(decision, hit.primary, hit.rationale, true);

  const features = requestFeatures(req, decision);
  const price = catalogModel("nova-pro")?.cloud;
  if (!price) return keepRules(decision, "Nova Pro has no catalog price; rules decide");
  const promptTokens = Math.ceil(
    JSON.stringify(converseInput("pro", novaModel(env, "pro"), features, candidates)).length / 4,
  );
  const estimate = callCostUsd(price, promptTokens, maxTokens("pro"));
  const limit = positive(env.NOVA_BUDGET_USD_PER_MIN, DEFAULT_BUDGET_USD_PER_MIN);
  if (!budgetAllows(spent, started, estimate, limit)) {
    return keepRules(decision, `Nova budget of $${limit}/min exhausted; rules decide`);
  }

  const service = BREAKER.pro;
  const breaker = env.SERVICE_BREAKER.getByName(service);
  let gateOpen: { admitted: boolean; probe: boolean };
  try {
    gateOpen = await breaker.acquire(service);
  } catch {
    return keepRules(decision, `breaker ${service} unreachable; rules decide`);
  }
  if (!gateOpen.admitted) return keepRules(decision, `breaker ${service} open; rules decide`);
  const left = g.waitMs - (Date.now() - started);
  if (left < 1) {
    waitUntil(breaker.abandonProbe(service).catch(() => {}));
    return keepRules(decision, "no SLA slack left after the breaker check; rules decide");
  }

  spent = spend(spent, started, estimate, promptTokens + maxTokens("pro"));
  const result = await decideWithNova(env, features, candidates, left);
  ewma.pro = nextEwma(ewma.pro, result.ms);
  const probe = gateOpen.probe;
  const failed = !result.ok && result.failure !== "invalid";
  waitUntil(breaker.record(service, { ok: !failed, durationMs: result.ms, probe }).catch(() => {}));
  if (!result.ok) {
    return keepRules(decision, `Nova Pro ${result.failure} (${result.detail}); rules decide`);
  }
  // Settle the estimate against what Bedrock reports.
  const actual = callCostUsd(price, result.inputTokens, result.outputTokens);
  spent = spend(
    spent,
    Date.now(),
    actual - estimate,
    result.inputTokens + result.outputTokens - promptTokens - maxTokens("pro"),
  );
  const verdict = checkChoice(result.answer, candidates, decision);
  if (!verdict.ok) return keepRules(decision, `${verdict.why}; discarded, rules decide`);
  cachePut(cache, key, { primary: verdict.primary, rationale: result.answer.rationale }, started);
  return applyChoice(decision, verdict.primary, result.answer.rationale, false);
}
