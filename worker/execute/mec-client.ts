// MEC tier: the site's OpenAI-compatible endpoint (vLLM, Ollama, TGI). Streams are read event by
// event and handed on as they come; nothing is buffered beyond one event. Every answer is checked
// before it is used (size, JSON, shape): a site that sends anything else has failed the attempt
// like one that reset, so the plan moves on and the client gets a typed error at worst.

import { waitUntil } from "cloudflare:workers";
import { BodyTooLarge, readTextWithin } from "../../shared/bounded-read.ts";
import { siteUrlAllowed } from "../../shared/fleet-schema.ts";
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  finishReasonOf,
  upstreamChunkSchema,
  upstreamCompletionSchema,
} from "../../shared/openai.ts";
import { retryAfterMs } from "../../shared/retry.ts";
import type { PlanStep } from "../../shared/types.ts";
import { fleetSource } from "../fleet/live-fleet-source.ts";
import { sseData } from "./sse.ts";
import {
  type StartedStream,
  type TierClient,
  transportFailure,
  UpstreamError,
  type UpstreamRequest,
} from "./upstream.ts";

function siteEndpoint(step: PlanStep, allowHttp: boolean): string {
  if (step.target.kind !== "site") throw new Error("not a MEC step");
  const { endpoint } = step.target;
  // Registration refuses plain http where it is not allowed; this catches sites registered
  // before the deployment stopped allowing it.
  if (!siteUrlAllowed(endpoint, allowHttp)) {
    throw new UpstreamError("site endpoint is not https", { failure: "connect" });
  }
  return endpoint.replace(/\/$/, "");
}

/** vLLM's answer to a non-zero `priority` under its default policy (fcfs). */
const PRIORITY_REFUSED = /priority scheduling is not enabled/i;
/** Enough of a 400's body to read vLLM's message. */
const MAX_ERROR_BYTES = 4_096;

/**
 * Tells the site's agent that the site refused a priority (registered `priority`, running fcfs),
 * so the fleet stops sending it one; this isolate re-reads the fleet once the agent has it.
 */
function priorityRefused(env: Env, siteId: string): void {
  waitUntil(
    env.SITE_AGENT.getByName(siteId)
      .refusePriority()
      .then((changed) => {
        if (changed) fleetSource(env).invalidate();
      })
      .catch(() => {}),
  );
}

async function post(
  env: Env,
  step: PlanStep,
  body: Record<string, unknown>,
  signal: AbortSignal,
  allowHttp: boolean,
  withPriority = true,
): Promise<Response> {
  const url = `${siteEndpoint(step, allowHttp)}/chat/completions`;
  // Only a site registered with priority scheduling gets one: vLLM refuses it under fcfs.
  const priority = withPriority && step.target.kind === "site" ? step.target.priority : undefined;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(priority === undefined ? body : { ...body, priority }),
      signal,
    });
  } catch (err) {
    throw new UpstreamError("site unreachable", { failure: transportFailure(err, signal) });
  }
  if (!res.ok && res.status === 400 && priority && step.target.kind === "site") {
    const text = await readTextWithin(res, MAX_ERROR_BYTES).catch(() => "");
    if (PRIORITY_REFUSED.test(text)) {
      // The operator's registration is wrong, not the request: send it again without one.
      priorityRefused(env, step.target.siteId);
      return post(env, step, body, signal, allowHttp, false);
    }
    throw new UpstreamError("site answered HTTP 400", { status: 400 });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const retryAfter = retryAfterMs(res.headers.get("retry-after") ?? undefined, Date.now());
    throw new UpstreamError(`site answered HTTP ${res.status}`, {
      status: res.status,
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    });
  }
  return res;
}

/** Far above any real answer (200,000 output tokens are under 1 MiB of JSON). */
export const MAX_SITE_ANSWER_BYTES = 8 * 1024 * 1024;

function malformed(what: string): UpstreamError {
  return new UpstreamError(`site sent a malformed ${what}`, { failure: "reset" });
}

type SiteUsage = { prompt_tokens: number; completion_tokens: number; total_tokens?: number };

