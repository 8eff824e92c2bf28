// OpenAI Chat Completions ⇄ Bedrock Converse, both directions, plus the two helpers mid-stream
// failover needs (the text a chunk carries, and a request that asks a backup to continue).
// Pure: no I/O and no clock; callers pass ids and `created`.

import type {
  ContentBlock,
  ConverseResponse,
  ConverseStreamOutput,
  Tool as ConverseTool,
  ImageFormat,
  InferenceConfiguration,
  Message,
  SystemContentBlock,
  TokenUsage,
  ToolConfiguration,
  ToolUseBlock,
  VideoFormat,
} from "@aws-sdk/client-bedrock-runtime";
import * as z from "zod/mini";
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatCompletionUsage,
  type ChatMessage,
  estimateTextTokens,
  type FinishReason,
  requestedMaxTokens,
  type ToolCall,
  type ToolCallDelta,
} from "./openai.ts";

/** A JSON value as the SDK types tool inputs and schemas. */
export type JsonDocument = NonNullable<ToolUseBlock["input"]>;

export interface ConverseMessage extends Message {
  role: "user" | "assistant";
  content: ContentBlock[];
}

/** The fields of a `ConverseRequest` (and of a `ConverseStreamRequest`) this translation sets. */
export interface ConverseBody {
  modelId: string;
  messages: ConverseMessage[];
  system?: SystemContentBlock[];
  inferenceConfig?: InferenceConfiguration;
  toolConfig?: ToolConfiguration;
}

export type ToConverseResult =
  | { ok: true; request: ConverseBody }
  | {
      ok: false;
      /**
       * `unsupported_content`: valid OpenAI, but Converse cannot take it (a remote image or
       * video URL).
       */
      code: "unsupported_content" | "invalid_content";
      /** Where in the OpenAI body, dotted: `messages.2.content.1.image_url.url`. */
      path: string;
      message: string;
    };

/**
 * The user turn put first when a conversation has none before the first assistant turn (or has
 * only system messages): Converse must start with a user message.
 */
export const OPENING_USER_TEXT = "Begin.";

/** Nova and the other Bedrock models take a temperature in 0–1; OpenAI allows up to 2. */
const MAX_CONVERSE_TEMPERATURE = 1;

const IMAGE_FORMATS: Record<string, ImageFormat> = {
  png: "png",
  jpeg: "jpeg",
  jpg: "jpeg",
  gif: "gif",
  webp: "webp",
};

/** `video/…` subtypes (MIME names and plain extensions) as Converse video formats. */
const VIDEO_FORMATS: Record<string, VideoFormat> = {
  mp4: "mp4",
  webm: "webm",
  mov: "mov",
  quicktime: "mov",
  mkv: "mkv",
  "x-matroska": "mkv",
  flv: "flv",
  "x-flv": "flv",
  mpeg: "mpeg",
  mpg: "mpg",
  wmv: "wmv",
  "x-ms-wmv": "wmv",
  "3gp": "three_gp",
  "3gpp": "three_gp",
  three_gp: "three_gp",
};

class ContentError extends Error {
  readonly code: "unsupported_content" | "invalid_content";
  readonly path: string;

  constructor(code: "unsupported_content" | "invalid_content", path: string, message: string) {
    super(message);
    this.code = code;
    this.path = path;
  }
}

/**
 * Builds a Converse (or ConverseStream) request from a validated OpenAI body.
 *
 * - system and developer messages, wherever they are, become `system` blocks in order;
 * - tool messages become `toolResult` blocks of a user turn, assistant `tool_calls` `toolUse`;
 * - blank text is dropped (Converse rejects it), then consecutive turns of one role are merged,
 *   and an opening user turn is added when the first is the assistant's: Converse wants
 *   user/assistant alternating, starting with user;
 * - images must be `data:` URLs (png, jpeg, gif, webp), videos (`video_url`, vLLM's extension)
 *   too (mp4, mov, mkv, webm, flv, mpeg, mpg, wmv, 3gp): Converse cannot fetch a remote URL, it
 *   only reads inline bytes or S3 locations.
 */
