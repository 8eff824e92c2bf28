// The monitor's D1 tables (drizzle). `npm run db:generate` turns changes here into a new SQL
// migration in migrations/; never edit an applied migration.
//
// Times are epoch milliseconds (INTEGER). Targets are named `site:<id>`, `cloud:<region>` or
// `device`. Raw rows (decisions, outcomes, resource_metrics) are pruned by the retention job;
// rollups, config, learned parameters and anomalies are kept.
//
// Idempotency: an event's id is the primary key of its table, so a redelivered event is ignored
// by `INSERT … ON CONFLICT DO NOTHING`. `delivery` is set only on rows inserted by the consumer
// invocation that is running (a fresh random token each time) and cleared again in the same D1
// batch: the rollup statements aggregate exactly those rows (see consumer.ts).
//
// Kinesis: the same batch writes the delivery's rollup deltas into `kinesis_outbox`; drains
// publish them and delete what Kinesis stored (see outbox.ts).

import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One routing decision: request features (never content), the decision and its prediction. */
export const decisions = sqliteTable(
  "decisions",
  {
    /** The decision id. */
    eventId: text("event_id").primaryKey(),
    v: integer("v").notNull(),
    time: integer("time").notNull(),
    modality: text("modality").notNull(),
    modelAsked: text("model_asked").notNull(),
    inputTokens: integer("input_tokens").notNull(),
    maxOutputTokens: integer("max_output_tokens").notNull(),
    payloadBytes: integer("payload_bytes").notNull(),
    criticality: text("criticality").notNull(),
    privacy: text("privacy").notNull(),
    residencyCount: integer("residency_count").notNull(),
    complianceCount: integer("compliance_count").notNull(),
    latencySlaMs: integer("latency_sla_ms").notNull(),
    latencyTarget: text("latency_target").notNull(),
    networkType: text("network_type").notNull(),
    deviceClass: text("device_class").notNull(),
    hasLocation: integer("has_location", { mode: "boolean" }).notNull(),
    tier: text("tier").notNull(),
    target: text("target").notNull(),
    model: text("model").notNull(),
    classification: text("classification").notNull(),
    complexity: real("complexity").notNull(),
    confidence: real("confidence").notNull(),
    reasoner: text("reasoner").notNull(),
    /** JSON array of rationale factor names. */
    rationale: text("rationale", { mode: "json" }).$type<string[]>().notNull(),
    predictedLatencyMs: real("predicted_latency_ms").notNull(),
    predictedTtftMs: real("predicted_ttft_ms").notNull(),
    predictedCostUsd: real("predicted_cost_usd").notNull(),
    backups: integer("backups").notNull(),
    /**
     * The policy variant of an A/B experiment (`"default"` without one); NULL on rows stored
     * before migration 0003 or from events without the field (read them as "default").
     */
    policyVariant: text("policy_variant"),
    /** The caller's tenant (`platform` for the platform's keys); NULL on rows from before tenants. */
    tenantId: text("tenant_id"),
    /**
     * The decision explorer's view (`DecisionExplanation`, shared/events.ts): rationale and
     * rejection details and the plan, as JSON; NULL on rows stored before migration 0005.
     */
    explain: text("explain", { mode: "json" }),
    delivery: text("delivery"),
  },
  (t) => [
    index("decisions_time").on(t.time),
    index("decisions_tenant_time").on(t.tenantId, t.time),
    index("decisions_tier_time").on(t.tier, t.time),
    index("decisions_target_time").on(t.target, t.time),
    index("decisions_delivery").on(t.delivery).where(sql`delivery IS NOT NULL`),
  ],
);

