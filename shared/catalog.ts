// The catalog of logical models and the variants that run on each tier.
//
// Figures are deliberately round estimates from public sources, to be replaced by measurements:
// - Nova prices (per 1M tokens, on demand): Micro $0.035/$0.14, Lite $0.06/$0.24, Pro $0.80/$3.20
//   [AWS Bedrock pricing]; Micro is text-only, Lite and Pro take images and video [Nova user guide].
// - Llama 3.2 1B/3B 4-bit on phones: ~0.7–2 GB RAM, ~10–40 tokens/s by device class [Meta
//   ExecuTorch and llama.cpp community benchmarks].
// - MEC figures assume one 24 GB edge GPU class (NVIDIA L4 / A10G) running vLLM with fp16/bf16
//   weights: weights ≈ 2 bytes × parameters; single-stream decode 8B ≈ 40–60 tokens/s; load time
//   ≈ weights read from local NVMe plus CUDA graph capture.
// - Whisper large-v3-turbo: 809M parameters (~1.6 GB fp16) [OpenAI model card].

import type { DeviceClass, Modality } from "./types.ts";

export interface DeviceVariant {
  /** Id the phone reports in `device.models`. */
  variant: string;
  ramMb: number;
  prefillTokensPerSec: number;
  tokensPerSec: Record<DeviceClass, number>;
}

export interface MecVariant {
  gpuMemoryGb: number;
  prefillTokensPerSec: number;
  /** Single-request decode rate on the reference edge GPU. */
  tokensPerSec: number;
  loadTimeMs: number;
  /** KV cache per token of context, bytes (drives memory needs for long prompts). */
  kvBytesPerToken: number;
}

export interface CloudVariant {
  /** Bedrock on-demand model id. Cross-region profiles add a `us.`/`eu.`/`apac.` prefix. */
  modelId: string;
  inputPer1kUsd: number;
  outputPer1kUsd: number;
  tokensPerSec: number;
  /** Service-side time to first token, excluding network. */
  ttftMs: number;
}

export interface CatalogModel {
  id: string;
  name: string;
  modalities: Modality[];
  /** 1 (small, simple tasks) … 4 (frontier-class reasoning). */
  quality: 1 | 2 | 3 | 4;
  paramsB: number;
  contextTokens: number;
  device?: DeviceVariant;
  mec?: MecVariant;
  cloud?: CloudVariant;
}

const LLAMA_KV = 2 * 32 * 8 * 128 * 2; // layers × kv-heads × head-dim × (k,v) × bf16 = 128 KiB

