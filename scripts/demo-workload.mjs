// The pure parts of `npm run demo` (scripts/demo.mjs): a seeded, realistic mobile workload
// against mec-router, the fault schedule of `--faults`, and the summary math (percentiles, tier
// split, SLA attainment, failovers, errors) with its text rendering. No I/O, no clock: the same
// seed gives the same requests. Plain ESM with JSDoc types (declarations in demo-workload.d.mts).
// Prompts are filler text generated here; nothing in this module renders them.

/**
 * @typedef {"chat" | "chat-stream" | "route" | "infer"} RequestKind
 * @typedef {"device" | "mec" | "cloud"} Tier
 * @typedef {"complete" | "first_token"} LatencyTarget
 *
 * @typedef {object} City
 * @property {string} name
 * @property {string} country ISO 3166-1 alpha-2
 * @property {number} lat
 * @property {number} lon
 * @property {number} weight share of phones
 *
 * @typedef {object} WorkItem
 * @property {number} index
 * @property {RequestKind} kind
 * @property {"/v1/chat/completions" | "/v1/route" | "/v1/infer"} path
 * @property {Record<string, unknown>} body the JSON body to send
 * @property {number} slaMs the request's latencySlaMs
 * @property {LatencyTarget} latencyTarget
 * @property {{ city: string, network: string, privacy: string, modality: string,
 *   criticality: string, onDevice: boolean }} traits
 *
 * @typedef {object} RequestResult
 * @property {RequestKind} kind
 * @property {number} status HTTP status; 0 when no answer came
 * @property {string} [code] error code: the router's, or `network`, `client_timeout`,
 *   `stream_failed` (an error event in a 200 stream), `stream_incomplete` (no `[DONE]`)
 * @property {string} [errorWhere] content-free hint: the last attempt's target and error class,
 *   or a refusal's rejection reasons
 * @property {number} latencyMs client-measured, request sent → answer fully read
 * @property {number} [firstTokenMs] streams: request sent → first content chunk
 * @property {number} slaMs
 * @property {LatencyTarget} latencyTarget
 * @property {boolean} executed the router ran it (chat, infer with `executed: true`)
 * @property {Tier} [tier]
 * @property {string} [target] `site:<id>`, `cloud:<region>` or `device`
 * @property {string} [primary] the decision's primary target, when the answer carries it
 * @property {number} [attempts] `x-mec-attempts`
 * @property {string} [phase] the fault phase the request started in
 *
 * @typedef {object} FaultStep
 * @property {number} at applied before the request with this index starts
 * @property {string} phase the phase it starts
 * @property {{ site: string, faults: Record<string, unknown> }[]} inject
 * @property {string[]} restore sites whose faults go back to what they were before the run
 */

/** The demo sites' cities (shared/seed/fleet.json); Berlin is the busiest. */
export const CITIES = /** @type {const} */ ([
  { name: "Berlin", country: "DE", lat: 52.52, lon: 13.405, weight: 0.3 },
  { name: "Frankfurt", country: "DE", lat: 50.11, lon: 8.682, weight: 0.2 },
  { name: "Paris", country: "FR", lat: 48.857, lon: 2.352, weight: 0.2 },
  { name: "Madrid", country: "ES", lat: 40.417, lon: -3.704, weight: 0.15 },
  { name: "Warsaw", country: "PL", lat: 52.23, lon: 21.012, weight: 0.15 },
]);

/** Access links as phones see them: RTT to the access edge and link rates (ranges). */
export const NETWORKS = /** @type {const} */ ({
  "5g": { weight: 0.45, rttMs: [12, 35], uplinkMbps: [20, 120], downlinkMbps: [100, 600] },
  "4g": { weight: 0.3, rttMs: [30, 90], uplinkMbps: [3, 20], downlinkMbps: [15, 60] },
  wifi: { weight: 0.25, rttMs: [8, 40], uplinkMbps: [10, 80], downlinkMbps: [40, 300] },
});

