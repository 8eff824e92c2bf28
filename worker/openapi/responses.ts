// zod schemas of what the HTTP API answers, for the OpenAPI document (and the tests that hold
// every answer to it). Objects are closed (`additionalProperties: false` in the document), so a
// field added to an answer fails the tests until it is documented here; the type checks at the
// bottom keep them in step with the types the code builds answers from. Exception: a chat
// completion from a MEC site is passed on as the site wrote it, so it is open.

import * as z from "zod/mini";
import type { SiteDetail } from "../../durable-objects/site-agent.ts";
import type { Breaker } from "../../shared/breaker.ts";
import { breakerStateSchema } from "../../shared/breaker.ts";
import type { CatalogModel } from "../../shared/catalog.ts";
import { siteRegistrationSchema, siteViewSchema } from "../../shared/fleet-schema.ts";
import type { CacheState } from "../../shared/model-cache.ts";
import {
  DEVICE_CLASSES,
  type Decision,
  MODALITIES,
  REJECTION_REASONS,
  type SiteView,
} from "../../shared/types.ts";
import { policyVariantsSchema } from "../config.ts";

export const errorBodySchema = z.object({
  error: z.object({
    /** Machine-readable: `invalid_request`, `unauthorized`, `forbidden`, `not_found`, … */
    code: z.string(),
    message: z.string(),
    /** `invalid_request`: `[{ path, message }]`; refusals: `{ rejected, rationale }`; … */
    details: z.optional(z.unknown()),
  }),
});

const breakerPhase = z.enum(["closed", "open", "half_open"]);
const tier = z.enum(["device", "mec", "cloud"]);

export const targetSchema = z.union([
  z.object({ kind: z.literal("device") }),
  z.object({
    kind: z.literal("site"),
    siteId: z.string(),
    endpoint: z.string(),
    /** The request's `priority` at a site that schedules by priority (lower first). */
    priority: z.optional(z.int()),
  }),
  z.object({ kind: z.literal("cloud"), region: z.string(), modelId: z.string() }),
]);

const planStepSchema = z.object({
  tier,
  target: targetSchema,
  model: z.string(),
  predictedLatencyMs: z.number(),
  worstLatencyMs: z.number(),
  predictedCostUsd: z.number(),
  timeoutMs: z.number(),
});

export const decisionSchema = z.object({
  tier,
  target: targetSchema,
  model: z.string(),
  classification: z.enum(["simple", "complex", "critical"]),
  complexity: z.number(),
  confidence: z.number(),
  confidenceLevel: z.enum(["high", "medium", "low"]),
  predicted: z.object({
    latencyMs: z.number(),
    worstLatencyMs: z.number(),
    firstTokenMs: z.number(),
    costUsd: z.number(),
  }),
  bestEffort: z.boolean(),
  resources: z.object({
    memoryGb: z.number(),
    cpuCores: z.number(),
    gpuUnits: z.number(),
    bandwidthMbps: z.number(),
  }),
  plan: z.object({
    primary: planStepSchema,
    backups: z.array(planStepSchema),
    timeoutMs: z.number(),
    retry: z.object({ maxAttempts: z.number(), baseDelayMs: z.number(), maxDelayMs: z.number() }),
  }),
  rationale: z.array(z.object({ factor: z.string(), detail: z.string() })),
  rejected: z.array(
    z.object({ target: z.string(), reason: z.enum(REJECTION_REASONS), detail: z.string() }),
  ),
  reasoner: z.enum(["rules", "nova-pro"]),
});

/** A decision as the API answers it: with its ids and the policy variant it ran under. */
export const routeAnswerSchema = z.extend(decisionSchema, {
  requestId: z.string(),
  decisionId: z.uuid(),
  policyVariant: z.string(),
  /** Only with `reserve: true`: the slot taken at the chosen site. */
  lease: z.optional(z.object({ id: z.string(), siteId: z.string(), expiresAt: z.number() })),
});

const usageSchema = z.looseObject({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
});

