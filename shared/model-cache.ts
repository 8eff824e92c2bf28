// The cache agent's policy for one MEC site: which models stay resident in GPU memory, which to
// evict for a load, which to prewarm when demand rises, which to unload when idle.
// Pure: state in, a plan or a new state out, never mutated; `now` (epoch ms) is the only clock.
// The site's Durable Object loads the state, calls these functions, persists, calls the site.
//
// GPU memory is one pool of `capacityGb` per site (the sum over its GPUs); packing models onto
// individual GPUs is the site's business.

import * as z from "zod/mini";
import { catalogModel } from "./catalog.ts";
import type { SiteView } from "./types.ts";

/** What loading a model costs: GPU memory it holds and time until it serves. */
export interface ModelFootprint {
  model: string;
  sizeGb: number;
  loadTimeMs: number;
}

export interface ResidentModel extends ModelFootprint {
  loadedAt: number;
  /** Last time it served a request (`markUsed`), or its load time. */
  lastUsedAt: number;
  /** Never evicted nor unloaded while set. */
  pinned?: boolean;
}

/** Demand for one model as an exponentially decaying count of requests. */
export interface DemandTracker {
  /** Requests seen so far, each weighted by 2^(−age / half-life), as of `at`. */
  count: number;
  at: number;
}

export interface CacheState {
  resident: ResidentModel[];
  /** Keyed by model id; covers models asked for whether resident or not. */
  demand: Record<string, DemandTracker>;
}

export interface CachePolicyConfig {
  /** Half-life of the demand estimate: older requests count half as much per half-life. */
  demandHalfLifeMs: number;
  /** Demand (requests/min) at which a non-resident model is prewarmed; while a resident model's
   * demand stays at or above it, idle cleanup leaves it alone. */
  prewarmPerMin: number;
  /** Unused this long, an unpinned model is unloaded by the cleanup alarm. */
  idleTimeoutMs: number;
  /** A model loaded less than this ago is neither evicted nor unloaded (no thrashing). */
  minResidencyMs: number;
  /** GPU memory left free for KV cache and activations; loads never eat into it. */
  headroomGb: number;
  /** Idle time at which the recency factor of `modelValue` has halved. */
  recencyScaleMs: number;
  /** Added to every demand rate in `modelValue`, so recency and load cost still order models
   * nobody has asked for lately. */
  demandFloorPerMin: number;
  /** Prewarming must gain this many times the value it evicts (≥ 1). */
  prewarmMargin: number;
}

const MINUTE = 60_000;

/**
 * Defaults for one 24 GB-class edge GPU site.
 * - demand half-life 10 min: a burst counts ⅛ after 30 min; a steady rate r reads r·(1 − 2^(−t/10 min)).
 * - prewarm at 1 request/min: e.g. a burst of 15 requests, or 2/min sustained for 10 min.
 * - idle timeout 30 min; minimum residency 2 min (over eight times the slowest catalog load, 14 s).
 * - 2 GB headroom for KV cache; recency halves the value after 5 min idle.
 * - demand floor 0.05 requests/min; prewarm must gain 1.25× the value it evicts.
 */
export const DEFAULT_CACHE_POLICY: CachePolicyConfig = {
  demandHalfLifeMs: 10 * MINUTE,
  prewarmPerMin: 1,
  idleTimeoutMs: 30 * MINUTE,
  minResidencyMs: 2 * MINUTE,
  headroomGb: 2,
  recencyScaleMs: 5 * MINUTE,
  demandFloorPerMin: 0.05,
  prewarmMargin: 1.25,
};

/** Trackers decayed below this many requests are forgotten (rate ≈ 0.003/min at the defaults). */
const FORGET_BELOW = 0.05;
const MAX_TRACKED = 256;
const MAX_RESIDENT = 64;
/** Tolerance for sums of sizes in GB, so 0.1 + 0.2 fits in 0.3. */
const EPS_GB = 1e-9;

const modelId = z.string().check(z.minLength(1), z.maxLength(64));
const time = z.number().check(z.gte(0));

