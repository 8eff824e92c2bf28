// The OpenAI Chat Completions surface: the `POST /v1/chat/completions` body as real clients send
// it (the OpenAI SDKs, LangChain, curl examples), the response and stream chunk shapes, and a
// rough prompt-size estimate for routing.

import * as z from "zod/mini";

const nonEmpty = z.string().check(z.minLength(1));
/**
 * Names and ids (model, tool, call, participant): bounded here. Free text (message content,
 * tool arguments, media data) is bounded by the route's body limit alone.
 */
const ident = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const label = z.string().check(z.maxLength(256));
/** OpenAI's own limits on `metadata`: 16 pairs, keys ≤ 64 characters. */
const MAX_METADATA_KEYS = 16;
/** Optional; an explicit `null` (some clients send one for "unset") reads as absent. */
const unset = <T extends z.ZodMiniType>(schema: T) =>
  z.optional(
    z.pipe(
      z.nullable(schema),
      z.transform((v: z.output<T> | null) => v ?? undefined),
    ),
  );
const numberIn = (min: number, max: number) => unset(z.number().check(z.gte(min), z.lte(max)));
const tokenLimit = unset(z.int().check(z.gte(1), z.lte(10_000_000)));

export const textPartSchema = z.object({ type: z.literal("text"), text: z.string() });
export const imagePartSchema = z.object({
  type: z.literal("image_url"),
  image_url: z.object({
    /** An `https:` URL or a `data:image/…;base64,…` URL. */
    url: nonEmpty,
    detail: z.optional(z.enum(["auto", "low", "high"])),
  }),
});
export const audioPartSchema = z.object({
  type: z.literal("input_audio"),
  input_audio: z.object({ data: nonEmpty, format: z.enum(["wav", "mp3"]) }),
});
/**
 * vLLM's extension for video models (Qwen2-VL, Qwen2.5-VL): a clip as an `https:` URL or a
 * `data:video/…;base64,…` URL (mp4, webm, mov, mkv, …). Not part of OpenAI's own API.
 */
export const videoPartSchema = z.object({
  type: z.literal("video_url"),
  video_url: z.object({ url: nonEmpty }),
});
const refusalPartSchema = z.object({ type: z.literal("refusal"), refusal: z.string() });

export type TextPart = z.infer<typeof textPartSchema>;
export type ImagePart = z.infer<typeof imagePartSchema>;
export type AudioPart = z.infer<typeof audioPartSchema>;
export type VideoPart = z.infer<typeof videoPartSchema>;

/** A string, or parts; a union reports its issues at `messages.N.content`. */
const contentOf = <P extends z.ZodMiniType>(part: P, what: string) =>
  z.union(
    [z.string(), z.array(part).check(z.maxLength(256))],
    `expected a string or an array of ${what} parts`,
  );

const userPart = z.discriminatedUnion("type", [
  textPartSchema,
  imagePartSchema,
  audioPartSchema,
  videoPartSchema,
]);
const assistantPart = z.discriminatedUnion("type", [textPartSchema, refusalPartSchema]);

export const toolCallSchema = z.object({
  id: ident(256),
  type: z.literal("function"),
  function: z.object({ name: ident(128), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

const systemMessage = z.object({
  role: z.literal("system"),
  content: contentOf(textPartSchema, "text"),
  name: z.optional(label),
});
const developerMessage = z.object({
  role: z.literal("developer"),
  content: contentOf(textPartSchema, "text"),
  name: z.optional(label),
});
const userMessage = z.object({
  role: z.literal("user"),
  content: contentOf(userPart, "text, image_url, input_audio or video_url"),
  name: z.optional(label),
});
const assistantMessage = z.object({
  role: z.literal("assistant"),
  /** Null when the turn only called tools (the SDKs echo `content: null` back). */
  content: z.nullish(contentOf(assistantPart, "text or refusal")),
  refusal: z.nullish(z.string()),
  tool_calls: z.optional(z.array(toolCallSchema).check(z.maxLength(128))),
  name: z.optional(label),
});
const toolMessage = z.object({
  role: z.literal("tool"),
  content: contentOf(textPartSchema, "text"),
  tool_call_id: ident(256),
});

export const chatMessageSchema = z.discriminatedUnion("role", [
  systemMessage,
  developerMessage,
  userMessage,
  assistantMessage,
  toolMessage,
]);
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type UserMessage = z.infer<typeof userMessage>;
export type AssistantMessage = z.infer<typeof assistantMessage>;

export const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1–64 of [A-Za-z0-9_-]")),
    description: z.optional(z.string()),
    /** A JSON Schema object; omitted means "no arguments". */
    parameters: z.optional(z.record(z.string(), z.unknown())),
    strict: z.nullish(z.boolean()),
  }),
});
export type Tool = z.infer<typeof toolSchema>;