function usageOf(u: SiteUsage | null | undefined) {
  if (!u) return {};
  return { usage: { ...u, total_tokens: u.total_tokens ?? u.prompt_tokens + u.completion_tokens } };
}

/** A site's answer as clients get it: checked, OpenAI's fixed fields set. */
export function completionFromSite(json: unknown, now: number): ChatCompletion | undefined {
  const parsed = upstreamCompletionSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { usage, ...a } = parsed.data;
  return {
    ...a,
    object: "chat.completion",
    created: a.created ?? Math.floor(now / 1000),
    model: a.model ?? "",
    choices: a.choices.map(({ message, finish_reason, ...c }) => {
      const { tool_calls, content, ...rest } = message;
      return {
        ...c,
        message: {
          ...rest,
          role: "assistant",
          content: content ?? null,
          refusal: null,
          ...(tool_calls?.length
            ? { tool_calls: tool_calls.map((t) => ({ ...t, type: "function" as const })) }
            : {}),
        },
        logprobs: c.logprobs ?? null,
        finish_reason: finishReasonOf(finish_reason),
      };
    }),
    ...usageOf(usage),
  };
}

/** One streamed chunk, checked the same way; undefined when it is not one. */
export function chunkFromSite(json: unknown, now: number): ChatCompletionChunk | undefined {
  const parsed = upstreamChunkSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { usage, ...k } = parsed.data;
  return {
    ...k,
    id: k.id ?? "",
    object: "chat.completion.chunk",
    created: k.created ?? Math.floor(now / 1000),
    model: k.model ?? "",
    choices: k.choices.map(({ delta, finish_reason, ...c }) => {
      const { tool_calls, ...d } = delta;
      return {
        ...c,
        delta: { ...d, ...(tool_calls ? { tool_calls } : {}) },
        logprobs: c.logprobs ?? null,
        finish_reason: finish_reason == null ? null : finishReasonOf(finish_reason),
      };
    }),
    // OpenAI sends `usage: null` on every chunk but the last; the plan runner holds it back.
    ...(usage === null ? { usage: null } : usageOf(usage)),
  };
}

export function mecClient(env: Env): TierClient {
  const allowHttp = env.ALLOW_HTTP_SITES === "true";
  return {
    async complete(step, req: UpstreamRequest, signal): Promise<ChatCompletion> {
      const res = await post(
        env,
        step,
        { ...req, model: step.model, stream: false, stream_options: undefined },
        signal,
        allowHttp,
      );
      let text: string;
      try {
        text = await readTextWithin(res, MAX_SITE_ANSWER_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) throw malformed("answer (too large)");
        throw new UpstreamError("site sent an unreadable answer", {
          failure: transportFailure(err, signal),
        });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw malformed("answer (not JSON)");
      }
      const completion = completionFromSite(json, Date.now());
      if (!completion) throw malformed("answer");
      return completion;
    },

    async stream(step, req, signal): Promise<StartedStream> {
      const body = {
        ...req,
        model: step.model,
        stream: true,
        stream_options: { include_usage: true },
      };
      const res = await post(env, step, body, signal, allowHttp);
      if (!res.body) throw new UpstreamError("site sent no body", { failure: "reset" });
      const events = sseData(res.body);
      const chunks = (async function* () {
        for await (const data of events) {
          if (data === "[DONE]") return;
          let json: unknown;
          try {
            json = JSON.parse(data);
          } catch {
            throw malformed("event (not JSON)");
          }
          if (typeof json === "object" && json !== null && "error" in json) {
            throw new UpstreamError("site reported an error mid-stream", { failure: "reset" });
          }
          const chunk = chunkFromSite(json, Date.now());
          if (!chunk) throw malformed("event");
          yield chunk;
        }
      })();
      let first: IteratorResult<ChatCompletionChunk>;
      try {
        first = await chunks.next();
      } catch (err) {
        if (err instanceof UpstreamError) throw err;
        throw new UpstreamError("site stream broke", { failure: transportFailure(err, signal) });
      }
      if (first.done) throw new UpstreamError("site stream ended empty", { failure: "reset" });
      return {
        first: first.value,
        rest: chunks,
        cancel: async () => {
          await chunks.return(undefined).catch(() => {});
        },
      };
    },
  };
}
