// A local stand-in for Amazon Bedrock's Converse API: a real HTTP/1.1 server on 127.0.0.1 that
// speaks the wire protocol the real `@aws-sdk/client-bedrock-runtime` speaks (restJson1,
// SigV4-signed requests, AWS event-stream framing), so the router's cloud tier is exercised
// offline. Plain ESM with JSDoc types (declarations in bedrock-standin.d.mts; wire formats in
// bedrock-standin-wire.mjs, tool inputs from json-schema-sample.mjs): runs under Node ≥ 20
// unbuilt.
//
// Library: `startBedrockStandin(options)` → `{ port, url, close(), state, setFaults(f) }`.
//   Point a client at it with `endpoint: standin.url`, any region and static dummy credentials.
//   In Node, give the client `requestHandler: new NodeHttpHandler()` (@smithy/node-http-handler):
//   the SDK's Node default for Bedrock is HTTP/2, which this server does not speak.
//   TTFT and decode pacing are multiplied by `timeScale`; the fault `addedLatencyMs` is not.
//
// CLI: node scripts/bedrock-standin.mjs [--port 9200] [--time-scale X] [--seed N]
//        [--tokens-per-sec N] [--ttft-ms N] [--faults '{"throttleRate":0.1}']
//
// Operations (models: amazon.nova-{micro,lite,pro}-v1:0, optionally prefixed us./eu./apac., or
// the ARN of either):
//   POST /model/{modelId}/converse         → 200 JSON { output.message, stopReason, usage, metrics }
//   POST /model/{modelId}/converse-stream  → 200 application/vnd.amazon.eventstream: messageStart,
//     [contentBlockStart,] contentBlockDelta…, contentBlockStop, messageStop, metadata; frames
//     written as tokens are produced (after ttftMs, then at tokensPerSec).
//   The answer is derived from a digest of model, system and messages (never logged or kept):
//   text, or — when toolConfig.toolChoice is `any` or `tool` — a toolUse block whose input
//   satisfies the tool's JSON Schema. Non-stream and stream answers are identical.
//   Errors as Bedrock sends them: `x-amzn-errortype: <Name>:http://internal.amazon.com/coral/…`
//   and `{ "message" }`; 400 ValidationException (bad body, unknown model, media to Micro),
//   403 AccessDeniedException (no SigV4 Authorization / x-amz-date) or InvalidSignatureException
//   (wrong service scope, clock > 5 min off), 429 ThrottlingException, 500
//   InternalServerException, 503 ServiceUnavailableException; any other route 404.
//
// Faults: POST /__faults merges JSON into the current faults (GET reads them), as does
// `setFaults()`: throttleRate (0–1, 429), errorRate (0–1, 500 or 503), resetRate (0–1, socket
// destroyed unanswered), garbageRate (0–1, 200 with an answer no client can read: Converse
// without its message or not JSON, ConverseStream a frame with wrong checksums), toolInputOverride (any JSON value answered as the forced tool's input
// instead of a schema-valid one, to test validation; null = off), addedLatencyMs (before every answer), stallAfterTokens (streams stop
// after N tokens and hang until the client leaves; Converse hangs; null = off), midStreamError
// ({ afterTokens, type } → an exception frame after N tokens; null = off), dark (every socket
// destroyed, in-flight answers cut; /__faults still answers). A PRNG seeded by `seed` draws each
// request's fate, so a run is reproducible.
//
// GET /__calls answers { counts, calls } (how many calls arrived, per model and in all).
// `state.calls` logs every request but /__faults — { at, operation, modelId, status, error? },
// never content — so a test can assert that nothing reached the cloud.

import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { setTimeout as sleepFor } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  answerFor,
  BedrockError,
  checkSignature,
  eventFrame,
  exceptionFrame,
  NO_FAULTS,
  parseConverseRequest,
  readBody,
  resolveModel,
  sendError,
  sendJson,
  validateFaults,
  validation,
} from "./bedrock-standin-wire.mjs";
import { isRecord, mulberry32 } from "./demo-site-wire.mjs";

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { Answer, ConverseRequest } from "./bedrock-standin-wire.mjs" */
/**
 * @typedef {"internalServerException" | "modelStreamErrorException" | "throttlingException"
 *   | "serviceUnavailableException" | "validationException"} StreamExceptionType
 */