export const toolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: ident(128) }) }),
]);
export type ToolChoice = z.infer<typeof toolChoiceSchema>;

/**
 * `POST /v1/chat/completions` body. Keys no tier acts on are still accepted: the ones below that
 * MEC sites (vLLM) understand are kept so they can be forwarded there, the Converse translation
 * ignores them, and any other unknown key is dropped rather than rejected.
 */
export const chatCompletionRequestSchema = z.object({
  model: ident(256),
  messages: z.array(chatMessageSchema).check(z.minLength(1), z.maxLength(4096)),
  stream: unset(z.boolean()),
  stream_options: unset(z.looseObject({ include_usage: z.optional(z.boolean()) })),
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  temperature: numberIn(0, 2),
  top_p: numberIn(0, 1),
  stop: unset(z.union([label, z.array(label).check(z.maxLength(4))])),
  n: unset(z.literal(1, "only n=1 is supported")),
  user: z.optional(label),
  tools: z.optional(z.array(toolSchema).check(z.maxLength(128))),
  tool_choice: z.optional(toolChoiceSchema),
  /** Routing hints; validated by the routing module, not here. */
  mec: z.optional(z.record(z.string(), z.unknown())),

  // Sampling and output options MEC sites honour and Converse has no field for.
  frequency_penalty: numberIn(-2, 2),
  presence_penalty: numberIn(-2, 2),
  seed: unset(z.int()),
  logprobs: unset(z.boolean()),
  top_logprobs: unset(z.int().check(z.gte(0), z.lte(20))),
  response_format: z.optional(z.looseObject({ type: ident(64) })),
  parallel_tool_calls: unset(z.boolean()),
  // Bookkeeping for OpenAI's own platform; no tier uses it.
  metadata: unset(
    z
      .record(z.string().check(z.maxLength(64)), z.unknown())
      .check(
        z.refine(
          (m) => Object.keys(m).length <= MAX_METADATA_KEYS,
          `at most ${MAX_METADATA_KEYS} keys`,
        ),
      ),
  ),
  service_tier: unset(ident(64)),
  store: unset(z.boolean()),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface ChatCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: {
      role: "assistant";
      content: string | null;
      refusal: null;
      tool_calls?: ToolCall[];
    };
    /** Null unless the caller asked a MEC site for logprobs. */
    logprobs: unknown;
    finish_reason: FinishReason;
  }[];
  usage?: ChatCompletionUsage;
}

/** One tool call fragment in a stream: `id`, `type` and `name` come once, then argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string | null; tool_calls?: ToolCallDelta[] };
    logprobs: unknown;
    finish_reason: FinishReason | null;
  }[];
  /** With `stream_options.include_usage`: null on every chunk but the last, which has no choices. */
  usage?: ChatCompletionUsage | null;
}

/**
 * Where the messages carry media by remote URL (`image_url` / `video_url` parts that are not
 * `data:` URLs), as dotted paths. Nothing here fetches a URL a caller gave, and no tier may do it
 * for us either: a MEC site would fetch it from inside the operator's network, and Bedrock
 * cannot. Such requests are refused; media travels inline.
 */
export function remoteMediaPaths(messages: readonly ChatMessage[]): string[] {
  const paths: string[] = [];
  messages.forEach((m, i) => {
    if (m.role !== "user" || typeof m.content === "string") return;
    m.content.forEach((part, j) => {
      const url =
        part.type === "image_url"
          ? part.image_url.url
          : part.type === "video_url"
            ? part.video_url.url
            : undefined;
      if (url !== undefined && !/^data:/i.test(url)) {
        paths.push(`messages.${i}.content.${j}.${part.type}.url`);
      }
    });
  });
  return paths;
}

// ---- what an OpenAI-compatible upstream (a MEC site) answers ---------------------------------
// Checked before anything reads it: the router relies on these fields and hands the answer on to
// OpenAI clients, so a server that sends something else has failed, like one that reset.

