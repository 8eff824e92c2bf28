// Domain types shared by the worker, the Durable Objects, tests and benchmarks.
// Pure data: no Workers bindings, no runtime imports.

export const MODALITIES = ["text", "image", "audio", "video", "multimodal"] as const;
export type Modality = (typeof MODALITIES)[number];

export const PRIVACY_LEVELS = ["public", "sensitive", "strict"] as const;
export type Privacy = (typeof PRIVACY_LEVELS)[number];

export const CRITICALITIES = ["critical", "standard", "sheddable"] as const;
export type Criticality = (typeof CRITICALITIES)[number];

export const THERMAL_STATES = ["nominal", "fair", "serious", "critical"] as const;
export type Thermal = (typeof THERMAL_STATES)[number];

export const NETWORK_TYPES = ["5g", "4g", "wifi", "offline", "unknown"] as const;
export type NetworkType = (typeof NETWORK_TYPES)[number];

export const DEVICE_CLASSES = ["low", "mid", "high"] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

export const LATENCY_TARGETS = ["complete", "first_token"] as const;
export type LatencyTarget = (typeof LATENCY_TARGETS)[number];
/** The longest latency SLA a request may state; no answer expected later than it is offered. */
export const MAX_LATENCY_SLA_MS = 600_000;

export type Tier = "device" | "mec" | "cloud";
export type Classification = "simple" | "complex" | "critical";
export type ConfidenceLevel = "high" | "medium" | "low";
export type BreakerState = "closed" | "open" | "half_open";
export type NetworkClass = "excellent" | "good" | "fair" | "poor" | "offline";

