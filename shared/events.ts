// Monitor events: what the hot path tells the monitor about each request, sent after the
// response through the queue. They are built from the decision, the normalised request's
// features and the run's attempts, never from the request body: no prompt, message, tool,
// payload or client-chosen free text (request id, `user`, an unknown model name) can reach one.
// The schemas are strict and every string in them is an enum or a short id pattern, so the
// consumer rejects anything else as well.

import * as z from "zod/mini";
import { TENANT_ID_PATTERN } from "./api-key.ts";
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
  REJECTION_REASONS,
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

/** Longest explanation detail an event keeps. */
export const MAX_DETAIL_CHARS = 200;

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
/** The caller's tenant; absent on events from before tenants. */
const tenant = z.optional(z.string().check(z.regex(TENANT_ID_PATTERN)));
/**
 * An explanation the decision engine wrote (a rationale or rejection detail): one line of printable
 * text, built by `eventDetail` from fleet and catalog names and numbers only.
 */
const detail = z.string().check(z.maxLength(MAX_DETAIL_CHARS), z.regex(/^\P{Cc}*$/u));

export const MAX_EXPLAINED_REJECTIONS = 64;
export const MAX_ATTEMPT_LOG = 16;

const planStep = z.strictObject({
  tier,
  target,
  model,
  predictedLatencyMs: ms,
  predictedCostUsd: usd,
  timeoutMs: ms,
});

/**
 * Why a decision went where it did, for the decision explorer: rationale items and rejections
 * with their details (see `eventDetail`), and the plan (primary first, then the backups).
 */
const explanation = z.strictObject({
  rationale: z
    .array(z.strictObject({ factor: name, detail: z.optional(detail) }))
    .check(z.maxLength(32)),
  rejected: z
    .array(
      z.strictObject({
        target,
        reason: z.enum(REJECTION_REASONS),
        detail: z.optional(detail),
      }),
    )
    .check(z.maxLength(MAX_EXPLAINED_REJECTIONS)),
  /** Rejections in the decision; more than `rejected` holds when it was cut at the maximum. */
  rejectedTotal: count,
  plan: z.array(planStep).check(z.minLength(1), z.maxLength(8)),
});
export type DecisionExplanation = z.infer<typeof explanation>;

const attempt = z.strictObject({
  target,
  tier,
  ok: z.boolean(),
  errorClass: z.optional(z.enum(OUTCOME_ERROR_CLASSES)),
  latencyMs: ms,
});
export type AttemptLogEntry = z.infer<typeof attempt>;

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
  tenant,
  /** Details, rejections and plan; absent on events from before the decision explorer. */
  explain: z.optional(explanation),
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
  tenant,
  /**
   * The run reserved its predicted cost in the tenant's budget: the monitor settles the
   * reservation with `costUsd`.
   */
  charged: z.optional(z.literal(true)),
  /** Each attempt in order (the first `MAX_ATTEMPT_LOG`), when the worker ran it. */
  attemptLog: z.optional(z.array(attempt).check(z.maxLength(MAX_ATTEMPT_LOG))),
});
export type OutcomeEvent = z.infer<typeof outcomeEventSchema>;

/** The Nova roles whose Bedrock calls are metered: three on the request path, one offline. */
export const NOVA_ROLES = ["micro", "lite", "pro", "review"] as const;
export type NovaRole = (typeof NOVA_ROLES)[number];
/**
 * How a Nova role call ended: `ok`, a failure of the call (`timeout`, `throttled`, `error`,
 * `invalid` answer), or a call not made because its breaker was open or the spend budget was
 * exhausted. Every outcome but `ok` means the rules decided instead.
 */
export const NOVA_OUTCOMES = [
  "ok",
  "timeout",
  "throttled",
  "error",
  "invalid",
  "breaker_open",
  "budget",
] as const;
export type NovaOutcome = (typeof NOVA_OUTCOMES)[number];
/** Outcomes of a call that never reached Bedrock. */
export const NOVA_SKIPS = ["breaker_open", "budget"] as const satisfies readonly NovaOutcome[];

/** One Nova role call (or a call skipped): role, Bedrock model id, outcome, tokens and cost. */
export const novaUsageEventSchema = z.strictObject({
  type: z.literal("nova"),
  v: z.literal(EVENT_VERSION),
  id: uuid,
  time: epochMs,
  role: z.enum(NOVA_ROLES),
  /** The Bedrock model id called (cross-region profile ids such as `eu.amazon.nova-pro-v1:0`). */
  model: z.string().check(z.regex(/^[a-z0-9][a-z0-9.:-]{0,95}$/)),
  outcome: z.enum(NOVA_OUTCOMES),
  inputTokens: count,
  outputTokens: count,
  /** At catalog prices, from the tokens Bedrock reported; 0 for a call without an answer. */
  costUsd: usd,
  latencyMs: ms,
});
export type NovaUsageEvent = z.infer<typeof novaUsageEventSchema>;

export const monitorEventSchema = z.discriminatedUnion("type", [
  decisionEventSchema,
  outcomeEventSchema,
  novaUsageEventSchema,
]);
export type MonitorEvent = DecisionEvent | OutcomeEvent | NovaUsageEvent;

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

/** Characters that may sit next to a client-chosen word inside it (tags, codes). */
const WORD_CHAR = /[A-Za-z0-9._-]/;

