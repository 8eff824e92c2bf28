// The simulated world behind `npm run bench:quality`: MEC sites with real queues, GPU slots,
// model residency and cold loads, cloud regions, devices, and the network between them. Routing
// policies never see this truth directly; they see what a router would (a fleet snapshot, their
// own counters and observed latencies), except the oracle, which asks `evaluate` for the true
// outcome of every option.
//
// Every random quantity of an attempt (network jitter, decode speed, output length) is a hash of
// the request and the target, so the same request sent to the same target at the same moment
// costs the same whichever policy sent it: differences between policies are their choices.

import { type CatalogModel, catalogModel } from "../../shared/catalog.ts";
import { distanceKm } from "../../shared/geo.ts";
import type { RouteRequest, SiteView } from "../../shared/types.ts";

/** A site as deployed: what the router is told (registration) and what is true. */
export interface SimSite {
  /** Registration and static fields as the router knows them (live fields are filled by snapshots). */
  view: SiteView;
  /** True decode speed per served model (tokens/s, one stream on an idle GPU). */
  tokensPerSec: Record<string, number>;
  /** True cold-load time per served model. */
  loadTimeMs: Record<string, number>;
  /** Extra fibre and routing between the carrier edge and this site (≥ 1). */
  routeFactor: number;
  /** Outages: [from, to) in simulated ms; requests sent then hang. */
  down: [number, number][];
  /** Heartbeat phase within its 2 s period. */
  heartbeatPhaseMs: number;
  state: SiteState;
}

export interface SiteState {
  /** Committed requests: when they reached the site, and [start, end) on a GPU slot. */
  slots: { arrive: number; start: number; end: number }[];
  /** When each slot is next free. */
  freeAt: number[];
  /** Resident models and when each was last used. */
  resident: Map<string, number>;
  /** Models being loaded, until when. */
  loadingUntil: Map<string, number>;
}

export interface SimRegion {
  id: string;
  location: { lat: number; lon: number };
  country: string;
  certifications: string[];
  models: string[];
}

/** A request of the trace, with the hidden truths a router cannot know in advance. */
export interface SimRequest {
  index: number;
  at: number;
  req: RouteRequest;
  /** Tokens the answer really has (≤ maxOutputTokens). */
  outputTokens: number;
  /** Index of the user (for mobility scenarios). */
  user: number;
}

export type TargetRef =
  | { kind: "device" }
  | { kind: "site"; site: SimSite }
  | { kind: "cloud"; region: SimRegion };

export interface AttemptOutcome {
  /** `refused`: the site's queue is full (answered at once); `hang`: no answer (outage). */
  result: "ok" | "refused" | "hang";
  /** Time to the first token and to the last, from the attempt's start. */
  ttftMs: number;
  latencyMs: number;
  costUsd: number;
  /** Seconds of upload (radio transmitting) within the attempt. */
  uploadMs: number;
  /** Seconds of on-device compute (device target only). */
  deviceComputeMs: number;
  coldStartMs: number;
  queueMs: number;
}

export const RTT_MS_PER_KM = 0.015;
/** Carrier edge → cloud region overhead beyond distance, as the router assumes by default. */
export const CLOUD_BASE_RTT_MS = 35;
/** Continuous batching: a full site decodes each stream this much slower (the truth). */
const BATCH_SLOWDOWN = 0.35;
const CLOUD_PREFILL_MS_PER_TOKEN = 0.05;

export interface World {
  sites: SimSite[];
  regions: SimRegion[];
  seed: number;
}

// ---- deterministic per-(request, target) randomness ------------------------------------------

function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A uniform draw in [0, 1) fixed by its inputs. */
export function hash01(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = mix(h ^ mix(Math.floor(p) + 0x7f4a7c15));
  return h / 4294967296;
}

