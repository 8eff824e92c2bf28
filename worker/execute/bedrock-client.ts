// Cloud tier: Amazon Bedrock `Converse` / `ConverseStream` through the AWS SDK, translated to and
// from the OpenAI format. Credentials come from wrangler secrets; `BEDROCK_ENDPOINT` points the
// SDK at a local Converse stand-in for development and tests.

import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamCommandInput,
  type ConverseStreamOutput,
} from "@aws-sdk/client-bedrock-runtime";
import * as z from "zod/mini";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
} from "../../shared/openai.ts";
import {
  createConverseStreamTranslator,
  fromConverseResponse,
  toConverseRequest,
} from "../../shared/openai-converse.ts";
import type { PlanStep } from "../../shared/types.ts";
import {
  type StartedStream,
  type TierClient,
  transportFailure,
  UpstreamError,
  type UpstreamRequest,
} from "./upstream.ts";

const clients = new Map<string, BedrockRuntimeClient>();

/**
 * What a Converse answer must hold before it is translated (the SDK checks field types, not that
 * the message is there): a message with content blocks, and why it stopped.
 */
const converseAnswerSchema = z.looseObject({
  output: z.looseObject({
    message: z.looseObject({ content: z.array(z.looseObject({ text: z.optional(z.string()) })) }),
  }),
  stopReason: z.string(),
  usage: z.optional(
    z.looseObject({
      inputTokens: z.int().check(z.gte(0)),
      outputTokens: z.int().check(z.gte(0)),
    }),
  ),
});

function clientFor(env: Env, region: string): BedrockRuntimeClient {
  const key = `${region}|${env.BEDROCK_ENDPOINT}|${env.AWS_ACCESS_KEY_ID}`;
  let client = clients.get(key);
  if (!client) {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
      throw new UpstreamError("Bedrock credentials are not configured", { status: 503 });
    }
    client = new BedrockRuntimeClient({
      region,
      ...(env.BEDROCK_ENDPOINT ? { endpoint: env.BEDROCK_ENDPOINT } : {}),
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
        ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      },
      // The plan runner retries, within its budget; the SDK must not multiply that.
      maxAttempts: 1,
    });
    clients.set(key, client);
  }
  return client;
}

function cloudTarget(step: PlanStep): { region: string; modelId: string } {
  if (step.target.kind !== "cloud") throw new Error("not a cloud step");
  return step.target;
}

/** SDK errors carry the HTTP status in `$metadata`; transport errors do not. */
function toUpstreamError(err: unknown, signal: AbortSignal): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  const status = meta?.httpStatusCode;
  const name = err instanceof Error ? err.name : "Error";
  if (status !== undefined && status >= 400) {
    return new UpstreamError(`Bedrock answered ${name} (HTTP ${status})`, { status });
  }
  if (name === "ThrottlingException")
    return new UpstreamError("Bedrock throttled", { status: 429 });
  return new UpstreamError(`Bedrock call failed (${name})`, {
    failure: transportFailure(err, signal),
  });
}

function converseInput(req: UpstreamRequest, modelId: string) {
  const translated = toConverseRequest(req as ChatCompletionRequest, { modelId });
  if (!translated.ok) {
    throw new UpstreamError(`cannot send this request to Bedrock: ${translated.message}`, {
      status: 400,
    });
  }
  return translated.request;
}

export function bedrockClient(env: Env): TierClient {
  return {
    async complete(step, req, signal): Promise<ChatCompletion> {
      const { region, modelId } = cloudTarget(step);
      try {
        const input = converseInput(req, modelId) as ConverseCommandInput;
        const out = await clientFor(env, region).send(new ConverseCommand(input), {
          abortSignal: signal,
        });
        if (!converseAnswerSchema.safeParse(out).success) {
          throw new UpstreamError("Bedrock sent a malformed answer", { failure: "reset" });
        }
        return fromConverseResponse(out, {
          id: `chatcmpl-${crypto.randomUUID()}`,
          model: step.model,
          created: Math.floor(Date.now() / 1000),
        });
      } catch (err) {
        throw toUpstreamError(err, signal);
      }
    },

    async stream(step, req, signal): Promise<StartedStream> {
      const { region, modelId } = cloudTarget(step);
      let events: AsyncIterable<ConverseStreamOutput>;
      try {
        const input = converseInput(req, modelId) as ConverseStreamCommandInput;
        const out = await clientFor(env, region).send(new ConverseStreamCommand(input), {
          abortSignal: signal,
        });
        if (!out.stream) throw new UpstreamError("Bedrock sent no stream", { failure: "reset" });
        events = out.stream;
      } catch (err) {
        throw toUpstreamError(err, signal);
      }
      const translator = createConverseStreamTranslator({
        id: `chatcmpl-${crypto.randomUUID()}`,
        model: step.model,
        created: Math.floor(Date.now() / 1000),
        includeUsage: true,
      });
      const chunks = (async function* (): AsyncGenerator<ChatCompletionChunk> {
        try {
          for await (const event of events) {
            for (const chunk of translator.onEvent(event)) yield chunk;
          }
        } catch (err) {
          throw toUpstreamError(err, signal);
        }
        for (const chunk of translator.finish()) yield chunk;
      })();
      const first = await chunks.next();
      if (first.done) throw new UpstreamError("Bedrock stream ended empty", { failure: "reset" });
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
