// What the demo MEC site (demo-site.mjs) reads and writes: OpenAI chat requests and answers,
// OpenAI-style errors, vLLM's Prometheus gauges, fault settings. No state, no sockets kept.

import { createHash } from "node:crypto";

/**
 * @typedef {object} ChatRequest
 * @property {string} model
 * @property {number | undefined} maxTokens
 * @property {boolean} stream
 * @property {boolean} includeUsage
 * @property {number} promptTokens estimated: a token per 4 characters, 4 per message, 256 an
 *   image or audio part, 1024 a video part
 * @property {number} answerSeed from a digest of the prompt; the prompt itself is not kept
 * @property {number | undefined} priority vLLM's `priority` (lower is served earlier); absent
 *   counts as 0
 */
/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { Faults } from "./demo-site.mjs" */

const MAX_BODY_BYTES = 1 << 20;
// Prompt tokens charged for a media part: a flat guess, a video as several frames.
const MEDIA_PART_TOKENS = 256;
const VIDEO_PART_TOKENS = 4 * MEDIA_PART_TOKENS;
const WORDS = (
  "edge cell tower latency token model cache router tier slice radio packet carrier zone " +
  "gpu batch queue stream device cloud region spectrum handover beam link signal window " +
  "metric budget shard frame decode prefill weight kernel node site fleet uplink relay"
).split(" ");

/** @type {Readonly<Faults>} */
export const NO_FAULTS = Object.freeze({
  errorRate: 0,
  resetRate: 0,
  hangRate: 0,
  garbageRate: 0,
  garbageMetrics: false,
  addedLatencyMs: 0,
  stallAfterTokens: null,
  unhealthy: false,
  dark: false,
});

/** An answer in OpenAI's error shape; `type` follows the status class. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    this.type = status < 500 ? "invalid_request_error" : "server_error";
  }
}

/** @param {ServerResponse} res @param {number} status @param {unknown} body */
export function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** @param {ServerResponse} res @param {ApiError} err */
export function sendError(res, err) {
  const { message, type, code } = err;
  sendJson(res, err.status, { error: { message, type, param: null, code } });
}

/** @param {IncomingMessage} req @returns {Promise<unknown>} */
export async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, "body_too_large", "Body over 1 MiB.");
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new ApiError(400, "invalid_json", "Body is not valid JSON.");
  }
}

/** @param {unknown} v @returns {v is Record<string, unknown>} */
export function isRecord(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Checks an OpenAI chat body and keeps only what the simulation needs: the prompt's messages
 * are reduced to a token estimate and a digest here and go no further.
 * @param {unknown} body @returns {ChatRequest}
 */
export function parseChatRequest(body) {
  const bad = (/** @type {string} */ message) => new ApiError(400, "invalid_request", message);
  if (!isRecord(body)) throw bad("Body must be a JSON object.");
  const { model, messages, stream = false, stream_options: streamOptions } = body;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof model !== "string" || model.length === 0) throw bad("`model` must be a string.");
  if (!Array.isArray(messages) || messages.length === 0) {
    throw bad("`messages` must be a non-empty array.");
  }
  let chars = 0;
  let other = 0;
  for (const m of messages) {
    if (!isRecord(m) || typeof m.role !== "string") throw bad("Each message needs a `role`.");
    other += 4;
    if (typeof m.content === "string") chars += m.content.length;
    else if (Array.isArray(m.content)) {
      for (const part of m.content) {
        if (isRecord(part) && typeof part.text === "string") chars += part.text.length;
        else if (isRecord(part) && part.type === "video_url") {
          // vLLM's extension (Qwen2-VL, Qwen2.5-VL): `{ url }`, https or data:video/…;base64.
          // Checked, counted, and not kept: the clip is never fetched nor decoded here.
          const video = part.video_url;
          if (!isRecord(video) || typeof video.url !== "string" || video.url.length === 0) {
            throw bad("A `video_url` part needs `video_url.url`, a string.");
          }
          other += VIDEO_PART_TOKENS;
        } else other += MEDIA_PART_TOKENS; // an image or audio part
      }
    } else if (m.content !== null && m.content !== undefined) {
      throw bad("`content` must be a string, an array of parts or null.");
    }
  }
  if (maxTokens !== undefined && maxTokens !== null) {
    if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
      throw bad("`max_tokens` must be a positive integer.");
    }
  }
  const { priority } = body;
  if (priority !== undefined && priority !== null && !Number.isSafeInteger(priority)) {
    throw bad("`priority` must be an integer.");
  }
  if (typeof stream !== "boolean") throw bad("`stream` must be a boolean.");
  if (streamOptions !== undefined && streamOptions !== null && !isRecord(streamOptions)) {
    throw bad("`stream_options` must be an object.");
  }
  const digest = createHash("sha256").update(model).update("\0").update(JSON.stringify(messages));
  return {
    model,
    maxTokens: typeof maxTokens === "number" ? maxTokens : undefined,
    stream,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    promptTokens: other + Math.ceil(chars / 4),
    answerSeed: digest.digest().readUInt32LE(0),
    priority: typeof priority === "number" ? priority : undefined,
  };
}

