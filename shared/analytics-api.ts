// The analytics API's contract: the query schemas every `/v1/analytics/...` route validates with
// (and the MCP tools reuse), and the shapes of its answers. The dashboard is written against
// these types; change them only by adding fields.
//
// Conventions: times are epoch ms; money is USD; rates are 0–1 and null when their denominator
// is 0; series are columnar (one array per measure, aligned with `t`, the bucket starts) so a
// chart takes them as they are; a latency of an empty bucket is null.

import * as z from "zod/mini";
import { type AnalyticsWindow, windowFields } from "./analytics-window.ts";
import { tenantIdSchema } from "./api-key.ts";
import type { Breaker } from "./breaker.ts";
import { NOVA_OUTCOMES, NOVA_ROLES, type NovaOutcome, type NovaRole, TIERS } from "./events.ts";
import type { CacheState } from "./model-cache.ts";
import type { BreakerState, GeoPoint, RejectionReason, Tier } from "./types.ts";

export type { AnalyticsWindow } from "./analytics-window.ts";

// ---- queries -------------------------------------------------------------------------------

/** `site:<id>`, `cloud:<region>` or `device`. */
export const targetParam = z
  .string()
  .check(
    z.regex(
      /^(device|site:[a-z0-9][a-z0-9-]{0,62}|cloud:[a-z0-9][a-z0-9-]{0,31})$/,
      "expected site:<id>, cloud:<region> or device",
    ),
  );
const modelParam = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, "expected a catalog model id"));
const tierParam = z.enum(TIERS);

function limitParam(max: number) {
  return z.coerce
    .number()
    .check(
      z.refine(
        (v) => Number.isInteger(v) && v >= 1 && v <= max,
        `expected an integer from 1 to ${max}`,
      ),
    );
}

/** Rows an endpoint answers at most. */
export const LIMITS = {
  targets: 200,
  anomalies: 500,
  decisions: 200,
} as const;

/** `/summary`, `/nova`: the window only. */
export const windowQuerySchema = z.strictObject(windowFields);

/** `/timeseries`: the window, optionally one tier or one target. */
export const timeseriesQuerySchema = z.strictObject({
  ...windowFields,
  tier: z.optional(tierParam),
  target: z.optional(targetParam),
});

/** `/latency`: the window, latency or time to first token, optionally one target. */
export const latencyQuerySchema = z.strictObject({
  ...windowFields,
  metric: z.optional(z.enum(["latency", "ttft"])),
  target: z.optional(targetParam),
});

/** `/targets`: the window, optionally one tier; at most `limit` targets (busiest first). */
export const targetsQuerySchema = z.strictObject({
  ...windowFields,
  tier: z.optional(tierParam),
  limit: z.optional(limitParam(LIMITS.targets)),
});

/** `/anomalies`: the window, optionally one target, open ones only; newest first. */
export const anomaliesQuerySchema = z.strictObject({
  ...windowFields,
  target: z.optional(targetParam),
  open: z.optional(z.enum(["true", "false"])),
  limit: z.optional(limitParam(LIMITS.anomalies)),
});

export const DECISION_OUTCOMES = ["ok", "error", "failover", "none"] as const;
export type DecisionOutcomeFilter = (typeof DECISION_OUTCOMES)[number];

/** `<time>:<id>` of the last decision of a page: the next page starts after it. */
const cursorParam = z
  .string()
  .check(
    z.regex(
      /^\d{1,15}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      "expected the `next` cursor of a previous page",
    ),
  );

/** `/decisions`: the window and filters, newest first, `limit` per page, `before` a cursor. */
export const decisionsQuerySchema = z.strictObject({
  ...windowFields,
  tier: z.optional(tierParam),
  target: z.optional(targetParam),
  model: z.optional(modelParam),
  outcome: z.optional(z.enum(DECISION_OUTCOMES)),
  limit: z.optional(limitParam(LIMITS.decisions)),
  before: z.optional(cursorParam),
  /** A platform key narrows to one tenant; a tenant's key sees only its own. */
  tenant: z.optional(tenantIdSchema),
});

export const decisionIdParam = z.uuid();
export const siteIdParam = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "expected a lower-case slug of [a-z0-9-]"));

// ---- answers -------------------------------------------------------------------------------

/** Sums over a set of rollup rows. */
export interface Counters {
  /** Decisions made (counted under the target they chose). */
  decisions: number;
  /** Executed or reported outcomes (counted under the target where they ended). */
  outcomes: number;
  errors: number;
  slaMet: number;
  /** Outcomes whose SLA was known: the denominator of SLA attainment. */
  slaKnown: number;
  costUsd: number;
  /** Outcomes that ended elsewhere than their decision's primary target. */
  failovers: number;
  /** Attempts the outcomes took. */
  attempts: number;
}

