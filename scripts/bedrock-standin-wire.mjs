// What the Bedrock stand-in (bedrock-standin.mjs) reads and writes: Converse request bodies,
// checked the way Bedrock checks them and then reduced to a digest and a token estimate;
// Bedrock's restJson1 errors; SigV4 header checks; fake answers (tool inputs come from
// json-schema-sample.mjs); AWS event-stream frames; fault settings. No state, no sockets kept.

import { createHash } from "node:crypto";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { fakeAnswer, isRecord, mulberry32 } from "./demo-site-wire.mjs";
import { sampleFromSchema } from "./json-schema-sample.mjs";

/** @import { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http" */
/** @import { Faults, StreamExceptionType } from "./bedrock-standin.mjs" */
/**
 * @typedef {object} NovaModel
 * @property {string} modelId as the caller named it (profile prefix or ARN kept)
 * @property {string} baseModel e.g. `amazon.nova-lite-v1:0`
 * @property {boolean} textOnly Micro: no image, video or document blocks
 */
/**
 * @typedef {object} ConverseRequest
 * @property {number} maxTokens
 * @property {string[]} stopSequences
 * @property {number} inputTokens estimated: a token per 4 characters, fixed amounts for media
 * @property {number} answerSeed from a digest of model, system and messages; they are not kept
 * @property {{ name: string, schema: Record<string, unknown> } | null} forcedTool
 */
/**
 * @typedef {{ kind: "text", tokens: string[], stopReason: string }
 *   | { kind: "toolUse", toolUseId: string, name: string, input: unknown, chunks: string[],
 *       stopReason: "tool_use" }} Answer
 */

const MAX_BODY_BYTES = 25 << 20;
const DEFAULT_MAX_TOKENS = 512;
// Nova v1 models answer at most 10k tokens.
const MAX_OUTPUT_TOKENS = 10_000;
const ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/";
const NOVA_MICRO = "amazon.nova-micro-v1:0";
const MODEL_ID = /^(?:(?:us|eu|apac)\.)?(amazon\.nova-(?:micro|lite|pro)-v1:0)$/;
const MODEL_ARN =
  /^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]*:(?:\d{12})?:(foundation-model|inference-profile)\/(.+)$/;
const MEDIA_BLOCKS = new Set(["image", "video", "document"]);
const CONTENT_BLOCKS = new Set([
  "text",
  ...MEDIA_BLOCKS,
  "audio",
  "toolUse",
  "toolResult",
  "guardContent",
  "cachePoint",
  "reasoningContent",
  "citationsContent",
  "searchResult",
]);
const IMAGE_FORMATS = new Set(["png", "jpeg", "gif", "webp"]);
const VIDEO_FORMATS = new Set([
  "mkv",
  "mov",
  "mp4",
  "webm",
  "flv",
  "mpeg",
  "mpg",
  "wmv",
  "three_gp",
]);
// Rough prompt-token costs of media: enough for plausible usage figures.
const MEDIA_TOKENS = { image: 1_000, video: 5_000, document: 1_500, audio: 2_000 };
const PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** The exception members of ConverseStream's event union. */
export const STREAM_EXCEPTIONS = Object.freeze(
  /** @type {const} */ ([
    "internalServerException",
    "modelStreamErrorException",
    "throttlingException",
    "serviceUnavailableException",
    "validationException",
  ]),
);

/** @type {Readonly<Faults>} */
export const NO_FAULTS = Object.freeze({
  errorRate: 0,
  throttleRate: 0,
  resetRate: 0,
  garbageRate: 0,
  addedLatencyMs: 0,
  stallAfterTokens: null,
  midStreamError: null,
  dark: false,
  toolInputOverride: null,
});