/** Shares of the mix (each group sums to 1). */
export const MIX = /** @type {const} */ ({
  endpoint: { chat: 0.5, route: 0.35, infer: 0.15 },
  /** Of chat requests. */
  stream: 0.4,
  privacy: { public: 0.6, sensitive: 0.3, strict: 0.1 },
  residency: { none: 0.6, EU: 0.25, country: 0.15 },
  criticality: { standard: 0.8, sheddable: 0.12, critical: 0.08 },
  /** Of /v1/route requests; chat and infer stay text (the demo sites serve text models). */
  routeModality: { text: 0.7, image: 0.2, audio: 0.07, video: 0.03 },
  /** Phones with on-device models installed. */
  onDevice: 0.35,
  /** Of text /v1/route and /v1/infer requests: background work with a relaxed SLA. */
  background: 0.2,
});

const TASKS = [
  "Summarise this message thread in two sentences",
  "Draft a short, friendly reply to this message",
  "Translate this note into German",
  "List the dates and places mentioned here",
  "Rewrite this more politely",
  "Explain this in simple terms",
  "Suggest three titles for this note",
  "What is the main question in this text",
];
const WORDS = (
  "meeting tomorrow train station platform delayed coffee after work project deadline " +
  "weekend weather forecast rain sunny museum tickets dinner reservation table booked " +
  "battery charger phone call later message photo album holiday flight gate boarding " +
  "invoice payment reminder doctor appointment pharmacy football match score city park"
).split(" ");
const CHAT_MODELS = ["auto", "auto", "auto", "auto", "auto", "gpt-4o-mini", "llama-3.1-8b"];

/**
 * mulberry32: a small, fast PRNG; the same seed gives the same sequence.
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function createRng(seed) {
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
 * @template {string} K
 * @param {() => number} rand
 * @param {Readonly<Record<K, number | { weight: number }>>} weights
 * @returns {K}
 */
function pick(rand, weights) {
  const entries = /** @type {[K, number | { weight: number }][]} */ (Object.entries(weights));
  const w = entries.map(([, v]) => (typeof v === "number" ? v : v.weight));
  let r = rand() * w.reduce((a, b) => a + b, 0);
  for (const [i, [key]] of entries.entries()) {
    r -= w[i] ?? 0;
    if (r < 0) return key;
  }
  return /** @type {[K, unknown]} */ (entries.at(-1))[0];
}

/** @param {() => number} rand @param {readonly [number, number]} range */
const uniform = (rand, [lo, hi]) => lo + (hi - lo) * rand();
/**
 * Log-uniform: small values common, large ones possible.
 * @param {() => number} rand @param {readonly [number, number]} range
 */
const logUniform = (rand, [lo, hi]) =>
  Math.round(Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * rand()));
const round = (/** @type {number} */ x, digits = 0) => Number(x.toFixed(digits));

/** Filler prompt of about `tokens` tokens (≈ 4 characters each). */
function prompt(/** @type {() => number} */ rand, /** @type {number} */ tokens) {
  const task = TASKS[Math.floor(rand() * TASKS.length)];
  const words = [];
  let chars = 0;
  while (chars < tokens * 4) {
    const w = WORDS[Math.floor(rand() * WORDS.length)] ?? "note";
    words.push(w);
    chars += w.length + 1;
  }
  return `${task}:\n${words.join(" ")}`;
}

/**
 * One phone: where it is, its link, its device, what it asks for and under which constraints.
 * @param {() => number} rand
 */