export function toConverseRequest(
  req: ChatCompletionRequest,
  opts: { modelId: string },
): ToConverseResult {
  const system: SystemContentBlock[] = [];
  const turns: ConverseMessage[] = [];
  try {
    req.messages.forEach((m, i) => {
      const turn = convertMessage(m, `messages.${i}`, system);
      if (turn && turn.content.length > 0) turns.push(turn);
    });
  } catch (e) {
    if (!(e instanceof ContentError)) throw e;
    return { ok: false, code: e.code, path: e.path, message: e.message };
  }

  const messages = alternate(turns);
  const request: ConverseBody = { modelId: opts.modelId, messages };
  if (system.length > 0) request.system = system;
  const inference = inferenceConfig(req);
  if (inference) request.inferenceConfig = inference;
  const tools = toolConfig(req, messages);
  if (tools) request.toolConfig = tools;
  return { ok: true, request };
}

function convertMessage(
  m: ChatMessage,
  path: string,
  system: SystemContentBlock[],
): ConverseMessage | undefined {
  switch (m.role) {
    case "system":
    case "developer":
      system.push(...textBlocks(texts(m.content)));
      return undefined;
    case "user": {
      if (typeof m.content === "string") return { role: "user", content: textBlocks([m.content]) };
      const content: ContentBlock[] = [];
      m.content.forEach((part, j) => {
        if (part.type === "text") content.push(...textBlocks([part.text]));
        else if (part.type === "image_url") {
          content.push({
            image: imageBlock(part.image_url.url, `${path}.content.${j}.image_url.url`),
          });
        } else if (part.type === "video_url") {
          content.push({
            video: videoBlock(part.video_url.url, `${path}.content.${j}.video_url.url`),
          });
        } else {
          const bytes = decodeBase64(part.input_audio.data);
          if (!bytes) {
            throw new ContentError(
              "invalid_content",
              `${path}.content.${j}.input_audio.data`,
              "audio data is not valid base64",
            );
          }
          content.push({ audio: { format: part.input_audio.format, source: { bytes } } });
        }
      });
      return { role: "user", content };
    }
    case "assistant": {
      const content: ContentBlock[] = textBlocks(m.content == null ? [] : texts(m.content));
      m.tool_calls?.forEach((call, j) => {
        content.push({ toolUse: toolUse(call, `${path}.tool_calls.${j}.function.arguments`) });
      });
      return { role: "assistant", content };
    }
    case "tool": {
      const blocks = textBlocks(texts(m.content));
      return {
        role: "user",
        content: [
          {
            toolResult: {
              toolUseId: m.tool_call_id,
              content: blocks.length > 0 ? blocks : [{ text: "(empty)" }],
            },
          },
        ],
      };
    }
  }
}

function texts(
  content: string | ({ type: "text"; text: string } | { type: "refusal"; refusal: string })[],
) {
  if (typeof content === "string") return [content];
  return content.map((p) => (p.type === "text" ? p.text : p.refusal));
}

function textBlocks(items: string[]): { text: string }[] {
  return items.filter((t) => t.trim().length > 0).map((text) => ({ text }));
}

function imageBlock(
  url: string,
  path: string,
): { format: ImageFormat; source: { bytes: Uint8Array } } {
  return mediaBlock(url, path, "image", IMAGE_FORMATS, "png, jpeg, gif or webp");
}

function videoBlock(
  url: string,
  path: string,
): { format: VideoFormat; source: { bytes: Uint8Array } } {
  return mediaBlock(
    url,
    path,
    "video",
    VIDEO_FORMATS,
    "mp4, mov, mkv, webm, flv, mpeg, wmv or 3gp",
  );
}

/** A `data:<kind>/<subtype>;base64,…` URL as a Converse media block (format and bytes). */
function mediaBlock<F extends string>(
  url: string,
  path: string,
  kind: "image" | "video",
  formats: Record<string, F>,
  supported: string,
): { format: F; source: { bytes: Uint8Array } } {
  const m = new RegExp(`^data:${kind}/([a-z0-9.+_-]+)((?:;[^,;]*)*);base64,(.*)$`, "is").exec(url);
  if (!m) {
    throw /^https?:/i.test(url)
      ? new ContentError(
          "unsupported_content",
          path,
          `the cloud tier cannot fetch ${kind} URLs; send the ${kind} as a data: URL (base64)`,
        )
      : new ContentError("invalid_content", path, `expected a data:${kind}/…;base64,… URL`);
  }
  const subtype = (m[1] ?? "").toLowerCase();
  const format = Object.hasOwn(formats, subtype) ? formats[subtype] : undefined;
  if (!format) {
    throw new ContentError(
      "unsupported_content",
      path,
      `${kind}/${subtype} is not supported; use ${supported}`,
    );
  }
  const bytes = decodeBase64(m[3] ?? "");
  if (!bytes) throw new ContentError("invalid_content", path, `${kind} data is not valid base64`);
  return { format, source: { bytes } };
}

