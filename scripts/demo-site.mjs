// A demo MEC site: a real HTTP server on 127.0.0.1 that behaves like a small vLLM host, so the
// router, its tests and `npm start` talk to something with real sockets, queues and cold loads.
// Plain ESM with JSDoc types (declarations in demo-site.d.mts; wire formats in
// demo-site-wire.mjs): runs under Node ≥ 20 unbuilt.
//
// Library: `startDemoSite(options)` → `{ port, url, close(), state, setFaults(f) }`.
//   Every simulated delay (decode, prefill, cold load) is multiplied by `timeScale`; the fault
//   `addedLatencyMs` and the heartbeat `intervalMs` are wall-clock and are not.
//   `seedSiteOptions(site, catalog)` / `loadSeedSites()` turn shared/seed/fleet.json into options.
//
// CLI (needs Node ≥ 22.18 to read shared/catalog.ts: use the project's `npx node`):
//   npx node scripts/demo-site.mjs --id berlin-1 [--id paris-1 …] | --all
//     [--port N]              only with one site; default: the port of the seed site's endpoint
//     [--time-scale X] [--seed N] [--faults '{"errorRate":0.1}'] [--scheduling fcfs|priority]
//     [--router http://127.0.0.1:8787 [--site-key dev-site-key] [--heartbeat-ms 1000]]
//   Sites come from shared/seed/fleet.json (capacity, models, residentModels) and the MEC
//   variants of shared/catalog.ts (gpuMemoryGb → sizeGb, tokensPerSec, loadTimeMs).
//
// Inference (the vLLM / OpenAI shape):
//   POST /v1/chat/completions  model, messages, max_tokens, stream, stream_options.include_usage.
//     A deterministic fake answer derived from a digest of the prompt; the prompt is never
//     logged or kept. Errors as { "error": { message, type, code } }: 404 unknown model, 400 bad
//     body. A servable model that is not resident is cold-loaded first (evicting LRU models).
//     At most `maxConcurrent` requests generate; the rest wait in arrival order, or with
//     `scheduling: "priority"` (vLLM's `--scheduling-policy priority`) by the body's integer
//     `priority` (lower first, absent = 0) and then arrival. Like vLLM, a site that is not
//     scheduling by priority answers 400 to a non-zero `priority`. Running requests are never
//     preempted.
//   GET /v1/models (resident models), GET /health (200 {}), GET /metrics (Prometheus text:
//     vllm:num_requests_running / _waiting and vllm:kv_cache_usage_perc per model_name).
//
// Model control API — the contract mec-router's cache agent calls at its `controlEndpoint`
// (`http://host:port/control`). A real vLLM or Ollama host implements it with a sidecar:
//   POST /control/models/load   {"model"} → 200 { model, resident: true, loadedInMs, evicted[] }
//        answers once the model serves; evicts least recently used idle models to make room;
//        404 model not servable here, 507 it cannot fit (too large, or the rest is in use).
//   POST /control/models/unload {"model"} → 200 { model, resident: false }; 409 while in use.
//   GET  /control/stats → request, error, reset and hang counters, and chat requests by the
//        `priority` they carried ("none" without one) (demo only)
//   GET  /control/models → { models: [{ model, sizeGb, loadedAt, lastUsedAt }], gpuMemoryGb,
//        freeGpuMemoryGb } (times in epoch ms).
//   It has no authentication: a sidecar must only be reachable from the router's network.
//
// Faults (demo only): POST /control/faults merges JSON into the current faults (GET reads
// them), as does `setFaults()`: errorRate (0–1, 500/503 before the first byte), resetRate (0–1,
// socket destroyed without a response), hangRate (0–1, never answered), garbageRate (0–1, 200
// with a malformed answer: not JSON, the wrong shape, or far too large; streams: a malformed
// event or an endless one), garbageMetrics (GET /metrics reports out-of-range values),
// addedLatencyMs (before every non-control answer),
// stallAfterTokens (streams stop after N tokens and hang until the client leaves; non-streams
// hang; null = off), unhealthy (GET /health 503), dark (in-flight answers cut, every request's
// socket destroyed except /health → 503 and /control/faults, so it can be switched back).
// A PRNG seeded by `seed` draws each chat request's fate, so a run is reproducible.
//
// Heartbeats (optional): every `intervalMs` (and once at start), POST
// {routerUrl}/v1/sites/{id}/heartbeat with `authorization: Bearer {siteKey}` and the body of
// shared/heartbeat.ts's `heartbeatSchema`; failures are only counted in `state.stats`.

