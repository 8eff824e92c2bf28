// POST /v1/chat/completions — OpenAI-compatible: decide where it runs (MEC site or cloud, never
// the device here), then run it there with retries and failover, streaming or not. Every
// response says where it ran.

import type { Context } from "hono";
import { Hono } from "hono";
import {
  chatHintsSchema,
  hintsFromHeaders,
  routeInputFromChat,
} from "../../shared/chat-routing.ts";
import {
  type ChatCompletionRequest,
  chatCompletionRequestSchema,
  remoteMediaPaths,
} from "../../shared/openai.ts";
import { routeRequestSchema } from "../../shared/route-request.ts";
import { requireRole } from "../auth.ts";
import { decideRequest } from "../decide-request.ts";
import { InvalidRequest, refuseRemoteMedia } from "../errors.ts";
import { executionDeps } from "../execute/deps.ts";
import { recordFailure, recordOutcome, tokensOf } from "../execute/record-outcome.ts";
import { runComplete, runStream, targetName } from "../execute/run-plan.ts";
import type { UpstreamRequest } from "../execute/upstream.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson, toFieldIssues } from "../validate.ts";

export const chatApp = new Hono<AppEnv>();

/** Chat bodies carry images and long histories. */
export const MAX_CHAT_BODY_BYTES = 8 * 1024 * 1024;

function hints(c: Context<AppEnv>, body: ChatCompletionRequest) {
  const fromHeaders = hintsFromHeaders((name) => c.req.header(name));
  const fromBody = body.mec ?? {};
  const merged = {
    ...fromHeaders,
    ...fromBody,
    constraints: {
      ...(fromHeaders.constraints as object | undefined),
      ...(fromBody.constraints as object | undefined),
    },
  };
  const parsed = chatHintsSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error.issues).map((i) => ({ ...i, path: `mec.${i.path}` }));
    throw new InvalidRequest("routing hints failed validation", issues);
  }
  return parsed.data;
}

/** The request as tiers get it: no routing hints. */
function upstreamRequest(body: ChatCompletionRequest): UpstreamRequest {
  const { mec: _mec, ...rest } = body;
  return rest;
}

chatApp.post("/", limitBody(MAX_CHAT_BODY_BYTES), requireRole("device", "operator"), async (c) => {
  const body = await readJson(c, chatCompletionRequestSchema);
  refuseRemoteMedia(remoteMediaPaths(body.messages));
  const input = routeInputFromChat(body, hints(c, body));
  input.task.payloadBytes = Number(c.req.header("content-length") ?? 0) || 0;
  const checked = routeRequestSchema.safeParse(input);
  if (!checked.success) {
    const issues = toFieldIssues(checked.error.issues).map((i) => ({
      ...i,
      path: `mec.${i.path}`,
    }));
    throw new InvalidRequest("routing hints failed validation", issues);
  }
  const decided = await decideRequest(c, checked.data, { spend: true });
  const { req, decision, decisionId, now, waitUntil } = decided;
  const deps = executionDeps(c.env, waitUntil, {
    criticality: req.task.criticality,
    tenant: decided.principal?.tenantId,
  });
  const deadline = now + req.constraints.latencySlaMs;
  const upstream = upstreamRequest(body);
  const headers = (target: string, tier: string, attempts: number) => ({
    "x-mec-decision-id": decisionId,
    "x-mec-tier": tier,
    "x-mec-target": target,
    "x-mec-attempts": String(attempts),
  });

  if (body.stream) {
    // The deadline bounds reaching a first token; once streaming, only a stall moves it on.
    const run = await runStream(deps, decision, upstream, deadline, {
      id: `chatcmpl-${decisionId}`,
      includeUsage: body.stream_options?.include_usage === true,
      clientSignal: c.req.raw.signal,
      onDone: (end) =>
        recordOutcome(c, decided, {
          ok: end.ok,
          attempts: end.attempts,
          ttftMs: end.ttftMs,
          tokens: { input: end.usage.prompt_tokens, output: end.usage.completion_tokens },
        }),
    }).catch((err: unknown) => recordFailure(c, decided, err));
    return new Response(run.body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        ...headers(targetName(run.step), run.step.tier, run.attempts.length),
      },
    });
  }
  const run = await runComplete(deps, decision, upstream, deadline, c.req.raw.signal).catch(
    (err: unknown) => recordFailure(c, decided, err),
  );
  recordOutcome(c, decided, {
    ok: true,
    attempts: run.attempts,
    tokens: tokensOf(run.completion.usage),
  });
  for (const [k, v] of Object.entries(
    headers(targetName(run.step), run.step.tier, run.attempts.length),
  )) {
    c.header(k, v);
  }
  return c.json(run.completion);
});