/** Counters with their rates. */
export interface Totals extends Counters {
  /** errors / outcomes. */
  errorRate: number | null;
  /** slaMet / slaKnown. */
  slaAttainment: number | null;
  /** Mean latency of all outcomes (errors included), ms. */
  meanLatencyMs: number | null;
}

export interface Percentiles {
  /** Successful outcomes measured. */
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** `GET /v1/analytics/summary` */
export interface SummaryAnswer {
  window: AnalyticsWindow;
  totals: Totals;
  tiers: Record<Tier, Totals>;
  latency: Percentiles;
  ttft: Percentiles;
  nova: { calls: number; costUsd: number; fallbacks: number };
  anomalies: { open: number; total: number };
}

/** One measure per bucket, aligned with `t`. */
export interface Columns {
  decisions: number[];
  outcomes: number[];
  errors: number[];
  slaMet: number[];
  slaKnown: number[];
  costUsd: number[];
  failovers: number[];
  attempts: number[];
  errorRate: (number | null)[];
  slaAttainment: (number | null)[];
  meanLatencyMs: (number | null)[];
}

/** `GET /v1/analytics/timeseries`: requests, tier split, SLA, cost, errors and failovers. */
export interface TimeseriesAnswer {
  window: AnalyticsWindow;
  /** Bucket starts. */
  t: number[];
  /** All tiers together (after the tier / target filter). */
  total: Columns;
  tiers: Record<Tier, Columns>;
}

export interface PercentileColumns {
  count: number[];
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
}

/** `GET /v1/analytics/latency`: p50/p95/p99 per tier over time and over the window. */
export interface LatencyAnswer {
  window: AnalyticsWindow;
  metric: "latency" | "ttft";
  t: number[];
  /** All tiers together. */
  total: PercentileColumns;
  tiers: Record<Tier, PercentileColumns>;
  /** Over the whole window. */
  overall: Percentiles & { tiers: Record<Tier, Percentiles> };
}

export interface TargetStats extends Totals {
  tier: Tier;
  target: string;
  latency: Percentiles;
}

/** `GET /v1/analytics/targets`: per site / region / device, busiest first. */
export interface TargetsAnswer {
  window: AnalyticsWindow;
  targets: TargetStats[];
  /** More targets had traffic than `limit`. */
  truncated: boolean;
}

export interface FleetSite {
  id: string;
  name: string;
  location: GeoPoint;
  country: string;
  trusted: boolean;
  healthy: boolean;
  draining: boolean;
  breaker: BreakerState;
  /** Share of traffic admitted while ramping back after the breaker closed. */
  trafficShare: number;
  errorRate: number;
  load: {
    waiting: number;
    running: number;
    kvCacheUsage: number;
    gpuUtilization: number;
    freeGpuMemoryGb: number;
    /** When the site last reported. */
    updatedAt: number;
    /** Slots in use: (running + waiting) / (maxConcurrent + maxQueue). */
    utilization: number;
  };
  capacity: { maxConcurrent: number; maxQueue: number; gpus: number; gpuMemoryGb: number };
  models: string[];
  residentModels: string[];
}

export interface FleetService {
  /** `bedrock:<region>`, `nova:<role>`, … */
  service: string;
  breaker: BreakerState;
  errorRate: number;
  updatedAt: number;
}

/** `GET /v1/analytics/fleet`: the live fleet, from the fleet directory. */
export interface FleetAnswer {
  generatedAt: number;
  version: number;
  sites: FleetSite[];
  services: FleetService[];
  counts: {
    sites: number;
    healthy: number;
    draining: number;
    breakers: Record<BreakerState, number>;
  };
}

/** `GET /v1/analytics/fleet/:siteId`: one site agent's own state and its last 15 minutes. */
export interface SiteStatusAnswer {
  site: FleetSite;
  agent: {
    /** Leases (reservations) held now. */
    leases: number;
    lastProbeAt: number;
    lastProbeOk: boolean;
    /** The breaker's state machine (counters, windows, when it may probe). */
    breaker: Breaker;
    /** The cache agent's view: resident models, loads in flight, recent use. */
    cache: CacheState;
  };
  recent: { window: AnalyticsWindow; totals: Totals; latency: Percentiles };
}

export interface AnomalyView {
  id: string;
  detectedAt: number;
  minute: number;
  kind: string;
  tier: string | null;
  target: string | null;
  model: string | null;
  metric: string;
  observed: number;
  expected: number | null;
  score: number | null;
  severity: string;
  /** The detector's evidence (baseline, samples, thresholds), as stored. */
  detail: unknown;
  resolvedAt: number | null;
}

/** `GET /v1/analytics/anomalies` */
export interface AnomaliesAnswer {
  window: AnalyticsWindow;
  anomalies: AnomalyView[];
}

export interface OutcomeSummary {
  id: string;
  time: number;
  ok: boolean;
  finalTier: Tier;
  finalTarget: string;
  finalModel: string;
  errorClass: string | null;
  latencyMs: number;
  ttftMs: number | null;
  attempts: number;
  /** It ended elsewhere than the decision's primary. */
  failover: boolean;
  slaMet: boolean | null;
  costUsd: number;
}

export interface DecisionSummary {
  id: string;
  time: number;
  tier: Tier;
  target: string;
  model: string;
  classification: string;
  confidence: number;
  reasoner: string;
  policyVariant: string;
  modality: string;
  privacy: string;
  predicted: { latencyMs: number; costUsd: number };
  /** The latest outcome reported for it, or null (decide-only, or not reported yet). */
  outcome: OutcomeSummary | null;
}

/** `GET /v1/analytics/decisions` */
export interface DecisionsAnswer {
  window: AnalyticsWindow;
  decisions: DecisionSummary[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: string | null;
}

export interface PlanStepView {
  tier: Tier;
  target: string;
  model: string;
  predictedLatencyMs: number;
  predictedCostUsd: number;
  timeoutMs: number;
}

export interface AttemptView {
  target: string;
  tier: Tier;
  ok: boolean;
  errorClass?: string;
  latencyMs: number;
}

/** `GET /v1/analytics/decisions/:id`: one decision with its rationale, rejections and outcomes. */
export interface DecisionDetailAnswer {
  decision: DecisionSummary & {
    /** What the request asked, as features (never content). */
    request: {
      modality: string;
      modelAsked: string;
      inputTokens: number;
      maxOutputTokens: number;
      payloadBytes: number;
      criticality: string;
      privacy: string;
      residencyCount: number;
      complianceCount: number;
      latencySlaMs: number;
      latencyTarget: string;
      networkType: string;
      deviceClass: string;
      hasLocation: boolean;
    };
    complexity: number;
    predicted: { latencyMs: number; firstTokenMs: number; costUsd: number };
    backups: number;
    /** Factors in order; `detail` absent where it quoted the client or on old rows. */
    rationale: { factor: string; detail?: string }[];
    rejected: { target: string; reason: RejectionReason; detail?: string }[];
    /** Rejections in the decision (more than `rejected` lists when it was cut). */
    rejectedTotal: number | null;
    /** Primary first; null on rows stored before plans were kept. */
    plan: PlanStepView[] | null;
  };
  /** Every outcome reported for it, oldest first, with its attempts where the worker ran it. */
  outcomes: (OutcomeSummary & { attemptLog: AttemptView[] | null })[];
}

export interface NovaRoleColumns {
  calls: number[];
  fallbacks: number[];
  inputTokens: number[];
  outputTokens: number[];
  costUsd: number[];
}

export interface NovaRoleTotals {
  role: NovaRole;
  /** Bedrock calls made (skips excluded). */
  calls: number;
  /** Calls or skips that left the decision to the rules: every outcome but `ok`. */
  fallbacks: number;
  byOutcome: Record<NovaOutcome, number>;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Mean latency of the calls made, ms. */
  meanLatencyMs: number | null;
  /** Bedrock model ids seen for the role. */
  models: string[];
}

/** `GET /v1/analytics/nova`: usage and cost per role (micro, lite, pro, review). */
export interface NovaAnswer {
  window: AnalyticsWindow;
  t: number[];
  roles: Record<NovaRole, NovaRoleColumns>;
  totals: NovaRoleTotals[];
}

/** The enums the answers are keyed by, for clients that list them. */
export { NOVA_OUTCOMES, NOVA_ROLES, TIERS };

export interface PolicyVariantStats {
  variant: string;
  decisions: number;
  /** Outcomes (executed runs, failed ones included) of those decisions. */
  outcomes: number;
  errors: number;
  slaMet: number;
  slaKnown: number;
  /** slaMet / slaKnown; null when no outcome knew its SLA. */
  slaAttainment: number | null;
  costUsd: number;
  /** costUsd / outcomes; null without outcomes. */
  meanCostUsd: number | null;
}

/** `GET /v1/analytics/policies`: the A/B comparison of policy variants (raw rows). */
export interface PoliciesAnswer {
  /** Epoch ms, both inclusive, on the decisions' time. */
  from: number;
  to: number;
  /** The tenant counted; absent when a platform key counts every tenant. */
  tenant?: string;
  variants: PolicyVariantStats[];
}