import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { setTimeout as sleepFor } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  ApiError,
  fakeAnswer,
  isRecord,
  mulberry32,
  NO_FAULTS,
  parseChatRequest,
  prometheusText,
  readJson,
  sendError,
  sendJson,
  validateFaults,
} from "./demo-site-wire.mjs";

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { ChatRequest } from "./demo-site-wire.mjs" */
/**
 * @typedef {object} Faults
 * @property {number} errorRate share of chat requests answered 500/503 before the first byte
 * @property {number} resetRate share of chat requests whose socket is destroyed unanswered
 * @property {number} hangRate share of chat requests never answered (the caller times out)
 * @property {number} garbageRate share of chat requests answered 200 with a malformed answer
 * @property {boolean} garbageMetrics GET /metrics reports out-of-range values
 * @property {number} addedLatencyMs wall-clock delay before every non-control answer
 * @property {number | null} stallAfterTokens streams stop after N tokens; null = off
 * @property {boolean} unhealthy GET /health answers 503
 * @property {boolean} dark in-flight answers cut, sockets destroyed
 */
/**
 * @typedef {object} DemoModel
 * @property {string} model
 * @property {number} tokensPerSec single-request decode rate
 * @property {number} loadTimeMs cold-load time at timeScale 1
 * @property {number} sizeGb GPU memory the weights hold
 * @property {number} [prefillTokensPerSec] prompt processing rate; omitted = no prefill delay
 */
/**
 * @typedef {object} DemoSiteOptions
 * @property {string} id
 * @property {number} [port]
 * @property {string} [host]
 * @property {DemoModel[]} models
 * @property {string[]} residentModels
 * @property {number} maxConcurrent
 * @property {"fcfs" | "priority"} [scheduling] how the queue is ordered (default fcfs)
 * @property {number} gpuMemoryGb
 * @property {number} [timeScale]
 * @property {number} [seed]
 * @property {Partial<Faults>} [faults]
 * @property {{ routerUrl: string, siteKey: string, intervalMs: number }} [heartbeat]
 */
/** @typedef {{ sizeGb: number, loadedAt: number, lastUsedAt: number }} Residency */
/**
 * @typedef {{ at: number, method: string, path: string, model?: string, status: number }}
 *   ControlLogEntry
 */
/**
 * @typedef {object} DemoSiteState
 * @property {string} id
 * @property {Faults} faults
 * @property {Map<string, Residency>} resident
 * @property {number} running
 * @property {number} waiting
 * @property {ControlLogEntry[]} controlLog the last 1,000 control calls, oldest first
 * @property {DemoSiteStats} stats
 */
/**
 * @typedef {object} DemoSiteStats
 * @property {number} requests chat requests received
 * @property {number} completed
 * @property {number} injectedErrors
 * @property {number} resets
 * @property {number} hangs
 * @property {number} garbage malformed answers sent
 * @property {number} coldLoads
 * @property {number} evictions
 * @property {number} generationTokens
 * @property {number} heartbeatsSent answered 2xx
 * @property {number} heartbeatsFailed
 * @property {number | null} lastHeartbeatStatus HTTP status; 0 unreachable; null none yet
 * @property {Record<string, number>} priorities chat requests by the `priority` they carried
 */
/**
 * @typedef {object} DemoSite
 * @property {number} port
 * @property {string} url
 * @property {() => Promise<void>} close
 * @property {DemoSiteState} state
 * @property {(f: Partial<Faults>) => Faults} setFaults
 */

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const CONTROL_LOG_LIMIT = 1_000;

/**
 * Starts a demo site and resolves once it listens.
 * @param {DemoSiteOptions} options @returns {Promise<DemoSite>}
 */
