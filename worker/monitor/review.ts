// Offline review (daily cron, `REASONING` = "auto"): Nova Pro reads an aggregate summary of the
// last `REVIEW_WINDOW_MS` — per tier/target from `performance_rollups`, open anomalies by metric
// from `anomalies`, never request content — and proposes score weights. The answer is validated
// with zod and stored in `policy_proposals` as 'proposed'; nothing else changes. An operator
// approves or rejects it (worker/routes/proposals.ts); an approved proposal is tried only as a
// `POLICY_VARIANTS` A/B variant. Guarded by the breaker `nova:review`; failures are logged.

import { novaModel, reviewWithNova } from "../reasoning/client.ts";
import {
  REVIEW_PROMPT_VERSION,
  REVIEW_ROLE_MODEL,
  type ReviewSummary,
  type ReviewTargetSummary,
} from "../reasoning/review.ts";
import { type NovaUsageSink, reportSkip } from "../reasoning/usage.ts";

export const REVIEW_WINDOW_MS = 6 * 3_600_000;
export const REVIEW_TIMEOUT_MS = 20_000;
export const REVIEW_BREAKER = "nova:review";

interface RollupAggregate {
  tier: string;
  target: string;
  decisions: number;
  outcomes: number;
  errors: number;
  sla_met: number;
  sla_known: number;
  cost_usd: number;
  latency_sum_ms: number;
}

const round = (v: number, places: number) => Math.round(v * 10 ** places) / 10 ** places;

/** Pure: rollup aggregates and anomaly counts to the summary Nova is shown. */
export function buildReviewSummary(
  rows: readonly RollupAggregate[],
  anomalies: readonly { metric: string; n: number }[],
  windowStart: number,
  windowEnd: number,
): ReviewSummary {
  const targets: ReviewTargetSummary[] = rows.map((r) => ({
    tier: r.tier,
    target: r.target,
    decisions: r.decisions,
    outcomes: r.outcomes,
    errorRate: r.outcomes > 0 ? round(r.errors / r.outcomes, 4) : null,
    slaAttainment: r.sla_known > 0 ? round(r.sla_met / r.sla_known, 4) : null,
    meanLatencyMs: r.outcomes > 0 ? round(r.latency_sum_ms / r.outcomes, 1) : null,
    costUsd: round(r.cost_usd, 6),
  }));
  const openAnomalies: Record<string, number> = {};
  for (const a of anomalies) openAnomalies[a.metric] = a.n;
  return { windowStart, windowEnd, targets, openAnomalies };
}

/** Reads the window's aggregates from D1. */
export async function readReviewSummary(db: D1Database, now: number): Promise<ReviewSummary> {
  const since = now - REVIEW_WINDOW_MS;
  const [rollups, anomalies] = await db.batch<unknown>([
    db
      .prepare(
        `SELECT tier, target, SUM(decisions) AS decisions, SUM(outcomes) AS outcomes,
           SUM(errors) AS errors, SUM(sla_met) AS sla_met, SUM(sla_known) AS sla_known,
           SUM(cost_usd) AS cost_usd, SUM(latency_sum_ms) AS latency_sum_ms
         FROM performance_rollups WHERE minute >= ? AND minute <= ?
         GROUP BY tier, target ORDER BY tier, target`,
      )
      .bind(since, now),
    db
      .prepare(
        `SELECT metric, COUNT(*) AS n FROM anomalies
         WHERE minute >= ? AND minute <= ? AND resolved_at IS NULL
         GROUP BY metric ORDER BY metric`,
      )
      .bind(since, now),
  ]);
  return buildReviewSummary(
    (rollups?.results ?? []) as RollupAggregate[],
    (anomalies?.results ?? []) as { metric: string; n: number }[],
    since,
    now,
  );
}

export interface NewProposal {
  id: string;
  createdAt: number;
  /** The Bedrock model that proposed it, or who did. */
  model: string;
  promptVersion: string;
  summary: ReviewSummary;
  weights: { latency: number; cost: number; privacy: number; reliability: number };
  rationale: string;
  confidence: number;
}

/** One `policy_proposals` row, 'proposed': Nova's review and operators store them alike. */
export async function storeProposal(db: D1Database, p: NewProposal): Promise<void> {
  const { latency, cost, privacy, reliability } = p.weights;
  await db
    .prepare(
      `INSERT INTO policy_proposals (id, created_at, model, prompt_version, summary, weights,
         rationale, confidence, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'proposed')`,
    )
    .bind(
      p.id,
      p.createdAt,
      p.model,
      p.promptVersion,
      JSON.stringify(p.summary),
      JSON.stringify({ latency, cost, privacy, reliability }),
      p.rationale,
      p.confidence,
    )
    .run();
}

export type ReviewResult = { stored: true; id: string } | { stored: false; reason: string };

/**
 * One review: summary, Nova Pro, validation, one `policy_proposals` row. Never throws on Nova.
 * The call (or its skip for an open breaker) is reported to `usage` as the `review` role.
 */
export async function runReview(
  env: Env,
  now: number,
  usage: NovaUsageSink,
): Promise<ReviewResult> {
  const summary = await readReviewSummary(env.DB, now);
  if (summary.targets.length === 0) {
    console.log(JSON.stringify({ event: "policy_review", stored: false, reason: "no traffic" }));
    return { stored: false, reason: "no traffic" };
  }
  const breaker = env.SERVICE_BREAKER.getByName(REVIEW_BREAKER);
  let gate: { admitted: boolean; probe: boolean };
  try {
    gate = await breaker.acquire(REVIEW_BREAKER);
  } catch {
    return skipped("breaker unreachable");
  }
  if (!gate.admitted) {
    reportSkip(usage, "review", novaModel(env, REVIEW_ROLE_MODEL), "breaker_open");
    return skipped(`breaker ${REVIEW_BREAKER} open`);
  }
  const result = await reviewWithNova(env, summary, REVIEW_TIMEOUT_MS, usage);
  const failed = !result.ok && result.failure !== "invalid";
  try {
    await breaker.record(REVIEW_BREAKER, { ok: !failed, durationMs: result.ms, probe: gate.probe });
  } catch {
    // The proposal (or its absence) does not depend on the breaker's bookkeeping.
  }
  if (!result.ok) return skipped(`Nova Pro ${result.failure} (${result.detail})`);
  const id = crypto.randomUUID();
  const model = novaModel(env, REVIEW_ROLE_MODEL);
  const { weights, rationale, confidence } = result.answer;
  await storeProposal(env.DB, {
    id,
    createdAt: now,
    model,
    promptVersion: REVIEW_PROMPT_VERSION,
    summary,
    weights,
    rationale,
    confidence,
  });
  console.log(
    JSON.stringify({ event: "policy_review", stored: true, id, model, confidence, ms: result.ms }),
  );
  return { stored: true, id };
}

function skipped(reason: string): ReviewResult {
  console.warn(JSON.stringify({ event: "policy_review", stored: false, reason }));
  return { stored: false, reason };
}