/**
 * Words chosen by a PRNG seeded from the prompt digest: one token per word, sentences of 6–12
 * words, 24–87 tokens in all unless `maxTokens` cuts it first (finish reason "length").
 * @param {number} seed @param {number | undefined} maxTokens
 * @returns {{ tokens: string[], finishReason: "stop" | "length" }}
 */
export function fakeAnswer(seed, maxTokens) {
  const rand = mulberry32(seed);
  const natural = 24 + Math.floor(rand() * 64);
  const n = Math.min(natural, maxTokens ?? natural);
  const tokens = [];
  let untilStop = 6 + Math.floor(rand() * 7);
  let capital = true;
  for (let i = 0; i < n; i++) {
    let word = WORDS[Math.floor(rand() * WORDS.length)] ?? "edge";
    if (capital) word = word.charAt(0).toUpperCase() + word.slice(1);
    untilStop -= 1;
    capital = untilStop === 0 || i === natural - 1;
    if (capital) {
      word += ".";
      untilStop = 6 + Math.floor(rand() * 7);
    }
    tokens.push(i === 0 ? word : ` ${word}`);
  }
  return { tokens, finishReason: n < natural ? "length" : "stop" };
}

/** @param {number} seed @returns {() => number} uniform in [0, 1), deterministic per seed */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * vLLM's gauges as Prometheus text, one series per model (`model_name` label); a site with no
 * model at all still reports zeros so a scraper sees the gauges.
 * @param {string[]} models
 * @param {{ running: (m: string) => number, waiting: (m: string) => number,
 *   kvCache: (m: string) => number }} value
 */
export function prometheusText(models, value) {
  /** @param {string} name @param {string} help @param {(m: string) => number} f */
  const gauge = (name, help, f) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...(models.length === 0
      ? [`${name} 0.0`]
      : models.map((m) => `${name}{model_name="${escapeLabel(m)}"} ${formatNumber(f(m))}`)),
  ];
  const lines = [
    ...gauge(
      "vllm:num_requests_running",
      "Number of requests in model execution batches.",
      value.running,
    ),
    ...gauge(
      "vllm:num_requests_waiting",
      "Number of requests waiting to be processed.",
      value.waiting,
    ),
    ...gauge(
      "vllm:kv_cache_usage_perc",
      "KV-cache usage. 1 means 100 percent usage.",
      value.kvCache,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

/** @param {number} x */
function formatNumber(x) {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** @param {string} s */
function escapeLabel(s) {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * A fault patch, checked field by field; throws TypeError naming the first bad one.
 * @param {unknown} input @returns {Partial<Faults>}
 */
export function validateFaults(input) {
  if (!isRecord(input)) throw new TypeError("faults must be an object");
  /** @type {Partial<Faults>} */
  const out = {};
  for (const [key, v] of Object.entries(input)) {
    if (key === "errorRate" || key === "resetRate" || key === "hangRate" || key === "garbageRate") {
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
      if (v !== null && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) {
        throw new TypeError("stallAfterTokens must be an integer ≥ 0 or null");
      }
      out.stallAfterTokens = v;
    } else if (key === "dark" || key === "unhealthy" || key === "garbageMetrics") {
      if (typeof v !== "boolean") throw new TypeError(`${key} must be a boolean`);
      out[key] = v;
    } else throw new TypeError(`unknown fault ${key}`);
  }
  return out;
}
