// Nova on Bedrock: one Converse call per role with the role's tool forced, the tool input
// validated with zod. Model ids and region from wrangler vars (cross-region profile ids such as
// `eu.amazon.nova-lite-v1:0` allowed); `NOVA_ENDPOINT`, else `BEDROCK_ENDPOINT`, points the SDK
// at a stand-in. Never throws: every failure is a typed outcome the caller turns into rules.
//
// Metering: every call, whatever its role, goes through `converse`, which hands one usage event
// (role, model, outcome, tokens, cost; never content) to the caller's `NovaUsageSink`; the sink
// sends it to the monitor through the queue (usage.ts).

import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
} from "@aws-sdk/client-bedrock-runtime";
import { type NovaOutcome, type NovaRole, novaUsageEvent } from "../../shared/events.ts";
import {
  type CandidateView,
  type ClassifyAnswer,
  classifyAnswerSchema,
  converseInput,
  type DecideAnswer,
  decideAnswerSchema,
  type RequestFeatures,
  type Role,
  type ScoreAnswer,
  scoreAnswerSchema,
} from "./request.ts";
import {
  REVIEW_ROLE_MODEL,
  type ReviewAnswer,
  type ReviewSummary,
  reviewAnswerSchema,
  reviewConverseInput,
} from "./review.ts";
import type { NovaUsageSink } from "./usage.ts";

export const DEFAULT_MODELS: Record<Role, string> = {
  micro: "amazon.nova-micro-v1:0",
  lite: "amazon.nova-lite-v1:0",
  pro: "amazon.nova-pro-v1:0",
};
export const DEFAULT_NOVA_REGION = "eu-central-1";

const MODEL_ID = /^(?:(?:us|eu|apac|global)\.)?amazon\.nova-[a-z0-9-]+-v\d+:\d+$/;

export function novaModel(env: Env, role: Role): string {
  const raw = (
    role === "micro"
      ? env.NOVA_MICRO_MODEL
      : role === "lite"
        ? env.NOVA_LITE_MODEL
        : env.NOVA_PRO_MODEL
  )?.trim();
  return raw && MODEL_ID.test(raw) ? raw : DEFAULT_MODELS[role];
}

export type Failure = "timeout" | "throttled" | "error" | "invalid";

export type NovaResult<T> =
  | { ok: true; answer: T; inputTokens: number; outputTokens: number; ms: number }
  | {
      ok: false;
      failure: Failure;
      detail: string;
      ms: number;
      /** What Bedrock billed for an answer that was then refused (`invalid`). */
      tokens?: { inputTokens: number; outputTokens: number };
    };

const clients = new Map<string, BedrockRuntimeClient>();

function clientFor(env: Env): BedrockRuntimeClient | undefined {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  const region = env.NOVA_REGION?.trim() || DEFAULT_NOVA_REGION;
  const endpoint = env.NOVA_ENDPOINT?.trim() || env.BEDROCK_ENDPOINT;
  const key = `${region}|${endpoint}|${env.AWS_ACCESS_KEY_ID}`;
  let client = clients.get(key);
  if (!client) {
    client = new BedrockRuntimeClient({
      region,
      ...(endpoint ? { endpoint } : {}),
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
        ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      },
      // A reasoning call is optional: no retries, the rules answer instead.
      maxAttempts: 1,
    });
    clients.set(key, client);
  }
  return client;
}

interface Parser<T> {
  safeParse(v: unknown): { success: true; data: T } | { success: false };
}

function call<T>(
  env: Env,
  role: Role,
  schema: Parser<T>,
  features: RequestFeatures,
  candidates: CandidateView[],
  timeoutMs: number,
  usage: NovaUsageSink,
): Promise<NovaResult<T>> {
  const model = novaModel(env, role);
  return converse(
    env,
    { role, model, usage },
    schema,
    () => converseInput(role, model, features, candidates),
    timeoutMs,
  );
}

/** Which role a call is for, the model it calls, and where its usage event goes. */
interface Metering {
  role: NovaRole;
  model: string;
  usage: NovaUsageSink;
}

