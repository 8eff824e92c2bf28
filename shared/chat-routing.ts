// Turns an OpenAI chat request plus its routing hints (the optional `mec` body object, or
// `x-mec-*` headers) into the `/v1/route` input the decision engine takes. Server-side execution
// only: the device tier is never a candidate here.

import * as z from "zod/mini";
import { catalogModel } from "./catalog.ts";
import { type ChatCompletionRequest, estimatePromptTokens, requestedMaxTokens } from "./openai.ts";
import { type RouteRequestInput, routeRequestSchema } from "./route-request.ts";
import type { Modality } from "./types.ts";

/** Whole-answer SLA when the caller gives none; streams default to a first-token SLA. */
export const DEFAULT_CHAT_SLA_MS = 30_000;
export const DEFAULT_STREAM_FIRST_TOKEN_SLA_MS = 3_000;

const shape = routeRequestSchema.def.shape;

/** The `mec` object: the `/v1/route` fields that make sense for a request to execute. */
export const chatHintsSchema = z.strictObject({
  requestId: shape.requestId,
  criticality: z.optional(z.enum(["critical", "standard", "sheddable"])),
  constraints: z.optional(z.partial(shape.constraints)),
  network: shape.network,
  location: shape.location,
});
export type ChatHints = z.infer<typeof chatHintsSchema>;

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** `x-mec-*` headers as hints (body hints win field by field). */
export function hintsFromHeaders(
  get: (name: string) => string | undefined,
): Record<string, unknown> {
  const constraints: Record<string, unknown> = {};
  const num = (name: string) => {
    const v = get(name);
    return v === undefined ? undefined : Number(v);
  };
  const sla = num("x-mec-latency-sla-ms");
  if (sla !== undefined) constraints.latencySlaMs = sla;
  const target = get("x-mec-latency-target");
  if (target) constraints.latencyTarget = target;
  const cost = num("x-mec-max-cost-usd");
  if (cost !== undefined) constraints.maxCostUsd = cost;
  const privacy = get("x-mec-privacy");
  if (privacy) constraints.privacy = privacy;
  const residency = get("x-mec-data-residency");
  if (residency) constraints.dataResidency = list(residency);
  const compliance = get("x-mec-compliance");
  if (compliance) constraints.compliance = list(compliance);
  const hints: Record<string, unknown> = {};
  if (Object.keys(constraints).length > 0) hints.constraints = constraints;
  const criticality = get("x-mec-criticality");
  if (criticality) hints.criticality = criticality;
  const network = get("x-mec-network");
  if (network) hints.network = { type: network };
  return hints;
}

/** The request's modality: its one kind of media, "multimodal" with several, else "text". */
export function modalityOf(req: ChatCompletionRequest): Modality {
  const media = new Set<Modality>();
  for (const m of req.messages) {
    if (!Array.isArray(m.content)) continue;
    for (const part of m.content as { type?: string }[]) {
      if (part.type === "image_url") media.add("image");
      if (part.type === "input_audio") media.add("audio");
      if (part.type === "video_url") media.add("video");
    }
  }
  if (media.size > 1) return "multimodal";
  const [only] = media;
  return only ?? "text";
}

/**
 * The route input for a chat request. `model` names a catalog model, or anything else (e.g. a
 * client's default `gpt-4o-mini`) for `auto`.
 */
export function routeInputFromChat(
  req: ChatCompletionRequest,
  hints: ChatHints,
): RouteRequestInput {
  const stream = req.stream === true;
  const given = hints.constraints ?? {};
  const latencyTarget = given.latencyTarget ?? (stream ? "first_token" : "complete");
  const latencySlaMs =
    given.latencySlaMs ??
    (latencyTarget === "first_token" ? DEFAULT_STREAM_FIRST_TOKEN_SLA_MS : DEFAULT_CHAT_SLA_MS);
  const input: RouteRequestInput = {
    task: {
      modality: modalityOf(req),
      model: catalogModel(req.model) ? req.model : "auto",
      inputTokens: Math.min(2_000_000, estimatePromptTokens(req)),
      maxOutputTokens: requestedMaxTokens(req) ?? 256,
      payloadBytes: 0,
      ...(hints.criticality ? { criticality: hints.criticality } : {}),
    },
    constraints: { ...given, latencySlaMs, latencyTarget },
    // No on-device models: this request runs server-side.
    device: { models: [] },
  };
  if (hints.requestId) input.requestId = hints.requestId;
  if (hints.network) input.network = hints.network;
  if (hints.location) input.location = hints.location;
  return input;
}