function phone(rand) {
  const city = CITIES[CITIES.findIndex((c) => c.name === pick(rand, cityWeights))] ?? CITIES[0];
  // About ±15 km around the city centre.
  const location = {
    lat: round(city.lat + (rand() - 0.5) * 0.27, 4),
    lon: round(city.lon + (rand() - 0.5) * 0.4, 4),
  };
  const type = pick(rand, NETWORKS);
  const link = NETWORKS[type];
  const network = {
    type,
    rttMs: Math.round(uniform(rand, link.rttMs)),
    uplinkMbps: round(uniform(rand, link.uplinkMbps), 1),
    downlinkMbps: round(uniform(rand, link.downlinkMbps), 1),
  };
  const privacy = pick(rand, MIX.privacy);
  const residencyKind = pick(rand, MIX.residency);
  const dataResidency =
    residencyKind === "EU" ? ["EU"] : residencyKind === "country" ? [city.country] : undefined;
  const criticality = pick(rand, MIX.criticality);
  const onDevice = rand() < MIX.onDevice;
  const deviceClass = pick(rand, { low: 0.25, mid: 0.5, high: 0.25 });
  const charging = rand() < 0.3;
  const device = {
    models: onDevice
      ? rand() < 0.6
        ? ["llama-3.2-1b-q4"]
        : ["llama-3.2-1b-q4", "llama-3.2-3b-q4", "whisper-base-q8"]
      : [],
    batteryPct: Math.round(uniform(rand, [5, 100])),
    charging,
    thermal: pick(rand, { nominal: 0.75, fair: 0.17, serious: 0.07, critical: 0.01 }),
    memoryFreeMb: Math.round(uniform(rand, [600, 4000])),
    class: deviceClass,
  };
  const constraints = {
    privacy,
    ...(dataResidency ? { dataResidency } : {}),
    ...(rand() < 0.08 ? { compliance: ["gdpr"] } : {}),
    ...(rand() < 0.1 ? { maxCostUsd: 0.0005 } : {}),
  };
  return { city, location, network, device, constraints, criticality, onDevice };
}
const cityWeights = Object.fromEntries(CITIES.map((c) => [c.name, c.weight]));

/** SLA ranges (ms) and sizes per modality for decide-only requests. */
const MEDIA = /** @type {const} */ ({
  text: { sla: [800, 10_000], tokens: [40, 1_500], bytes: [0, 0] },
  image: { sla: [1_500, 8_000], tokens: [800, 1_800], bytes: [80_000, 600_000] },
  audio: { sla: [1_500, 6_000], tokens: [300, 1_500], bytes: [100_000, 900_000] },
  video: { sla: [5_000, 20_000], tokens: [2_000, 8_000], bytes: [1_000_000, 8_000_000] },
});

/**
 * The whole run, request by request: ~50 % chat (a share streamed), ~35 % decide-only, ~15 %
 * infer. Deterministic for a seed.
 * @param {{ requests: number, seed: number }} options
 * @returns {WorkItem[]}
 */
export function generateWorkload({ requests, seed }) {
  const rand = createRng(seed);
  /** @type {WorkItem[]} */
  const items = [];
  for (let index = 0; index < requests; index++) {
    const p = phone(rand);
    const endpoint = pick(rand, MIX.endpoint);
    const requestId = `demo-${seed}-${index}`;
    const traits = {
      city: p.city.name,
      network: p.network.type,
      privacy: p.constraints.privacy,
      modality: "text",
      criticality: p.criticality,
      onDevice: p.onDevice,
    };
    if (endpoint === "chat") {
      const stream = rand() < MIX.stream;
      const latencyTarget = stream ? "first_token" : "complete";
      const slaMs = stream ? logUniform(rand, [600, 3_000]) : logUniform(rand, [2_500, 12_000]);
      const body = {
        model: CHAT_MODELS[Math.floor(rand() * CHAT_MODELS.length)] ?? "auto",
        messages: [
          ...(rand() < 0.3 ? [{ role: "system", content: "You are a concise assistant." }] : []),
          { role: "user", content: prompt(rand, logUniform(rand, [20, 1_200])) },
        ],
        max_tokens: logUniform(rand, [16, 200]),
        ...(rand() < 0.5 ? { temperature: round(rand(), 2) } : {}),
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
        mec: {
          requestId,
          criticality: p.criticality,
          constraints: { ...p.constraints, latencySlaMs: slaMs, latencyTarget },
          network: p.network,
          location: p.location,
        },
      };
      items.push({
        index,
        kind: stream ? "chat-stream" : "chat",
        path: "/v1/chat/completions",
        body,
        slaMs,
        latencyTarget,
        traits,
      });
      continue;
    }
    const modality = endpoint === "route" ? pick(rand, MIX.routeModality) : "text";
    const media = MEDIA[modality];
    // Some work is background (a summary for later, an index): minutes would do, and only
    // then does a slow phone compete with a fast MEC site.
    const background = modality === "text" && rand() < MIX.background;
    const slaMs = background
      ? logUniform(rand, [20_000, 90_000])
      : endpoint === "infer"
        ? logUniform(rand, [2_000, 10_000])
        : logUniform(rand, media.sla);
    const maxOutputTokens = logUniform(rand, [16, endpoint === "infer" ? 160 : 400]);
    const inputTokens = logUniform(rand, media.tokens);
    const routeBody = {
      requestId,
      task: {
        modality,
        model: "auto",
        inputTokens,
        maxOutputTokens,
        ...(modality === "text" ? {} : { payloadBytes: logUniform(rand, media.bytes) }),
        criticality: p.criticality,
      },
      constraints: { latencySlaMs: slaMs, ...p.constraints },
      device: p.device,
      network: p.network,
      location: p.location,
    };
    traits.modality = modality;
    if (endpoint === "route") {
      items.push({
        index,
        kind: "route",
        path: "/v1/route",
        body: routeBody,
        slaMs,
        latencyTarget: "complete",
        traits,
      });
    } else {
      items.push({
        index,
        kind: "infer",
        path: "/v1/infer",
        body: { ...routeBody, input: { prompt: prompt(rand, inputTokens) } },
        slaMs,
        latencyTarget: "complete",
        traits,
      });
    }
  }
  return items;
}