/** An answer in Bedrock's error shape: `x-amzn-errortype` names it, the body has `message`. */
export class BedrockError extends Error {
  /** @param {number} status @param {string} code e.g. ValidationException @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @param {string} message */
export const validation = (message) => new BedrockError(400, "ValidationException", message);

/**
 * @param {ServerResponse} res @param {number} status @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
export function sendJson(res, status, body, headers = {}) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

/** @param {ServerResponse} res @param {BedrockError} err @param {string} requestId */
export function sendError(res, err, requestId) {
  sendJson(
    res,
    err.status,
    { message: err.message },
    { "x-amzn-errortype": `${err.code}${ERROR_TYPE_SUFFIX}`, "x-amzn-requestid": requestId },
  );
}

/** @param {IncomingMessage} req @returns {Promise<Buffer>} */
export async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw validation("The request body exceeds 25 MB.");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The request must look SigV4-signed for the `bedrock` service at about the right time; the
 * signature itself is not verified. Missing or malformed → AccessDeniedException; wrong service
 * or a clock more than 5 minutes off → InvalidSignatureException, whose "Signature expired"
 * wording (with the `date` response header) lets the SDK correct its clock and retry, as AWS does.
 * @param {IncomingHttpHeaders} headers @param {number} now epoch ms
 */
export function checkSignature(headers, now) {
  const auth = headers.authorization ?? "";
  const amzDate = headers["x-amz-date"];
  const denied = (/** @type {string} */ why) =>
    new BedrockError(403, "AccessDeniedException", `${why} (the stand-in wants SigV4).`);
  const invalid = (/** @type {string} */ why) =>
    new BedrockError(403, "InvalidSignatureException", why);
  if (!auth.startsWith("AWS4-HMAC-SHA256 ")) throw denied("Missing Authentication Token");
  const scope = /Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/.exec(
    auth,
  );
  if (!scope || !/SignedHeaders=[^,\s]*host/.test(auth) || !/Signature=[0-9a-f]{64}/.test(auth)) {
    throw denied("Authorization header requires Credential, SignedHeaders and Signature");
  }
  if (typeof amzDate !== "string" || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    throw denied("Missing or malformed x-amz-date");
  }
  if (scope[4] !== "bedrock") {
    throw invalid("Credential should be scoped to correct service: 'bedrock'.");
  }
  if (scope[2] !== amzDate.slice(0, 8)) {
    throw invalid(
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date.",
    );
  }
  const signedAt = Date.parse(
    amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  const skew = 5 * 60_000;
  const iso = (/** @type {number} */ t) => new Date(t).toISOString().replace(/[-:]|\.\d+/g, "");
  if (!(signedAt >= now - skew)) {
    throw invalid(
      `Signature expired: ${amzDate} is now earlier than ${iso(now - skew)} (${iso(now)} - 5 min.)`,
    );
  }
  if (signedAt > now + skew) {
    throw invalid(
      `Signature not yet current: ${amzDate} is still later than ${iso(now + skew)} (${iso(now)} + 5 min.)`,
    );
  }
}

/**
 * A Nova model id, a `us.`/`eu.`/`apac.` inference profile, or the ARN of either.
 * @param {string} modelId @returns {NovaModel}
 */
export function resolveModel(modelId) {
  const arn = MODEL_ARN.exec(modelId);
  const id = arn ? (arn[2] ?? "") : modelId;
  const match = MODEL_ID.exec(id);
  const isProfile = id !== match?.[1];
  if (!match?.[1] || (arn && (arn[1] === "inference-profile") !== isProfile)) {
    throw validation("The provided model identifier is invalid.");
  }
  return { modelId, baseModel: match[1], textOnly: match[1] === NOVA_MICRO };
}

/**
 * Checks a Converse / ConverseStream body as Bedrock would and keeps only what the simulation
 * needs: the prompt is reduced to a token estimate and a digest here and goes no further.
 * @param {Buffer} raw @param {NovaModel} model @returns {ConverseRequest}
 */
export function parseConverseRequest(raw, model) {
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(raw.toString("utf8") || "{}");
  } catch {
    throw validation("Malformed input request, please reformat your input and try again.");
  }
  if (!isRecord(body)) throw validation("Malformed input request: expected a JSON object.");
  const { messages, system, inferenceConfig, toolConfig } = body;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw validation("The messages field is required and must not be empty.");
  }
  let chars = 0;
  let extraTokens = 0;
  let usesTools = false;
  /** @type {string | undefined} */
  let previousRole;
  for (const [i, m] of messages.entries()) {
    if (!isRecord(m) || (m.role !== "user" && m.role !== "assistant")) {
      throw validation(`messages.${i}.role must be one of the following: user, assistant.`);
    }
    if (i === 0 && m.role !== "user") {
      throw validation(
        "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
      );
    }
    if (m.role === previousRole) {
      throw validation(
        "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.",
      );
    }
    previousRole = m.role;
    if (!Array.isArray(m.content) || m.content.length === 0) {
      throw validation(`messages.${i}.content must be a non-empty list of content blocks.`);
    }
    extraTokens += 4;
    for (const [j, block] of m.content.entries()) {
      const at = `messages.${i}.content.${j}`;
      const kind = blockKind(block, at);
      const value = /** @type {Record<string, unknown>} */ (block)[kind];
      if (kind === "text") chars += typeof value === "string" ? value.length : 0;
      else if (kind === "toolUse" || kind === "toolResult") {
        usesTools = true;
        chars += JSON.stringify(value).length;
      } else if (kind in MEDIA_TOKENS) {
        if (model.textOnly && MEDIA_BLOCKS.has(kind)) {
          throw validation(
            `This model doesn't support the ${kind} content block that you provided. Try again with a supported content block.`,
          );
        }
        if (kind === "audio") {
          throw validation(
            "This model doesn't support the audio content block that you provided. Try again with a supported content block.",
          );
        }
        if (kind === "image") checkMedia("image", value, at, IMAGE_FORMATS);
        if (kind === "video") checkMedia("video", value, at, VIDEO_FORMATS);
        extraTokens += MEDIA_TOKENS[/** @type {keyof typeof MEDIA_TOKENS} */ (kind)];
      }
    }
  }
  if (system !== undefined) {
    if (!Array.isArray(system)) throw validation("system must be a list of content blocks.");
    for (const block of system) {
      if (!isRecord(block)) throw validation("system blocks must be objects.");
      if (typeof block.text === "string") chars += block.text.length;
    }
  }
  const { maxTokens, stopSequences } = parseInferenceConfig(inferenceConfig);
  const forcedTool = parseToolConfig(toolConfig, usesTools);
  if (isRecord(toolConfig)) chars += JSON.stringify(toolConfig).length;
  const digest = createHash("sha256")
    .update(model.baseModel)
    .update("\0")
    .update(JSON.stringify(system ?? null))
    .update("\0")
    .update(JSON.stringify(messages));
  return {
    maxTokens,
    stopSequences,
    inputTokens: extraTokens + Math.ceil(chars / 4),
    answerSeed: digest.digest().readUInt32LE(0),
    forcedTool,
  };
}

