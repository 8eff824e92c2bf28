// zod schemas of the analytics API's answers (their types: shared/analytics-api.ts), for the
// OpenAPI document and the MCP tools' output schemas. The checks at the bottom keep each in step
// with its type: a field added to a type fails the type check until it is documented here.

import * as z from "zod/mini";
import type {
  AnomaliesAnswer,
  DecisionDetailAnswer,
  DecisionsAnswer,
  FleetAnswer,
  LatencyAnswer,
  NovaAnswer,
  PoliciesAnswer,
  SiteStatusAnswer,
  SummaryAnswer,
  TargetsAnswer,
  TimeseriesAnswer,
} from "../../shared/analytics-api.ts";
import { breakerStateSchema } from "../../shared/breaker.ts";
import { NOVA_OUTCOMES, NOVA_ROLES, TIERS } from "../../shared/events.ts";
import { REJECTION_REASONS } from "../../shared/types.ts";
import { anomalySchema, cacheStateSchema, policyVariantStatsSchema } from "./responses.ts";

const num = z.number();
const rate = z.nullable(z.number());
const numbers = z.array(num);
const rates = z.array(rate);
const tier = z.enum(TIERS);
const breakerPhase = z.enum(["closed", "open", "half_open"]);
const byTier = <S extends z.ZodMiniType>(s: S) => z.object({ device: s, mec: s, cloud: s });

export const windowSchema = z.object({
  /** First bucket's start, epoch ms, inclusive. */
  from: num,
  /** End, epoch ms, exclusive. */
  to: num,
  stepMs: num,
  points: num,
});

const counters = {
  decisions: num,
  outcomes: num,
  errors: num,
  slaMet: num,
  slaKnown: num,
  costUsd: num,
  failovers: num,
  attempts: num,
};
const totalsSchema = z.object({
  ...counters,
  errorRate: rate,
  slaAttainment: rate,
  meanLatencyMs: rate,
});
const percentilesSchema = z.object({ count: num, p50: rate, p95: rate, p99: rate });

export const summaryAnswerSchema = z.object({
  window: windowSchema,
  totals: totalsSchema,
  tiers: byTier(totalsSchema),
  latency: percentilesSchema,
  ttft: percentilesSchema,
  nova: z.object({ calls: num, costUsd: num, fallbacks: num }),
  anomalies: z.object({ open: num, total: num }),
});

const columnsSchema = z.object({
  decisions: numbers,
  outcomes: numbers,
  errors: numbers,
  slaMet: numbers,
  slaKnown: numbers,
  costUsd: numbers,
  failovers: numbers,
  attempts: numbers,
  errorRate: rates,
  slaAttainment: rates,
  meanLatencyMs: rates,
});

export const timeseriesAnswerSchema = z.object({
  window: windowSchema,
  t: numbers,
  total: columnsSchema,
  tiers: byTier(columnsSchema),
});

const percentileColumnsSchema = z.object({ count: numbers, p50: rates, p95: rates, p99: rates });

export const latencyAnswerSchema = z.object({
  window: windowSchema,
  metric: z.enum(["latency", "ttft"]),
  t: numbers,
  total: percentileColumnsSchema,
  tiers: byTier(percentileColumnsSchema),
  overall: z.extend(percentilesSchema, { tiers: byTier(percentilesSchema) }),
});

export const targetsAnswerSchema = z.object({
  window: windowSchema,
  targets: z.array(
    z.extend(totalsSchema, { tier, target: z.string(), latency: percentilesSchema }),
  ),
  truncated: z.boolean(),
});

const fleetSiteSchema = z.object({
  id: z.string(),
  name: z.string(),
  location: z.object({ lat: num, lon: num }),
  country: z.string(),
  trusted: z.boolean(),
  healthy: z.boolean(),
  draining: z.boolean(),
  breaker: breakerPhase,
  trafficShare: num,
  errorRate: num,
  load: z.object({
    waiting: num,
    running: num,
    kvCacheUsage: num,
    gpuUtilization: num,
    freeGpuMemoryGb: num,
    updatedAt: num,
    /** Slots in use: (running + waiting) / (maxConcurrent + maxQueue). */
    utilization: num,
  }),
  capacity: z.object({ maxConcurrent: num, maxQueue: num, gpus: num, gpuMemoryGb: num }),
  models: z.array(z.string()),
  residentModels: z.array(z.string()),
});

export const fleetAnswerSchema = z.object({
  generatedAt: num,
  version: num,
  sites: z.array(fleetSiteSchema),
  services: z.array(
    z.object({ service: z.string(), breaker: breakerPhase, errorRate: num, updatedAt: num }),
  ),
  counts: z.object({
    sites: num,
    healthy: num,
    draining: num,
    breakers: z.object({ closed: num, open: num, half_open: num }),
  }),
});

export const siteStatusAnswerSchema = z.object({
  site: fleetSiteSchema,
  agent: z.object({
    leases: num,
    lastProbeAt: num,
    lastProbeOk: z.boolean(),
    breaker: breakerStateSchema,
    cache: cacheStateSchema,
  }),
  recent: z.object({ window: windowSchema, totals: totalsSchema, latency: percentilesSchema }),
});