/**
 * `--faults`: during the middle third of the run, 50 % errors at frankfurt-1 for the first half
 * of it, then berlin-1 dark for the second; each restored when its half ends. Frankfurt first:
 * it is the only demo site with Llama 3.2 1B resident, so `auto` text lands there most; Berlin
 * is where that traffic fails over to.
 * @param {number} requests
 * @returns {FaultStep[]}
 */
export function faultPlan(requests) {
  const third = Math.floor(requests / 3);
  const middle = Math.floor(requests / 2);
  return [
    {
      at: third,
      phase: "frankfurt-1 errorRate 0.5",
      inject: [{ site: "frankfurt-1", faults: { errorRate: 0.5 } }],
      restore: [],
    },
    {
      at: middle,
      phase: "berlin-1 dark",
      inject: [{ site: "berlin-1", faults: { dark: true } }],
      restore: ["frankfurt-1"],
    },
    { at: requests - third, phase: "after faults", inject: [], restore: ["berlin-1"] },
  ];
}

/**
 * Nearest-rank percentile.
 * @param {readonly number[]} values
 * @param {number} p 0–100
 * @returns {number | undefined} undefined for no values
 */
export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)];
}

/** `site:<id>`, `cloud:<region>` or `device`, as `x-mec-target` names it. */
export function targetName(/** @type {unknown} */ target) {
  const t = /** @type {{ kind?: string, siteId?: string, region?: string } | null} */ (target);
  if (t?.kind === "site") return `site:${t.siteId}`;
  if (t?.kind === "cloud") return `cloud:${t.region}`;
  return t?.kind === "device" ? "device" : undefined;
}

/** Whether a finished request met its SLA (streams with a first-token SLA: the first token). */
export function metSla(/** @type {RequestResult} */ r) {
  const measured = r.latencyTarget === "first_token" ? r.firstTokenMs : r.latencyMs;
  return measured !== undefined && measured <= r.slaMs;
}

/** A retry or failover happened: more than one attempt, or it ran off the plan's primary. */
export function failedOver(/** @type {RequestResult} */ r) {
  const retried = (r.attempts ?? 0) > 1;
  const moved = r.primary !== undefined && r.target !== undefined && r.target !== r.primary;
  return { retried, moved, any: retried || moved };
}

export const KINDS = /** @type {const} */ (["chat", "chat-stream", "route", "infer"]);
export const TIERS = /** @type {const} */ (["device", "mec", "cloud"]);

/**
 * @param {Record<string, number>} counts
 * @param {string} key
 */
