// Monitor events: what the hot path tells the monitor about each request, sent after the
// response through the queue. They are built from the decision, the normalised request's
// features and the run's attempts, never from the request body: no prompt, message, tool,
// payload or client-chosen free text (request id, `user`, an unknown model name) can reach one.
// The schemas are strict and every string in them is an enum or a short id pattern, so the
// consumer rejects anything else as well.

import * as z from "zod/mini";
import { catalogModel } from "./catalog.ts";
import { notBuiltinProperty } from "./model-id.ts";
import {
  CRITICALITIES,
  DEVICE_CLASSES,
  type Decision,
  LATENCY_TARGETS,
  MODALITIES,
  NETWORK_TYPES,
  type PlanStep,
  PRIVACY_LEVELS,
  type RouteRequest,
  type Target,
  type Tier,
} from "./types.ts";

/** Bumped when an event's shape changes; the consumer drops versions it does not know. */
export const EVENT_VERSION = 1;

export const TIERS = ["device", "mec", "cloud"] as const;
export const OUTCOME_ERROR_CLASSES = [
  "timeout",
  "connect",
  "http_4xx",
  "http_429",
  "http_5xx",
  "stream",
  "denied",
  "other",
] as const;
export type OutcomeErrorClass = (typeof OUTCOME_ERROR_CLASSES)[number];

const uuid = z.uuid();
/** Epoch milliseconds, up to the year 9999. */
const epochMs = z.int().check(z.gte(0), z.lte(253_402_300_799_999));
const count = z.int().check(z.gte(0), z.lte(2_147_483_647));
/** Durations: up to about 11 days, far above any SLA (600 s) or timeout. */
const ms = z.number().check(z.gte(0), z.lte(1_000_000_000));
const unit = z.number().check(z.gte(0), z.lte(1));
const usd = z.number().check(z.gte(0), z.lte(1_000_000));
const tier = z.enum(TIERS);
/** `site:<id>`, `cloud:<region>` or `device`, as in `targetKey`. */
const target = z
  .string()
  .check(z.regex(/^(device|site:[a-z0-9][a-z0-9-]{0,62}|cloud:[a-z0-9][a-z0-9-]{0,31})$/));
/** A catalog model id, or `auto`. */
const model = z.string().check(z.regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/), notBuiltinProperty);
const name = z.string().check(z.regex(/^[a-z][a-z0-9_-]{0,31}$/));

export const decisionEventSchema = z.strictObject({
  type: z.literal("decision"),
  v: z.literal(EVENT_VERSION),
  /** The decision id (`x-mec-decision-id`). */
  id: uuid,
  time: epochMs,
  /** What the request asked for, as numbers and enums only. */
  request: z.strictObject({
    modality: z.enum(MODALITIES),
    modelAsked: model,
    inputTokens: count,
    maxOutputTokens: count,
    payloadBytes: count,
    criticality: z.enum(CRITICALITIES),
    privacy: z.enum(PRIVACY_LEVELS),
    residencyCount: count,
    complianceCount: count,
    latencySlaMs: ms,
    latencyTarget: z.enum(LATENCY_TARGETS),
    networkType: z.enum(NETWORK_TYPES),
    deviceClass: z.enum(DEVICE_CLASSES),
    hasLocation: z.boolean(),
  }),
  tier,
  target,
  model,
  classification: z.enum(["simple", "complex", "critical"]),
  complexity: unit,
  confidence: unit,
  reasoner: name,
  /** Rationale factor names, without their details. */
  rationale: z.array(name).check(z.maxLength(32)),
  predicted: z.strictObject({ latencyMs: ms, firstTokenMs: ms, costUsd: usd }),
  backups: count,
  /**
   * The policy variant it was decided under (`"default"` without an A/B experiment); absent on
   * events from before experiments existed, which still validate as `v: 1`.
   */
  policyVariant: z.optional(name),
});
export type DecisionEvent = z.infer<typeof decisionEventSchema>;

export const outcomeEventSchema = z.strictObject({
  type: z.literal("outcome"),
  v: z.literal(EVENT_VERSION),
  id: uuid,
  decisionId: uuid,
  time: epochMs,
  /** Where the decision meant it to run (the plan's primary). */
  tier,
  target,
  model,
  /** Where it ran in the end (or failed last), after retries and failover. */
  finalTier: tier,
  finalTarget: target,
  finalModel: model,
  ok: z.boolean(),
  errorClass: z.optional(z.enum(OUTCOME_ERROR_CLASSES)),
  /** The whole call (or, for a stream, until it ended). */
  latencyMs: ms,
  ttftMs: z.optional(ms),
  tokens: z.optional(z.strictObject({ input: count, output: count })),
  attempts: count,
  /** Unknown when the reporter did not know the SLA (e.g. a device's own report). */
  slaMet: z.optional(z.boolean()),
  /** Actual cost where tokens and prices are known, else the plan's estimate; 0 when failed. */
  costUsd: usd,
});
export type OutcomeEvent = z.infer<typeof outcomeEventSchema>;

export const monitorEventSchema = z.discriminatedUnion("type", [
  decisionEventSchema,
  outcomeEventSchema,
]);
export type MonitorEvent = DecisionEvent | OutcomeEvent;

/** `site:<id>`, `cloud:<region>` or `device`: how events, attempts and rollups name a target. */
export function targetKey(t: Target): string {
  return t.kind === "site"
    ? `site:${t.siteId}`
    : t.kind === "cloud"
      ? `cloud:${t.region}`
      : "device";
}

function factorNames(d: Decision): string[] {
  return [...new Set(d.rationale.map((r) => r.factor))].slice(0, 32);
}

