// The hot-path shell of Nova reasoning: after the rules decided, maybe ask Nova Pro to choose
// among their feasible targets (policy.ts says when), within the request's SLA slack, the
// role's breaker and the isolate's spend budget. Any failure keeps the rules' decision.
// Isolate memory: the decision cache (the guards and their state are in guard.ts).

import type { Decision, RouteRequest } from "../../shared/types.ts";
import { decideWithNova, novaModel } from "./client.ts";
import { guardedCall, roleBudgetMs, roleTimeout } from "./guard.ts";
import {
  applyChoice,
  type CachedChoice,
  cacheGet,
  cacheKey,
  cachePut,
  checkChoice,
  gate,
  keepRules,
  type RequestMode,
} from "./policy.ts";
import { candidatesOf, converseInput, requestFeatures } from "./request.ts";

const cache = new Map<string, CachedChoice>();

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
    roleBudgetMs("pro"),
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
  const promptTokens = Math.ceil(
    JSON.stringify(converseInput("pro", novaModel(env, "pro"), features, candidates)).length / 4,
  );
  const result = await guardedCall(
    env,
    "pro",
    promptTokens,
    started + g.waitMs,
    waitUntil,
    (ms, usage) => decideWithNova(env, features, candidates, ms, usage),
  );
  if (!result.ok) return keepRules(decision, `${result.why}; rules decide`);
  const verdict = checkChoice(result.answer, candidates, decision);
  if (!verdict.ok) return keepRules(decision, `${verdict.why}; discarded, rules decide`);
  cachePut(cache, key, { primary: verdict.primary, rationale: result.answer.rationale }, started);
  return applyChoice(decision, verdict.primary, result.answer.rationale, false);
}
