// `npm run demo`: drives a realistic mixed mobile workload against a running mec-router (from
// `npm start`) and prints what happened: status per endpoint, the tier split, client-measured
// latency, SLA attainment, failovers and errors. With `--faults` it breaks demo sites during the
// middle third of the run (their control API on 127.0.0.1 only) and restores them at the end.
// Bounded and loopback by default; Ctrl-C prints the summary so far. Prompt content is never
// printed. The workload and the summary math live in demo-workload.mjs.
//
//   npm run demo -- [--url http://127.0.0.1:8787] [--requests 300] [--concurrency 8]
//                   [--seed S] [--faults]

import { parseArgs } from "node:util";
import {
  faultPlan,
  formatSummary,
  generateWorkload,
  summarize,
  targetName,
} from "./demo-workload.mjs";

/** @import { FaultStep, RequestResult, WorkItem } from "./demo-workload.mjs" */

const DEVICE_KEY = "dev-device-key";
const OPERATOR_KEY = "dev-operator-key";
const USAGE =
  "usage: npm run demo -- [--url URL] [--requests N] [--concurrency C] [--seed S] [--faults]";

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string" },
        requests: { type: "string" },
        concurrency: { type: "string" },
        seed: { type: "string" },
        faults: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : err}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  /** @param {string | undefined} v @param {number} fallback @param {number} min @param {number} max @param {string} name */
  const int = (v, fallback, min, max, name) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      console.error(`--${name} must be an integer from ${min} to ${max}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const url = (values.url ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(/\/+$/, "");
  try {
    new URL(url);
  } catch {
    console.error(`--url is not a URL: ${url}`);
    process.exit(2);
  }
  return {
    url,
    requests: int(values.requests, 300, 1, 100_000, "requests"),
    concurrency: int(values.concurrency, 8, 1, 256, "concurrency"),
    seed: int(values.seed, Math.floor(Math.random() * 1_000_000), 0, 2 ** 32 - 1, "seed"),
    faults: values.faults === true,
  };
}

const opts = options();
const base = opts.url;
const auth = (/** @type {string} */ key) => ({ authorization: `Bearer ${key}` });
const errorText = (/** @type {unknown} */ err) => {
  const cause = /** @type {{ cause?: { code?: string } }} */ (err).cause;
  return cause?.code ?? (err instanceof Error ? err.message : String(err));
};

// ---- is the router up, and what does the fleet look like? -----------------------------------

/** @returns {Promise<{ id: string, breaker?: string, healthy?: boolean }[]>} */
async function fleetSites() {
  const res = await fetch(`${base}/v1/sites`, {
    headers: auth(OPERATOR_KEY),
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`GET /v1/sites answered HTTP ${res.status}`);
  const body = /** @type {{ sites?: { id: string, breaker?: string, healthy?: boolean }[] }} */ (
    await res.json()
  );
  return body.sites ?? [];
}

const fleetLine = (/** @type {{ id: string, breaker?: string, healthy?: boolean }[]} */ sites) =>
  sites
    .map((s) => `${s.id} ${s.healthy === false ? "unhealthy" : (s.breaker ?? "?")}`)
    .join(", ") || "no sites registered";

async function checkRouter() {
  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3_000) });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`GET /healthz answered HTTP ${res.status}`);
  } catch (err) {
    console.error(
      `mec-router is not reachable at ${base} (${errorText(err)}).\n` +
        "Start it first, in another terminal:  npm start\n" +
        "(with PORT=… there, run the demo with the same PORT, or pass --url)",
    );
    process.exit(1);
  }
  // `npm start` answers /healthz a moment before it has registered the demo sites.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const sites = await fleetSites().catch(() => []);
    if (sites.length > 0 || Date.now() > deadline) return sites;
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---- faults (only ever to demo sites' control API on 127.0.0.1) -----------------------------

/** @param {string} site @returns {Promise<string>} the control base URL */
async function controlUrl(site) {
  const res = await fetch(`${base}/v1/sites/${site}`, {
    headers: auth(OPERATOR_KEY),
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`${site} is not registered (HTTP ${res.status})`);
  const body = /** @type {{ registration?: { controlEndpoint?: string } }} */ (await res.json());
  const control = body.registration?.controlEndpoint;
  if (!control) throw new Error(`${site} has no controlEndpoint`);
  const url = new URL(control);
  if (url.hostname !== "127.0.0.1") {
    throw new Error(`${site}'s control API is at ${url.host}, not 127.0.0.1: not touching it`);
  }
  return control.replace(/\/+$/, "");
}