const FINISH_REASONS = ["stop", "length", "tool_calls", "content_filter"] as const;
const tokenCount = z.int().check(z.gte(0), z.lte(100_000_000));
const upstreamUsage = z.looseObject({
  prompt_tokens: tokenCount,
  completion_tokens: tokenCount,
  total_tokens: z.optional(tokenCount),
});
const upstreamToolCall = z.looseObject({
  id: z.string(),
  type: z.optional(z.literal("function")),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

const choiceIndex = z.int().check(z.gte(0), z.lte(127));
/** What both an answer and a stream chunk may say about themselves. */
const upstreamHead = { created: z.optional(z.number()), model: z.optional(z.string()) };

export const upstreamCompletionSchema = z.looseObject({
  id: z.string().check(z.maxLength(256)),
  ...upstreamHead,
  choices: z
    .array(
      z.looseObject({
        index: choiceIndex,
        message: z.looseObject({
          role: z.optional(z.literal("assistant")),
          content: z.nullish(z.string()),
          tool_calls: z.nullish(z.array(upstreamToolCall)),
        }),
        finish_reason: z.nullish(z.string()),
      }),
    )
    .check(z.minLength(1), z.maxLength(128)),
  usage: z.nullish(upstreamUsage),
});

export const upstreamChunkSchema = z.looseObject({
  id: z.optional(z.string().check(z.maxLength(256))),
  ...upstreamHead,
  choices: z
    .array(
      z.looseObject({
        index: choiceIndex,
        delta: z.looseObject({
          role: z.optional(z.literal("assistant")),
          content: z.nullish(z.string()),
          tool_calls: z.nullish(
            z.array(
              z.looseObject({
                index: choiceIndex,
                id: z.optional(z.string()),
                type: z.optional(z.literal("function")),
                function: z.optional(
                  z.looseObject({
                    name: z.optional(z.string()),
                    arguments: z.optional(z.string()),
                  }),
                ),
              }),
            ),
          ),
        }),
        finish_reason: z.nullish(z.string()),
      }),
    )
    .check(z.maxLength(128)),
  usage: z.nullish(upstreamUsage),
});

/** A finish reason OpenAI clients know; servers' own ones (vLLM's `abort`, …) read as `stop`. */
export function finishReasonOf(reason: string | null | undefined): FinishReason {
  return FINISH_REASONS.find((r) => r === reason) ?? "stop";
}

/** The output limit a request asks for; `max_completion_tokens` replaced `max_tokens`. */
export function requestedMaxTokens(req: ChatCompletionRequest): number | undefined {
  return req.max_completion_tokens ?? req.max_tokens ?? undefined;
}

/** Tokens charged per image: Nova and GPT-4o both land near 1k for a typical photo. */
export const IMAGE_TOKENS = 1_000;
/**
 * Tokens charged per video: four images' worth, whatever the clip's length. Video models sample
 * a few frames and cap them (Qwen2.5-VL merges frame pairs under a total pixel budget; Nova
 * samples at most ~1 frame a second), so a short clip costs a handful of images; a URL gives no
 * size to go by anyway. The same 4k tokens `/v1/route` assumes for a typical video prompt.
 */
export const VIDEO_TOKENS = 4 * IMAGE_TOKENS;
/** Audio tokens per second of speech (order of magnitude for current audio-in models). */
export const AUDIO_TOKENS_PER_SECOND = 10;
/** Bytes per second: 16 kHz 16-bit mono WAV, 128 kbit/s MP3. */
const AUDIO_BYTES_PER_SECOND = { wav: 32_000, mp3: 16_000 } as const;
/** Role markers and separators around each message in a chat template. */
const MESSAGE_OVERHEAD_TOKENS = 4;

/** ≈ tokens in a piece of text: about four characters each for English-like text. */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * A rough size of the prompt in tokens, for routing before any tokenizer is at hand: text at
 * ~4 characters a token (including tool definitions and tool call arguments), {@link IMAGE_TOKENS}
 * per image, {@link VIDEO_TOKENS} per video, audio by its duration as estimated from its size, plus
 * a small per-message overhead.
 */
export function estimatePromptTokens(req: ChatCompletionRequest): number {
  let chars = 0;
  let tokens = 0;
  for (const m of req.messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS;
    const content = m.content;
    if (typeof content === "string") chars += content.length;
    else if (content) {
      for (const part of content) {
        if (part.type === "text") chars += part.text.length;
        else if (part.type === "refusal") chars += part.refusal.length;
        else if (part.type === "image_url") tokens += IMAGE_TOKENS;
        else if (part.type === "video_url") tokens += VIDEO_TOKENS;
        else {
          const bytes = (part.input_audio.data.length * 3) / 4;
          const seconds = bytes / AUDIO_BYTES_PER_SECOND[part.input_audio.format];
          tokens += Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND);
        }
      }
    }
    if (m.role === "assistant") {
      for (const call of m.tool_calls ?? []) {
        chars += call.function.name.length + call.function.arguments.length;
      }
    }
  }
  if (req.tools) chars += JSON.stringify(req.tools).length;
  return tokens + Math.ceil(chars / 4);
}
