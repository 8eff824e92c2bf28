// The decision explorer, from the raw `decisions` and `outcomes` rows (so only within the raw
// retention, RAW_RETENTION_DAYS): recent decisions, filterable, newest first, each with its
// latest outcome; and one decision with its rationale, rejections, plan and every outcome with
// its attempts. Rows hold features, target names and numbers only — never request content.

import { sql } from "drizzle-orm";
import type {
  AttemptView,
  DecisionDetailAnswer,
  DecisionOutcomeFilter,
  DecisionSummary,
  DecisionsAnswer,
  OutcomeSummary,
} from "../../shared/analytics-api.ts";
import type { AnalyticsWindow } from "../../shared/analytics-window.ts";
import type { DecisionExplanation } from "../../shared/events.ts";
import type { Tier } from "../../shared/types.ts";
import { DEFAULT_VARIANT } from "../config.ts";
import { parseJson } from "./anomalies.ts";
import { rows, where } from "./sql.ts";

export interface DecisionQuery {
  /** Only this tenant's decisions; every tenant's when undefined. */
  tenant?: string | undefined;
  tier?: Tier | undefined;
  target?: string | undefined;
  model?: string | undefined;
  outcome?: DecisionOutcomeFilter | undefined;
  limit: number;
  /** `<time>:<id>` of the last row of the previous page. */
  before?: string | undefined;
}

interface DecisionRow {
  event_id: string;
  time: number;
  tier: Tier;
  target: string;
  model: string;
  classification: string;
  confidence: number;
  reasoner: string;
  policy_variant: string | null;
  modality: string;
  privacy: string;
  predicted_latency_ms: number;
  predicted_cost_usd: number;
}

interface OutcomeRow {
  o_id: string | null;
  o_time: number;
  o_ok: number;
  o_target: string;
  o_final_tier: Tier;
  o_final_target: string;
  o_final_model: string;
  o_error_class: string | null;
  o_latency_ms: number;
  o_ttft_ms: number | null;
  o_attempts: number;
  o_sla_met: number | null;
  o_cost_usd: number;
}

const DECISION_COLUMNS = sql.raw(`d.event_id, d.time, d.tier, d.target, d.model,
  d.classification, d.confidence, d.reasoner, d.policy_variant, d.modality, d.privacy,
  d.predicted_latency_ms, d.predicted_cost_usd`);
const OUTCOME_COLUMNS = sql.raw(`o.event_id AS o_id, o.time AS o_time, o.ok AS o_ok,
  o.target AS o_target, o.final_tier AS o_final_tier, o.final_target AS o_final_target,
  o.final_model AS o_final_model, o.error_class AS o_error_class, o.latency_ms AS o_latency_ms,
  o.ttft_ms AS o_ttft_ms, o.attempts AS o_attempts, o.sla_met AS o_sla_met,
  o.cost_usd AS o_cost_usd`);

function outcomeOf(r: OutcomeRow): OutcomeSummary | null {
  if (r.o_id === null) return null;
  return {
    id: r.o_id,
    time: r.o_time,
    ok: r.o_ok === 1,
    finalTier: r.o_final_tier,
    finalTarget: r.o_final_target,
    finalModel: r.o_final_model,
    errorClass: r.o_error_class,
    latencyMs: r.o_latency_ms,
    ttftMs: r.o_ttft_ms,
    attempts: r.o_attempts,
    failover: r.o_final_target !== r.o_target,
    slaMet: r.o_sla_met === null ? null : r.o_sla_met === 1,
    costUsd: r.o_cost_usd,
  };
}

function summaryOf(r: DecisionRow & OutcomeRow): DecisionSummary {
  return {
    id: r.event_id,
    time: r.time,
    tier: r.tier,
    target: r.target,
    model: r.model,
    classification: r.classification,
    confidence: r.confidence,
    reasoner: r.reasoner,
    policyVariant: r.policy_variant ?? DEFAULT_VARIANT,
    modality: r.modality,
    privacy: r.privacy,
    predicted: { latencyMs: r.predicted_latency_ms, costUsd: r.predicted_cost_usd },
    outcome: outcomeOf(r),
  };
}

const OUTCOME_FILTER: Record<DecisionOutcomeFilter, string> = {
  ok: "o.ok = 1",
  error: "o.ok = 0",
  failover: "o.final_target <> o.target",
  none: "o.event_id IS NULL",
};

