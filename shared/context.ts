// The context agent: what kind of request this is, how hard, what it needs, and what the
// device and its network can do. Pure; microseconds.

import { CATALOG, type CatalogModel, catalogModel } from "./catalog.ts";
import type { Policy } from "./policy.ts";
import type {
  Classification,
  Modality,
  NetworkClass,
  RationaleItem,
  Resources,
  RouteRequest,
} from "./types.ts";

export interface DeviceAssessment {
  /** Set when the device cannot run anything now (e.g. thermal `critical`). */
  blocked?: string;
  /** 0–1 penalty from low battery or heat; counts against the device in the score. */
  penalty: number;
  /** Slow-down factor on-device (thermal throttling). */
  throttle: number;
  notes: string[];
}

/**
 * A second opinion on a request the rules find borderline, learned from Nova Micro (the class)
 * and Nova Lite (the complexity) for requests alike in their features. A caller's `critical`
 * always stands.
 */
export interface ContextHint {
  classification?: Classification;
  complexity?: number;
  /** Who said so, for the rationale, e.g. "Nova Micro + Lite (cached)". */
  source: string;
}

export interface RequestContext {
  classification: Classification;
  complexity: number;
  /** Minimum catalog quality when `model` is `auto`; 0 when a model is named. */
  requiredQuality: number;
  /** The named model, when the request names one. */
  requestedModel?: CatalogModel;
  resources: Resources;
  networkClass: NetworkClass;
  device: DeviceAssessment;
  /** The source of the hint the classification or complexity came from, if any. */
  hint?: string;
}

const MODALITY_WEIGHT: Record<Modality, number> = {
  text: 0,
  audio: 0.3,
  image: 0.5,
  multimodal: 0.7,
  video: 0.9,
};

const CPU_CORES: Record<Modality, number> = {
  text: 1,
  audio: 2,
  image: 2,
  multimodal: 2,
  video: 4,
};

/** Memory of the reference edge GPU (NVIDIA L4 / A10G class). */
const GPU_UNIT_GB = 24;

const LOG_TOKENS_MAX = Math.log10(1 + 32_000);
const LOG_PAYLOAD_MAX = Math.log10(1 + 50_000_000);

/**
 * Complexity 0–1 from token count (log), modality, model size, payload (log) and expected
 * response length. Weights sum to 1.
 */
export function complexityScore(req: RouteRequest, requested?: CatalogModel): number {
  const { task } = req;
  const tokens = Math.min(
    1,
    Math.log10(1 + task.inputTokens + task.maxOutputTokens) / LOG_TOKENS_MAX,
  );
  const modality = MODALITY_WEIGHT[task.modality];
  const modelSize = requested ? (requested.quality - 1) / 3 : 0.25;
  const payload = Math.min(1, Math.log10(1 + task.payloadBytes) / LOG_PAYLOAD_MAX);
  const response = Math.min(1, task.maxOutputTokens / 2048);
  const score =
    0.35 * tokens + 0.2 * modality + 0.15 * modelSize + 0.15 * payload + 0.15 * response;
  return Math.round(score * 1000) / 1000;
}

export function classify(req: RouteRequest, complexity: number, policy: Policy): Classification {
  if (req.task.criticality === "critical") return "critical";
  return complexity >= policy.complexThreshold ? "complex" : "simple";
}

export function networkClass(net: RouteRequest["network"]): NetworkClass {
  if (net.type === "offline") return "offline";
  if (net.rttMs <= 20 && net.uplinkMbps >= 20) return "excellent";
  if (net.rttMs <= 50 && net.uplinkMbps >= 5) return "good";
  if (net.rttMs <= 120 && net.uplinkMbps >= 1) return "fair";
  return "poor";
}