function mentions(text: string, word: string): boolean {
  for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + 1)) {
    const before = text[i - 1];
    const after = text[i + word.length];
    if (
      (before === undefined || !WORD_CHAR.test(before)) &&
      (after === undefined || !WORD_CHAR.test(after))
    ) {
      return true;
    }
  }
  return false;
}

/**
 * The words of a request a client chose freely that the engine may quote in a detail: data
 * residency zones, compliance tags, installed device model names. (Everything else in a detail is
 * fleet and catalog names, enums and numbers.)
 */
function clientWords(r: RouteRequest): string[] {
  return [...r.constraints.dataResidency, ...r.constraints.compliance, ...r.device.models].filter(
    (w) => w.length > 0,
  );
}

/**
 * A detail as an event may keep it: cut to `MAX_DETAIL_CHARS`, and dropped (undefined) when it
 * has a control character or quotes a word the client chose (`clientWords`), so that the factor
 * or reason alone is kept. Dropping errs on the safe side: a tag that happens to equal a word of
 * the engine's text only costs that detail.
 */
export function eventDetail(text: string, words: readonly string[]): string | undefined {
  const cut = text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS - 1)}…` : text;
  if (/\p{Cc}/u.test(cut)) return undefined;
  return words.some((w) => mentions(cut, w)) ? undefined : cut;
}

function withDetail<T extends object>(base: T, text: string, words: readonly string[]) {
  const d = eventDetail(text, words);
  return d === undefined ? base : { ...base, detail: d };
}

function planStepOf(s: PlanStep): DecisionExplanation["plan"][number] {
  return {
    tier: s.tier,
    target: targetKey(s.target),
    model: s.model,
    predictedLatencyMs: s.predictedLatencyMs,
    predictedCostUsd: s.predictedCostUsd,
    timeoutMs: s.timeoutMs,
  };
}

/** The decision's explanation as an event carries it (`explain`). */
export function explainDecision(request: RouteRequest, d: Decision): DecisionExplanation {
  const words = clientWords(request);
  return {
    rationale: d.rationale
      .slice(0, 32)
      .map((r) => withDetail({ factor: r.factor }, r.detail, words)),
    rejected: d.rejected
      .slice(0, MAX_EXPLAINED_REJECTIONS)
      .map((r) => withDetail({ target: r.target, reason: r.reason }, r.detail, words)),
    rejectedTotal: d.rejected.length,
    plan: [d.plan.primary, ...d.plan.backups].slice(0, 8).map(planStepOf),
  };
}

/** The decision event: request features and the decision, never content. */
export function decisionEvent(input: {
  id: string;
  time: number;
  request: RouteRequest;
  decision: Decision;
  policyVariant?: string | undefined;
  tenant?: string | undefined;
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
    explain: explainDecision(r, d),
  };
  if (input.policyVariant !== undefined) event.policyVariant = input.policyVariant;
  if (input.tenant !== undefined) event.tenant = input.tenant;
  return event;
}

/** The catalog model whose prices meter each Nova role (the review runs on Nova Pro). */
export const NOVA_ROLE_CATALOG: Record<NovaRole, string> = {
  micro: "nova-micro",
  lite: "nova-lite",
  pro: "nova-pro",
  review: "nova-pro",
};

/**
 * The usage event of one Nova role call (or a call skipped, with zero tokens), costed at the
 * role's catalog prices from the tokens Bedrock reported.
 */
export function novaUsageEvent(input: {
  id?: string;
  time: number;
  role: NovaRole;
  model: string;
  outcome: NovaOutcome;
  inputTokens?: number;
  outputTokens?: number;
  latencyMs: number;
}): NovaUsageEvent {
  const inputTokens = Math.max(0, Math.round(input.inputTokens ?? 0));
  const outputTokens = Math.max(0, Math.round(input.outputTokens ?? 0));
  const price = catalogModel(NOVA_ROLE_CATALOG[input.role])?.cloud;
  const costUsd = price
    ? (inputTokens * price.inputPer1kUsd + outputTokens * price.outputPer1kUsd) / 1000
    : 0;
  return {
    type: "nova",
    v: EVENT_VERSION,
    id: input.id ?? crypto.randomUUID(),
    time: input.time,
    role: input.role,
    model: input.model,
    outcome: input.outcome,
    inputTokens,
    outputTokens,
    costUsd,
    latencyMs: Math.max(0, input.latencyMs),
  };
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
  tenant?: string | undefined;
  /** The run's predicted cost was reserved in the tenant's budget. */
  charged?: boolean | undefined;
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
    attemptLog: attempts.slice(0, MAX_ATTEMPT_LOG).map((a) => {
      const entry: AttemptLogEntry = {
        target: a.target,
        tier: a.tier,
        ok: a.ok,
        latencyMs: a.latencyMs,
      };
      if (!a.ok) entry.errorClass = errorClassOf(a.errorClass);
      return entry;
    }),
  };
  if (!input.ok) {
    event.errorClass = errorClassOf(
      input.errorClass ?? attempts.findLast((a) => !a.ok)?.errorClass,
    );
  }
  if (input.ttftMs !== undefined) event.ttftMs = input.ttftMs;
  if (input.tokens) event.tokens = { input: input.tokens.input, output: input.tokens.output };
  if (input.tenant !== undefined) event.tenant = input.tenant;
  if (input.charged) event.charged = true;
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
  tenant?: string | undefined;
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
  if (input.tenant !== undefined) event.tenant = input.tenant;
  return event;
}