/** Decisions in the window, newest first, with their latest outcome; keyset-paged. */
export async function listDecisions(
  d1: D1Database,
  w: AnalyticsWindow,
  q: DecisionQuery,
): Promise<DecisionsAnswer> {
  let cursor: { time: number; id: string } | undefined;
  if (q.before !== undefined) {
    const at = q.before.indexOf(":");
    cursor = { time: Number(q.before.slice(0, at)), id: q.before.slice(at + 1) };
  }
  const found = await rows<DecisionRow & OutcomeRow>(
    d1,
    sql`SELECT ${DECISION_COLUMNS}, ${OUTCOME_COLUMNS}
      FROM decisions d
      LEFT JOIN outcomes o ON o.event_id = (
        SELECT event_id FROM outcomes WHERE decision_id = d.event_id AND tenant_id IS d.tenant_id
        ORDER BY time DESC, event_id DESC LIMIT 1
      )
      WHERE ${where(
        sql`d.time >= ${w.from}`,
        sql`d.time < ${w.to}`,
        q.tenant === undefined ? undefined : sql`d.tenant_id = ${q.tenant}`,
        q.tier === undefined ? undefined : sql`d.tier = ${q.tier}`,
        q.target === undefined ? undefined : sql`d.target = ${q.target}`,
        q.model === undefined ? undefined : sql`d.model = ${q.model}`,
        q.outcome === undefined ? undefined : sql.raw(OUTCOME_FILTER[q.outcome]),
        cursor === undefined
          ? undefined
          : sql`(d.time, d.event_id) < (${cursor.time}, ${cursor.id})`,
      )}
      ORDER BY d.time DESC, d.event_id DESC
      LIMIT ${q.limit + 1}`,
  );
  const page = found.slice(0, q.limit).map(summaryOf);
  const last = page.at(-1);
  return {
    window: w,
    decisions: page,
    next: found.length > q.limit && last ? `${last.time}:${last.id}` : null,
  };
}

interface DetailRow extends DecisionRow {
  model_asked: string;
  input_tokens: number;
  max_output_tokens: number;
  payload_bytes: number;
  criticality: string;
  residency_count: number;
  compliance_count: number;
  latency_sla_ms: number;
  latency_target: string;
  network_type: string;
  device_class: string;
  has_location: number;
  complexity: number;
  predicted_ttft_ms: number;
  backups: number;
  rationale: string;
  explain: string | null;
}

/**
 * One decision with its explanation and every outcome its tenant reported, or undefined when
 * there is none (or, with `tenant`, when it is another tenant's).
 */
export async function explainDecision(
  d1: D1Database,
  id: string,
  tenant?: string,
): Promise<DecisionDetailAnswer | undefined> {
  const [decision, outcomes] = await Promise.all([
    rows<DetailRow>(
      d1,
      sql`SELECT * FROM decisions d WHERE ${where(
        sql`d.event_id = ${id}`,
        tenant === undefined ? undefined : sql`d.tenant_id = ${tenant}`,
      )}`,
    ),
    rows<OutcomeRow & { o_attempt_log: string | null }>(
      d1,
      sql`SELECT ${OUTCOME_COLUMNS}, o.attempt_log AS o_attempt_log FROM outcomes o
        WHERE o.decision_id = ${id}
          AND o.tenant_id IS (SELECT tenant_id FROM decisions WHERE event_id = ${id})
        ORDER BY o.time, o.event_id`,
    ),
  ]);
  const r = decision[0];
  if (!r) return undefined;
  const explain = parseJson(r.explain) as DecisionExplanation | null;
  // Rows from before explanations were kept have factor names only.
  const factors = (parseJson(r.rationale) as string[] | null) ?? [];
  const latest = outcomes.at(-1);
  return {
    decision: {
      ...summaryOf({ ...r, ...(latest ?? nullOutcome) }),
      request: {
        modality: r.modality,
        modelAsked: r.model_asked,
        inputTokens: r.input_tokens,
        maxOutputTokens: r.max_output_tokens,
        payloadBytes: r.payload_bytes,
        criticality: r.criticality,
        privacy: r.privacy,
        residencyCount: r.residency_count,
        complianceCount: r.compliance_count,
        latencySlaMs: r.latency_sla_ms,
        latencyTarget: r.latency_target,
        networkType: r.network_type,
        deviceClass: r.device_class,
        hasLocation: r.has_location === 1,
      },
      complexity: r.complexity,
      predicted: {
        latencyMs: r.predicted_latency_ms,
        firstTokenMs: r.predicted_ttft_ms,
        costUsd: r.predicted_cost_usd,
      },
      backups: r.backups,
      rationale: explain?.rationale ?? factors.map((factor) => ({ factor })),
      rejected: explain?.rejected ?? [],
      rejectedTotal: explain?.rejectedTotal ?? null,
      plan: explain?.plan ?? null,
    },
    outcomes: outcomes.map((o) => ({
      ...(outcomeOf(o) as OutcomeSummary),
      attemptLog: parseJson(o.o_attempt_log) as AttemptView[] | null,
    })),
  };
}

const nullOutcome: OutcomeRow = {
  o_id: null,
  o_time: 0,
  o_ok: 0,
  o_target: "",
  o_final_tier: "device",
  o_final_target: "",
  o_final_model: "",
  o_error_class: null,
  o_latency_ms: 0,
  o_ttft_ms: null,
  o_attempts: 0,
  o_sla_met: null,
  o_cost_usd: 0,
};