/** @param {unknown} block @param {string} at @returns {string} the union member it sets */
function blockKind(block, at) {
  const keys = isRecord(block) ? Object.keys(block).filter((k) => block[k] !== undefined) : [];
  const kind = keys[0];
  if (keys.length !== 1 || kind === undefined || !CONTENT_BLOCKS.has(kind)) {
    throw validation(`${at} must set exactly one content block member.`);
  }
  if (
    kind === "text" &&
    typeof (/** @type {Record<string, unknown>} */ (block).text) !== "string"
  ) {
    throw validation(`${at}.text must be a string.`);
  }
  return kind;
}

/**
 * An image or video block: a known format, and inline base64 bytes or an S3 location.
 * @param {"image" | "video"} kind @param {unknown} media @param {string} at
 * @param {Set<string>} formats
 */
function checkMedia(kind, media, at, formats) {
  if (!isRecord(media) || typeof media.format !== "string" || !formats.has(media.format)) {
    throw validation(
      `${at}.${kind}.format must be one of the following: ${[...formats].join(", ")}.`,
    );
  }
  const source = media.source;
  const bytes = isRecord(source) ? source.bytes : undefined;
  if (!isRecord(source) || (source.s3Location === undefined && typeof bytes !== "string")) {
    throw validation(`${at}.${kind}.source must set bytes or s3Location.`);
  }
  if (typeof bytes === "string" && (bytes.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(bytes))) {
    throw validation(`${at}.${kind}.source.bytes must be non-empty base64.`);
  }
}