export const residentModelSchema = z.strictObject({
  model: modelId,
  sizeGb: z.number().check(z.gt(0)),
  loadTimeMs: z.number().check(z.gte(0)),
  loadedAt: time,
  lastUsedAt: time,
  pinned: z.optional(z.boolean()),
});

/** Validates a `CacheState` read back from storage. */
export const cacheStateSchema: z.ZodMiniType<CacheState> = z.strictObject({
  resident: z.array(residentModelSchema).check(
    z.maxLength(MAX_RESIDENT),
    z.refine((r) => new Set(r.map((m) => m.model)).size === r.length, "duplicate model"),
  ),
  demand: z
    .record(modelId, z.strictObject({ count: z.number().check(z.gte(0)), at: time }))
    .check(z.refine((d) => Object.keys(d).length <= MAX_TRACKED, "too many demand trackers")),
});

export function emptyCacheState(): CacheState {
  return { resident: [], demand: {} };
}

/** Footprint of a model at a site, or undefined when the site does not serve it. */
export type FootprintLookup = (model: string) => ModelFootprint | undefined;

/** Footprints of the models a site serves: catalog sizes, the site's load times where it has them. */
export function siteFootprints(site: Pick<SiteView, "models">): FootprintLookup {
  const byId = new Map<string, ModelFootprint>();
  for (const m of site.models) {
    const mec = catalogModel(m.model)?.mec;
    if (!mec) continue;
    byId.set(m.model, {
      model: m.model,
      sizeGb: mec.gpuMemoryGb,
      loadTimeMs: m.loadTimeMs ?? mec.loadTimeMs,
    });
  }
  return (model) => byId.get(model);
}

/** GPU memory held by resident models. */
export function usedGb(state: CacheState): number {
  let sum = 0;
  for (const r of state.resident) sum += r.sizeGb;
  return sum;
}

export function isResident(state: CacheState, model: string): boolean {
  return state.resident.some((r) => r.model === model);
}

// ---- Demand ----

function decayedCount(t: DemandTracker | undefined, now: number, cfg: CachePolicyConfig): number {
  if (!t) return 0;
  return t.count * 2 ** (-Math.max(0, now - t.at) / cfg.demandHalfLifeMs);
}

/** A decayed count c estimates a rate of c·ln2 / half-life: what a steady rate converges to. */
function countToRate(count: number, cfg: CachePolicyConfig): number {
  return (count * Math.LN2 * MINUTE) / cfg.demandHalfLifeMs;
}

/** Estimated demand for `model` in requests/min at `now`. */
export function demandRate(
  state: CacheState,
  model: string,
  now: number,
  cfg: CachePolicyConfig,
): number {
  return countToRate(decayedCount(state.demand[model], now, cfg), cfg);
}

/**
 * Counts `requests` asks for `model` at `now` (routed to this site or wanted here but sent
 * elsewhere because the model was not resident). Forgets trackers that have decayed to nothing.
 */
export function recordDemand(
  state: CacheState,
  model: string,
  now: number,
  cfg: CachePolicyConfig,
  requests = 1,
): CacheState {
  const demand: Record<string, DemandTracker> = {};
  for (const [id, t] of Object.entries(state.demand)) {
    if (id === model || decayedCount(t, now, cfg) >= FORGET_BELOW) demand[id] = t;
  }
  const prev = demand[model];
  demand[model] = {
    count: decayedCount(prev, now, cfg) + Math.max(0, requests),
    at: Math.max(now, prev?.at ?? now),
  };
  const ids = Object.keys(demand);
  if (ids.length > MAX_TRACKED) {
    ids.sort((a, b) => decayedCount(demand[a], now, cfg) - decayedCount(demand[b], now, cfg));
    for (const id of ids.slice(0, ids.length - MAX_TRACKED)) {
      if (id !== model) delete demand[id];
    }
  }
  return { ...state, demand };
}

// ---- Value and eviction ----