/** How a request went: where it was meant to run, where it ended, latency, tokens, cost. */
export const outcomes = sqliteTable(
  "outcomes",
  {
    eventId: text("event_id").primaryKey(),
    v: integer("v").notNull(),
    decisionId: text("decision_id").notNull(),
    time: integer("time").notNull(),
    tier: text("tier").notNull(),
    target: text("target").notNull(),
    model: text("model").notNull(),
    finalTier: text("final_tier").notNull(),
    finalTarget: text("final_target").notNull(),
    finalModel: text("final_model").notNull(),
    ok: integer("ok", { mode: "boolean" }).notNull(),
    errorClass: text("error_class"),
    latencyMs: real("latency_ms").notNull(),
    ttftMs: real("ttft_ms"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    attempts: integer("attempts").notNull(),
    /** NULL when the SLA was unknown to the reporter. */
    slaMet: integer("sla_met", { mode: "boolean" }),
    costUsd: real("cost_usd").notNull(),
    /**
     * Latency sketch bucket (`bucketIndex(latency_ms, LATENCY_SKETCH_ACCURACY)`, shared/sketch.ts),
     * computed when the event is stored; NULL on rows stored before migration 0002.
     */
    latencyBucket: integer("latency_bucket"),
    /** The same for `ttft_ms`; NULL without a TTFT. */
    ttftBucket: integer("ttft_bucket"),
    /**
     * The reporter's tenant. An outcome counts for a decision only when both carry the same
     * tenant, so another tenant cannot report into someone else's decision.
     */
    tenantId: text("tenant_id"),
    /** Each attempt (`AttemptLogEntry[]`, JSON) when the worker ran it; NULL otherwise. */
    attemptLog: text("attempt_log", { mode: "json" }),
    delivery: text("delivery"),
  },
  (t) => [
    index("outcomes_time").on(t.time),
    index("outcomes_tenant_time").on(t.tenantId, t.time),
    index("outcomes_decision").on(t.decisionId),
    index("outcomes_final_tier_time").on(t.finalTier, t.time),
    index("outcomes_final_target_time").on(t.finalTarget, t.time),
    index("outcomes_delivery").on(t.delivery).where(sql`delivery IS NOT NULL`),
  ],
);

/** Site snapshots over time (vLLM-style load, breaker, health), one row per site and instant. */
export const resourceMetrics = sqliteTable(
  "resource_metrics",
  {
    siteId: text("site_id").notNull(),
    time: integer("time").notNull(),
    waiting: integer("waiting").notNull(),
    running: integer("running").notNull(),
    kvCacheUsage: real("kv_cache_usage"),
    gpuUtilization: real("gpu_utilization"),
    freeGpuMemoryGb: real("free_gpu_memory_gb"),
    residentModels: integer("resident_models"),
    breaker: text("breaker").notNull(),
    healthy: integer("healthy", { mode: "boolean" }).notNull(),
    draining: integer("draining", { mode: "boolean" }).notNull(),
    errorRate: real("error_rate"),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.time] }), index("resource_metrics_time").on(t.time)],
);

/**
 * Per-minute performance history per tier / target / model. Decisions count under the target
 * they chose; outcomes under the target where they ended. Sums, not means, so rows merge by
 * addition. Latency percentiles live in `rollup_latency_buckets` (the `sketch` column is unused).
 */
export const performanceRollups = sqliteTable(
  "performance_rollups",
  {
    /** Start of the minute, epoch ms. */
    minute: integer("minute").notNull(),
    tier: text("tier").notNull(),
    target: text("target").notNull(),
    model: text("model").notNull(),
    decisions: integer("decisions").notNull().default(0),
    outcomes: integer("outcomes").notNull().default(0),
    errors: integer("errors").notNull().default(0),
    slaMet: integer("sla_met").notNull().default(0),
    /** Outcomes whose SLA was known: the denominator of SLA attainment. */
    slaKnown: integer("sla_known").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    latencySumMs: real("latency_sum_ms").notNull().default(0),
    latencyMaxMs: real("latency_max_ms").notNull().default(0),
    ttftSumMs: real("ttft_sum_ms").notNull().default(0),
    ttftCount: integer("ttft_count").notNull().default(0),
    sketch: blob("sketch", { mode: "buffer" }),
    /**
     * Outcomes that ended elsewhere than their decision's primary target (failed over), counted
     * where they ended; 0 on minutes before migration 0005.
     */
    failovers: integer("failovers").notNull().default(0),
    /** Attempts the outcomes took (retries and failovers included). */
    attempts: integer("attempts").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.minute, t.tier, t.target, t.model] }),
    index("performance_rollups_tier_minute").on(t.tier, t.minute),
    index("performance_rollups_target_minute").on(t.target, t.minute),
  ],
);

