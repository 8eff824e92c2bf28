// When the router asks Nova, and what it does with the answer. Pure: every function takes the
// state and the clock it needs, so the isolate shell (reason.ts) only keeps the state.

import type { Decision, RationaleItem, RouteRequest } from "../../shared/types.ts";
import { type CandidateView, type DecideAnswer, type Role, targetKey } from "./request.ts";

export type OperatorMode = "off" | "auto";
export type RequestMode = "off" | "auto" | "force";

/** Below this confidence the rules are "unsure" and Nova Pro may re-decide. */
export const CONFIDENCE_THRESHOLD = 0.5;
/** Latency assumed for a role before (and never below) the measured EWMA, ms. */
export const DEFAULT_LATENCY_BUDGET_MS: Record<Role, number> = { micro: 250, lite: 400, pro: 900 };
export const DEFAULT_TIMEOUT_MS: Record<Role, number> = { micro: 400, lite: 600, pro: 1500 };
export const EWMA_ALPHA = 0.2;
export const CACHE_TTL_MS = 60_000;
export const CACHE_MAX_ENTRIES = 1_000;
export const DEFAULT_BUDGET_USD_PER_MIN = 0.05;
/** How long a learned context hint (Nova Micro + Lite) serves requests alike. */
export const HINT_TTL_MS = 10 * 60_000;

// ---- whether to call -----------------------------------------------------------------------

export type Gate = { call: true; waitMs: number } | { call: false; why?: string | undefined };

/**
 * Whether to ask Nova Pro about a decision the rules made. `why` is set when the request wanted
 * reasoning but did not get it (a rationale item); silent when reasoning was simply not needed.
 */
export function gate(
  operator: OperatorMode,
  mode: RequestMode,
  decision: Decision,
  sla: number,
  budgetMs: number,
  timeoutMs: number,
): Gate {
  if (operator === "off" || mode === "off") return { call: false };
  if (mode === "auto" && decision.confidence >= CONFIDENCE_THRESHOLD) return { call: false };
  const slack = sla - decision.predicted.latencyMs;
  if (slack < budgetMs) {
    return {
      call: false,
      why: `SLA slack ${Math.round(slack)} ms < Nova Pro budget ${Math.round(budgetMs)} ms; rules decide`,
    };
  }
  return { call: true, waitMs: Math.max(1, Math.min(timeoutMs, Math.floor(slack))) };
}

/** The latency budget of a role: the measured EWMA, never below the default. */
export function latencyBudget(role: Role, ewmaMs: number | undefined): number {
  return Math.max(DEFAULT_LATENCY_BUDGET_MS[role], ewmaMs ?? 0);
}

export function nextEwma(prev: number | undefined, sampleMs: number): number {
  return prev === undefined ? sampleMs : prev + EWMA_ALPHA * (sampleMs - prev);
}

// ---- spend budget --------------------------------------------------------------------------

export interface Spend {
  /** Epoch minute the counters are for. */
  minute: number;
  usd: number;
  tokens: number;
}

export const NO_SPEND: Spend = { minute: 0, usd: 0, tokens: 0 };

function current(s: Spend, now: number): Spend {
  const minute = Math.floor(now / 60_000);
  return s.minute === minute ? s : { minute, usd: 0, tokens: 0 };
}

/** Whether a call estimated at `usd` still fits this minute's budget. */
export function budgetAllows(s: Spend, now: number, usd: number, limitUsd: number): boolean {
  return current(s, now).usd + usd <= limitUsd;
}

export function spend(s: Spend, now: number, usd: number, tokens: number): Spend {
  const c = current(s, now);
  return { minute: c.minute, usd: c.usd + usd, tokens: c.tokens + tokens };
}

/** Catalog price of a call: per-1k-token input and output prices. */
export function callCostUsd(
  price: { inputPer1kUsd: number; outputPer1kUsd: number },
  inputTokens: number,
  outputTokens: number,
): number {
  return (inputTokens / 1000) * price.inputPer1kUsd + (outputTokens / 1000) * price.outputPer1kUsd;
}

// ---- decision cache ------------------------------------------------------------------------

/** A cached value and when it expires (epoch ms). */
export type Expiring<T> = T & { expiresAt: number };

export type CachedChoice = Expiring<{ primary: string; rationale: string }>;