/**
 * @typedef {object} Faults
 * @property {number} errorRate share of requests answered 500/503 before the first byte
 * @property {number} throttleRate share of requests answered 429 before the first byte
 * @property {number} resetRate share of requests whose socket is destroyed unanswered
 * @property {number} garbageRate share of requests answered 200 with a malformed answer
 * @property {number} addedLatencyMs wall-clock delay before every answer
 * @property {number | null} stallAfterTokens streams stop after N tokens; null = off
 * @property {{ afterTokens: number, type: StreamExceptionType } | null} midStreamError
 * @property {boolean} dark every socket destroyed, in-flight answers cut
 * @property {unknown} toolInputOverride the forced tool's input answered instead; null = off
 */
/**
 * A fault patch: `midStreamError.type` defaults to "modelStreamErrorException".
 * @typedef {Partial<Omit<Faults, "midStreamError">> & {
 *   midStreamError?: { afterTokens: number, type?: StreamExceptionType } | null }} FaultsPatch
 */
/**
 * @typedef {object} BedrockStandinOptions
 * @property {number} [port]
 * @property {string} [host]
 * @property {number} [timeScale]
 * @property {number} [seed]
 * @property {number} [tokensPerSec]
 * @property {number} [ttftMs]
 * @property {FaultsPatch} [faults]
 * @property {(operation: Operation, modelId: string, body: Buffer) => void} [onRequest] sees
 *   every Converse(Stream) request body as it arrived (tests that check what reached the cloud)
 */
/** @typedef {"Converse" | "ConverseStream" | "Unknown"} Operation */
/**
 * @typedef {object} CallLogEntry
 * @property {number} at epoch ms
 * @property {Operation} operation
 * @property {string} modelId as in the path, decoded; "" for unknown routes
 * @property {number} status HTTP status answered; 0 while in flight or when none was
 * @property {string} [error] exception answered (HTTP or in-stream), or "ConnectionReset"
 */
/**
 * @typedef {object} BedrockStandinState
 * @property {Faults} faults
 * @property {Record<string, { Converse: number, ConverseStream: number }>} counts
 * @property {CallLogEntry[]} calls
 * @property {number} inFlight
 * @property {{ inputTokens: number, outputTokens: number }} tokens
 */
/**
 * @typedef {object} BedrockStandin
 * @property {number} port
 * @property {string} url
 * @property {() => Promise<void>} close
 * @property {BedrockStandinState} state
 * @property {(f: FaultsPatch) => Faults} setFaults
 */

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const CALL_LOG_LIMIT = 10_000;
const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;

/**
 * Starts a Bedrock stand-in and resolves once it listens.
 * @param {BedrockStandinOptions} [options] @returns {Promise<BedrockStandin>}
 */