/** @param {FaultStep[]} plan */
async function createFaults(plan) {
  const sites = [...new Set(plan.flatMap((s) => s.inject.map((i) => i.site)))];
  /** @type {Map<string, string>} */
  const controls = new Map();
  for (const site of sites) controls.set(site, await controlUrl(site));
  /** Faults as they were before the run, per touched site. @type {Map<string, unknown>} */
  const saved = new Map();

  /** @param {string} site @param {unknown} faults */
  const post = async (site, faults) => {
    const res = await fetch(`${controls.get(site)}/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(faults),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`${site}: POST /control/faults answered HTTP ${res.status}`);
    return res.json();
  };
  /** @param {string} site */
  const restore = async (site) => {
    if (!saved.has(site)) return;
    await post(site, saved.get(site));
    saved.delete(site);
  };

  let next = 0;
  /** @type {string | undefined} */
  let phase = "before faults";
  /** @type {Promise<void>} */
  let chain = Promise.resolve();
  return {
    /** The phase request `index` runs in, once the steps due before it are applied. */
    async before(/** @type {number} */ index) {
      while (next < plan.length && (plan[next]?.at ?? Infinity) <= index) {
        const step = /** @type {FaultStep} */ (plan[next++]);
        chain = chain.then(async () => {
          try {
            for (const site of step.restore) await restore(site);
            for (const { site, faults } of step.inject) {
              if (!saved.has(site)) {
                const res = await fetch(`${controls.get(site)}/faults`, {
                  signal: AbortSignal.timeout(5_000),
                });
                saved.set(site, await res.json());
              }
              await post(site, faults);
            }
            phase = step.phase;
            note(`faults: ${step.phase} (from request ${step.at + 1})`);
          } catch (err) {
            note(`faults: ${step.phase} could not be applied (${errorText(err)})`);
          }
        });
      }
      await chain;
      return phase;
    },
    async restoreAll() {
      await chain.catch(() => {});
      for (const site of [...saved.keys()]) await restore(site);
    },
  };
}

// ---- one request -----------------------------------------------------------------------------

/** Reads an SSE body to the end; notes the first content chunk, an error event and `[DONE]`. */
async function readStream(
  /** @type {ReadableStream<Uint8Array>} */ body,
  /** @type {number} */ t0,
) {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  /** @type {number | undefined} */
  let firstTokenMs;
  /** @type {string | undefined} */
  let error;
  let done = false;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    for (let end = buffer.search(/\r?\n\r?\n/); end >= 0; end = buffer.search(/\r?\n\r?\n/)) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      for (const line of event.split(/\r?\n/)) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") {
          done = true;
          continue;
        }
        try {
          const msg = JSON.parse(data);
          if (msg.error) error = msg.error.code ?? "stream_error";
          const content = msg.choices?.[0]?.delta?.content;
          if (firstTokenMs === undefined && typeof content === "string" && content !== "") {
            firstTokenMs = performance.now() - t0;
          }
        } catch {
          error ??= "stream_unparseable";
        }
      }
    }
  }
  return { firstTokenMs, error: error ?? (done ? undefined : "stream_incomplete") };
}

/** Content-free: where the last attempt went and how it failed, or why every target was refused. */
function errorWhere(/** @type {unknown} */ details) {
  const d =
    /** @type {{ attempts?: { target?: string, errorClass?: string, detail?: string }[], rejected?: { reason?: string }[] } | undefined} */ (
      details
    );
  const last = d?.attempts?.at(-1);
  if (last)
    return `${last.target} ${last.errorClass ?? "?"}${last.detail ? ` (${last.detail})` : ""}`;
  const reasons = [...new Set((d?.rejected ?? []).map((r) => r.reason))].sort();
  return reasons.length > 0 ? reasons.join("+") : undefined;
}

/** @type {Set<AbortController>} */
const inFlight = new Set();

/**
 * @param {WorkItem} item
 * @param {string | undefined} phase
 * @returns {Promise<RequestResult | undefined>} undefined when Ctrl-C cut it
 */
async function send(item, phase) {
  const stop = new AbortController();
  inFlight.add(stop);
  const timeout = AbortSignal.timeout(Math.max(60_000, 3 * item.slaMs));
  const signal = AbortSignal.any([stop.signal, timeout]);
  /** @type {RequestResult} */
  const r = {
    kind: item.kind,
    status: 0,
    latencyMs: 0,
    slaMs: item.slaMs,
    latencyTarget: item.latencyTarget,
    executed: false,
    ...(phase === undefined ? {} : { phase }),
  };
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}${item.path}`, {
      method: "POST",
      headers: { ...auth(DEVICE_KEY), "content-type": "application/json" },
      body: JSON.stringify(item.body),
      signal,
    });
    r.status = res.status;
    const tier = res.headers.get("x-mec-tier");
    const target = res.headers.get("x-mec-target");
    const attempts = res.headers.get("x-mec-attempts");
    if (res.ok && item.kind === "chat-stream" && res.body) {
      const read = await readStream(res.body, t0);
      if (read.firstTokenMs !== undefined) r.firstTokenMs = read.firstTokenMs;
      if (read.error) r.code = read.error;
    } else {
      const text = await res.text();
      /** @type {any} */
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!res.ok) {
        r.code = body?.error?.code ?? `http_${res.status}`;
        // A bare error (not the router's JSON shape) comes from in front of it, e.g. `wrangler
        // dev` answering 503 while it reloads the worker.
        const where = body?.error ? errorWhere(body.error.details) : "not from the router";
        if (where) r.errorWhere = where;
      } else if (item.kind === "route") {
        r.tier = body?.tier;
        r.target = targetName(body?.target);
      } else if (item.kind === "infer") {
        const primary = targetName(body?.decision?.plan?.primary?.target);
        if (primary) r.primary = primary;
        if (body?.executed === false) r.tier = "device";
      }
    }
    r.latencyMs = performance.now() - t0;
    if (res.ok && item.kind !== "route" && tier !== "device" && tier) {
      r.executed = !r.code;
      r.tier = /** @type {RequestResult["tier"]} */ (tier);
      if (target) r.target = target;
      if (attempts) r.attempts = Number(attempts);
    }
  } catch (err) {
    r.latencyMs = performance.now() - t0;
    if (stop.signal.aborted) return undefined;
    r.code = timeout.aborted ? "client_timeout" : "network";
    r.errorWhere = errorText(err);
  } finally {
    inFlight.delete(stop);
  }
  return r;
}