/** @param {unknown} config @returns {{ maxTokens: number, stopSequences: string[] }} */
function parseInferenceConfig(config) {
  if (config === undefined) return { maxTokens: DEFAULT_MAX_TOKENS, stopSequences: [] };
  if (!isRecord(config)) throw validation("inferenceConfig must be an object.");
  const { maxTokens = DEFAULT_MAX_TOKENS, temperature, topP, stopSequences = [] } = config;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw validation("inferenceConfig.maxTokens must be an integer ≥ 1.");
  }
  if (maxTokens > MAX_OUTPUT_TOKENS) {
    throw validation(
      `The maximum tokens you requested exceeds the model limit of ${MAX_OUTPUT_TOKENS}. Try again with a maximum tokens value that is lower than ${MAX_OUTPUT_TOKENS}.`,
    );
  }
  for (const [name, v] of /** @type {const} */ ([
    ["temperature", temperature],
    ["topP", topP],
  ])) {
    if (v !== undefined && (typeof v !== "number" || !(v >= 0 && v <= 1))) {
      throw validation(`inferenceConfig.${name} must be a number from 0 to 1.`);
    }
  }
  if (
    !Array.isArray(stopSequences) ||
    !stopSequences.every((s) => typeof s === "string" && s.length > 0)
  ) {
    throw validation("inferenceConfig.stopSequences must be a list of non-empty strings.");
  }
  return { maxTokens, stopSequences };
}

/**
 * Tools and the choice among them. `auto` (the default) answers in text; `any` calls the first
 * tool, `tool` the named one.
 * @param {unknown} config @param {boolean} usesTools messages hold toolUse/toolResult blocks
 * @returns {ConverseRequest["forcedTool"]}
 */
function parseToolConfig(config, usesTools) {
  if (config === undefined) {
    if (usesTools) {
      throw validation(
        "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
      );
    }
    return null;
  }
  if (!isRecord(config) || !Array.isArray(config.tools) || config.tools.length === 0) {
    throw validation("toolConfig.tools must be a non-empty list.");
  }
  /** @type {Map<string, Record<string, unknown>>} */
  const tools = new Map();
  for (const [i, tool] of config.tools.entries()) {
    if (isRecord(tool) && tool.cachePoint !== undefined) continue;
    const spec = isRecord(tool) ? tool.toolSpec : undefined;
    const name = isRecord(spec) ? spec.name : undefined;
    const schema = isRecord(spec) && isRecord(spec.inputSchema) ? spec.inputSchema.json : undefined;
    if (typeof name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
      throw validation(`toolConfig.tools.${i}.toolSpec.name must match [a-zA-Z0-9_-]{1,64}.`);
    }
    if (!isRecord(schema) || schema.type !== "object") {
      throw validation(
        `The value at toolConfig.tools.${i}.toolSpec.inputSchema.json.type must be one of the following: object.`,
      );
    }
    if (tools.has(name)) throw validation(`toolConfig.tools has two tools named ${name}.`);
    tools.set(name, schema);
  }
  const choice = config.toolChoice;
  if (choice === undefined || (isRecord(choice) && choice.auto !== undefined)) return null;
  if (isRecord(choice) && choice.any !== undefined) {
    const first = [...tools][0];
    return first ? { name: first[0], schema: first[1] } : null;
  }
  const name = isRecord(choice) && isRecord(choice.tool) ? choice.tool.name : undefined;
  const schema = typeof name === "string" ? tools.get(name) : undefined;
  if (typeof name !== "string" || !schema) {
    throw validation("toolConfig.toolChoice.tool.name must name one of toolConfig.tools.");
  }
  return { name, schema };
}

/**
 * The fake answer to a request, the same for Converse and ConverseStream: the demo site's
 * words (24–87 tokens) cut by stop sequences and `maxTokens`, or a call of the forced tool
 * whose input satisfies its schema (its JSON streamed in chunks counted as tokens).
 * @param {ConverseRequest} request @returns {Answer}
 */