export async function startDemoSite(options) {
  const { id, port = 0, host = "127.0.0.1", maxConcurrent, gpuMemoryGb } = options;
  const timeScale = options.timeScale ?? 1;
  if (!id) throw new TypeError("demo site: id is required");
  if (!LOOPBACK.has(host)) throw new TypeError(`demo site: binds only to loopback, not ${host}`);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new TypeError("demo site: maxConcurrent must be an integer ≥ 1");
  }
  if (!(gpuMemoryGb > 0)) throw new TypeError("demo site: gpuMemoryGb must be > 0");
  if (!(timeScale >= 0)) throw new TypeError("demo site: timeScale must be ≥ 0");
  if (options.heartbeat && !(options.heartbeat.intervalMs > 0)) {
    throw new TypeError("demo site: heartbeat.intervalMs must be > 0");
  }
  const specs = new Map(options.models.map((m) => [m.model, m]));
  const t0 = Date.now();
  /** @type {Map<string, Residency>} */
  const resident = new Map();
  for (const model of options.residentModels) {
    const spec = specs.get(model);
    if (!spec) throw new TypeError(`demo site ${id}: resident model ${model} is not served`);
    resident.set(model, { sizeGb: spec.sizeGb, loadedAt: t0, lastUsedAt: t0 });
  }
  if (sum([...resident.values()].map((r) => r.sizeGb)) > gpuMemoryGb) {
    throw new TypeError(`demo site ${id}: resident models exceed ${gpuMemoryGb} GB`);
  }

  // Requests per model: generating, waiting (queue or cold load), holding it (not evictable).
  /** @type {Map<string, number>} */
  const runningBy = new Map();
  /** @type {Map<string, number>} */
  const waitingBy = new Map();
  /** @type {Map<string, number>} */
  const inUse = new Map();
  /** @type {Map<string, { sizeGb: number, done: Promise<void> }>} */
  const loading = new Map();
  const scheduling = options.scheduling ?? "fcfs";
  if (scheduling !== "fcfs" && scheduling !== "priority") {
    throw new TypeError(`demo site: scheduling must be fcfs or priority, not ${scheduling}`);
  }
  const slots = new Slots(maxConcurrent);
  const rand = mulberry32(options.seed ?? 1);
  /** Chat answers in flight: cut when the site goes dark or closes. @type {Set<ServerResponse>} */
  const active = new Set();
  const closing = new AbortController();
  let completions = 0;

  /** @type {DemoSiteState} */
  const state = {
    id,
    faults: { ...NO_FAULTS, ...validateFaults(options.faults ?? {}) },
    resident,
    get running() {
      return sum([...runningBy.values()]);
    },
    get waiting() {
      return sum([...waitingBy.values()]);
    },
    controlLog: [],
    stats: {
      requests: 0,
      completed: 0,
      injectedErrors: 0,
      resets: 0,
      hangs: 0,
      garbage: 0,
      coldLoads: 0,
      evictions: 0,
      generationTokens: 0,
      heartbeatsSent: 0,
      heartbeatsFailed: 0,
      lastHeartbeatStatus: null,
      priorities: {},
    },
  };

  /** @param {Partial<Faults>} patch @returns {Faults} */
  function setFaults(patch) {
    const next = { ...state.faults, ...validateFaults(patch) };
    const goingDark = next.dark && !state.faults.dark;
    state.faults = next;
    if (goingDark) for (const res of active) res.destroy();
    return { ...next };
  }

  const usedGb = () => sum([...resident.values(), ...loading.values()].map((r) => r.sizeGb));
  const freeGb = () => round(Math.max(0, gpuMemoryGb - usedGb()));
  const kvCache = (/** @type {number} */ running) =>
    round(Math.min(1, (0.9 * running) / maxConcurrent), 4);

  /**
   * Makes `model` resident: joins a load in progress, or evicts idle models (least recently
   * used first) and loads it. 507 when it cannot fit.
   * @param {DemoModel} spec @returns {Promise<{ loadedInMs: number, evicted: string[] }>}
   */
  async function ensureResident(spec) {
    const { model, sizeGb } = spec;
    const start = performance.now();
    const elapsed = () => Math.round(performance.now() - start);
    if (resident.has(model)) return { loadedInMs: 0, evicted: [] };
    const pending = loading.get(model);
    if (pending) {
      await pending.done;
      return { loadedInMs: elapsed(), evicted: [] };
    }
    if (sizeGb > gpuMemoryGb) {
      throw new ApiError(507, "model_too_large", `${model} needs ${sizeGb} GB of ${gpuMemoryGb}.`);
    }
    const idle = [...resident]
      .filter(([m]) => !inUse.has(m))
      .sort((a, b) => a[1].lastUsedAt - b[1].lastUsedAt);
    const evicted = [];
    let free = gpuMemoryGb - usedGb();
    for (const [m, r] of idle) {
      if (free >= sizeGb) break;
      evicted.push(m);
      free += r.sizeGb;
    }
    if (free < sizeGb) {
      throw new ApiError(
        507,
        "insufficient_gpu_memory",
        `${model} does not fit beside models in use.`,
      );
    }
    for (const m of evicted) resident.delete(m);
    state.stats.evictions += evicted.length;
    state.stats.coldLoads += 1;
    const done = sleepFor(spec.loadTimeMs * timeScale, undefined, { signal: closing.signal });
    loading.set(model, { sizeGb, done });
    try {
      await done;
    } finally {
      loading.delete(model);
    }
    const now = Date.now();
    resident.set(model, { sizeGb, loadedAt: now, lastUsedAt: now });
    return { loadedInMs: elapsed(), evicted };
  }

  /** @param {string} model */
  function touch(model) {
    const r = resident.get(model);
    if (r) r.lastUsedAt = Date.now();
  }

  /** @param {IncomingMessage} req @param {ServerResponse} res @param {AbortSignal} signal */
  async function chat(req, res, signal) {
    state.stats.requests += 1;
    const body = parseChatRequest(await readJson(req));
    const key = body.priority === undefined ? "none" : String(body.priority);
    state.stats.priorities[key] = (state.stats.priorities[key] ?? 0) + 1;
    if (scheduling === "fcfs" && (body.priority ?? 0) !== 0) {
      throw new ApiError(
        400,
        "invalid_request",
        `Got priority ${body.priority} but priority scheduling is not enabled.`,
      );
    }
    const spec = specs.get(body.model);
    if (!spec) {
      throw new ApiError(404, "model_not_found", `The model \`${body.model}\` does not exist.`);
    }
    // Three draws per request whatever the rates, so the sequence depends only on the seed.
    const [reset, error, which] = [rand(), rand(), rand()];
    if (reset < state.faults.resetRate) {
      state.stats.resets += 1;
      req.socket.destroy();
      return;
    }
    if (error < state.faults.errorRate) {
      state.stats.injectedErrors += 1;
      throw which < 0.5
        ? new ApiError(500, "internal_error", "Injected fault: internal error.")
        : new ApiError(503, "service_unavailable", "Injected fault: overloaded.");
    }
    if (error < state.faults.errorRate + state.faults.hangRate) {
      // Never answers: the caller's timeout has to notice.
      state.stats.hangs += 1;
      await new Promise((resolve) => {
        if (signal.aborted) resolve(undefined);
        else signal.addEventListener("abort", () => resolve(undefined), { once: true });
      });
      return;
    }
    const { errorRate, hangRate, garbageRate } = state.faults;
    if (error >= errorRate + hangRate && error < errorRate + hangRate + garbageRate) {
      state.stats.garbage += 1;
      await sendGarbage(res, body.stream, which, signal);
      return;
    }
    const { model } = body;
    bump(inUse, model, 1);
    try {
      bump(waitingBy, model, 1);
      try {
        await ensureResident(spec);
        await slots.acquire(signal, scheduling === "priority" ? (body.priority ?? 0) : 0);
      } finally {
        bump(waitingBy, model, -1);
      }
      bump(runningBy, model, 1);
      touch(model);
      try {
        await generate(res, spec, body, `chatcmpl-${id}-${++completions}`, signal);
        state.stats.completed += 1;
      } finally {
        bump(runningBy, model, -1);
        slots.release();
        touch(model);
      }
    } finally {
      bump(inUse, model, -1);
    }
  }

  /**
   * Answers at the model's decode rate: a `chat.completion`, or SSE chunks written as produced.
   * @param {ServerResponse} res @param {DemoModel} spec @param {ChatRequest} body
   * @param {string} cid @param {AbortSignal} signal
   */
  async function generate(res, spec, body, cid, signal) {
    const { tokens, finishReason } = fakeAnswer(body.answerSeed, body.maxTokens);
    const interval = (1000 / spec.tokensPerSec) * timeScale;
    const prefill = spec.prefillTokensPerSec
      ? (body.promptTokens / spec.prefillTokensPerSec) * 1000 * timeScale
      : 0;
    const created = Math.floor(Date.now() / 1000);
    const head = (/** @type {string} */ object) => ({
      id: cid,
      object,
      created,
      model: body.model,
    });
    const usage = {
      prompt_tokens: body.promptTokens,
      completion_tokens: tokens.length,
      total_tokens: body.promptTokens + tokens.length,
    };
    // Read per token, so a test may switch a stall on while a stream runs.
    const stalls = (/** @type {number} */ i) =>
      state.faults.stallAfterTokens !== null && i >= state.faults.stallAfterTokens;

    if (!body.stream) {
      const stallAt = tokens.findIndex((_, i) => stalls(i));
      if (stallAt >= 0) {
        await sleep(prefill + stallAt * interval, signal);
        await hang(signal);
      }
      await sleep(prefill + tokens.length * interval, signal);
      state.stats.generationTokens += tokens.length;
      const message = { role: "assistant", content: tokens.join("") };
      sendJson(res, 200, {
        ...head("chat.completion"),
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        usage,
      });
      return;
    }

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    // With include_usage, OpenAI sends `usage: null` on every chunk but the last.
    const nullUsage = body.includeUsage ? { usage: null } : {};
    /** @param {object} delta @param {string | null} finish */
    const chunk = (delta, finish) => ({
      ...head("chat.completion.chunk"),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...nullUsage,
    });
    /** @param {unknown} data */
    const send = async (data) => {
      if (!res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)) {
        await once(res, "drain", { signal });
      }
    };
    await sleep(prefill, signal);
    await send(chunk({ role: "assistant", content: "" }, null));
    const start = performance.now();
    for (let i = 0; i < tokens.length; i++) {
      if (stalls(i)) await hang(signal);
      // Timed from the start, so timer lag is caught up rather than stretching the answer.
      const wait = start + (i + 1) * interval - performance.now();
      if (wait >= 1) await sleep(wait, signal);
      await send(chunk({ content: tokens[i] }, null));
      state.stats.generationTokens += 1;
    }
    await send(chunk({}, finishReason));
    if (body.includeUsage) {
      await send({ ...head("chat.completion.chunk"), choices: [], usage });
    }
    await send("[DONE]");
    res.end();
  }

  /**
   * A 200 that no OpenAI client could read, in one of three ways picked by `which`.
   * @param {ServerResponse} res @param {boolean} stream @param {number} which
   * @param {AbortSignal} signal
   */
  async function sendGarbage(res, stream, which, signal) {
    if (!stream) {
      res.writeHead(200, { "content-type": "application/json" });
      if (which < 1 / 3) res.end("<html>502 Bad Gateway</html>");
      else if (which < 2 / 3)
        res.end('{"id":"x","choices":[{"index":0,"message":{"content":42}}]}');
      else {
        // 9 MiB: past any answer size a router should accept.
        const pad = "a".repeat(1024 * 1024);
        res.write('{"id":"x","object":"chat.completion","choices":[{"index":0,"message":');
        res.write('{"role":"assistant","content":"');
        for (let i = 0; i < 9 && !signal.aborted; i++) {
          if (!res.write(pad)) await once(res, "drain", { signal }).catch(() => {});
        }
        res.end('"},"finish_reason":"stop"}]}');
      }
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (which < 1 / 3) res.end('data: {"choices":"none"}\n\n');
    else if (which < 2 / 3) res.end("data: {not json\n\n");
    else {
      // One event that never ends: 2 MiB without a blank line.
      const pad = "x".repeat(256 * 1024);
      res.write("data: ");
      for (let i = 0; i < 8 && !signal.aborted; i++) {
        if (!res.write(pad)) await once(res, "drain", { signal }).catch(() => {});
      }
      res.end();
    }
  }

  function heartbeatBody() {
    const running = state.running;
    return {
      metrics: {
        "vllm:num_requests_waiting": state.waiting,
        "vllm:num_requests_running": running,
        "vllm:kv_cache_usage_perc": kvCache(running),
      },
      gpuUtilization: round(Math.min(1, running / maxConcurrent)),
      freeGpuMemoryGb: freeGb(),
      residentModels: [...resident].map(([model, r]) => ({
        model,
        sizeGb: r.sizeGb,
        lastUsedAt: r.lastUsedAt,
      })),
      // The speed it really decodes at: a time-scaled site is that much faster or slower.
      tokensPerSec: Object.fromEntries(
        [...resident.keys()].map((m) => {
          const tps = specs.get(m)?.tokensPerSec ?? 1;
          return [m, timeScale > 0 ? round(tps / timeScale) : tps];
        }),
      ),
    };
  }

  /** @param {IncomingMessage} req @param {ServerResponse} res @param {ControlLogEntry} entry */
  async function control(req, res, entry) {
    const { method, path } = entry;
    if (method === "GET" && path === "/control/models") {
      const models = [...resident].map(([model, r]) => ({ model, ...r }));
      sendJson(res, 200, { models, gpuMemoryGb, freeGpuMemoryGb: freeGb() });
    } else if (method === "GET" && path === "/control/faults") {
      sendJson(res, 200, state.faults);
    } else if (method === "GET" && path === "/control/stats") {
      sendJson(res, 200, state.stats);
    } else if (method === "POST" && path === "/control/faults") {
      const patch = await readJson(req);
      try {
        sendJson(res, 200, setFaults(/** @type {Partial<Faults>} */ (patch)));
      } catch (err) {
        throw new ApiError(400, "invalid_faults", err instanceof Error ? err.message : "bad");
      }
    } else if (method === "POST" && /^\/control\/models\/(un)?load$/.test(path)) {
      const body = await readJson(req);
      const model = isRecord(body) && typeof body.model === "string" ? body.model : "";
      if (!model) throw new ApiError(400, "invalid_request", 'Expected {"model": string}.');
      entry.model = model;
      const spec = specs.get(model);
      if (!spec) throw new ApiError(404, "model_not_found", `This site cannot serve ${model}.`);
      if (path.endsWith("/load")) {
        const { loadedInMs, evicted } = await ensureResident(spec);
        sendJson(res, 200, { model, resident: true, loadedInMs, evicted });
      } else {
        if (inUse.has(model) || loading.has(model)) {
          throw new ApiError(409, "model_busy", `${model} is serving or loading.`);
        }
        resident.delete(model);
        sendJson(res, 200, { model, resident: false });
      }
    } else {
      throw new ApiError(404, "not_found", `No route ${method} ${path}.`);
    }
  }

  /** @param {IncomingMessage} req @param {ServerResponse} res */
  async function dispatch(req, res) {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://site").pathname;
    const gone = new AbortController();
    res.on("close", () => gone.abort());
    const signal = AbortSignal.any([gone.signal, closing.signal]);
    if (state.faults.dark && path !== "/control/faults") {
      if (path !== "/health") req.socket.destroy();
      else sendError(res, new ApiError(503, "site_dark", "Site is dark."));
      return;
    }
    if (path.startsWith("/control/")) {
      /** @type {ControlLogEntry} */
      const entry = { at: Date.now(), method, path, status: 0 };
      state.controlLog.push(entry);
      if (state.controlLog.length > CONTROL_LOG_LIMIT) state.controlLog.shift();
      try {
        await control(req, res, entry);
      } catch (err) {
        if (!(err instanceof ApiError) || res.headersSent) throw err;
        sendError(res, err);
      } finally {
        entry.status = res.headersSent ? res.statusCode : 0;
      }
      return;
    }
    await sleep(state.faults.addedLatencyMs, signal);
    if (method === "GET" && path === "/health") {
      if (!state.faults.unhealthy) sendJson(res, 200, {});
      else sendError(res, new ApiError(503, "site_unhealthy", "Site is unhealthy."));
    } else if (method === "GET" && path === "/metrics" && state.faults.garbageMetrics) {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(
        "vllm:num_requests_waiting 1e308\nvllm:num_requests_running -7\n" +
          'vllm:kv_cache_usage_perc 42\nvllm:num_requests_waiting{model_name="x"} Inf\n',
      );
    } else if (method === "GET" && path === "/metrics") {
      const models = [...new Set([...resident.keys(), ...runningBy.keys(), ...waitingBy.keys()])];
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(
        prometheusText(models, {
          running: (m) => runningBy.get(m) ?? 0,
          waiting: (m) => waitingBy.get(m) ?? 0,
          kvCache: (m) => kvCache(runningBy.get(m) ?? 0),
        }),
      );
    } else if (method === "GET" && path === "/v1/models") {
      const data = [...resident].map(([model, r]) => ({
        id: model,
        object: "model",
        created: Math.floor(r.loadedAt / 1000),
        owned_by: `mec-demo-site/${id}`,
      }));
      sendJson(res, 200, { object: "list", data });
    } else if (method === "POST" && path === "/v1/chat/completions") {
      active.add(res);
      try {
        await chat(req, res, signal);
      } finally {
        active.delete(res);
      }
    } else {
      throw new ApiError(404, "not_found", `No route ${method} ${path}.`);
    }
  }

  const server = createServer({ noDelay: true, keepAliveTimeout: 5_000 }, (req, res) => {
    dispatch(req, res).catch((err) => {
      if (res.headersSent || res.destroyed || closing.signal.aborted) res.destroy();
      else if (err instanceof ApiError) sendError(res, err);
      else if (signalled(err)) res.destroy();
      else sendError(res, new ApiError(500, "internal_error", "Demo site failure."));
    });
  });
  server.listen(port, host);
  await once(server, "listening");
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;

  const hb = options.heartbeat;
  /** @type {NodeJS.Timeout | undefined} */
  let heartbeatTimer;
  if (hb) {
    const router = hb.routerUrl.replace(/\/$/, "");
    const target = `${router}/v1/sites/${encodeURIComponent(id)}/heartbeat`;
    let inFlight = false;
    const beat = async () => {
      if (inFlight || closing.signal.aborted) return;
      inFlight = true;
      try {
        const res = await fetch(target, {
          method: "POST",
          headers: { authorization: `Bearer ${hb.siteKey}`, "content-type": "application/json" },
          body: JSON.stringify(heartbeatBody()),
          signal: AbortSignal.any([
            closing.signal,
            AbortSignal.timeout(Math.max(1_000, hb.intervalMs)),
          ]),
        });
        await res.body?.cancel();
        state.stats.lastHeartbeatStatus = res.status;
        if (res.ok) state.stats.heartbeatsSent += 1;
        else state.stats.heartbeatsFailed += 1;
      } catch {
        // The router may not be up yet: the next interval tries again.
        if (!closing.signal.aborted) {
          state.stats.lastHeartbeatStatus = 0;
          state.stats.heartbeatsFailed += 1;
        }
      } finally {
        inFlight = false;
      }
    };
    heartbeatTimer = setInterval(beat, hb.intervalMs);
    void beat();
  }

  /** @type {Promise<void> | undefined} */
  let closed;
  function close() {
    closed ??= (async () => {
      clearInterval(heartbeatTimer);
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

/**
 * Run slots: at most `n` holders; the rest wait by priority (lower first), then in arrival order,
 * and may give up. With every priority equal this is FIFO.
 */
class Slots {
  /** @type {{ grant: () => void, priority: number }[]} */
  #queue = [];
  #free;
  /** @param {number} n */
  constructor(n) {
    this.#free = n;
  }
  /** @param {AbortSignal} signal @param {number} [priority] @returns {Promise<void>} */
  acquire(signal, priority = 0) {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0 && this.#queue.length === 0) {
      this.#free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.#queue.indexOf(entry);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(signal.reason);
      };
      const entry = {
        priority,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      // Behind every entry of the same or a lower number: ties keep arrival order.
      const at = this.#queue.findIndex((e) => e.priority > priority);
      if (at < 0) this.#queue.push(entry);
      else this.#queue.splice(at, 0, entry);
    });
  }
  release() {
    const next = this.#queue.shift();
    if (next) next.grant();
    else this.#free += 1;
  }
}

/** @param {number} ms @param {AbortSignal} signal */
async function sleep(ms, signal) {
  if (ms > 0) await sleepFor(ms, undefined, { signal });
  else signal.throwIfAborted();
}

/** Until the client goes away or the site closes. @param {AbortSignal} signal */
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

/** @param {Map<string, number>} map @param {string} key @param {number} delta */
function bump(map, key, delta) {
  const next = (map.get(key) ?? 0) + delta;
  if (next === 0) map.delete(key);
  else map.set(key, next);
}

/** @param {number[]} xs */
function sum(xs) {
  return xs.reduce((a, b) => a + b, 0);
}

/** @param {number} x @param {number} [digits] */
function round(x, digits = 2) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---- seed fleet and CLI ------------------------------------------------------------------

/**
 * @typedef {{ id: string, endpoint: string, capacity: { maxConcurrent: number,
 *   gpuMemoryGb: number }, models: { model: string }[], residentModels?: string[] }} SeedSite
 * @typedef {{ id: string, mec?: { gpuMemoryGb: number, tokensPerSec: number, loadTimeMs: number,
 *   prefillTokensPerSec?: number } }} SeedCatalogModel
 */

/**
 * Options for a seed fleet site: capacity, models and residency from the fleet, figures from
 * the catalog's MEC variants (the variant's `gpuMemoryGb` is the model's `sizeGb`), the port
 * from the site's endpoint.
 * @param {SeedSite} site @param {readonly SeedCatalogModel[]} catalog
 * @returns {DemoSiteOptions}
 */
export function seedSiteOptions(site, catalog) {
  const models = site.models.map(({ model }) => {
    const mec = catalog.find((c) => c.id === model)?.mec;
    if (!mec) throw new TypeError(`site ${site.id}: the catalog has no MEC variant of ${model}`);
    const { gpuMemoryGb: sizeGb, tokensPerSec, loadTimeMs, prefillTokensPerSec } = mec;
    return {
      model,
      sizeGb,
      tokensPerSec,
      loadTimeMs,
      ...(prefillTokensPerSec ? { prefillTokensPerSec } : {}),
    };
  });
  return {
    id: site.id,
    port: Number(new URL(site.endpoint).port),
    models,
    residentModels: site.residentModels ?? [],
    maxConcurrent: site.capacity.maxConcurrent,
    gpuMemoryGb: site.capacity.gpuMemoryGb,
  };
}

/**
 * Every site of shared/seed/fleet.json as options. Imports shared/catalog.ts, so it needs a
 * runtime that loads TypeScript (Node ≥ 22.18, vitest).
 * @returns {Promise<DemoSiteOptions[]>}
 */
export async function loadSeedSites() {
  const seedUrl = new URL("../shared/seed/fleet.json", import.meta.url);
  /** @type {{ sites: SeedSite[] }} */
  const fleet = JSON.parse(readFileSync(seedUrl, "utf8"));
  const { CATALOG } = await import(new URL("../shared/catalog.ts", import.meta.url).href);
  return fleet.sites.map((s) => seedSiteOptions(s, CATALOG));
}

async function main() {
  const { values } = parseArgs({
    options: {
      id: { type: "string", multiple: true },
      all: { type: "boolean" },
      port: { type: "string" },
      "time-scale": { type: "string" },
      seed: { type: "string" },
      faults: { type: "string" },
      router: { type: "string" },
      "site-key": { type: "string" },
      "heartbeat-ms": { type: "string" },
      scheduling: { type: "string" },
    },
  });
  /** @type {DemoSiteOptions[]} */
  let seeds;
  try {
    seeds = await loadSeedSites();
  } catch (err) {
    console.error(
      `Cannot read the seed fleet and catalog: ${err instanceof Error ? err.message : err}`,
    );
    console.error(
      "The catalog is TypeScript: run on Node ≥ 22.18 (`npx node scripts/demo-site.mjs`).",
    );
    process.exit(1);
  }
  const ids = values.all ? seeds.map((s) => s.id) : (values.id ?? []);
  const unknown = ids.filter((i) => !seeds.some((s) => s.id === i));
  if (ids.length === 0 || unknown.length > 0 || (values.port && ids.length > 1)) {
    console.error("usage: demo-site.mjs --id <site> [--id <site> …] | --all   (--port: one site)");
    console.error(`seed sites: ${seeds.map((s) => s.id).join(", ")}`);
    process.exit(2);
  }
  const { router } = values;
  /** @type {DemoSite[]} */
  const sites = [];
  for (const seed of seeds.filter((s) => ids.includes(s.id))) {
    const site = await startDemoSite({
      ...seed,
      ...(values.port ? { port: Number(values.port) } : {}),
      timeScale: Number(values["time-scale"] ?? 1),
      seed: Number(values.seed ?? 1),
      faults: JSON.parse(values.faults ?? "{}"),
      ...(values.scheduling === "priority" ? { scheduling: "priority" } : {}),
      ...(router
        ? {
            heartbeat: {
              routerUrl: router,
              siteKey: values["site-key"] ?? "dev-site-key",
              intervalMs: Number(values["heartbeat-ms"] ?? 1000),
            },
          }
        : {}),
    });
    sites.push(site);
    console.log(`demo site ${seed.id}: ${site.url}/v1  resident ${seed.residentModels.join(", ")}`);
  }
  const stop = () => Promise.all(sites.map((s) => s.close())).then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