export const CATALOG: readonly CatalogModel[] = [
  {
    id: "llama-3.2-1b",
    name: "Llama 3.2 1B Instruct",
    modalities: ["text"],
    quality: 1,
    paramsB: 1.2,
    contextTokens: 128_000,
    device: {
      variant: "llama-3.2-1b-q4",
      ramMb: 1100,
      prefillTokensPerSec: 250,
      tokensPerSec: { low: 12, mid: 25, high: 40 },
    },
    mec: {
      gpuMemoryGb: 3,
      prefillTokensPerSec: 12_000,
      tokensPerSec: 180,
      loadTimeMs: 4_000,
      kvBytesPerToken: 32_768,
    },
  },
  {
    id: "llama-3.2-3b",
    name: "Llama 3.2 3B Instruct",
    modalities: ["text"],
    quality: 2,
    paramsB: 3.2,
    contextTokens: 128_000,
    device: {
      variant: "llama-3.2-3b-q4",
      ramMb: 2300,
      prefillTokensPerSec: 90,
      tokensPerSec: { low: 5, mid: 11, high: 20 },
    },
    mec: {
      gpuMemoryGb: 7,
      prefillTokensPerSec: 7_000,
      tokensPerSec: 110,
      loadTimeMs: 6_000,
      kvBytesPerToken: 114_688,
    },
  },
  {
    id: "whisper-base",
    name: "Whisper base (speech to text)",
    modalities: ["audio"],
    quality: 1,
    paramsB: 0.074,
    contextTokens: 1_500,
    device: {
      variant: "whisper-base-q8",
      ramMb: 300,
      prefillTokensPerSec: 400,
      tokensPerSec: { low: 30, mid: 60, high: 100 },
    },
  },
  {
    id: "llama-3.1-8b",
    name: "Llama 3.1 8B Instruct",
    modalities: ["text"],
    quality: 3,
    paramsB: 8,
    contextTokens: 128_000,
    mec: {
      gpuMemoryGb: 16,
      prefillTokensPerSec: 4_000,
      tokensPerSec: 55,
      loadTimeMs: 12_000,
      kvBytesPerToken: LLAMA_KV,
    },
  },
  {
    id: "qwen2.5-7b",
    name: "Qwen2.5 7B Instruct",
    modalities: ["text"],
    quality: 3,
    paramsB: 7.6,
    contextTokens: 128_000,
    mec: {
      gpuMemoryGb: 15,
      prefillTokensPerSec: 4_200,
      tokensPerSec: 58,
      loadTimeMs: 11_000,
      kvBytesPerToken: 57_344,
    },
  },
  {
    id: "qwen2.5-vl-7b",
    name: "Qwen2.5-VL 7B Instruct (vision)",
    modalities: ["image", "video", "multimodal", "text"],
    quality: 3,
    paramsB: 8.3,
    contextTokens: 32_000,
    mec: {
      gpuMemoryGb: 17,
      prefillTokensPerSec: 3_000,
      tokensPerSec: 45,
      loadTimeMs: 14_000,
      kvBytesPerToken: 57_344,
    },
  },
  {
    id: "whisper-large-v3-turbo",
    name: "Whisper large-v3 turbo (speech to text)",
    modalities: ["audio"],
    quality: 3,
    paramsB: 0.81,
    contextTokens: 1_500,
    mec: {
      gpuMemoryGb: 4,
      prefillTokensPerSec: 20_000,
      tokensPerSec: 400,
      loadTimeMs: 5_000,
      kvBytesPerToken: 20_480,
    },
  },
  {
    id: "nova-micro",
    name: "Amazon Nova Micro",
    modalities: ["text"],
    quality: 2,
    paramsB: 0,
    contextTokens: 128_000,
    cloud: {
      modelId: "amazon.nova-micro-v1:0",
      inputPer1kUsd: 0.000035,
      outputPer1kUsd: 0.00014,
      tokensPerSec: 200,
      ttftMs: 250,
    },
  },
  {
    id: "nova-lite",
    name: "Amazon Nova Lite",
    modalities: ["text", "image", "video", "multimodal"],
    quality: 3,
    paramsB: 0,
    contextTokens: 300_000,
    cloud: {
      modelId: "amazon.nova-lite-v1:0",
      inputPer1kUsd: 0.00006,
      outputPer1kUsd: 0.00024,
      tokensPerSec: 150,
      ttftMs: 300,
    },
  },
  {
    id: "nova-pro",
    name: "Amazon Nova Pro",
    modalities: ["text", "image", "video", "multimodal"],
    quality: 4,
    paramsB: 0,
    contextTokens: 300_000,
    cloud: {
      modelId: "amazon.nova-pro-v1:0",
      inputPer1kUsd: 0.0008,
      outputPer1kUsd: 0.0032,
      tokensPerSec: 90,
      ttftMs: 450,
    },
  },
];

const BY_ID = new Map(CATALOG.map((m) => [m.id, m]));
const BY_DEVICE_VARIANT = new Map(
  CATALOG.flatMap((m) => (m.device ? [[m.device.variant, m] as const] : [])),
);

/** The catalog model with this id, if any. */
export function catalogModel(id: string): CatalogModel | undefined {
  return BY_ID.get(id);
}

/** The catalog model whose on-device variant has this id, if any. */
export function modelByDeviceVariant(variant: string): CatalogModel | undefined {
  return BY_DEVICE_VARIANT.get(variant);
}