/** The decision event: request features and the decision, never content. */
export function decisionEvent(input: {
  id: string;
  time: number;
  request: RouteRequest;
  decision: Decision;
  policyVariant?: string | undefined;
}): DecisionEvent {
  const { request: r, decision: d } = input;
  const event: DecisionEvent = {
    type: "decision",
    v: EVENT_VERSION,
    id: input.id,
    time: input.time,
    request: {
      modality: r.task.modality,
      modelAsked: catalogModel(r.task.model) ? r.task.model : "auto",
      inputTokens: r.task.inputTokens,
      maxOutputTokens: r.task.maxOutputTokens,
      payloadBytes: r.task.payloadBytes,
      criticality: r.task.criticality,
      privacy: r.constraints.privacy,
      residencyCount: r.constraints.dataResidency.length,
      complianceCount: r.constraints.compliance.length,
      latencySlaMs: r.constraints.latencySlaMs,
      latencyTarget: r.constraints.latencyTarget,
      networkType: r.network.type,
      deviceClass: r.device.class,
      hasLocation: r.location !== undefined,
    },
    tier: d.tier,
    target: targetKey(d.target),
    model: d.model,
    classification: d.classification,
    complexity: d.complexity,
    confidence: d.confidence,
    reasoner: d.reasoner,
    rationale: factorNames(d),
    predicted: {
      latencyMs: d.predicted.latencyMs,
      firstTokenMs: d.predicted.firstTokenMs,
      costUsd: d.predicted.costUsd,
    },
    backups: d.plan.backups.length,
  };
  if (input.policyVariant !== undefined) event.policyVariant = input.policyVariant;
  return event;
}

/** One attempt of a run, as the runner records it (`AttemptRecord` fits). */
export interface AttemptLike {
  target: string;
  tier: Tier;
  ok: boolean;
  errorClass?: string | undefined;
  latencyMs: number;
}

function errorClassOf(value: string | undefined): OutcomeErrorClass {
  return OUTCOME_ERROR_CLASSES.find((c) => c === value) ?? "other";
}

/** Cost of a finished call: Bedrock's prices when the tokens are known, else the plan's estimate. */
function costOf(step: PlanStep | undefined, tokens: OutcomeEvent["tokens"]): number {
  if (!step) return 0;
  const cloud = catalogModel(step.model)?.cloud;
  if (step.tier === "cloud" && cloud && tokens) {
    return (tokens.input * cloud.inputPer1kUsd + tokens.output * cloud.outputPer1kUsd) / 1000;
  }
  return step.predictedCostUsd;
}

/**
 * The outcome event of a request the worker ran (chat, infer): where it ended is the last
 * attempt's target; the model is the plan step's for that target.
 */
export function outcomeFromRun(input: {
  id?: string;
  decisionId: string;
  time: number;
  request: RouteRequest;
  decision: Decision;
  attempts: readonly AttemptLike[];
  ok: boolean;
  latencyMs: number;
  ttftMs?: number | undefined;
  tokens?: { input: number; output: number } | undefined;
  errorClass?: string | undefined;
}): OutcomeEvent {
  const { decision: d, attempts } = input;
  const steps = [d.plan.primary, ...d.plan.backups];
  const last = attempts.at(-1);
  const finalTarget = last?.target ?? targetKey(d.target);
  const step = steps.find((s) => targetKey(s.target) === finalTarget);
  const sla = input.request.constraints;
  const measured =
    sla.latencyTarget === "first_token" ? (input.ttftMs ?? input.latencyMs) : input.latencyMs;
  const event: OutcomeEvent = {
    type: "outcome",
    v: EVENT_VERSION,
    id: input.id ?? crypto.randomUUID(),
    decisionId: input.decisionId,
    time: input.time,
    tier: d.tier,
    target: targetKey(d.target),
    model: d.model,
    finalTier: last?.tier ?? d.tier,
    finalTarget,
    finalModel: step?.model ?? d.model,
    ok: input.ok,
    latencyMs: input.latencyMs,
    attempts: attempts.length,
    slaMet: input.ok && measured <= sla.latencySlaMs,
    costUsd: input.ok ? costOf(step, input.tokens) : 0,
  };
  if (!input.ok) {
    event.errorClass = errorClassOf(
      input.errorClass ?? attempts.findLast((a) => !a.ok)?.errorClass,
    );
  }
  if (input.ttftMs !== undefined) event.ttftMs = input.ttftMs;
  if (input.tokens) event.tokens = { input: input.tokens.input, output: input.tokens.output };
  return event;
}

/**
 * The outcome event of a request run outside the worker (the device itself, or a MEC site
 * called directly with a lease), from `POST /v1/outcomes`. The SLA is unknown there.
 */
export function reportedOutcome(input: {
  id?: string;
  decisionId: string;
  time: number;
  tier: Tier;
  target: string;
  model: string;
  ok: boolean;
  latencyMs: number;
  errorClass?: string | undefined;
}): OutcomeEvent {
  // A device names the model it ran: only catalog ids are kept, like a decision's `modelAsked`.
  const model = catalogModel(input.model) ? input.model : "auto";
  const event: OutcomeEvent = {
    type: "outcome",
    v: EVENT_VERSION,
    id: input.id ?? crypto.randomUUID(),
    decisionId: input.decisionId,
    time: input.time,
    tier: input.tier,
    target: input.target,
    model,
    finalTier: input.tier,
    finalTarget: input.target,
    finalModel: model,
    ok: input.ok,
    latencyMs: input.latencyMs,
    attempts: 1,
    costUsd: 0,
  };
  if (!input.ok) event.errorClass = errorClassOf(input.errorClass);
  return event;
}