/** A log-normal factor with median 1, fixed by its inputs. */
function jitter(sigma: number, ...parts: number[]): number {
  const u = Math.max(1e-9, hash01(...parts, 1));
  const v = hash01(...parts, 2);
  return Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

export function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const targetSalt = new WeakMap<object, number>();
function saltOf(t: TargetRef): number {
  if (t.kind === "device") return 1;
  const key = t.kind === "site" ? t.site : t.region;
  let s = targetSalt.get(key);
  if (s === undefined) {
    s = stringHash(t.kind === "site" ? t.site.view.id : t.region.id);
    targetSalt.set(key, s);
  }
  return s;
}

// ---- site state ------------------------------------------------------------------------------

export function newSiteState(maxConcurrent: number, resident: string[]): SiteState {
  return {
    slots: [],
    freeAt: new Array<number>(maxConcurrent).fill(0),
    resident: new Map(resident.map((m) => [m, 0])),
    loadingUntil: new Map(),
  };
}

/** Requests on a GPU slot and waiting for one at `t`, as the site's metrics would say. */
export function siteLoad(site: SimSite, t: number): { running: number; waiting: number } {
  let running = 0;
  let waiting = 0;
  for (const s of site.state.slots) {
    if (s.end <= t || s.arrive > t) continue;
    if (s.start <= t) running++;
    else waiting++;
  }
  return { running, waiting };
}

function prune(state: SiteState, t: number): void {
  if (state.slots.length > 64 && state.slots.some((s) => s.end <= t)) {
    state.slots = state.slots.filter((s) => s.end > t);
  }
}

export function isDown(site: SimSite, t: number): boolean {
  return site.down.some(([a, b]) => t >= a && t < b);
}

function modelGb(model: CatalogModel): number {
  return model.mec?.gpuMemoryGb ?? 0;
}

/** When `model` can serve at `site` if asked at `t`, and the cold-load time that includes. */
function readyAt(site: SimSite, model: CatalogModel, t: number): { at: number; coldMs: number } {
  const loading = site.state.loadingUntil.get(model.id);
  if (loading !== undefined && loading > t) return { at: loading, coldMs: loading - t };
  if (site.state.resident.has(model.id)) return { at: t, coldMs: 0 };
  const load = site.loadTimeMs[model.id] ?? model.mec?.loadTimeMs ?? 10_000;
  return { at: t + load, coldMs: load };
}

/** Makes `model` resident from `t` (evicting the least recently used others), as a load does. */
function load(site: SimSite, model: CatalogModel, t: number, until: number): void {
  const { resident, loadingUntil } = site.state;
  if (resident.has(model.id)) {
    resident.set(model.id, t);
    return;
  }
  let used = 0;
  for (const id of resident.keys()) used += gbOf(id);
  const lru = [...resident].sort((a, b) => a[1] - b[1]);
  for (const [id] of lru) {
    if (used + modelGb(model) <= site.view.capacity.gpuMemoryGb) break;
    if ((loadingUntil.get(id) ?? 0) > t) continue;
    resident.delete(id);
    used -= gbOf(id);
  }
  resident.set(model.id, t);
  if (until > t) loadingUntil.set(model.id, until);
}

function gbOf(id: string): number {
  return catalogModel(id)?.mec?.gpuMemoryGb ?? 0;
}

// ---- outcomes --------------------------------------------------------------------------------

function accessRtt(r: SimRequest, salt: number): number {
  return r.req.network.rttMs * jitter(0.25, r.index, salt, 11);
}

function uploadMs(r: SimRequest, salt: number): number {
  const bytes = r.req.task.payloadBytes;
  if (bytes === 0) return 0;
  const up = Math.max(0.2, r.req.network.uplinkMbps * jitter(0.3, r.index, salt, 12));
  return (bytes * 8) / (up * 1000);
}

function km(r: SimRequest, at: { lat: number; lon: number }): number {
  return r.req.location ? distanceKm(r.req.location, at) : 500;
}

/**
 * The true outcome of sending request `r` to `target` with `model` at time `t`. With `commit`
 * the site's state changes (the request takes its slot, a cold model loads); without, nothing
 * changes, which is how the oracle looks at every option before choosing.
 */
export function evaluate(
  r: SimRequest,
  target: TargetRef,
  model: CatalogModel,
  t: number,
  commit: boolean,
): AttemptOutcome {
  const salt = saltOf(target);
  const { inputTokens } = r.req.task;
  const out = r.outputTokens;
  if (target.kind === "device") {
    const v = model.device;
    if (!v) throw new Error(`${model.id} has no device variant`);
    const throttle =
      r.req.device.thermal === "serious" ? 1.5 : r.req.device.thermal === "fair" ? 1.15 : 1;
    const speed = jitter(0.1, r.index, salt, 13);
    const prefill = ((inputTokens / v.prefillTokensPerSec) * 1000 * throttle) / speed;
    const decode = ((out / v.tokensPerSec[r.req.device.class]) * 1000 * throttle) / speed;
    return {
      result: "ok",
      ttftMs: prefill,
      latencyMs: prefill + decode,
      costUsd: 0,
      uploadMs: 0,
      deviceComputeMs: prefill + decode,
      coldStartMs: 0,
      queueMs: 0,
    };
  }
  const up = uploadMs(r, salt);
  if (target.kind === "cloud") {
    const v = model.cloud;
    if (!v) throw new Error(`${model.id} has no cloud variant`);
    const rtt =
      accessRtt(r, salt) +
      CLOUD_BASE_RTT_MS * jitter(0.2, r.index, salt, 14) +
      km(r, target.region.location) * RTT_MS_PER_KM * 1.3;
    const ttft =
      v.ttftMs * jitter(0.3, r.index, salt, 15) + inputTokens * CLOUD_PREFILL_MS_PER_TOKEN;
    const decode = (out / (v.tokensPerSec * jitter(0.15, r.index, salt, 16))) * 1000;
    const before = rtt + up;
    return {
      result: "ok",
      ttftMs: before + ttft,
      latencyMs: before + ttft + decode,
      costUsd: (inputTokens / 1000) * v.inputPer1kUsd + (out / 1000) * v.outputPer1kUsd,
      uploadMs: up,
      deviceComputeMs: 0,
      coldStartMs: 0,
      queueMs: 0,
    };
  }
  const site = target.site;
  const rtt = accessRtt(r, salt) + km(r, site.view.location) * RTT_MS_PER_KM * site.routeFactor;
  const none = { costUsd: 0, uploadMs: 0, deviceComputeMs: 0, coldStartMs: 0, queueMs: 0 };
  if (isDown(site, t)) return { result: "hang", ttftMs: Infinity, latencyMs: Infinity, ...none };
  const { capacity } = site.view;
  const arrive = t + rtt / 2 + up;
  if (siteLoad(site, arrive).waiting >= capacity.maxQueue) {
    return { result: "refused", ttftMs: rtt + up, latencyMs: rtt + up, ...none };
  }
  const ready = readyAt(site, model, arrive);
  // FIFO over GPU slots: the request starts when the earliest slot frees, and the model serves.
  let slot = 0;
  for (let i = 1; i < site.state.freeAt.length; i++) {
    if ((site.state.freeAt[i] as number) < (site.state.freeAt[slot] as number)) slot = i;
  }
  const start = Math.max(arrive, ready.at, site.state.freeAt[slot] as number);
  const { running } = siteLoad(site, start);
  const v = model.mec;
  if (!v) throw new Error(`${model.id} has no MEC variant`);
  const tps =
    (site.tokensPerSec[model.id] ?? v.tokensPerSec) *
    jitter(0.08, r.index, salt, 17) *
    (1 - BATCH_SLOWDOWN * Math.min(1, running / capacity.maxConcurrent));
  const prefill = (inputTokens / v.prefillTokensPerSec) * 1000;
  const decode = (out / tps) * 1000;
  const end = start + prefill + decode;
  if (commit) {
    site.state.freeAt[slot] = end;
    site.state.slots.push({ arrive, start, end });
    if (ready.coldMs > 0 && !site.state.loadingUntil.has(model.id)) {
      load(site, model, arrive, ready.at);
    } else {
      site.state.resident.set(model.id, arrive);
    }
    prune(site.state, t - 5_000);
  }
  const before = start - t + rtt / 2;
  return {
    result: "ok",
    ttftMs: before + prefill,
    latencyMs: before + prefill + decode,
    costUsd:
      (((site.view.cost.gpuHourUsd * capacity.gpus) / 3600) * ((prefill + decode) / 1000)) /
      capacity.maxConcurrent,
    uploadMs: up,
    deviceComputeMs: 0,
    coldStartMs: ready.coldMs,
    queueMs: Math.max(0, start - Math.max(arrive, ready.at)),
  };
}

/** Kilometres from the request's user to a target (500 km when the location is unknown). */
export function distanceTo(r: SimRequest, target: TargetRef): number {
  if (target.kind === "device") return 0;
  return km(r, target.kind === "site" ? target.site.view.location : target.region.location);
}

/** Typical phone power draws (W): SoC running a model by class; radio sending; radio waiting. */
export const POWER_W = {
  compute: { low: 2.5, mid: 3.5, high: 4.5 },
  transmit: { "5g": 2.0, "4g": 1.6, wifi: 0.8, unknown: 1.6, offline: 0 },
  wait: 0.35,
} as const;