export const chatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number(),
      message: z.looseObject({ role: z.literal("assistant"), content: z.nullable(z.string()) }),
      finish_reason: z.nullable(z.string()),
    }),
  ),
  usage: z.optional(usageSchema),
});

export const inferAnswerSchema = z.union([
  z.object({ executed: z.literal(false), decision: routeAnswerSchema }),
  z.object({
    executed: z.literal(true),
    decision: routeAnswerSchema,
    output: chatCompletionSchema,
  }),
]);

const catalogModelSchema = z.object({
  id: z.string(),
  name: z.string(),
  modalities: z.array(z.enum(MODALITIES)),
  quality: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
  paramsB: z.number(),
  contextTokens: z.number(),
  device: z.optional(
    z.object({
      variant: z.string(),
      ramMb: z.number(),
      prefillTokensPerSec: z.number(),
      tokensPerSec: z.record(z.enum(DEVICE_CLASSES), z.number()),
    }),
  ),
  mec: z.optional(
    z.object({
      gpuMemoryGb: z.number(),
      prefillTokensPerSec: z.number(),
      tokensPerSec: z.number(),
      loadTimeMs: z.number(),
      kvBytesPerToken: z.number(),
    }),
  ),
  cloud: z.optional(
    z.object({
      modelId: z.string(),
      inputPer1kUsd: z.number(),
      outputPer1kUsd: z.number(),
      tokensPerSec: z.number(),
      ttftMs: z.number(),
    }),
  ),
});
export const catalogSchema = z.object({ models: z.array(catalogModelSchema) });

const serviceViewSchema = z.object({
  /** `bedrock:<region>`, `nova:<role>`, … */
  service: z.string(),
  breaker: breakerPhase,
  errorRate: z.number(),
  updatedAt: z.number(),
});

export const fleetSchema = z.object({
  /** Grows with every change the fleet directory sees. */
  version: z.number(),
  sites: z.array(siteViewSchema),
  services: z.array(serviceViewSchema),
});

export const siteAnswerSchema = z.object({ site: siteViewSchema });

const residentModelSchema = z.object({
  model: z.string(),
  sizeGb: z.number(),
  loadTimeMs: z.number(),
  loadedAt: z.number(),
  lastUsedAt: z.number(),
  pinned: z.optional(z.boolean()),
});

/** The cache agent: resident models and decaying demand per model. */
export const cacheStateSchema = z.object({
  resident: z.array(residentModelSchema),
  demand: z.record(z.string(), z.object({ count: z.number(), at: z.number() })),
});

export const siteDetailSchema = z.object({
  registration: siteRegistrationSchema,
  view: siteViewSchema,
  /** The site's circuit breaker as it is stored (`phase`, outcome window, ejections, probes). */
  breaker: breakerStateSchema,
  cache: cacheStateSchema,
  /** Open reservations. */
  leases: z.number(),
  lastProbeAt: z.number(),
  lastProbeOk: z.boolean(),
  /** Registered `priority`, the site refused a priority: treated as fcfs until registered again. */
  priorityRefused: z.optional(z.boolean()),
});

export const heartbeatAnswerSchema = z.object({
  ok: z.literal(true),
  healthy: z.boolean(),
  breaker: breakerPhase,
});

export const modelLoadAnswerSchema = z.object({
  ok: z.literal(true),
  resident: z.literal(true),
  /** False when it was resident already. */
  loaded: z.boolean(),
  evicted: z.array(z.string()),
});

export const outcomeAnswerSchema = z.object({
  accepted: z.literal(true),
  /** A lease was freed by this report (false when it was already). */
  released: z.boolean(),
});

/** An anomaly the monitor found, with its evidence. */
export const anomalySchema = z.object({
  id: z.string(),
  detectedAt: z.number(),
  minute: z.number(),
  kind: z.string(),
  tier: z.nullable(z.string()),
  target: z.nullable(z.string()),
  model: z.nullable(z.string()),
  metric: z.string(),
  observed: z.number(),
  expected: z.nullable(z.number()),
  score: z.nullable(z.number()),
  severity: z.string(),
  /** The detector's evidence (JSON), or null. */
  detail: z.unknown(),
  resolvedAt: z.nullable(z.number()),
});