export function answerFor(request) {
  const { forcedTool, answerSeed } = request;
  if (forcedTool) {
    const rand = mulberry32(answerSeed);
    const input = sampleFromSchema(forcedTool.schema, rand);
    const json = JSON.stringify(input);
    const chunks = [];
    for (let at = 0; at < json.length; ) {
      const size = 4 + Math.floor(rand() * 9);
      chunks.push(json.slice(at, at + size));
      at += size;
    }
    const id = answerSeed.toString(36).padStart(7, "0");
    return {
      kind: "toolUse",
      toolUseId: `tooluse_standin${id}`,
      name: forcedTool.name,
      input,
      chunks,
      stopReason: "tool_use",
    };
  }
  const { tokens, finishReason } = fakeAnswer(answerSeed, undefined);
  const text = tokens.join("");
  const stopAt = Math.min(
    ...request.stopSequences.map((s) => text.indexOf(s)).filter((i) => i >= 0),
  );
  /** @type {string[]} */
  let kept = tokens;
  let stopReason = finishReason === "stop" ? "end_turn" : "max_tokens";
  if (Number.isFinite(stopAt)) {
    kept = [];
    let length = 0;
    for (const t of tokens) {
      if (length >= stopAt) break;
      kept.push(t.slice(0, stopAt - length));
      length += t.length;
    }
    stopReason = "stop_sequence";
  }
  if (kept.length > request.maxTokens) {
    kept = kept.slice(0, request.maxTokens);
    stopReason = "max_tokens";
  }
  return { kind: "text", tokens: kept, stopReason };
}

// ---- event stream ------------------------------------------------------------------------

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/**
 * One `:message-type: event` frame. Like Bedrock, payloads carry a `p` field of padding
 * (`abcd…`, length varying) that hides the text's length on the wire; clients ignore it.
 * @param {string} eventType @param {Record<string, unknown>} payload @param {() => number} rand
 */
export function eventFrame(eventType, payload, rand) {
  const p = PADDING.slice(0, 1 + Math.floor(rand() * PADDING.length));
  return codec.encode({
    headers: {
      ":event-type": { type: "string", value: eventType },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "event" },
    },
    body: fromUtf8(JSON.stringify({ ...payload, p })),
  });
}

/**
 * One `:message-type: exception` frame, e.g. `modelStreamErrorException`.
 * @param {StreamExceptionType} exceptionType @param {string} message
 */
export function exceptionFrame(exceptionType, message) {
  const body =
    exceptionType === "modelStreamErrorException"
      ? { message, originalStatusCode: 500, originalMessage: "Injected fault." }
      : { message };
  return codec.encode({
    headers: {
      ":exception-type": { type: "string", value: exceptionType },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "exception" },
    },
    body: fromUtf8(JSON.stringify(body)),
  });
}

// ---- faults ------------------------------------------------------------------------------

/**
 * A fault patch, checked field by field; throws TypeError naming the first bad one.
 * @param {unknown} input @returns {Partial<Faults>}
 */
export function validateFaults(input) {
  if (!isRecord(input)) throw new TypeError("faults must be an object");
  /** @type {Partial<Faults>} */
  const out = {};
  for (const [key, v] of Object.entries(input)) {
    if (
      key === "errorRate" ||
      key === "throttleRate" ||
      key === "resetRate" ||
      key === "garbageRate"
    ) {
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
        throw new TypeError(`${key} must be a number from 0 to 1`);
      }
      out[key] = v;
    } else if (key === "addedLatencyMs") {
      if (typeof v !== "number" || !(v >= 0 && v <= 600_000)) {
        throw new TypeError("addedLatencyMs must be a number from 0 to 600000");
      }
      out.addedLatencyMs = v;
    } else if (key === "stallAfterTokens") {
      if (v !== null && !isCount(v))
        throw new TypeError("stallAfterTokens must be an integer ≥ 0 or null");
      out.stallAfterTokens = v;
    } else if (key === "midStreamError") {
      if (v === null) out.midStreamError = null;
      else {
        const type = isRecord(v) ? (v.type ?? "modelStreamErrorException") : undefined;
        const known = /** @type {readonly unknown[]} */ (STREAM_EXCEPTIONS).includes(type);
        if (!isRecord(v) || !isCount(v.afterTokens) || !known) {
          throw new TypeError(
            `midStreamError must be null or { afterTokens: integer ≥ 0, type?: ${STREAM_EXCEPTIONS.join(" | ")} }`,
          );
        }
        out.midStreamError = {
          afterTokens: v.afterTokens,
          type: /** @type {StreamExceptionType} */ (type),
        };
      }
    } else if (key === "toolInputOverride") {
      // Any JSON value; null = off.
      out.toolInputOverride = v;
    } else if (key === "dark") {
      if (typeof v !== "boolean") throw new TypeError("dark must be a boolean");
      out.dark = v;
    } else throw new TypeError(`unknown fault ${key}`);
  }
  return out;
}

/** @param {unknown} v @returns {v is number} */
function isCount(v) {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