/**
 * What keeping a model resident is worth; the least valuable is evicted first:
 *
 *   value = (demandRate + demandFloorPerMin) × loadTimeMs / 1000 × 1 / (1 + idleMs / recencyScaleMs)
 *
 * Demand × load seconds is the loading time per minute that residency saves; the recency factor
 * (1 when just used, ½ after `recencyScaleMs` idle) discounts models that have stopped serving.
 * @param resident a resident model, or a candidate with `lastUsedAt` set to when it was last asked for
 * @param demandRate requests/min, from `demandRate`
 */
export function modelValue(
  resident: Pick<ResidentModel, "loadTimeMs" | "lastUsedAt">,
  demandRate: number,
  now: number,
  cfg: CachePolicyConfig,
): number {
  const idleMs = Math.max(0, now - resident.lastUsedAt);
  const recency = 1 / (1 + idleMs / cfg.recencyScaleMs);
  return (demandRate + cfg.demandFloorPerMin) * (resident.loadTimeMs / 1000) * recency;
}

export type LoadPlan =
  | { kind: "resident" }
  /** Unload `evict` (least valuable first), then load; `evict` may be empty. */
  | { kind: "load"; evict: string[] }
  | {
      kind: "impossible";
      /** `too-large`: bigger than the site's memory less headroom; `protected`: pinned or
       * recently loaded models hold the memory it needs. */
      reason: "too-large" | "protected";
      detail: string;
      /** When the minimum residency of enough models has run out, if pins do not block it. */
      retryAt?: number;
    };

function evictable(r: ResidentModel, now: number, cfg: CachePolicyConfig): boolean {
  return !r.pinned && now - r.loadedAt >= cfg.minResidencyMs;
}

interface Valued {
  r: ResidentModel;
  value: number;
}

/**
 * `modelValue` of a resident model, its recency counted from when it was last used or asked for,
 * whichever is later (as for a prewarm candidate, which can only have been asked for).
 */
export function residentValue(
  state: CacheState,
  r: ResidentModel,
  now: number,
  cfg: CachePolicyConfig,
): number {
  const lastUsedAt = Math.max(r.lastUsedAt, state.demand[r.model]?.at ?? r.lastUsedAt);
  const rate = demandRate(state, r.model, now, cfg);
  return modelValue({ loadTimeMs: r.loadTimeMs, lastUsedAt }, rate, now, cfg);
}

/** Resident models that may be evicted now, least valuable first (ties: longest idle, then id). */
function evictionOrder(state: CacheState, now: number, cfg: CachePolicyConfig): Valued[] {
  return state.resident
    .filter((r) => evictable(r, now, cfg))
    .map((r) => ({ r, value: residentValue(state, r, now, cfg) }))
    .sort(
      (a, b) =>
        a.value - b.value ||
        a.r.lastUsedAt - b.r.lastUsedAt ||
        (a.r.model < b.r.model ? -1 : a.r.model > b.r.model ? 1 : 0),
    );
}

/**
 * How to make `want` resident within `capacityGb` less the headroom: evict the least valuable
 * evictable models until it fits, then keep back any of them the load turned out not to need.
 * Pinned models and models inside their minimum residency are never evicted.
 */
export function planLoad(
  state: CacheState,
  want: ModelFootprint,
  capacityGb: number,
  now: number,
  cfg: CachePolicyConfig,
): LoadPlan {
  return planWithValues(state, want, capacityGb, now, cfg).plan;
}