export const anomaliesAnswerSchema = z.object({
  from: z.number(),
  to: z.number(),
  anomalies: z.array(anomalySchema),
});

const nullableNumber = z.nullable(z.number());

export const policyVariantStatsSchema = z.object({
  variant: z.string(),
  decisions: z.number(),
  outcomes: z.number(),
  errors: z.number(),
  slaMet: z.number(),
  slaKnown: z.number(),
  slaAttainment: nullableNumber,
  costUsd: z.number(),
  meanCostUsd: nullableNumber,
});

const weightsSchema = z.object({
  latency: z.number(),
  cost: z.number(),
  privacy: z.number(),
  reliability: z.number(),
});

export const proposalSchema = z.object({
  id: z.uuid(),
  createdAt: z.number(),
  /** The Bedrock model that proposed it, or `operator:<key id>`. */
  model: z.string(),
  promptVersion: z.string(),
  /** The aggregates the proposer was shown (last hours' rollups, open anomalies). */
  summary: z.unknown(),
  weights: z.nullable(weightsSchema),
  rationale: z.string(),
  confidence: z.number(),
  status: z.enum(["proposed", "approved", "rejected"]),
  decidedAt: nullableNumber,
  decidedBy: z.nullable(z.string()),
});

export const proposalsAnswerSchema = z.object({ proposals: z.array(proposalSchema) });
export const proposalAnswerSchema = z.object({ proposal: proposalSchema });
export const approvedAnswerSchema = z.object({
  proposal: proposalSchema,
  /** Deploy this as `POLICY_VARIANTS` to A/B-test the proposal; nothing was applied. */
  policyVariants: policyVariantsSchema,
  policyVariantsJson: z.string(),
});

export const healthSchema = z.object({ ok: z.literal(true) });

const sessionSchema = z.object({
  /** The operator key's id (a hash prefix, or an issued key's id), never the key. */
  keyId: z.string(),
  role: z.enum(["device", "operator", "site"]),
  /** The key's tenant (`platform` for the platform's keys). */
  tenantId: z.string(),
  /** A platform key: the fleet-wide views are open to it. */
  platform: z.boolean(),
  expiresAt: z.number(),
});

export const sessionAnswerSchema = z.object({ session: sessionSchema });

/** GET /v1/session: the session, or `null` without one (a page asks without an error). */
export const currentSessionAnswerSchema = z.object({ session: z.nullable(sessionSchema) });

/** A JSON-RPC 2.0 message (MCP); its methods and results are MCP's, listed by `tools/list`. */
export const jsonRpcRequestSchema = z.looseObject({
  jsonrpc: z.literal("2.0"),
  id: z.optional(z.union([z.string(), z.number()])),
  method: z.string(),
  params: z.optional(z.record(z.string(), z.unknown())),
});
export const jsonRpcResponseSchema = z.looseObject({
  jsonrpc: z.literal("2.0"),
  id: z.union([z.string(), z.number(), z.null()]),
  result: z.optional(z.record(z.string(), z.unknown())),
  error: z.optional(z.looseObject({ code: z.number(), message: z.string() })),
});

// The code builds answers from these types: each must fit its schema.
type Fits<Schema, _T extends Schema> = true;
export type ResponseTypesFit = [
  Fits<z.output<typeof decisionSchema>, Decision>,
  Fits<z.output<typeof siteViewSchema>, SiteView>,
  Fits<z.output<typeof breakerStateSchema>, Breaker>,
  Fits<z.output<typeof cacheStateSchema>, CacheState>,
  Fits<z.output<typeof siteDetailSchema>, SiteDetail>,
  Fits<z.output<typeof catalogModelSchema>, CatalogModel>,
];