const bump = (counts, key, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/**
 * Everything the summary table shows, from the finished requests.
 * @param {readonly RequestResult[]} results
 */
export function summarize(results) {
  const byKind = Object.fromEntries(
    KINDS.map((k) => {
      const rs = results.filter((r) => r.kind === k);
      const ok = rs.filter((r) => r.status >= 200 && r.status < 300 && !r.code);
      const executed = ok.filter((r) => r.executed);
      const lat = ok.map((r) => r.latencyMs);
      const ttft = ok.flatMap((r) => (r.firstTokenMs === undefined ? [] : [r.firstTokenMs]));
      /** @type {Record<string, number>} */
      const statuses = {};
      /** @type {Record<string, number>} */
      const tiers = {};
      for (const r of rs) bump(statuses, String(r.status));
      for (const r of ok) if (r.tier) bump(tiers, r.tier);
      const summary = {
        count: rs.length,
        statuses,
        tiers,
        ok: ok.length,
        p50: percentile(lat, 50),
        p99: percentile(lat, 99),
        firstTokenP50: percentile(ttft, 50),
        firstTokenP99: percentile(ttft, 99),
        executed: executed.length,
        slaMet: executed.filter(metSla).length,
      };
      return [k, summary];
    }),
  );
  const executed = results.filter((r) => r.executed && !r.code);
  /** Every request sent to run server-side (chat; infer unless handed back to the device). */
  const attempted = results.filter(
    (r) =>
      r.kind === "chat" || r.kind === "chat-stream" || (r.kind === "infer" && r.tier !== "device"),
  ).length;
  /** @type {Record<string, number>} */
  const targets = {};
  for (const r of executed) if (r.target) bump(targets, r.target);
  const fo = executed.map(failedOver);
  /** @type {Map<string, { code: string, status: number, count: number, kinds: Record<string, number>, where: Record<string, number> }>} */
  const errors = new Map();
  for (const r of results) {
    if (!r.code) continue;
    const key = `${r.code}|${r.status}`;
    const e = errors.get(key) ?? { code: r.code, status: r.status, count: 0, kinds: {}, where: {} };
    e.count += 1;
    bump(e.kinds, r.kind);
    if (r.errorWhere) bump(e.where, r.errorWhere);
    errors.set(key, e);
  }
  /** @type {Map<string, { phase: string, requests: number, errors: number, executed: number, failovers: number, targets: Record<string, number> }>} */
  const phases = new Map();
  for (const r of results) {
    if (r.phase === undefined) continue;
    const p = phases.get(r.phase) ?? {
      phase: r.phase,
      requests: 0,
      errors: 0,
      executed: 0,
      failovers: 0,
      targets: {},
    };
    p.requests += 1;
    if (r.code) p.errors += 1;
    if (r.executed && !r.code) {
      p.executed += 1;
      if (failedOver(r).any) p.failovers += 1;
      if (r.target) bump(p.targets, r.target);
    }
    phases.set(r.phase, p);
  }
  return {
    total: results.length,
    byKind,
    sla: {
      met: executed.filter(metSla).length,
      executed: executed.length,
      attempted,
    },
    failovers: {
      any: fo.filter((f) => f.any).length,
      retried: fo.filter((f) => f.retried).length,
      moved: fo.filter((f) => f.moved).length,
      executed: executed.length,
    },
    targets,
    errors: [...errors.values()].sort((a, b) => b.count - a.count),
    phases: [...phases.values()],
  };
}

const LABELS = /** @type {const} */ ({
  chat: "chat/completions",
  "chat-stream": "chat/completions stream",
  route: "route (decide-only)",
  infer: "infer",
});

/**
 * A plain text table: numeric columns right-aligned, the rest left-aligned.
 * @param {string[]} head
 * @param {(string | number)[][]} rows
 */
export function table(head, rows) {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = head.map(
    (_, i) => i > 0 && rows.every((r) => /^(–|-?[\d.]+( %)?( of \d+)?)$/.test(String(r[i] ?? "–"))),
  );
  return cells
    .map(
      (r) =>
        `  ${r
          .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd()}`,
    )
    .join("\n");
}

const ms = (/** @type {number | undefined} */ v) => (v === undefined ? "–" : String(Math.round(v)));
const pct = (/** @type {number} */ n, /** @type {number} */ of) =>
  of === 0 ? "–" : `${((100 * n) / of).toFixed(1)} %`;
/** `a 3, b 1`, largest first. */
const counted = (/** @type {Record<string, number>} */ c, limit = 4, paren = false) =>
  Object.entries(c)
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k, n]) => (paren ? `${k} (${n})` : `${k} ${n}`))
    .join(", ");

