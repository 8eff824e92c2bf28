// What a MEC site reports about itself: a heartbeat body (pushed by the site) or its vLLM
// Prometheus metrics (pulled by the site agent's probe). Both become the same `LiveReport`.

import * as z from "zod/mini";
import { notBuiltinProperty } from "./model-id.ts";

const MAX_COUNT = 10_000_000;
const count = z.number().check(z.gte(0), z.lte(MAX_COUNT));
const unit = z.number().check(z.gte(0), z.lte(1));
const modelId = z.string().check(z.minLength(1), z.maxLength(64), notBuiltinProperty);
const MAX_MODELS = 64;

/**
 * Heartbeat body. `metrics` takes vLLM's own metric names, so a sidecar can forward what
 * `/metrics` says as it is.
 */
export const heartbeatSchema = z.strictObject({
  metrics: z.strictObject({
    "vllm:num_requests_waiting": count,
    "vllm:num_requests_running": count,
    "vllm:kv_cache_usage_perc": z.optional(unit),
  }),
  gpuUtilization: z.optional(unit),
  freeGpuMemoryGb: z.optional(z.number().check(z.gte(0), z.lte(1_000_000))),
  residentModels: z.optional(
    z
      .array(
        z.strictObject({
          model: modelId,
          sizeGb: z.optional(z.number().check(z.gte(0), z.lte(100_000))),
          /** Epoch ms. */
          lastUsedAt: z.optional(z.number().check(z.gte(0), z.lte(10_000_000_000_000))),
        }),
      )
      .check(z.maxLength(MAX_MODELS)),
  ),
  /** Measured decode tokens/s per model. */
  tokensPerSec: z.optional(
    z
      .record(modelId, z.number().check(z.gt(0), z.lte(1_000_000)))
      .check(z.refine((r) => Object.keys(r).length <= MAX_MODELS, `at most ${MAX_MODELS} models`)),
  ),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export interface LiveReport {
  waiting: number;
  running: number;
  kvCacheUsage?: number | undefined;
  gpuUtilization?: number | undefined;
  freeGpuMemoryGb?: number | undefined;
  residentModels?: {
    model: string;
    sizeGb?: number | undefined;
    lastUsedAt?: number | undefined;
  }[];
  tokensPerSec?: Record<string, number> | undefined;
}

export function reportFromHeartbeat(hb: Heartbeat): LiveReport {
  return {
    waiting: hb.metrics["vllm:num_requests_waiting"],
    running: hb.metrics["vllm:num_requests_running"],
    kvCacheUsage: hb.metrics["vllm:kv_cache_usage_perc"],
    gpuUtilization: hb.gpuUtilization,
    freeGpuMemoryGb: hb.freeGpuMemoryGb,
    residentModels: hb.residentModels,
    tokensPerSec: hb.tokensPerSec,
  };
}

/**
 * Reads the gauges a router needs from vLLM's Prometheus text (`GET /metrics`). Series with
 * labels (one per model) are summed. Undefined when the text has neither request gauge.
 */
export function reportFromPrometheus(text: string): LiveReport | undefined {
  const sums = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.length === 0) continue;
    const m = /^(vllm:[a-z_]+)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN)/.exec(line);
    if (!m?.[1] || m[3] === undefined) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    sums.set(m[1], (sums.get(m[1]) ?? 0) + value);
  }
  const waiting = sums.get("vllm:num_requests_waiting");
  const running = sums.get("vllm:num_requests_running");
  if (waiting === undefined && running === undefined) return undefined;
  const kv = sums.get("vllm:kv_cache_usage_perc") ?? sums.get("vllm:gpu_cache_usage_perc");
  // Clamped to what a heartbeat may say: a scrape is read, never trusted.
  const clamp = (n: number) => Math.min(MAX_COUNT, Math.max(0, n));
  return {
    waiting: clamp(waiting ?? 0),
    running: clamp(running ?? 0),
    kvCacheUsage: kv === undefined ? undefined : Math.min(1, Math.max(0, kv)),
  };
}