// ---- progress on stderr ------------------------------------------------------------------------

const tty = process.stderr.isTTY === true;
let progressLine = "";
/** A message above the progress bar (or a plain line when stderr is not a terminal). */
function note(/** @type {string} */ message) {
  if (tty) process.stderr.write(`\r\x1b[2K${message}\n${progressLine}`);
  else process.stderr.write(`${message}\n`);
}

function createProgress(/** @type {number} */ total) {
  const started = performance.now();
  let lastDecile = 0;
  return {
    update(/** @type {number} */ done, /** @type {number} */ errors) {
      const secs = (performance.now() - started) / 1000;
      const share = done / total;
      if (tty) {
        const width = 30;
        const filled = Math.round(share * width);
        progressLine =
          `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ` +
          `${Math.round(share * 100)} %  errors ${errors}  ${secs.toFixed(1)} s`;
        process.stderr.write(`\r\x1b[2K${progressLine}`);
      } else {
        const decile = Math.floor(share * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(
            `${decile * 10} %: ${done}/${total} done, ${errors} errors, ${secs.toFixed(1)} s\n`,
          );
        }
      }
    },
    end() {
      if (tty && progressLine) process.stderr.write("\n");
      progressLine = "";
    },
  };
}

// ---- the run -----------------------------------------------------------------------------------

const sites = await checkRouter();
const items = generateWorkload({ requests: opts.requests, seed: opts.seed });
/** @type {Awaited<ReturnType<typeof createFaults>> | undefined} */
let faults;
if (opts.faults) {
  try {
    faults = await createFaults(faultPlan(opts.requests));
  } catch (err) {
    console.error(`--faults: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
}

console.log(
  `mec-router demo against ${base}: ${opts.requests} requests, concurrency ${opts.concurrency}, ` +
    `seed ${opts.seed}${opts.faults ? ", with faults in the middle third" : ""}`,
);
console.log(`fleet at start: ${fleetLine(sites)}`);
if (sites.length === 0) {
  console.log("  (no MEC sites registered: is `npm start` still starting? Running anyway.)");
}

/** @type {RequestResult[]} */
const results = [];
let interrupted = false;
let nextIndex = 0;
let errors = 0;
const progress = createProgress(items.length);
const started = performance.now();

process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  note("interrupted: finishing up (Ctrl-C again to quit at once)");
  for (const c of inFlight) c.abort();
});

async function worker() {
  while (!interrupted && nextIndex < items.length) {
    const item = /** @type {WorkItem} */ (items[nextIndex++]);
    const phase = faults ? await faults.before(item.index) : undefined;
    if (interrupted) break;
    const r = await send(item, phase);
    if (!r) continue;
    results.push(r);
    if (r.code) errors += 1;
    progress.update(results.length, errors);
  }
}

try {
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
} finally {
  progress.end();
  if (faults) {
    await faults.restoreAll().then(
      () => console.log("faults: restored every site touched"),
      (err) => console.error(`faults: could not restore every site: ${errorText(err)}`),
    );
  }
}

const elapsed = (performance.now() - started) / 1000;
const endSites = await fleetSites().catch(() => undefined);
const title =
  `${interrupted ? "Interrupted — summary so far: " : ""}${results.length} requests in ` +
  `${elapsed.toFixed(1)} s (${(results.length / elapsed).toFixed(1)}/s), concurrency ` +
  `${opts.concurrency}, seed ${opts.seed}`;
console.log(`\n${formatSummary(summarize(results), { title })}`);
if (endSites) console.log(`\nfleet at end: ${fleetLine(endSites)}`);
process.exit(interrupted ? 130 : 0);
