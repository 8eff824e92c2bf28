// Latency and cost prediction per candidate:
//   latency = network RTT + upload + queue wait + cold start + compute (prefill + decode)
//   first token = the same with prefill only
//   cost    = tokens × price (cloud) | amortised GPU time (MEC) | 0 (device)
//
// Answers usually stop well before `max_tokens`, so the prediction decodes the expected answer
// length (`outputShare` × `max_tokens`, learned from outcomes; see answer-length.ts) and keeps
// the worst case — every `max_tokens` decoded — beside it, for timeouts and hard budgets. Requests
// queued ahead at a site are counted at the expected length too: theirs stop early as well. A
// site that schedules by priority puts less urgent queued work behind (shared/admission.ts).

import { waitingAhead } from "./admission.ts";
import type { CatalogModel } from "./catalog.ts";
import type { DeviceAssessment } from "./context.ts";
import type { Policy } from "./policy.ts";
import type { RegionView, RouteRequest, SiteView } from "./types.ts";

export interface Prediction {
  /** Until the last token of an answer of the expected length. */
  latencyMs: number;
  /** Until the last token when the answer runs to `max_tokens`. */
  worstLatencyMs: number;
  /** Until the first token (what a streaming client feels). */
  firstTokenMs: number;
  /** Of an answer of the expected length. */
  costUsd: number;
  /** When the answer runs to `max_tokens`. */
  worstCostUsd: number;
  /** Expected answer length, tokens. */
  outputTokens: number;
  rttMs: number;
  uploadMs: number;
  queueMs: number;
  coldStartMs: number;
  /** Prefill and decode of an answer of the expected length. */
  computeMs: number;
}

interface Parts {
  rttMs: number;
  uploadMs: number;
  queueMs: number;
  coldStartMs: number;
  prefillMs: number;
  /** Decode time per output token. */
  msPerToken: number;
}

function uploadMs(req: RouteRequest): number {
  const up = req.network.uplinkMbps;
  if (req.task.payloadBytes === 0) return 0;
  if (up <= 0) return Number.POSITIVE_INFINITY;
  return (req.task.payloadBytes * 8) / (up * 1000);
}

/** The expected answer length: a share of `max_tokens`, at least one token. */
export function expectedOutputTokens(req: RouteRequest, outputShare: number): number {
  const max = req.task.maxOutputTokens;
  return Math.min(max, Math.max(1, max * outputShare));
}

/** Cost of an attempt: a fixed part, plus per ms of compute (a GPU slot), plus per output token. */
interface Price {
  fixedUsd: number;
  perComputeMsUsd: number;
  perOutputTokenUsd: number;
}

const FREE: Price = { fixedUsd: 0, perComputeMsUsd: 0, perOutputTokenUsd: 0 };

function total(p: Parts, outputTokens: number, maxOutputTokens: number, price: Price): Prediction {
  const before = p.rttMs + p.uploadMs + p.queueMs + p.coldStartMs;
  const computeMs = p.prefillMs + outputTokens * p.msPerToken;
  const worstComputeMs = p.prefillMs + maxOutputTokens * p.msPerToken;
  const { fixedUsd, perComputeMsUsd, perOutputTokenUsd } = price;
  return {
    latencyMs: before + computeMs,
    worstLatencyMs: before + worstComputeMs,
    firstTokenMs: before + p.prefillMs,
    costUsd: fixedUsd + perComputeMsUsd * computeMs + perOutputTokenUsd * outputTokens,
    worstCostUsd: fixedUsd + perComputeMsUsd * worstComputeMs + perOutputTokenUsd * maxOutputTokens,
    outputTokens,
    rttMs: p.rttMs,
    uploadMs: p.uploadMs,
    queueMs: p.queueMs,
    coldStartMs: p.coldStartMs,
    computeMs,
  };
}