/**
 * The per-minute latency and TTFT sketches of `performance_rollups`, one row per non-empty bucket:
 * a DDSketch (shared/sketch.ts) stored as rows, so the consumer merges it in SQL inside its
 * idempotent batch (`count = count + excluded.count`) and minutes add up to hours with a SUM …
 * GROUP BY, exactly. Successful outcomes only, under the target where they ended, like
 * shared/rollup.ts. Read by worker/monitor/percentiles.ts.
 */
export const rollupLatencyBuckets = sqliteTable(
  "rollup_latency_buckets",
  {
    /** Start of the minute, epoch ms. */
    minute: integer("minute").notNull(),
    tier: text("tier").notNull(),
    target: text("target").notNull(),
    model: text("model").notNull(),
    metric: text("metric", { enum: ["latency", "ttft"] }).notNull(),
    /** `bucketIndex(value, LATENCY_SKETCH_ACCURACY)`; `ZERO_BUCKET` for 0. */
    bucket: integer("bucket").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.tier, t.target, t.model, t.metric, t.bucket] })],
);

/**
 * Nova role calls (and calls skipped by breaker or budget), one row per call event: role, model,
 * outcome, tokens, cost; no request content. Raw rows, pruned like decisions; the per-minute
 * rollup is `nova_usage_rollups`. Idempotent like the other raw tables (`delivery`).
 */
export const novaCalls = sqliteTable(
  "nova_calls",
  {
    eventId: text("event_id").primaryKey(),
    time: integer("time").notNull(),
    role: text("role").notNull(),
    model: text("model").notNull(),
    outcome: text("outcome").notNull(),
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    costUsd: real("cost_usd").notNull(),
    latencyMs: real("latency_ms").notNull(),
    delivery: text("delivery"),
  },
  (t) => [
    index("nova_calls_time").on(t.time),
    index("nova_calls_delivery").on(t.delivery).where(sql`delivery IS NOT NULL`),
  ],
);

/** Per-minute Nova usage per role, Bedrock model and outcome: sums, so minutes add up. */
export const novaUsageRollups = sqliteTable(
  "nova_usage_rollups",
  {
    minute: integer("minute").notNull(),
    role: text("role").notNull(),
    model: text("model").notNull(),
    outcome: text("outcome").notNull(),
    calls: integer("calls").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    latencySumMs: real("latency_sum_ms").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.minute, t.role, t.model, t.outcome] })],
);

/**
 * Agent configuration (policies, weights, thresholds, learning parameters) as versioned JSON:
 * a change is a new row; the highest version is in force. Readers validate `config` with zod.
 */
export const agentConfig = sqliteTable("agent_config", {
  version: integer("version").primaryKey(),
  createdAt: integer("created_at").notNull(),
  createdBy: text("created_by").notNull(),
  reason: text("reason"),
  config: text("config", { mode: "json" }).notNull(),
});

/** What the learning loop has learned, per scope (`site:<id>`, `tier:cloud`, …) and name. */
export const learnedParameters = sqliteTable(
  "learned_parameters",
  {
    scope: text("scope").notNull(),
    name: text("name").notNull(),
    value: real("value").notNull(),
    samples: integer("samples").notNull().default(0),
    updatedAt: integer("updated_at").notNull(),
    /** Bumped on every write: writers check-and-set on it. */
    version: integer("version").notNull().default(1),
    /** The agent_config version it was learned under. */
    configVersion: integer("config_version"),
  },
  (t) => [primaryKey({ columns: [t.scope, t.name] })],
);