export const REJECTION_REASONS = [
  "privacy",
  "residency",
  "compliance",
  "modality",
  "breaker",
  "capacity",
  "device",
  "network",
  "sla",
  "budget",
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface GeoPoint {
  lat: number;
  lon: number;
}

/** A `/v1/route` request after validation, with every default applied. */
export interface RouteRequest {
  requestId?: string | undefined;
  task: {
    modality: Modality;
    /** `auto` or a catalog model id. */
    model: string;
    inputTokens: number;
    maxOutputTokens: number;
    payloadBytes: number;
    criticality: Criticality;
  };
  constraints: {
    latencySlaMs: number;
    /** What the SLA bounds: the complete response (default) or the first streamed token. */
    latencyTarget: LatencyTarget;
    maxCostUsd?: number | undefined;
    privacy: Privacy;
    /** ISO 3166-1 alpha-2 country codes or zones (`EU`, `EEA`); empty = anywhere. */
    dataResidency: string[];
    /** Certifications every target must hold (`gdpr`, `hipaa`, `iso27001`, …). */
    compliance: string[];
  };
  device: {
    /** On-device model variants installed on the phone (catalog `device.variant` ids). */
    models: string[];
    batteryPct: number;
    charging: boolean;
    thermal: Thermal;
    memoryFreeMb: number;
    class: DeviceClass;
  };
  network: {
    type: NetworkType;
    /** Measured round trip from the device to its access edge. */
    rttMs: number;
    uplinkMbps: number;
    downlinkMbps: number;
  };
  location?: GeoPoint | undefined;
}

/** A target a decision can point at. */
export type Target =
  | { kind: "device" }
  | {
      kind: "site";
      siteId: string;
      endpoint: string;
      /** The request's place in the site's queue (vLLM's `priority`); only at priority sites. */
      priority?: number | undefined;
    }
  | { kind: "cloud"; region: string; modelId: string };

/** Live, fast-changing state of a MEC site, field names after vLLM's metrics. */
export interface SiteLoad {
  /** `vllm:num_requests_waiting` */
  waiting: number;
  /** `vllm:num_requests_running` */
  running: number;
  /** `vllm:kv_cache_usage_perc`, 0–1 */
  kvCacheUsage: number;
  gpuUtilization: number;
  freeGpuMemoryGb: number;
  /** Logical model ids resident in GPU memory. */
  residentModels: string[];
  /** Epoch ms of the last heartbeat or probe this state came from. */
  updatedAt: number;
  /**
   * `waiting` by the class of the request, as the site agent estimates it from its leases
   * (shared/admission.ts); absent when it does not know, and then all waiting work is ahead.
   */
  waitingByClass?: Record<Criticality, number> | undefined;
}

/**
 * How a site orders its queue: `fcfs` in arrival order (vLLM's default), `priority` by the
 * request's `priority` then arrival (vLLM's `--scheduling-policy priority`).
 */
export type Scheduling = "fcfs" | "priority";

/** One model a MEC site can serve, with its measured or configured throughput. */
export interface SiteModel {
  model: string;
  /** Decode tokens/s a request gets at this site, measured or configured; overrides the catalog figure. */
  tokensPerSec?: number | undefined;
  loadTimeMs?: number | undefined;
}

export interface SiteView {
  id: string;
  name: string;
  location: GeoPoint;
  country: string;
  trusted: boolean;
  certifications: string[];
  endpoint: string;
  /** Sites sharing power or backhaul share a fault domain; defaults to the site id. */
  faultDomain: string;
  capacity: {
    maxConcurrent: number;
    maxQueue: number;
    gpus: number;
    gpuMemoryGb: number;
  };
  cost: { gpuHourUsd: number };
  models: SiteModel[];
  load: SiteLoad;
  /** Absent: `fcfs`. */
  scheduling?: Scheduling | undefined;
  breaker: BreakerState;
  /** Share of traffic admitted while ramping back after a breaker closed (0–1). */
  trafficShare: number;
  /** Recent error rate 0–1 (from outcomes). */
  errorRate: number;
  draining: boolean;
  healthy: boolean;
}

export interface RegionView {
  /** AWS region, e.g. `eu-central-1`. */
  id: string;
  location: GeoPoint;
  country: string;
  certifications: string[];
  /** Catalog model ids served here on demand. */
  models: string[];
  breaker: BreakerState;
  errorRate: number;
}

/** What the decision engine sees of the fleet at one moment. */
export interface FleetData {
  version: number;
  generatedAt: number;
  sites: SiteView[];
  regions: RegionView[];
  /** Learned answer lengths as shares of `max_tokens` (answer-length.ts); none: the prior. */
  answerShares?: Record<string, number> | undefined;
}

export interface Rejection {
  target: string;
  reason: RejectionReason;
  detail: string;
}

export interface RationaleItem {
  factor: string;
  detail: string;
}

export interface PlanStep {
  tier: Tier;
  target: Target;
  model: string;
  /**
   * Expected latency under the request's latency target, rounded up to the millisecond (so it is
   * over the SLA exactly when the prediction is).
   */
  predictedLatencyMs: number;
  /** The same when the answer runs to `max_tokens`. */
  worstLatencyMs: number;
  predictedCostUsd: number;
  /** Time this attempt may take before the executor moves on. */
  timeoutMs: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface Plan {
  primary: PlanStep;
  backups: PlanStep[];
  timeoutMs: number;
  retry: RetryPolicy;
}

export interface Resources {
  memoryGb: number;
  cpuCores: number;
  gpuUnits: number;
  bandwidthMbps: number;
}

/** The pure engine's answer; the worker adds ids. */
export interface Decision {
  tier: Tier;
  target: Target;
  model: string;
  classification: Classification;
  complexity: number;
  confidence: number;
  confidenceLevel: ConfidenceLevel;
  /**
   * `latencyMs` (an answer of the expected length) and `worstLatencyMs` (one of `max_tokens`)
   * are under the request's latency target; `firstTokenMs` always until the first token (all
   * rounded up to the millisecond); `costUsd` of the expected answer.
   */
  predicted: { latencyMs: number; worstLatencyMs: number; firstTokenMs: number; costUsd: number };
  /**
   * `worstLatencyMs` is over the SLA: the expected answer meets it but one of `max_tokens` would
   * not, or no target is expected to meet it and this one is expected soonest. Served on a
   * best-effort basis rather than refused.
   */
  bestEffort: boolean;
  resources: Resources;
  plan: Plan;
  rationale: RationaleItem[];
  rejected: Rejection[];
  /** Who chose the primary: the rules engine, or Nova Pro among the rules' feasible targets. */
  reasoner: "rules" | "nova-pro";
}