function planWithValues(
  state: CacheState,
  want: ModelFootprint,
  capacityGb: number,
  now: number,
  cfg: CachePolicyConfig,
): { plan: LoadPlan; evicted: Valued[] } {
  if (isResident(state, want.model)) return { plan: { kind: "resident" }, evicted: [] };
  const budget = capacityGb - cfg.headroomGb;
  if (want.sizeGb > budget + EPS_GB) {
    const detail = `${want.model} needs ${want.sizeGb} GB; the site has ${capacityGb} GB with ${cfg.headroomGb} GB kept free`;
    return { plan: { kind: "impossible", reason: "too-large", detail }, evicted: [] };
  }
  const need = usedGb(state) + want.sizeGb - budget;
  if (need <= EPS_GB) return { plan: { kind: "load", evict: [] }, evicted: [] };

  const chosen: Valued[] = [];
  let freed = 0;
  for (const v of evictionOrder(state, now, cfg)) {
    if (freed >= need - EPS_GB) break;
    chosen.push(v);
    freed += v.r.sizeGb;
  }
  if (freed < need - EPS_GB) {
    const detail = `${want.model} needs ${round(need)} GB more than is free; pinned or recently loaded models hold it`;
    const retryAt = protectedRetryAt(state, need, now, cfg);
    const plan: LoadPlan = { kind: "impossible", reason: "protected", detail };
    if (retryAt !== undefined) plan.retryAt = retryAt;
    return { plan, evicted: [] };
  }
  // Greedy by value can overshoot (a small model, then a large one that alone suffices).
  for (let i = chosen.length - 1; i >= 0; i--) {
    const v = chosen[i] as Valued;
    if (freed - v.r.sizeGb >= need - EPS_GB) {
      freed -= v.r.sizeGb;
      chosen.splice(i, 1);
    }
  }
  return { plan: { kind: "load", evict: chosen.map((v) => v.r.model) }, evicted: chosen };
}

/** The earliest time unpinned models free `need` GB as their minimum residency runs out. */
function protectedRetryAt(
  state: CacheState,
  need: number,
  now: number,
  cfg: CachePolicyConfig,
): number | undefined {
  const times = state.resident
    .filter((r) => !r.pinned)
    .map((r) => ({ at: Math.max(now, r.loadedAt + cfg.minResidencyMs), sizeGb: r.sizeGb }))
    .sort((a, b) => a.at - b.at);
  let freed = 0;
  for (const t of times) {
    freed += t.sizeGb;
    if (freed >= need - EPS_GB) return t.at;
  }
  return undefined;
}

// ---- Prewarm ----

export interface PrewarmPlan {
  model: string;
  /** Unload these first, as for `planLoad`. */
  evict: string[];
  demandPerMin: number;
}

/**
 * Non-resident models whose demand has reached `prewarmPerMin`, highest demand first, each with
 * the evictions it needs. A candidate is dropped when it cannot fit or when the value it would
 * evict, times `prewarmMargin`, is not below its own (its recency counts from its last ask).
 * Each plan assumes the ones before it were carried out; the caller may act on a prefix.
 * @param footprint sizes and load times; models it does not know are never prewarmed
 */
export function prewarmCandidates(
  state: CacheState,
  footprint: FootprintLookup,
  capacityGb: number,
  now: number,
  cfg: CachePolicyConfig,
): PrewarmPlan[] {
  const wanted = Object.entries(state.demand)
    .map(([model, t]) => ({ model, t, rate: demandRate(state, model, now, cfg) }))
    .filter((c) => c.rate >= cfg.prewarmPerMin && !isResident(state, c.model))
    .sort((a, b) => b.rate - a.rate || (a.model < b.model ? -1 : 1));

  const plans: PrewarmPlan[] = [];
  let working = state;
  for (const c of wanted) {
    const fp = footprint(c.model);
    if (!fp) continue;
    const { plan, evicted } = planWithValues(working, fp, capacityGb, now, cfg);
    if (plan.kind !== "load") continue;
    const gain = modelValue({ loadTimeMs: fp.loadTimeMs, lastUsedAt: c.t.at }, c.rate, now, cfg);
    const loss = evicted.reduce((sum, v) => sum + v.value, 0);
    if (evicted.length > 0 && loss * cfg.prewarmMargin >= gain) continue;
    plans.push({ model: c.model, evict: plan.evict, demandPerMin: c.rate });
    for (const m of plan.evict) working = applyUnloaded(working, m);
    working = applyLoaded(working, fp, now);
  }
  return plans;
}

// ---- Idle cleanup ----

/** When a resident model becomes unloadable if nothing else happens: idle long enough, past its
 * minimum residency, and with demand decayed below the prewarm threshold. */
