// Nova Micro and Nova Lite as the context agent's second opinion. Where the rules' class is
// borderline (shared/context.ts `borderline`: an `auto` model choice, complexity close to the
// simple/complex threshold), Micro's class and Lite's complexity — judged from the request's
// features only — are learned per request signature (`hintKey`) and reused for HINT_TTL_MS.
// On `auto` they are learned after the response (waitUntil) and used from the next alike request
// on, so no request waits for them; on `force` they are asked before deciding when the SLA slack
// covers both roles' budgets. Both calls go through the same guards as Nova Pro (guard.ts).

import { borderline, type ContextHint } from "../../shared/context.ts";
import type { Policy } from "../../shared/policy.ts";
import type { Decision, RouteRequest } from "../../shared/types.ts";
import { classify, novaModel, score } from "./client.ts";
import { guardedCall, roleBudgetMs, roleTimeout } from "./guard.ts";
import {
  cacheGet,
  cachePut,
  type Expiring,
  HINT_TTL_MS,
  hintKey,
  type RequestMode,
} from "./policy.ts";
import { converseInput, type RequestFeatures, type Role, requestFeatures } from "./request.ts";

const hints = new Map<string, Expiring<ContextHint>>();
/** Signatures being learned right now: one pair of calls per signature at a time. */
const learning = new Set<string>();

function wanted(env: Env, req: RouteRequest, policy: Policy, mode: RequestMode): boolean {
  return env.REASONING === "auto" && mode !== "off" && borderline(req, policy);
}

/** The learned hint for a borderline request like this one, if any. No I/O. */
export function cachedHint(
  env: Env,
  req: RouteRequest,
  policy: Policy,
  mode: RequestMode,
  now: number,
): ContextHint | undefined {
  if (!wanted(env, req, policy, mode)) return undefined;
  const hit = cacheGet(hints, hintKey(req), now);
  if (!hit) return undefined;
  const { expiresAt: _, ...hint } = hit;
  return { ...hint, source: `${hint.source} (cached)` };
}

export interface Consulted {
  hint?: ContextHint;
  /** Why the rules classify this one alone (a rationale item). */
  note?: string;
}

/**
 * For a borderline request without a learned hint, decided by the rules as `decision`: on
 * `force` with enough slack, asks Micro and Lite now and answers their hint (the caller decides
 * again with it); otherwise starts learning in the background and answers a note for the
 * rationale. Answers `{}` when no second opinion is wanted.
 */
export async function consultHints(
  env: Env,
  req: RouteRequest,
  policy: Policy,
  decision: Decision,
  mode: RequestMode,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Consulted> {
  if (!wanted(env, req, policy, mode)) return {};
  const key = hintKey(req);
  const features = requestFeatures(req, decision);
  const budgetMs = Math.max(roleBudgetMs("micro"), roleBudgetMs("lite"));
  const slack = req.constraints.latencySlaMs - decision.predicted.latencyMs;
  if (mode === "force" && slack >= budgetMs) {
    const asked = await ask(env, key, features, Date.now() + Math.floor(slack), waitUntil);
    if (asked.hint) return { hint: asked.hint };
    return { note: `${asked.why}; rules classify` };
  }
  if (!learning.has(key)) {
    learning.add(key);
    const deadline = Date.now() + Math.max(roleTimeout(env, "micro"), roleTimeout(env, "lite"));
    waitUntil(ask(env, key, features, deadline, waitUntil).finally(() => learning.delete(key)));
  }
  return {
    note: "borderline class: Nova Micro and Lite asked after this answer; alike requests use their view",
  };
}

/** Asks both roles at once and caches what came back; a hint needs at least one answer. */
async function ask(
  env: Env,
  key: string,
  features: RequestFeatures,
  deadline: number,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<{ hint: ContextHint; why?: undefined } | { hint?: undefined; why: string }> {
  const tokens = (role: Role) =>
    Math.ceil(JSON.stringify(converseInput(role, novaModel(env, role), features)).length / 4);
  const [c, s] = await Promise.all([
    guardedCall(env, "micro", tokens("micro"), deadline, waitUntil, (ms, usage) =>
      classify(env, features, ms, usage),
    ),
    guardedCall(env, "lite", tokens("lite"), deadline, waitUntil, (ms, usage) =>
      score(env, features, ms, usage),
    ),
  ]);
  if (!c.ok && !s.ok) return { why: `${c.why}; ${s.why}` };
  const hint: ContextHint = {
    source: c.ok && s.ok ? "Nova Micro + Lite" : c.ok ? "Nova Micro" : "Nova Lite",
  };
  if (c.ok) hint.classification = c.answer.classification;
  if (s.ok) hint.complexity = Math.round(s.answer.complexity * 1000) / 1000;
  cachePut(hints, key, hint, Date.now(), HINT_TTL_MS);
  return { hint };
}
