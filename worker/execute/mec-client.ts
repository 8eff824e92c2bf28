// MEC tier: the site's OpenAI-compatible endpoint (vLLM, Ollama, TGI). Streams are read event by
// event and handed on as they come; nothing is buffered beyond one event.

import { siteUrlAllowed } from "../../shared/fleet-schema.ts";
import type { ChatCompletion, ChatCompletionChunk } from "../../shared/openai.ts";
import { retryAfterMs } from "../../shared/retry.ts";
import type { PlanStep } from "../../shared/types.ts";
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

async function post(
  step: PlanStep,
  body: Record<string, unknown>,
  signal: AbortSignal,
  allowHttp: boolean,
): Promise<Response> {
  const url = `${siteEndpoint(step, allowHttp)}/chat/completions`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    throw new UpstreamError("site unreachable", { failure: transportFailure(err, signal) });
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

export function mecClient(env: Env): TierClient {
  const allowHttp = env.ALLOW_HTTP_SITES === "true";
  return {
    async complete(step, req: UpstreamRequest, signal): Promise<ChatCompletion> {
      const res = await post(
        step,
        { ...req, model: step.model, stream: false, stream_options: undefined },
        signal,
        allowHttp,
      );
      try {
        return (await res.json()) as ChatCompletion;
      } catch (err) {
        throw new UpstreamError("site sent an unreadable answer", {
          failure: transportFailure(err, signal),
        });
      }
    },

    async stream(step, req, signal): Promise<StartedStream> {
      const body = {
        ...req,
        model: step.model,
        stream: true,
        stream_options: { include_usage: true },
      };
      const res = await post(step, body, signal, allowHttp);
      if (!res.body) throw new UpstreamError("site sent no body", { failure: "reset" });
      const events = sseData(res.body);
      const chunks = (async function* () {
        for await (const data of events) {
          if (data === "[DONE]") return;
          let chunk: ChatCompletionChunk;
          try {
            chunk = JSON.parse(data) as ChatCompletionChunk;
          } catch {
            throw new UpstreamError("site sent a malformed event", { failure: "reset" });
          }
          if ((chunk as { error?: unknown }).error) {
            throw new UpstreamError("site reported an error mid-stream", { failure: "reset" });
          }
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