export function predictDevice(
  req: RouteRequest,
  model: CatalogModel,
  device: DeviceAssessment,
  outputShare: number,
): Prediction {
  const v = model.device;
  if (!v) throw new Error(`${model.id} has no on-device variant`);
  const parts: Parts = {
    rttMs: 0,
    uploadMs: 0,
    queueMs: 0,
    coldStartMs: 0,
    prefillMs: (req.task.inputTokens / v.prefillTokensPerSec) * 1000 * device.throttle,
    msPerToken: (1000 / v.tokensPerSec[req.device.class]) * device.throttle,
  };
  const out = expectedOutputTokens(req, outputShare);
  return total(parts, out, req.task.maxOutputTokens, FREE);
}

export function predictSite(
  req: RouteRequest,
  site: SiteView,
  model: CatalogModel,
  km: number,
  policy: Policy,
  outputShare: number,
): Prediction {
  const v = model.mec;
  if (!v) throw new Error(`${model.id} has no MEC variant`);
  const own = site.models.find((m) => m.model === model.id);
  const { maxConcurrent, gpus } = site.capacity;
  const { running } = site.load;
  // Continuous batching shares the GPU: a full site decodes each stream ~40% slower than one
  // stream alone. A site's rate is taken as its one-stream speed, as the catalog's is (registered
  // and heartbeat rates are; a learned one averages the loads it was seen under). Measured under
  // `npm run bench:quality`, taking it as the speed under any load cost 0.7–2 points of SLA
  // attainment (optimistic plans, more failed attempts).
  const busy = Math.min(1, running / maxConcurrent);
  const tps = (own?.tokensPerSec ?? v.tokensPerSec) * (1 - 0.4 * busy);
  const prefillMs = (req.task.inputTokens / v.prefillTokensPerSec) * 1000;
  const msPerToken = 1000 / tps;
  const out = expectedOutputTokens(req, outputShare);
  // Requests ahead of this one beyond the free slots, served maxConcurrent at a time, each
  // taking about as long as this one is expected to. At a priority site, queued work of a less
  // urgent class is not ahead: only the running work and the queue of its class or above.
  const queued = waitingAhead(site.load, site.scheduling, req.task.criticality);
  const ahead = Math.max(0, queued + running + 1 - maxConcurrent);
  const queueMs = (ahead * (prefillMs + out * msPerToken)) / maxConcurrent;
  const resident = site.load.residentModels.includes(model.id);
  const parts: Parts = {
    rttMs: req.network.rttMs + km * policy.rttMsPerKm,
    uploadMs: uploadMs(req),
    queueMs,
    coldStartMs: resident ? 0 : (own?.loadTimeMs ?? v.loadTimeMs),
    prefillMs,
    msPerToken,
  };
  // The site's hourly GPU cost spread over its concurrent slots.
  const perComputeMsUsd = (site.cost.gpuHourUsd * gpus) / 3600 / 1000 / maxConcurrent;
  return total(parts, out, req.task.maxOutputTokens, {
    fixedUsd: 0,
    perComputeMsUsd,
    perOutputTokenUsd: 0,
  });
}

export function predictCloud(
  req: RouteRequest,
  region: RegionView,
  model: CatalogModel,
  km: number,
  policy: Policy,
  outputShare: number,
): Prediction {
  const v = model.cloud;
  if (!v) throw new Error(`${model.id} has no cloud variant in ${region.id}`);
  const { inputTokens } = req.task;
  const parts: Parts = {
    rttMs: req.network.rttMs + policy.cloudBaseRttMs + km * policy.rttMsPerKm,
    uploadMs: uploadMs(req),
    queueMs: 0,
    coldStartMs: 0,
    // Prefill at ~20k tokens/s on top of the service's time to first token.
    prefillMs: v.ttftMs + inputTokens * 0.05,
    msPerToken: 1000 / v.tokensPerSec,
  };
  const out = expectedOutputTokens(req, outputShare);
  return total(parts, out, req.task.maxOutputTokens, {
    fixedUsd: (inputTokens / 1000) * v.inputPer1kUsd,
    perComputeMsUsd: 0,
    perOutputTokenUsd: v.outputPer1kUsd / 1000,
  });
}