export const analyticsAnomaliesAnswerSchema = z.object({
  window: windowSchema,
  anomalies: z.array(anomalySchema),
});

const outcomeSummarySchema = z.object({
  id: z.string(),
  time: num,
  ok: z.boolean(),
  finalTier: tier,
  finalTarget: z.string(),
  finalModel: z.string(),
  errorClass: z.nullable(z.string()),
  latencyMs: num,
  ttftMs: rate,
  attempts: num,
  failover: z.boolean(),
  slaMet: z.nullable(z.boolean()),
  costUsd: num,
});

const decisionSummaryFields = {
  id: z.string(),
  time: num,
  tier,
  target: z.string(),
  model: z.string(),
  classification: z.string(),
  confidence: num,
  reasoner: z.string(),
  policyVariant: z.string(),
  modality: z.string(),
  privacy: z.string(),
  predicted: z.object({ latencyMs: num, costUsd: num }),
  outcome: z.nullable(outcomeSummarySchema),
};

export const decisionsAnswerSchema = z.object({
  window: windowSchema,
  decisions: z.array(z.object(decisionSummaryFields)),
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: z.nullable(z.string()),
});

export const decisionDetailAnswerSchema = z.object({
  decision: z.object({
    ...decisionSummaryFields,
    request: z.object({
      modality: z.string(),
      modelAsked: z.string(),
      inputTokens: num,
      maxOutputTokens: num,
      payloadBytes: num,
      criticality: z.string(),
      privacy: z.string(),
      residencyCount: num,
      complianceCount: num,
      latencySlaMs: num,
      latencyTarget: z.string(),
      networkType: z.string(),
      deviceClass: z.string(),
      hasLocation: z.boolean(),
    }),
    complexity: num,
    predicted: z.object({ latencyMs: num, firstTokenMs: num, costUsd: num }),
    backups: num,
    rationale: z.array(z.object({ factor: z.string(), detail: z.optional(z.string()) })),
    rejected: z.array(
      z.object({
        target: z.string(),
        reason: z.enum(REJECTION_REASONS),
        detail: z.optional(z.string()),
      }),
    ),
    rejectedTotal: rate,
    plan: z.nullable(
      z.array(
        z.object({
          tier,
          target: z.string(),
          model: z.string(),
          predictedLatencyMs: num,
          predictedCostUsd: num,
          timeoutMs: num,
        }),
      ),
    ),
  }),
  outcomes: z.array(
    z.extend(outcomeSummarySchema, {
      attemptLog: z.nullable(
        z.array(
          z.object({
            target: z.string(),
            tier,
            ok: z.boolean(),
            errorClass: z.optional(z.string()),
            latencyMs: num,
          }),
        ),
      ),
    }),
  ),
});

const novaColumnsSchema = z.object({
  calls: numbers,
  fallbacks: numbers,
  inputTokens: numbers,
  outputTokens: numbers,
  costUsd: numbers,
});
const byRole = <S extends z.ZodMiniType>(s: S) =>
  z.object({ micro: s, lite: s, pro: s, review: s });

export const novaAnswerSchema = z.object({
  window: windowSchema,
  t: numbers,
  roles: byRole(novaColumnsSchema),
  totals: z.array(
    z.object({
      role: z.enum(NOVA_ROLES),
      calls: num,
      fallbacks: num,
      byOutcome: z.record(z.enum(NOVA_OUTCOMES), num),
      inputTokens: num,
      outputTokens: num,
      costUsd: num,
      meanLatencyMs: rate,
      models: z.array(z.string()),
    }),
  ),
});

export const policiesAnswerSchema = z.object({
  from: num,
  to: num,
  variants: z.array(policyVariantStatsSchema),
});

// The code builds answers from these types: each must fit its schema.
type Fits<Schema, _T extends Schema> = true;
export type AnalyticsTypesFit = [
  Fits<z.output<typeof summaryAnswerSchema>, SummaryAnswer>,
  Fits<z.output<typeof timeseriesAnswerSchema>, TimeseriesAnswer>,
  Fits<z.output<typeof latencyAnswerSchema>, LatencyAnswer>,
  Fits<z.output<typeof targetsAnswerSchema>, TargetsAnswer>,
  Fits<z.output<typeof fleetAnswerSchema>, FleetAnswer>,
  Fits<z.output<typeof siteStatusAnswerSchema>, SiteStatusAnswer>,
  Fits<z.output<typeof analyticsAnomaliesAnswerSchema>, AnomaliesAnswer>,
  Fits<z.output<typeof decisionsAnswerSchema>, DecisionsAnswer>,
  Fits<z.output<typeof decisionDetailAnswerSchema>, DecisionDetailAnswer>,
  Fits<z.output<typeof novaAnswerSchema>, NovaAnswer>,
  Fits<z.output<typeof policiesAnswerSchema>, PoliciesAnswer>,
];