function decodeBase64(data: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(data);
  } catch {
    return undefined;
  }
  if (binary.length === 0) return undefined;
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toolUse(call: ToolCall, path: string): ToolUseBlock {
  const raw = call.function.arguments.trim();
  let input: unknown = {};
  if (raw.length > 0) {
    try {
      input = JSON.parse(raw);
    } catch {
      throw new ContentError("invalid_content", path, "tool call arguments are not valid JSON");
    }
  }
  if (!isJsonObject(input)) {
    throw new ContentError("invalid_content", path, "tool call arguments must be a JSON object");
  }
  return { toolUseId: call.id, name: call.function.name, input };
}

/** Values parsed from JSON text are JSON documents; this only narrows to an object. */
function isJsonObject(v: unknown): v is { [key: string]: JsonDocument } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Merges same-role neighbours and makes the list start with a user turn. */
function alternate(turns: ConverseMessage[]): ConverseMessage[] {
  const out: ConverseMessage[] = [];
  for (const turn of turns) {
    const last = out[out.length - 1];
    if (last && last.role === turn.role) last.content = [...last.content, ...turn.content];
    else out.push({ role: turn.role, content: [...turn.content] });
  }
  for (const turn of out) {
    // Tool results lead their user turn, as some Bedrock models require.
    if (turn.role === "user") {
      turn.content = [
        ...turn.content.filter((b) => b.toolResult),
        ...turn.content.filter((b) => !b.toolResult),
      ];
    }
  }
  if (out[0]?.role !== "user") {
    out.unshift({ role: "user", content: [{ text: OPENING_USER_TEXT }] });
  }
  return out;
}

function inferenceConfig(req: ChatCompletionRequest): InferenceConfiguration | undefined {
  const config: InferenceConfiguration = {};
  const maxTokens = requestedMaxTokens(req);
  if (maxTokens !== undefined) config.maxTokens = maxTokens;
  if (req.temperature !== undefined) {
    config.temperature = Math.min(req.temperature, MAX_CONVERSE_TEMPERATURE);
  }
  if (req.top_p !== undefined) config.topP = req.top_p;
  const stop = (typeof req.stop === "string" ? [req.stop] : (req.stop ?? [])).filter(
    (s) => s.length > 0,
  );
  if (stop.length > 0) config.stopSequences = stop;
  return Object.keys(config).length > 0 ? config : undefined;
}

/**
 * Tools and the choice among them. Converse has no "none": with `tool_choice: "none"` the tools
 * are left out, unless the history holds tool blocks, which Converse only accepts alongside a
 * tool configuration (the model may then call a tool anyway). Tools used in the history but no
 * longer defined get a permissive stand-in spec for the same reason.
 */
function toolConfig(
  req: ChatCompletionRequest,
  messages: ConverseMessage[],
): ToolConfiguration | undefined {
  const used = new Set<string>();
  let history = false;
  for (const m of messages) {
    for (const b of m.content) {
      if (b.toolUse?.name) used.add(b.toolUse.name);
      if (b.toolUse || b.toolResult) history = true;
    }
  }
  const choice = req.tool_choice;
  if (choice === "none" && !history) return undefined;

  const tools: ConverseTool[] = (req.tools ?? []).map(({ function: f }) => ({
    toolSpec: {
      name: f.name,
      ...(f.description ? { description: f.description } : {}),
      inputSchema: { json: jsonSchema(f.parameters) },
    },
  }));
  const defined = new Set(tools.map((t) => t.toolSpec?.name));
  for (const name of used) {
    if (!defined.has(name)) {
      tools.push({ toolSpec: { name, inputSchema: { json: { type: "object" } } } });
    }
  }
  if (tools.length === 0) return undefined;

  const config: ToolConfiguration = { tools };
  if (choice === "auto") config.toolChoice = { auto: {} };
  else if (choice === "required") config.toolChoice = { any: {} };
  else if (typeof choice === "object") config.toolChoice = { tool: { name: choice.function.name } };
  return config;
}

