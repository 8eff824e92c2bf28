// Latency and cost prediction per candidate:
//   latency = network RTT + upload + queue wait + cold start + compute (prefill + decode)
//   first token = the same with prefill only
//   cost    = tokens × price (cloud) | amortised GPU time (MEC) | 0 (device)

import type { CatalogModel } from "./catalog.ts";
import type { DeviceAssessment } from "./context.ts";
import type { Policy } from "./policy.ts";
import type { RegionView, RouteRequest, SiteView } from "./types.ts";

export interface Prediction {
  /** Until the last token. */
  latencyMs: number;
  /** Until the first token (what a streaming client feels). */
  firstTokenMs: number;
  costUsd: number;
  rttMs: number;
  uploadMs: number;
  queueMs: number;
  coldStartMs: number;
  computeMs: number;
}

function uploadMs(req: RouteRequest): number {
  const up = req.network.uplinkMbps;
  if (req.task.payloadBytes === 0) return 0;
  if (up <= 0) return Number.POSITIVE_INFINITY;
  return (req.task.payloadBytes * 8) / (up * 1000);
}

function total(p: Omit<Prediction, "latencyMs" | "firstTokenMs">, prefillMs: number): Prediction {
  const before = p.rttMs + p.uploadMs + p.queueMs + p.coldStartMs;
  return { ...p, latencyMs: before + p.computeMs, firstTokenMs: before + prefillMs };
}

export function predictDevice(
  req: RouteRequest,
  model: CatalogModel,
  device: DeviceAssessment,
): Prediction {
  const v = model.device;
  if (!v) throw new Error(`${model.id} has no on-device variant`);
  const prefill = (req.task.inputTokens / v.prefillTokensPerSec) * 1000 * device.throttle;
  const decode =
    (req.task.maxOutputTokens / v.tokensPerSec[req.device.class]) * 1000 * device.throttle;
  return total(
    { costUsd: 0, rttMs: 0, uploadMs: 0, queueMs: 0, coldStartMs: 0, computeMs: prefill + decode },
    prefill,
  );
}

export function predictSite(
  req: RouteRequest,
  site: SiteView,
  model: CatalogModel,
  km: number,
  policy: Policy,
): Prediction {
  const v = model.mec;
  if (!v) throw new Error(`${model.id} has no MEC variant`);
  const own = site.models.find((m) => m.model === model.id);
  const { maxConcurrent, gpus } = site.capacity;
  const { running, waiting } = site.load;
  // Continuous batching shares the GPU: a full site decodes each stream ~40% slower than the
  // catalog's one-request figure. A rate the site measured (heartbeats, outcomes) is what its
  // streams get under its load already; slowing it again would count the batching twice.
  const busy = Math.min(1, running / maxConcurrent);
  const tps = own?.tokensPerSec ?? v.tokensPerSec * (1 - 0.4 * busy);
  const prefill = (req.task.inputTokens / v.prefillTokensPerSec) * 1000;
  const compute = prefill + (req.task.maxOutputTokens / tps) * 1000;
  // Requests ahead of this one beyond the free slots, served maxConcurrent at a time.
  const ahead = Math.max(0, waiting + running + 1 - maxConcurrent);
  const queue = (ahead * compute) / maxConcurrent;
  const resident = site.load.residentModels.includes(model.id);
  const coldStart = resident ? 0 : (own?.loadTimeMs ?? v.loadTimeMs);
  // The site's hourly GPU cost spread over its concurrent slots.
  const costUsd = (((site.cost.gpuHourUsd * gpus) / 3600) * (compute / 1000)) / maxConcurrent;
  return total(
    {
      costUsd,
      rttMs: req.network.rttMs + km * policy.rttMsPerKm,
      uploadMs: uploadMs(req),
      queueMs: queue,
      coldStartMs: coldStart,
      computeMs: compute,
    },
    prefill,
  );
}

export function predictCloud(
  req: RouteRequest,
  region: RegionView,
  model: CatalogModel,
  km: number,
  policy: Policy,
): Prediction {
  const v = model.cloud;
  if (!v) throw new Error(`${model.id} has no cloud variant in ${region.id}`);
  const { inputTokens, maxOutputTokens } = req.task;
  // Prefill at ~20k tokens/s on top of the service's time to first token.
  const prefill = v.ttftMs + inputTokens * 0.05;
  const compute = prefill + (maxOutputTokens / v.tokensPerSec) * 1000;
  const costUsd =
    (inputTokens / 1000) * v.inputPer1kUsd + (maxOutputTokens / 1000) * v.outputPer1kUsd;
  return total(
    {
      costUsd,
      rttMs: req.network.rttMs + policy.cloudBaseRttMs + km * policy.rttMsPerKm,
      uploadMs: uploadMs(req),
      queueMs: 0,
      coldStartMs: 0,
      computeMs: compute,
    },
    prefill,
  );
}
