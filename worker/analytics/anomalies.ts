// Anomalies the monitor's detector stored (worker/monitor/insights.ts), with their evidence, for
// `GET /v1/anomalies` and `GET /v1/analytics/anomalies`: newest first, by the minute they are
// about.

import { sql } from "drizzle-orm";
import type { AnomalyView } from "../../shared/analytics-api.ts";
import { rows, where } from "./sql.ts";

export interface AnomalyQuery {
  /** First minute, epoch ms, inclusive. */
  from: number;
  /** Last minute, epoch ms, inclusive. */
  through: number;
  target?: string | undefined;
  /** Only those not resolved yet. */
  openOnly?: boolean | undefined;
  limit: number;
}

interface AnomalyRow {
  id: string;
  detected_at: number;
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
  detail: string | null;
  resolved_at: number | null;
}

export async function listAnomalies(d1: D1Database, q: AnomalyQuery): Promise<AnomalyView[]> {
  const found = await rows<AnomalyRow>(
    d1,
    sql`SELECT id, detected_at, minute, kind, tier, target, model, metric, observed, expected,
        score, severity, detail, resolved_at
      FROM anomalies
      WHERE ${where(
        sql`minute >= ${q.from}`,
        sql`minute <= ${q.through}`,
        q.target === undefined ? undefined : sql`target = ${q.target}`,
        q.openOnly ? sql`resolved_at IS NULL` : undefined,
      )}
      ORDER BY minute DESC, detected_at DESC, id LIMIT ${q.limit}`,
  );
  return found.map((r) => ({
    id: r.id,
    detectedAt: r.detected_at,
    minute: r.minute,
    kind: r.kind,
    tier: r.tier,
    target: r.target,
    model: r.model,
    metric: r.metric,
    observed: r.observed,
    expected: r.expected,
    score: r.score,
    severity: r.severity,
    detail: parseJson(r.detail),
    resolvedAt: r.resolved_at,
  }));
}

/** Anomalies about minutes in `[from, through]`: how many, and how many are still open. */
export async function countAnomalies(
  d1: D1Database,
  from: number,
  through: number,
): Promise<{ open: number; total: number }> {
  const [row] = await rows<{ total: number; open: number | null }>(
    d1,
    sql`SELECT count(*) AS total, sum(resolved_at IS NULL) AS open FROM anomalies
      WHERE minute >= ${from} AND minute <= ${through}`,
  );
  return { total: row?.total ?? 0, open: row?.open ?? 0 };
}

export function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