function unloadableAt(state: CacheState, r: ResidentModel, cfg: CachePolicyConfig): number {
  if (r.pinned) return Number.POSITIVE_INFINITY;
  let demandUntil = Number.NEGATIVE_INFINITY;
  const t = state.demand[r.model];
  if (t) {
    const rate = countToRate(t.count, cfg);
    if (rate >= cfg.prewarmPerMin) {
      demandUntil = t.at + cfg.demandHalfLifeMs * Math.log2(rate / cfg.prewarmPerMin);
    }
  }
  return Math.max(r.lastUsedAt + cfg.idleTimeoutMs, r.loadedAt + cfg.minResidencyMs, demandUntil);
}

/**
 * Unpinned models unused for `idleTimeoutMs` whose demand is below the prewarm threshold (else
 * prewarm would load them straight back), longest idle first.
 */
export function idleToUnload(state: CacheState, now: number, cfg: CachePolicyConfig): string[] {
  return state.resident
    .filter((r) => unloadableAt(state, r, cfg) <= now)
    .sort((a, b) => a.lastUsedAt - b.lastUsedAt)
    .map((r) => r.model);
}

/** When the cleanup alarm should next run (maybe `now` or earlier), or undefined if never. */
export function nextCleanupAt(state: CacheState, cfg: CachePolicyConfig): number | undefined {
  let next = Number.POSITIVE_INFINITY;
  for (const r of state.resident) next = Math.min(next, unloadableAt(state, r, cfg));
  return Number.isFinite(next) ? next : undefined;
}

// ---- State transitions ----

/** Records that the site finished loading `want`. A model already resident keeps its load time
 * and pin; its footprint is updated. */
export function applyLoaded(state: CacheState, want: ModelFootprint, now: number): CacheState {
  const { model, sizeGb, loadTimeMs } = want;
  const prev = state.resident.find((r) => r.model === model);
  if (prev) {
    const next = { ...prev, sizeGb, loadTimeMs, lastUsedAt: Math.max(prev.lastUsedAt, now) };
    return { ...state, resident: state.resident.map((r) => (r === prev ? next : r)) };
  }
  const entry: ResidentModel = { model, sizeGb, loadTimeMs, loadedAt: now, lastUsedAt: now };
  return { ...state, resident: [...state.resident, entry] };
}

/** Records that the site unloaded `model` (evicted, idle, or a load that failed). */
export function applyUnloaded(state: CacheState, model: string): CacheState {
  if (!isResident(state, model)) return state;
  return { ...state, resident: state.resident.filter((r) => r.model !== model) };
}

/** Records that `model` served a request at `now`; no change if it is not resident. */
export function markUsed(state: CacheState, model: string, now: number): CacheState {
  return updateResident(state, model, (r) => (now > r.lastUsedAt ? { ...r, lastUsedAt: now } : r));
}

/** Pins or unpins a resident model; no change if it is not resident. */
export function setPinned(state: CacheState, model: string, pinned: boolean): CacheState {
  return updateResident(state, model, (r) => {
    if (Boolean(r.pinned) === pinned) return r;
    const { pinned: _, ...rest } = r;
    return pinned ? { ...rest, pinned: true } : rest;
  });
}

/**
 * Aligns the record with the models the site reports resident (a heartbeat, a control API
 * answer): drops the ones it no longer has; adds the ones it has that we missed, as loaded `now`.
 * Reported models the lookup does not know are left out.
 */
export function reconcileResident(
  state: CacheState,
  reported: readonly string[],
  footprint: FootprintLookup,
  now: number,
): CacheState {
  const have = new Set(reported);
  const kept = state.resident.filter((r) => have.has(r.model));
  const added = [...have].flatMap((model) => {
    const fp = kept.some((r) => r.model === model) ? undefined : footprint(model);
    return fp ? [{ ...fp, model, loadedAt: now, lastUsedAt: now }] : [];
  });
  if (kept.length === state.resident.length && added.length === 0) return state;
  return { ...state, resident: [...kept, ...added] };
}

function updateResident(
  state: CacheState,
  model: string,
  f: (r: ResidentModel) => ResidentModel,
): CacheState {
  let changed = false;
  const resident = state.resident.map((r) => {
    if (r.model !== model) return r;
    const next = f(r);
    if (next !== r) changed = true;
    return next;
  });
  return changed ? { ...state, resident } : state;
}

function round(gb: number): number {
  return Math.round(gb * 100) / 100;
}