/** Detected anomalies; `id` is chosen by the detector so a re-run does not duplicate one. */
export const anomalies = sqliteTable(
  "anomalies",
  {
    id: text("id").primaryKey(),
    detectedAt: integer("detected_at").notNull(),
    /** The minute the anomaly is about. */
    minute: integer("minute").notNull(),
    kind: text("kind").notNull(),
    tier: text("tier"),
    target: text("target"),
    model: text("model"),
    metric: text("metric").notNull(),
    observed: real("observed").notNull(),
    expected: real("expected"),
    score: real("score"),
    severity: text("severity").notNull(),
    detail: text("detail", { mode: "json" }),
    resolvedAt: integer("resolved_at"),
  },
  (t) => [
    index("anomalies_minute").on(t.minute),
    index("anomalies_target_minute").on(t.target, t.minute),
  ],
);

/**
 * Kinesis records waiting to be put: per consumer delivery, one rollup delta per (minute, tier,
 * target, model), written in the same D1 batch as the events it counts. A drain claims rows
 * (`claimed_until`, so concurrent drains take different ones), publishes them and deletes what
 * Kinesis stored; the rest are released with `attempts` + 1. See worker/monitor/outbox.ts.
 */
export const kinesisOutbox = sqliteTable(
  "kinesis_outbox",
  {
    /** The record id downstream de-duplicates on: `<delivery>|<minute>|<tier>|<target>|<model>`. */
    id: text("id").primaryKey(),
    partitionKey: text("partition_key").notNull(),
    /** The record's data, a JSON object (shared/kinesis-outbox.ts `rollupDeltaSchema`). */
    data: text("data").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Publishes that did not store it. */
    attempts: integer("attempts").notNull().default(0),
    /** A drain is publishing it until then (epoch ms); NULL when free. */
    claimedUntil: integer("claimed_until"),
  },
  (t) => [index("kinesis_outbox_created").on(t.createdAt)],
);

/**
 * Outbox records Kinesis can never take (over 1 MiB, a bad partition key, data that is not a JSON
 * object): moved here by a drain, logged, never retried. Kept for an operator to inspect.
 */
export const kinesisOutboxDead = sqliteTable("kinesis_outbox_dead", {
  id: text("id").primaryKey(),
  partitionKey: text("partition_key").notNull(),
  data: text("data").notNull(),
  createdAt: integer("created_at").notNull(),
  attempts: integer("attempts").notNull(),
  reason: text("reason").notNull(),
  deadAt: integer("dead_at").notNull(),
});

/**
 * Policy weight changes proposed by the offline review (worker/monitor/review.ts, Nova Pro), from
 * aggregates only. A proposal never changes a policy by itself: an operator approves or rejects
 * it, and an approved one is tried through `POLICY_VARIANTS` (A/B).
 */
export const policyProposals = sqliteTable(
  "policy_proposals",
  {
    id: text("id").primaryKey(),
    createdAt: integer("created_at").notNull(),
    /** The Bedrock model id that answered. */
    model: text("model").notNull(),
    promptVersion: text("prompt_version").notNull(),
    /** The aggregate summary Nova was shown (JSON; no request content). */
    summary: text("summary", { mode: "json" }).notNull(),
    /** `{ latency, cost, privacy, reliability }`, each 0–1 (JSON). */
    weights: text("weights", { mode: "json" }).notNull(),
    rationale: text("rationale").notNull(),
    confidence: real("confidence").notNull(),
    status: text("status", { enum: ["proposed", "approved", "rejected"] })
      .notNull()
      .default("proposed"),
    decidedAt: integer("decided_at"),
    decidedBy: text("decided_by"),
  },
  (t) => [index("policy_proposals_created").on(t.createdAt)],
);
