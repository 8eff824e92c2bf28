// The `/v1/route` request: its schema (zod mini: ~14 KiB in the bundle instead of ~450 KiB) and
// the documented defaults that turn a parsed body into a complete `RouteRequest`.

import * as z from "zod/mini";
import {
  CRITICALITIES,
  DEVICE_CLASSES,
  LATENCY_TARGETS,
  MAX_LATENCY_SLA_MS,
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

// Descriptions travel with the schema into the OpenAPI document, the typed client and the MCP
// tool listing, where callers (and assistants) read them.
const d = z.describe;

export const routeRequestSchema = z.strictObject({
  requestId: z.optional(
    z
      .string()
      .check(
        z.regex(/^[A-Za-z0-9._:-]{1,128}$/, "expected ≤128 chars of [A-Za-z0-9._:-]"),
        d("Echoed back; default the decision id."),
      ),
  ),
  task: z.strictObject({
    modality: z.enum(MODALITIES),
    model: z.optional(
      z
        .string()
        .check(
          z.minLength(1),
          z.maxLength(64),
          d("A catalog id (GET /v1/catalog), or `auto` (default): the smallest adequate model."),
        ),
    ),
    inputTokens: z.optional(
      int(0, 2_000_000).check(d("Prompt size incl. media tokens; default by modality.")),
    ),
    maxOutputTokens: z.optional(int(1, 200_000).check(d("Default 256."))),
    payloadBytes: z.optional(
      int(0, 2_147_483_647).check(d("Upload size; default by modality (an image 200 KB, …).")),
    ),
    criticality: z.optional(
      z
        .enum(CRITICALITIES)
        .check(d("Default `standard`; `sheddable` is refused (503) rather than queued.")),
    ),
  }),
  constraints: z.strictObject({
    latencySlaMs: int(1, MAX_LATENCY_SLA_MS).check(
      d(
        "The latency the answer should meet, in ms; when no target is expected to meet it, the " +
          "request gets a best effort (`bestEffort`) where it is expected soonest.",
      ),
    ),
    latencyTarget: z.optional(
      z
        .enum(LATENCY_TARGETS)
        .check(d("What the SLA bounds: the `complete` answer (default) or the `first_token`.")),
    ),
    maxCostUsd: z.optional(num(0, 1_000).check(d("Per-request budget in USD."))),
    privacy: z.optional(
      z
        .enum(PRIVACY_LEVELS)
        .check(
          d(
            "`strict`: device or trusted MEC sites only, never the cloud; `sensitive`: the cloud " +
              "only inside `dataResidency`; default `public`.",
          ),
        ),
    ),
    dataResidency: z.optional(
      z
        .array(region)
        .check(
          z.maxLength(32),
          d("Countries (`DE`) or zones (`EU`, `EEA`) every non-device target must be in."),
        ),
    ),
    compliance: z.optional(
      z
        .array(tag)
        .check(z.maxLength(16), d("Certifications every target must hold (`gdpr`, `hipaa`, …).")),
    ),
  }),
  device: z.optional(
    z.strictObject({
      models: z.optional(
        z
          .array(z.string().check(z.maxLength(64)))
          .check(z.maxLength(32), d("On-device model variants installed (`llama-3.2-1b-q4`, …).")),
      ),
      batteryPct: z.optional(
        num(0, 100).check(d("Default 100; < 20 and not charging counts against the device.")),
      ),
      charging: z.optional(z.boolean()),
      thermal: z.optional(
        z
          .enum(THERMAL_STATES)
          .check(d("`serious` throttles and counts against the device; `critical` rules it out.")),
      ),
      memoryFreeMb: z.optional(int(0, 1_048_576).check(d("Default 2048; the model must fit."))),
      class: z.optional(z.enum(DEVICE_CLASSES).check(d("On-device speed class; default `mid`."))),
    }),
  ),
  network: z.optional(
    z.strictObject({
      type: z.optional(
        z.enum(NETWORK_TYPES).check(d("`offline` leaves the device tier only; default `unknown`.")),
      ),
      rttMs: z.optional(num(0, 60_000).check(d("Round trip to the access edge; default by type."))),
      uplinkMbps: z.optional(num(0, 100_000)),
      downlinkMbps: z.optional(num(0, 100_000)),
    }),
  ),
  location: z.optional(
    z
      .strictObject({ lat: num(-90, 90), lon: num(-180, 180) })
      .check(d("Where the device is: picks the nearest sites; default from the Cloudflare edge.")),
  ),
  /** Take a slot at the chosen MEC site now (one Durable Object call) and answer with a lease. */
  reserve: z.optional(
    z.boolean().check(d("Take a slot at the chosen MEC site now and answer with a `lease`.")),
  ),
  /**
   * Nova reasoning for this request: `auto` (default) asks Nova Pro only when the rules are
   * unsure and the SLA leaves room; `force` whenever the SLA leaves room; `off` never. The
   * operator's `REASONING` var must be on for either to call Bedrock.
   */
  reasoning: z.optional(
    z
      .enum(REASONING_MODES)
      .check(d("Nova reasoning: `auto` (default) when the rules are unsure, `force`, or `off`.")),
  ),
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
