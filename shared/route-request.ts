// The `/v1/route` request: its schema (zod mini: ~14 KiB in the bundle instead of ~450 KiB) and
// the documented defaults that turn a parsed body into a complete `RouteRequest`.

import * as z from "zod/mini";
import {
  CRITICALITIES,
  DEVICE_CLASSES,
  LATENCY_TARGETS,
  MODALITIES,
  type Modality,
  NETWORK_TYPES,
  type NetworkType,
  PRIVACY_LEVELS,
  type RouteRequest,
  THERMAL_STATES,
} from "./types.ts";

export const REASONING_MODES = ["off", "auto", "force"] as const;
export type ReasoningMode = (typeof REASONING_MODES)[number];

const int = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));
const num = (min: number, max: number) => z.number().check(z.gte(min), z.lte(max));

/** Country codes (`DE`) or zones (`EU`, `EEA`). */
const region = z.string().check(z.regex(/^[A-Z]{2,4}$/, "expected an upper-case country or zone"));
const tag = z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "expected a lower-case tag"));

export const routeRequestSchema = z.strictObject({
  requestId: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, "expected ≤128 chars of [A-Za-z0-9._:-]")),
  ),
  task: z.strictObject({
    modality: z.enum(MODALITIES),
    model: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
    inputTokens: z.optional(int(0, 2_000_000)),
    maxOutputTokens: z.optional(int(1, 200_000)),
    payloadBytes: z.optional(int(0, 2_147_483_647)),
    criticality: z.optional(z.enum(CRITICALITIES)),
  }),
  constraints: z.strictObject({
    latencySlaMs: int(1, 600_000),
    latencyTarget: z.optional(z.enum(LATENCY_TARGETS)),
    maxCostUsd: z.optional(num(0, 1_000)),
    privacy: z.optional(z.enum(PRIVACY_LEVELS)),
    dataResidency: z.optional(z.array(region).check(z.maxLength(32))),
    compliance: z.optional(z.array(tag).check(z.maxLength(16))),
  }),
  device: z.optional(
    z.strictObject({
      models: z.optional(z.array(z.string().check(z.maxLength(64))).check(z.maxLength(32))),
      batteryPct: z.optional(num(0, 100)),
      charging: z.optional(z.boolean()),
      thermal: z.optional(z.enum(THERMAL_STATES)),
      memoryFreeMb: z.optional(int(0, 1_048_576)),
      class: z.optional(z.enum(DEVICE_CLASSES)),
    }),
  ),
  network: z.optional(
    z.strictObject({
      type: z.optional(z.enum(NETWORK_TYPES)),
      rttMs: z.optional(num(0, 60_000)),
      uplinkMbps: z.optional(num(0, 100_000)),
      downlinkMbps: z.optional(num(0, 100_000)),
    }),
  ),
  location: z.optional(z.strictObject({ lat: num(-90, 90), lon: num(-180, 180) })),
  /** Take a slot at the chosen MEC site now (one Durable Object call) and answer with a lease. */
  reserve: z.optional(z.boolean()),
  /**
   * Nova reasoning for this request: `auto` (default) asks Nova Pro only when the rules are
   * unsure and the SLA leaves room; `force` whenever the SLA leaves room; `off` never. The
   * operator's `REASONING` var must be on for either to call Bedrock.
   */
  reasoning: z.optional(z.enum(REASONING_MODES)),
});

export type RouteRequestInput = z.infer<typeof routeRequestSchema>;

/** Typical prompt size per modality (text tokens, or image/audio/video tokens). */
export const DEFAULT_INPUT_TOKENS: Record<Modality, number> = {
  text: 500,
  image: 1_300,
  audio: 750,
  video: 4_000,
  multimodal: 2_000,
};

/** Typical upload per modality: a photo, 15 s of 16 kHz audio, a short clip. */
export const DEFAULT_PAYLOAD_BYTES: Record<Modality, number> = {
  text: 0,
  image: 200_000,
  audio: 480_000,
  video: 5_000_000,
  multimodal: 300_000,
};

/** Link figures assumed when the device does not report them. */
export const DEFAULT_NETWORK: Record<
  NetworkType,
  { rttMs: number; uplinkMbps: number; downlinkMbps: number }
> = {
  "5g": { rttMs: 20, uplinkMbps: 50, downlinkMbps: 300 },
  "4g": { rttMs: 45, uplinkMbps: 10, downlinkMbps: 40 },
  wifi: { rttMs: 15, uplinkMbps: 40, downlinkMbps: 150 },
  unknown: { rttMs: 60, uplinkMbps: 5, downlinkMbps: 20 },
  offline: { rttMs: 0, uplinkMbps: 0, downlinkMbps: 0 },
};

export const DEFAULT_MAX_OUTPUT_TOKENS = 256;

/** Applies the documented defaults; `fallbackLocation` is the edge's idea of where the caller is. */
export function normalizeRouteRequest(
  input: RouteRequestInput,
  fallbackLocation?: { lat: number; lon: number },
): RouteRequest {
  const { task, constraints } = input;
  const device = input.device ?? {};
  const networkType = input.network?.type ?? "unknown";
  const link = DEFAULT_NETWORK[networkType];
  return {
    requestId: input.requestId,
    task: {
      modality: task.modality,
      model: task.model ?? "auto",
      inputTokens: task.inputTokens ?? DEFAULT_INPUT_TOKENS[task.modality],
      maxOutputTokens: task.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
      payloadBytes: task.payloadBytes ?? DEFAULT_PAYLOAD_BYTES[task.modality],
      criticality: task.criticality ?? "standard",
    },
    constraints: {
      latencySlaMs: constraints.latencySlaMs,
      latencyTarget: constraints.latencyTarget ?? "complete",
      maxCostUsd: constraints.maxCostUsd,
      privacy: constraints.privacy ?? "public",
      dataResidency: constraints.dataResidency ?? [],
      compliance: constraints.compliance ?? [],
    },
    device: {
      models: device.models ?? [],
      batteryPct: device.batteryPct ?? 100,
      charging: device.charging ?? false,
      thermal: device.thermal ?? "nominal",
      memoryFreeMb: device.memoryFreeMb ?? 2048,
      class: device.class ?? "mid",
    },
    network:
      networkType === "offline"
        ? { type: "offline", ...DEFAULT_NETWORK.offline }
        : {
            type: networkType,
            rttMs: input.network?.rttMs ?? link.rttMs,
            uplinkMbps: input.network?.uplinkMbps ?? link.uplinkMbps,
            downlinkMbps: input.network?.downlinkMbps ?? link.downlinkMbps,
          },
    location: input.location ?? fallbackLocation,
  };
}