function jsonSchema(parameters: Record<string, unknown> | undefined): JsonDocument {
  if (!parameters) return { type: "object", properties: {} };
  // The schema came out of a JSON body, so it is a JSON document.
  return parameters as JsonDocument;
}

/** Converse stop reasons in OpenAI's terms. */
export function finishReason(stopReason: string | undefined): FinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "content_filtered":
    case "guardrail_intervened":
      return "content_filter";
    default:
      return "stop";
  }
}

/** Converse token usage in OpenAI's terms; prompt tokens include cache reads and writes. */
export function usageFromConverse(u: TokenUsage | undefined): ChatCompletionUsage {
  const cached = u?.cacheReadInputTokens ?? 0;
  const prompt = (u?.inputTokens ?? 0) + cached + (u?.cacheWriteInputTokens ?? 0);
  const completion = u?.outputTokens ?? 0;
  const usage: ChatCompletionUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (cached > 0) usage.prompt_tokens_details = { cached_tokens: cached };
  return usage;
}

export type ConverseResult = Pick<ConverseResponse, "output" | "stopReason" | "usage">;

/** A Converse response as an OpenAI chat completion: text joined, `toolUse` as `tool_calls`. */
export function fromConverseResponse(
  out: ConverseResult,
  meta: { id: string; model: string; created: number },
): ChatCompletion {
  let text = "";
  const calls: ToolCall[] = [];
  for (const block of out.output?.message?.content ?? []) {
    if (block.text !== undefined) text += block.text;
    else if (block.toolUse) {
      calls.push({
        id: block.toolUse.toolUseId ?? `${meta.id}-call-${calls.length}`,
        type: "function",
        function: {
          name: block.toolUse.name ?? "",
          arguments: JSON.stringify(block.toolUse.input ?? {}),
        },
      });
    }
  }
  const message: ChatCompletion["choices"][number]["message"] = {
    role: "assistant",
    content: text.length === 0 && calls.length > 0 ? null : text,
    refusal: null,
  };
  if (calls.length > 0) message.tool_calls = calls;
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(out.stopReason) }],
    usage: usageFromConverse(out.usage),
  };
}

export interface ConverseStreamTranslator {
  /** The chunks one Converse stream event turns into (often none). */
  onEvent(event: ConverseStreamOutput): ChatCompletionChunk[];
  /**
   * Whatever is still owed at the end of the stream: the finish chunk (`stop` if Converse sent no
   * `messageStop`) and the usage chunk (zeros if it sent no `metadata`). Idempotent.
   */
  finish(): ChatCompletionChunk[];
}

/**
 * Turns ConverseStream events into OpenAI chunks: a first chunk with the assistant role and empty
 * content, one chunk per text or tool-argument delta, a last chunk with `finish_reason`, and,
 * with `includeUsage`, a usage chunk with no choices (every other chunk then has `usage: null`).
 * The caller frames each chunk as `data: …` and ends with `data: [DONE]`. Exception events
 * (throttling, model errors) are the caller's to handle; this ignores them.
 */