export async function startBedrockStandin(options = {}) {
  const { port = 0, host = "127.0.0.1", timeScale = 1, seed = 1 } = options;
  const { tokensPerSec = 150, ttftMs = 300 } = options;
  if (!LOOPBACK.has(host)) throw new TypeError(`bedrock stand-in: loopback only, not ${host}`);
  if (!(timeScale >= 0)) throw new TypeError("bedrock stand-in: timeScale must be ≥ 0");
  if (!(tokensPerSec > 0)) throw new TypeError("bedrock stand-in: tokensPerSec must be > 0");
  if (!(ttftMs >= 0)) throw new TypeError("bedrock stand-in: ttftMs must be ≥ 0");
  const rand = mulberry32(seed);
  /** Answers in flight: cut when the stand-in goes dark or closes. @type {Set<ServerResponse>} */
  const active = new Set();
  const closing = new AbortController();

  /** @type {BedrockStandinState} */
  const state = {
    faults: { ...NO_FAULTS, ...validateFaults(options.faults ?? {}) },
    // No prototype: model ids come from request paths ("__proto__" included).
    counts: Object.create(null),
    calls: [],
    get inFlight() {
      return active.size;
    },
    tokens: { inputTokens: 0, outputTokens: 0 },
  };

  /** @param {FaultsPatch} patch @returns {Faults} */
  function setFaults(patch) {
    const next = { ...state.faults, ...validateFaults(patch) };
    const goingDark = next.dark && !state.faults.dark;
    state.faults = next;
    if (goingDark) for (const res of active) res.destroy();
    return { ...next };
  }

  /**
   * @param {IncomingMessage} req @param {ServerResponse} res @param {CallLogEntry} entry
   * @param {string} requestId @param {AbortSignal} signal
   */
  async function invoke(req, res, entry, requestId, signal) {
    const raw = await readBody(req);
    options.onRequest?.(entry.operation, entry.modelId, raw);
    checkSignature(req.headers, Date.now());
    const model = resolveModel(entry.modelId);
    const request = parseConverseRequest(raw, model);
    // Three draws per request that gets this far, whatever the rates.
    const [reset, failure, which] = [rand(), rand(), rand()];
    const { throttleRate, errorRate, resetRate } = state.faults;
    if (reset < resetRate) {
      entry.error = "ConnectionReset";
      req.socket.destroy();
      return;
    }
    if (failure < throttleRate) {
      throw new BedrockError(
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
      );
    }
    if (failure < throttleRate + errorRate) {
      throw which < 0.5
        ? new BedrockError(
            500,
            "InternalServerException",
            "The server encountered an internal error.",
          )
        : new BedrockError(
            503,
            "ServiceUnavailableException",
            "The service is temporarily unable to handle the request.",
          );
    }
    if (failure < throttleRate + errorRate + state.faults.garbageRate) {
      entry.error = "Garbage";
      const stream = entry.operation === "ConverseStream";
      res.writeHead(200, {
        "content-type": stream ? "application/vnd.amazon.eventstream" : "application/json",
        "x-amzn-requestid": requestId,
      });
      // A stream: one 16-byte frame whose checksums are wrong.
      if (stream) res.end(Buffer.from("000000100000000000000000deadbeef", "hex"));
      else res.end(which < 0.5 ? '{"stopReason":"end_turn"}' : "<html>oops</html>");
      return;
    }
    state.tokens.inputTokens += request.inputTokens;
    if (entry.operation === "Converse") await converse(res, request, requestId, signal);
    else await converseStream(res, entry, request, requestId, signal);
  }

  /** The forced tool's input replaced by the `toolInputOverride` fault, when set. */
  const overridden = (/** @type {Answer} */ answer) => {
    const input = state.faults.toolInputOverride;
    if (answer.kind !== "toolUse" || input === null || input === undefined) return answer;
    const json = JSON.stringify(input);
    /** @type {string[]} */
    const chunks = [];
    for (let at = 0; at < json.length; at += 8) chunks.push(json.slice(at, at + 8));
    return { ...answer, input, chunks: chunks.length > 0 ? chunks : [json] };
  };

  const interval = () => (1000 / tokensPerSec) * timeScale;
  /** Read per token, so a test may switch a stall on while a stream runs. */
  const stalls = (/** @type {number} */ i) =>
    state.faults.stallAfterTokens !== null && i >= state.faults.stallAfterTokens;

  /**
   * @param {ServerResponse} res @param {ConverseRequest} request @param {string} requestId
   * @param {AbortSignal} signal
   */
  async function converse(res, request, requestId, signal) {
    const start = performance.now();
    const answer = overridden(answerFor(request));
    const parts = answer.kind === "text" ? answer.tokens : answer.chunks;
    const stallAt = parts.findIndex((_, i) => stalls(i));
    if (stallAt >= 0) {
      await sleep(ttftMs * timeScale + stallAt * interval(), signal);
      await hang(signal);
    }
    await sleep(ttftMs * timeScale + parts.length * interval(), signal);
    state.tokens.outputTokens += parts.length;
    const content =
      answer.kind === "text"
        ? [{ text: answer.tokens.join("") }]
        : [{ toolUse: { toolUseId: answer.toolUseId, name: answer.name, input: answer.input } }];
    sendJson(
      res,
      200,
      {
        output: { message: { role: "assistant", content } },
        stopReason: answer.stopReason,
        usage: usage(request, parts.length),
        metrics: { latencyMs: Math.round(performance.now() - start) },
      },
      { "x-amzn-requestid": requestId },
    );
  }

  /**
   * @param {ServerResponse} res @param {CallLogEntry} entry @param {ConverseRequest} request
   * @param {string} requestId @param {AbortSignal} signal
   */
  async function converseStream(res, entry, request, requestId, signal) {
    const start = performance.now();
    const answer = overridden(answerFor(request));
    const pad = mulberry32(request.answerSeed ^ 0x5bd1e995);
    /** @param {Uint8Array} frame */
    const send = async (frame) => {
      if (!res.write(frame)) await once(res, "drain", { signal });
    };
    /** @param {string} type @param {Record<string, unknown>} payload */
    const event = (type, payload) => send(eventFrame(type, payload, pad));
    await sleep(ttftMs * timeScale, signal);
    res.writeHead(200, {
      "content-type": "application/vnd.amazon.eventstream",
      "x-amzn-requestid": requestId,
    });
    await event("messageStart", { role: "assistant" });
    const parts = answer.kind === "text" ? answer.tokens : answer.chunks;
    if (answer.kind === "toolUse") {
      const toolUse = { toolUseId: answer.toolUseId, name: answer.name };
      await event("contentBlockStart", { contentBlockIndex: 0, start: { toolUse } });
    }
    const paced = performance.now();
    for (let i = 0; i <= parts.length; i++) {
      const fault = state.faults.midStreamError;
      if (fault && (i === fault.afterTokens || (i === parts.length && fault.afterTokens > i))) {
        entry.error = fault.type;
        await send(exceptionFrame(fault.type, "Injected fault: the model stream failed."));
        res.end();
        return;
      }
      if (i === parts.length) break;
      if (stalls(i)) await hang(signal);
      // Timed from the first token, so timer lag is caught up rather than stretching the answer.
      const wait = paced + (i + 1) * interval() - performance.now();
      if (wait >= 1) await sleep(wait, signal);
      const part = parts[i] ?? "";
      const delta = answer.kind === "text" ? { text: part } : { toolUse: { input: part } };
      await event("contentBlockDelta", { contentBlockIndex: 0, delta });
      state.tokens.outputTokens += 1;
    }
    await event("contentBlockStop", { contentBlockIndex: 0 });
    await event("messageStop", { stopReason: answer.stopReason });
    await event("metadata", {
      usage: usage(request, parts.length),
      metrics: { latencyMs: Math.round(performance.now() - start) },
    });
    res.end();
  }

  /** @param {IncomingMessage} req @param {ServerResponse} res */
  async function dispatch(req, res) {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://standin").pathname;
    if (path === "/__faults") {
      if (method === "GET") sendJson(res, 200, state.faults);
      else if (method === "POST") {
        const body = await readBody(req);
        try {
          sendJson(res, 200, setFaults(JSON.parse(body.toString("utf8") || "{}")));
        } catch (err) {
          throw validation(err instanceof Error ? err.message : "Bad faults.");
        }
      } else throw new BedrockError(405, "MethodNotAllowed", "GET or POST /__faults.");
      return;
    }
    if (path === "/__calls" && method === "GET") {
      // What reached the stand-in (no content): lets a test prove a request never got here.
      sendJson(res, 200, { counts: state.counts, calls: state.calls.length });
      return;
    }
    const route = method === "POST" ? ROUTE.exec(path) : null;
    /** @type {CallLogEntry} */
    const entry = {
      at: Date.now(),
      operation: !route ? "Unknown" : route[2] === "converse" ? "Converse" : "ConverseStream",
      modelId: route ? safeDecode(route[1] ?? "") : "",
      status: 0,
    };
    state.calls.push(entry);
    if (state.calls.length > CALL_LOG_LIMIT) state.calls.shift();
    if (entry.operation !== "Unknown") {
      const counts = state.counts[entry.modelId] ?? { Converse: 0, ConverseStream: 0 };
      counts[entry.operation] += 1;
      state.counts[entry.modelId] = counts;
    }
    const requestId = randomUUID();
    const gone = new AbortController();
    res.on("close", () => gone.abort());
    res.on("finish", () => {
      entry.status = res.statusCode;
    });
    const signal = AbortSignal.any([gone.signal, closing.signal]);
    if (state.faults.dark) {
      entry.error = "ConnectionReset";
      req.socket.destroy();
      return;
    }
    active.add(res);
    try {
      await sleep(state.faults.addedLatencyMs, signal);
      if (entry.operation === "Unknown") {
        throw new BedrockError(
          404,
          "UnknownOperationException",
          `No operation at ${method} ${path}.`,
        );
      }
      await invoke(req, res, entry, requestId, signal);
    } catch (err) {
      if (err instanceof BedrockError && !res.headersSent && !res.destroyed) {
        entry.error = err.code;
        sendError(res, err, requestId);
      } else throw err;
    } finally {
      active.delete(res);
      if (res.headersSent) entry.status = res.statusCode;
    }
  }

  const server = createServer({ noDelay: true, keepAliveTimeout: 5_000 }, (req, res) => {
    dispatch(req, res).catch((err) => {
      if (res.headersSent || res.destroyed || closing.signal.aborted || signalled(err)) {
        res.destroy();
      } else if (err instanceof BedrockError) sendError(res, err, randomUUID());
      else {
        sendError(res, new BedrockError(500, "InternalServerException", "Stand-in failure."), "");
      }
    });
  });
  server.listen(port, host);
  await once(server, "listening");
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;

  /** @type {Promise<void> | undefined} */
  let closed;
  function close() {
    closed ??= (async () => {
      closing.abort();
      for (const res of active) res.destroy();
      const done = once(server, "close");
      server.close();
      server.closeAllConnections();
      await done;
    })();
    return closed;
  }

  return { port: boundPort, url, close, state, setFaults };
}