export function assessDevice(req: RouteRequest, policy: Policy): DeviceAssessment {
  const d = req.device;
  const notes: string[] = [];
  let penalty = 0;
  let throttle = 1;
  if (d.batteryPct < policy.device.lowBatteryPct && !d.charging) {
    penalty += 0.5;
    notes.push(`battery ${d.batteryPct}% and not charging`);
  }
  if (d.thermal === "critical") {
    return { blocked: "thermal state critical", penalty: 1, throttle: 2, notes };
  }
  if (d.thermal === "serious") {
    penalty += 0.5;
    throttle = 1.5;
    notes.push("thermal state serious (throttled)");
  } else if (d.thermal === "fair") {
    throttle = 1.15;
  }
  return { penalty: Math.min(1, penalty), throttle, notes };
}

/** The smallest catalog model good enough for this request, to size its resource needs. */
function referenceModel(req: RouteRequest, quality: number): CatalogModel | undefined {
  let best: CatalogModel | undefined;
  for (const m of CATALOG) {
    if (!m.modalities.includes(req.task.modality) || m.quality < quality || !m.mec) continue;
    if (
      !best ||
      m.quality < best.quality ||
      (m.quality === best.quality && m.paramsB < best.paramsB)
    )
      best = m;
  }
  return best;
}

export function estimateResources(req: RouteRequest, model: CatalogModel | undefined): Resources {
  const { task, constraints } = req;
  let memoryGb = 0;
  if (model?.mec) {
    const kvGb = ((task.inputTokens + task.maxOutputTokens) * model.mec.kvBytesPerToken) / 1e9;
    memoryGb = model.mec.gpuMemoryGb + kvGb;
  } else if (model?.device) {
    memoryGb = model.device.ramMb / 1024;
  }
  // Upload the payload within a fifth of the SLA.
  const uploadBudgetS = (0.2 * constraints.latencySlaMs) / 1000;
  const bandwidthMbps = Math.max(0.1, (task.payloadBytes * 8) / 1e6 / uploadBudgetS);
  return {
    memoryGb: round1(memoryGb),
    cpuCores: CPU_CORES[task.modality],
    gpuUnits: model?.mec ? Math.ceil(memoryGb / GPU_UNIT_GB) : 0,
    bandwidthMbps: round1(bandwidthMbps),
  };
}

/**
 * Whether the rules' classification of a request is borderline: an `auto` model choice, not
 * marked critical by the caller, with a complexity within `policy.hintBand` of the threshold
 * between simple and complex — where a second opinion can change the model picked.
 */
export function borderline(req: RouteRequest, policy: Policy): boolean {
  if (req.task.model !== "auto" || req.task.criticality === "critical") return false;
  return Math.abs(complexityScore(req) - policy.complexThreshold) <= policy.hintBand;
}

/** Runs the context agent over a validated request, with a learned hint when there is one. */
export function analyzeRequest(
  req: RouteRequest,
  policy: Policy,
  hint?: ContextHint,
): RequestContext {
  const requestedModel = req.task.model === "auto" ? undefined : catalogModel(req.task.model);
  const complexity = hint?.complexity ?? complexityScore(req, requestedModel);
  const classification =
    req.task.criticality === "critical"
      ? "critical"
      : (hint?.classification ?? classify(req, complexity, policy));
  let requiredQuality = 0;
  if (!requestedModel) {
    requiredQuality = policy.qualityByClass[classification];
    if (classification === "critical" && complexity >= policy.hardThreshold) requiredQuality = 4;
  }
  const sizing = requestedModel ?? referenceModel(req, requiredQuality);
  const ctx: RequestContext = {
    classification,
    complexity,
    requiredQuality,
    resources: estimateResources(req, sizing),
    networkClass: networkClass(req.network),
    device: assessDevice(req, policy),
  };
  if (requestedModel) ctx.requestedModel = requestedModel;
  if (hint) ctx.hint = hint.source;
  return ctx;
}

export function contextRationale(req: RouteRequest, ctx: RequestContext): RationaleItem {
  const need = ctx.requestedModel
    ? `model ${ctx.requestedModel.id} requested`
    : `needs quality ≥ ${ctx.requiredQuality}`;
  const from = ctx.hint ? ` (from ${ctx.hint})` : "";
  return {
    factor: "classification",
    detail: `${ctx.classification} ${req.task.modality} request (complexity ${ctx.complexity})${from}: ${need}`,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
