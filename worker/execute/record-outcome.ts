// The outcome of a run the worker executed, as a queue event (after the response).

import type { Context } from "hono";
import { outcomeFromRun } from "../../shared/events.ts";
import type { Decided } from "../decide-request.ts";
import { sendEvents } from "../monitor/producer.ts";
import type { AppEnv } from "../types.ts";
import { type AttemptRecord, ExecutionFailed, UpstreamRejected } from "./run-plan.ts";

export interface RunEnd {
  ok: boolean;
  attempts: AttemptRecord[];
  ttftMs?: number;
  tokens?: { input: number; output: number };
}

export function recordOutcome(c: Context<AppEnv>, decided: Decided, end: RunEnd): void {
  const now = Date.now();
  sendEvents(c.env, c.executionCtx, [
    outcomeFromRun({
      decisionId: decided.decisionId,
      time: now,
      request: decided.req,
      decision: decided.decision,
      attempts: end.attempts,
      ok: end.ok,
      latencyMs: now - decided.now,
      ttftMs: end.ttftMs,
      tokens: end.tokens,
      tenant: decided.principal?.tenantId,
      charged: decided.chargedUsd > 0,
    }),
  ]);
}

/** Records a run that threw (every target failed, or the upstream rejected it), then rethrows. */
export function recordFailure(c: Context<AppEnv>, decided: Decided, err: unknown): never {
  if (err instanceof ExecutionFailed || err instanceof UpstreamRejected) {
    recordOutcome(c, decided, { ok: false, attempts: err.attempts });
  }
  throw err;
}

export function tokensOf(
  usage: { prompt_tokens?: number; completion_tokens?: number } | undefined,
) {
  return usage
    ? { input: usage.prompt_tokens ?? 0, output: usage.completion_tokens ?? 0 }
    : undefined;
}