export function createConverseStreamTranslator(meta: {
  id: string;
  model: string;
  created: number;
  includeUsage: boolean;
}): ConverseStreamTranslator {
  let started = false;
  let stopReason: string | undefined;
  let finished = false;
  let usage: TokenUsage | undefined;
  let usageSent = false;
  const toolIndex = new Map<number, number>();

  const chunk = (
    delta: ChatCompletionChunk["choices"][number]["delta"],
    finish: FinishReason | null = null,
  ): ChatCompletionChunk => ({
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(meta.includeUsage ? { usage: null } : {}),
  });
  const start = (out: ChatCompletionChunk[]) => {
    if (started) return;
    started = true;
    out.push(chunk({ role: "assistant", content: "" }));
  };
  const tool = (out: ChatCompletionChunk[], call: ToolCallDelta) => {
    start(out);
    out.push(chunk({ tool_calls: [call] }));
  };
  const end = (out: ChatCompletionChunk[], last: boolean) => {
    start(out);
    if (!finished) {
      finished = true;
      out.push(chunk({}, finishReason(stopReason)));
    }
    if (meta.includeUsage && !usageSent && (usage || last)) {
      usageSent = true;
      out.push({
        id: meta.id,
        object: "chat.completion.chunk",
        created: meta.created,
        model: meta.model,
        choices: [],
        usage: usageFromConverse(usage),
      });
    }
  };

  return {
    onEvent(event) {
      const out: ChatCompletionChunk[] = [];
      if (event.messageStart) start(out);
      else if (event.contentBlockStart) {
        const use = event.contentBlockStart.start?.toolUse;
        if (use && !finished) {
          const index = toolIndex.size;
          toolIndex.set(event.contentBlockStart.contentBlockIndex ?? -1, index);
          tool(out, {
            index,
            id: use.toolUseId ?? `${meta.id}-call-${index}`,
            type: "function",
            function: { name: use.name ?? "", arguments: "" },
          });
        }
      } else if (event.contentBlockDelta && !finished) {
        const delta = event.contentBlockDelta.delta;
        const index = toolIndex.get(event.contentBlockDelta.contentBlockIndex ?? -1);
        if (delta?.text) {
          start(out);
          out.push(chunk({ content: delta.text }));
        } else if (delta?.toolUse?.input && index !== undefined) {
          tool(out, { index, function: { arguments: delta.toolUse.input } });
        }
      } else if (event.messageStop) {
        stopReason = event.messageStop.stopReason;
        end(out, false);
      } else if (event.metadata) {
        usage = event.metadata.usage;
        if (finished) end(out, false);
      }
      return out;
    },
    finish() {
      const out: ChatCompletionChunk[] = [];
      end(out, true);
      return out;
    },
  };
}

const chunkTextSchema = z.looseObject({
  choices: z.array(
    z.looseObject({ delta: z.optional(z.looseObject({ content: z.nullish(z.string()) })) }),
  ),
});

/**
 * The text an OpenAI stream chunk adds (from any server: a MEC site, or our own chunks), or "" for
 * role, tool-call, finish and usage chunks and for anything that is not a chunk. Pass the parsed
 * JSON of one `data:` line; the sum over a stream is what the client has seen so far.
 */
export function sseChunkText(chunk: unknown): string {
  const parsed = z.safeParse(chunkTextSchema, chunk);
  if (!parsed.success) return "";
  return parsed.data.choices.map((c) => c.delta?.content ?? "").join("");
}

/** The user turn that asks a backup to carry on from a partial answer. */
export const CONTINUE_INSTRUCTION =
  "Continue exactly where the previous answer stopped; do not repeat it.";

/** What {@link continuationRequest} reads: a chat request, or the body a tier is sent. */
export interface ContinuableRequest {
  messages: readonly unknown[];
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

/**
 * A request for a backup target to finish an answer the failed one started, after `partialText`
 * already went to the client.
 *
 * Approach: the partial answer goes in as an assistant turn and a short user turn
 * ({@link CONTINUE_INSTRUCTION}) asks to continue it; the client then gets the backup's text
 * appended to what it already has. Prefilling the assistant turn (no user turn) would be more
 * exact, but it needs server-specific switches (vLLM's `continue_final_message`) and not every
 * model accepts a trailing assistant turn, so this works with any OpenAI-compatible server and
 * with Converse. The seam is not guaranteed to be perfect (the backup may restart a word or
 * sentence). Output limits (`max_tokens`, `max_completion_tokens`) are lowered by the tokens
 * already produced (estimated from the text unless `producedTokens` is given), to at least 1.
 * With no partial text the request is returned unchanged: it is a plain retry.
 */
export function continuationRequest<R extends ContinuableRequest>(
  req: R,
  partialText: string,
  opts: { producedTokens?: number } = {},
): R {
  if (partialText.trim().length === 0) return req;
  const produced = opts.producedTokens ?? estimateTextTokens(partialText);
  const added: ChatMessage[] = [
    { role: "assistant", content: partialText },
    { role: "user", content: CONTINUE_INSTRUCTION },
  ];
  const limits: { max_tokens?: number; max_completion_tokens?: number } = {};
  if (typeof req.max_tokens === "number") {
    limits.max_tokens = Math.max(1, req.max_tokens - produced);
  }
  if (typeof req.max_completion_tokens === "number") {
    limits.max_completion_tokens = Math.max(1, req.max_completion_tokens - produced);
  }
  return { ...req, messages: [...req.messages, ...added], ...limits };
}