/**
 * The summary as printed at the end of a run.
 * @param {ReturnType<typeof summarize>} s
 * @param {{ title: string }} meta
 * @returns {string}
 */
export function formatSummary(s, { title }) {
  const kinds = KINDS.filter((k) => s.byKind[k]?.count);
  const statuses = [...new Set(kinds.flatMap((k) => Object.keys(s.byKind[k]?.statuses ?? {})))]
    .map(Number)
    .sort((a, b) => a - b);
  const statusName = (/** @type {number} */ st) => (st === 0 ? "no answer" : String(st));
  const totals = statuses.map((st) =>
    kinds.reduce((n, k) => n + (s.byKind[k]?.statuses[String(st)] ?? 0), 0),
  );
  const out = [title, ""];

  out.push("Requests by endpoint and status");
  out.push(
    table(
      ["endpoint", "total", ...statuses.map(statusName)],
      [
        ...kinds.map((k) => {
          const b = s.byKind[k];
          return [
            LABELS[k],
            b?.count ?? 0,
            ...statuses.map((st) => b?.statuses[String(st)] ?? "–"),
          ];
        }),
        ["all", s.total, ...totals],
      ],
    ),
  );

  out.push("", "Tier split (answers and x-mec-tier; route: decided, not run)");
  out.push(
    table(
      ["endpoint", ...TIERS],
      kinds.map((k) => [LABELS[k], ...TIERS.map((t) => s.byKind[k]?.tiers[t] ?? "–")]),
    ),
  );
  out.push(`  executed at: ${counted(s.targets, 8) || "–"}`);

  out.push("", "Latency (client-measured, successful answers; ms)");
  out.push(
    table(
      ["endpoint", "ok", "p50", "p99", "first token p50", "p99", "SLA met"],
      kinds.map((k) => {
        const b = s.byKind[k];
        return [
          LABELS[k],
          b?.ok ?? 0,
          ms(b?.p50),
          ms(b?.p99),
          ms(b?.firstTokenP50),
          ms(b?.firstTokenP99),
          b?.executed ? `${pct(b.slaMet, b.executed)} of ${b.executed}` : "–",
        ];
      }),
    ),
  );

  out.push("");
  out.push(
    `SLA attainment: ${pct(s.sla.met, s.sla.executed)} (${s.sla.met} of ${s.sla.executed} ` +
      "executed requests within latencySlaMs; streams: first token); of every request sent " +
      `to run, errors and refusals as misses: ${pct(s.sla.met, s.sla.attempted)} of ${s.sla.attempted}`,
  );
  out.push(
    `Failovers: ${s.failovers.any} of ${s.failovers.executed} executed ` +
      `(x-mec-attempts > 1: ${s.failovers.retried}; target ≠ decision's primary: ${s.failovers.moved})`,
  );

  out.push("", "Errors by code");
  out.push(
    s.errors.length === 0
      ? "  none"
      : table(
          ["code", "status", "count", "endpoints", "where (last attempt / rejections)"],
          s.errors.map((e) => [
            e.code,
            statusName(e.status),
            e.count,
            counted(e.kinds),
            counted(e.where, 3, true) || "–",
          ]),
        ),
  );

  if (s.phases.length > 1) {
    out.push("", "By fault phase");
    out.push(
      table(
        ["phase", "requests", "errors", "executed", "failovers", "executed at"],
        s.phases.map((p) => [
          p.phase,
          p.requests,
          p.errors,
          p.executed,
          p.failovers,
          counted(p.targets, 3) || "–",
        ]),
      ),
    );
  }
  return out.join("\n");
}