/** @param {ConverseRequest} request @param {number} outputTokens */
function usage(request, outputTokens) {
  const { inputTokens } = request;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** @param {string} s */
function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** @param {number} ms @param {AbortSignal} signal */
async function sleep(ms, signal) {
  if (ms > 0) await sleepFor(ms, undefined, { signal });
  else signal.throwIfAborted();
}

/** Until the client goes away or the stand-in closes. @param {AbortSignal} signal */
function hang(signal) {
  return /** @type {Promise<never>} */ (
    new Promise((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    })
  );
}

/** @param {unknown} err */
function signalled(err) {
  return err instanceof Error && err.name === "AbortError";
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "9200" },
      "time-scale": { type: "string" },
      seed: { type: "string" },
      "tokens-per-sec": { type: "string" },
      "ttft-ms": { type: "string" },
      faults: { type: "string" },
    },
  });
  /** @param {string | undefined} v */
  const num = (v) => (v === undefined ? undefined : Number(v));
  const faults = JSON.parse(values.faults ?? "{}");
  const standin = await startBedrockStandin({
    port: Number(values.port),
    ...(num(values["time-scale"]) !== undefined ? { timeScale: num(values["time-scale"]) } : {}),
    ...(num(values.seed) !== undefined ? { seed: num(values.seed) } : {}),
    ...(num(values["tokens-per-sec"]) !== undefined
      ? { tokensPerSec: num(values["tokens-per-sec"]) }
      : {}),
    ...(num(values["ttft-ms"]) !== undefined ? { ttftMs: num(values["ttft-ms"]) } : {}),
    ...(isRecord(faults) ? { faults } : {}),
  });
  console.log(`bedrock stand-in: ${standin.url}  (Converse / ConverseStream, Nova models)`);
  const stop = () => standin.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