async function converse<T>(
  env: Env,
  meter: Metering,
  schema: Parser<T>,
  build: () => ConverseCommandInput,
  timeoutMs: number,
): Promise<NovaResult<T>> {
  const time = Date.now();
  const result = await converseOnce(env, schema, build, timeoutMs);
  const outcome: NovaOutcome = result.ok ? "ok" : result.failure;
  // A discarded answer was still billed: its tokens count whatever the outcome.
  const tokens = result.ok
    ? { inputTokens: result.inputTokens, outputTokens: result.outputTokens }
    : (result.tokens ?? {});
  try {
    meter.usage(
      novaUsageEvent({
        time,
        role: meter.role,
        model: meter.model,
        outcome,
        latencyMs: result.ms,
        ...tokens,
      }),
    );
  } catch {
    // Metering never changes the answer.
  }
  return result;
}

async function converseOnce<T>(
  env: Env,
  schema: Parser<T>,
  build: () => ConverseCommandInput,
  timeoutMs: number,
): Promise<NovaResult<T>> {
  const started = Date.now();
  const ms = () => Date.now() - started;
  const client = clientFor(env);
  if (!client) return { ok: false, failure: "error", detail: "no AWS credentials", ms: 0 };
  // Raced against a timer as well as aborted: the answer is never awaited past the timeout.
  const abort = new AbortController();
  const signal = abort.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve("timeout");
    }, timeoutMs);
  });
  try {
    const input = build();
    const sent = client.send(new ConverseCommand(input), { abortSignal: signal });
    sent.catch(() => {});
    const out = await Promise.race([sent, expired]);
    if (out === "timeout") {
      return { ok: false, failure: "timeout", detail: `${timeoutMs} ms`, ms: ms() };
    }
    const tokens = {
      inputTokens: out.usage?.inputTokens ?? 0,
      outputTokens: out.usage?.outputTokens ?? 0,
    };
    const block = out.output?.message?.content?.find((b) => b.toolUse !== undefined);
    if (!block?.toolUse) {
      return { ok: false, failure: "invalid", detail: "no tool use", ms: ms(), tokens };
    }
    const parsed = schema.safeParse(block.toolUse.input);
    if (!parsed.success) {
      return {
        ok: false,
        failure: "invalid",
        detail: "answer violates the schema",
        ms: ms(),
        tokens,
      };
    }
    return { ok: true, answer: parsed.data, ...tokens, ms: ms() };
  } catch (err) {
    const name = err instanceof Error ? err.name : "Error";
    const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
      ?.httpStatusCode;
    if (signal.aborted)
      return { ok: false, failure: "timeout", detail: `${timeoutMs} ms`, ms: ms() };
    if (status === 429 || name === "ThrottlingException") {
      return { ok: false, failure: "throttled", detail: "HTTP 429", ms: ms() };
    }
    if (name === "SyntaxError" || name === "SerializationException") {
      return { ok: false, failure: "invalid", detail: "malformed JSON", ms: ms() };
    }
    return { ok: false, failure: "error", detail: status ? `HTTP ${status}` : name, ms: ms() };
  } finally {
    clearTimeout(timer);
  }
}

/** Nova Micro: simple | complex | critical, with a reason. */
export function classify(env: Env, f: RequestFeatures, timeoutMs: number, usage: NovaUsageSink) {
  return call<ClassifyAnswer>(env, "micro", classifyAnswerSchema, f, [], timeoutMs, usage);
}

/** Nova Lite: complexity 0–1 and resource needs. */
export function score(env: Env, f: RequestFeatures, timeoutMs: number, usage: NovaUsageSink) {
  return call<ScoreAnswer>(env, "lite", scoreAnswerSchema, f, [], timeoutMs, usage);
}

/** Nova Pro: a primary and backups among `candidates`, a confidence and a rationale. */
export function decideWithNova(
  env: Env,
  f: RequestFeatures,
  candidates: CandidateView[],
  timeoutMs: number,
  usage: NovaUsageSink,
) {
  return call<DecideAnswer>(env, "pro", decideAnswerSchema, f, candidates, timeoutMs, usage);
}

/**
 * The `review` role (Nova Pro, offline): proposed score weights from an aggregate summary of
 * the last hours (worker/monitor/review.ts), never request content.
 */
export function reviewWithNova(
  env: Env,
  summary: ReviewSummary,
  timeoutMs: number,
  usage: NovaUsageSink,
) {
  const model = novaModel(env, REVIEW_ROLE_MODEL);
  return converse<ReviewAnswer>(
    env,
    { role: "review", model, usage },
    reviewAnswerSchema,
    () => reviewConverseInput(model, summary),
    timeoutMs,
  );
}