/** Requests alike in everything Nova sees, bucketed, with the same feasible targets. */
export function cacheKey(req: RouteRequest, decision: Decision, feasible: string[]): string {
  const c = req.constraints;
  return JSON.stringify([
    req.task.modality,
    Math.round(decision.complexity * 10),
    Math.round(Math.log2(Math.max(1, c.latencySlaMs))),
    c.privacy,
    [...c.dataResidency].sort(),
    [...c.compliance].sort(),
    [...feasible].sort(),
  ]);
}

export function cacheGet<T>(
  cache: Map<string, Expiring<T>>,
  key: string,
  now: number,
): Expiring<T> | undefined {
  const hit = cache.get(key);
  if (!hit) return undefined;
  if (hit.expiresAt <= now) {
    cache.delete(key);
    return undefined;
  }
  return hit;
}

/** Stores `value` for `ttlMs`, evicting the oldest entries beyond CACHE_MAX_ENTRIES. */
export function cachePut<T extends object>(
  cache: Map<string, Expiring<T>>,
  key: string,
  value: T,
  now: number,
  ttlMs = CACHE_TTL_MS,
): void {
  cache.delete(key);
  cache.set(key, { ...value, expiresAt: now + ttlMs });
  // Insertion order: the first key is the oldest.
  while (cache.size > CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest === undefined) break;
    cache.delete(oldest);
  }
}

/**
 * Requests alike in the shape Nova Micro and Lite judge: modality, criticality, sizes in
 * powers of two, the SLA's order of magnitude and what it bounds.
 */
export function hintKey(req: RouteRequest): string {
  const t = req.task;
  const log2 = (x: number) => Math.round(Math.log2(1 + Math.max(0, x)));
  return JSON.stringify([
    t.modality,
    t.criticality,
    log2(t.inputTokens),
    log2(t.maxOutputTokens),
    log2(t.payloadBytes / 1024),
    log2(req.constraints.latencySlaMs),
    req.constraints.latencyTarget,
  ]);
}

// ---- safety --------------------------------------------------------------------------------

export type Verdict = { ok: true; primary: string } | { ok: false; why: string };

/** Nova's choice is kept only when it names one of the rules' feasible (non-rejected) targets. */
export function checkChoice(
  answer: Pick<DecideAnswer, "primary">,
  candidates: CandidateView[],
  decision: Decision,
): Verdict {
  const key = answer.primary;
  if (candidates.some((c) => c.key === key)) return { ok: true, primary: key };
  if (decision.rejected.some((r) => r.target === key)) {
    return { ok: false, why: `Nova Pro chose ${clip(key, 64)}, which the rules rejected` };
  }
  return { ok: false, why: `Nova Pro chose unknown target ${clip(key, 64)}` };
}

/**
 * The rules' decision with Nova's primary first and the rules' backups minus it (the rules'
 * former primary kept as the last backup), marked `nova-pro` with Nova's reason.
 */
export function applyChoice(
  decision: Decision,
  primary: string,
  reason: string,
  cached: boolean,
): Decision {
  const steps = [decision.plan.primary, ...decision.plan.backups];
  const chosen = steps.find((s) => targetKey(s) === primary);
  if (!chosen) return decision;
  const note: RationaleItem = {
    factor: "reasoning",
    detail: `${cached ? "Nova Pro (cached) chose" : "Nova Pro chose"} ${primary}: ${clip(reason, 200)}`,
  };
  if (chosen === decision.plan.primary) {
    return { ...decision, reasoner: "nova-pro", rationale: [...decision.rationale, note] };
  }
  const backups = decision.plan.backups.filter((s) => s !== chosen);
  backups.push(decision.plan.primary);
  return {
    ...decision,
    tier: chosen.tier,
    target: chosen.target,
    model: chosen.model,
    predicted: {
      latencyMs: chosen.predictedLatencyMs,
      // The step keeps only the latency under the request's target: an upper bound of the first token.
      firstTokenMs: chosen.predictedLatencyMs,
      costUsd: chosen.predictedCostUsd,
    },
    plan: { ...decision.plan, primary: chosen, backups },
    reasoner: "nova-pro",
    rationale: [...decision.rationale, note],
  };
}

/** The rules' decision with a rationale item saying why Nova's view was not used. */
export function keepRules(decision: Decision, why: string): Decision {
  return { ...decision, rationale: [...decision.rationale, { factor: "reasoning", detail: why }] };
}

export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
