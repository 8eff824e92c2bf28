// GET /v1/anomalies — what the monitor's anomaly detector flagged (worker/monitor/insights.ts),
// newest first: `from` / `to` (epoch ms, bounds of the anomaly's minute, inclusive; default the
// last 24 hours), optionally one `target`, at most `limit` rows (1–500, default 100).

import { Hono } from "hono";
import * as z from "zod/mini";
import { requireRole } from "../auth.ts";
import { InvalidRequest } from "../errors.ts";
import type { AppEnv } from "../types.ts";
import { limitParam, toFieldIssues } from "../validate.ts";

export const anomaliesApp = new Hono<AppEnv>();

const DAY_MS = 86_400_000;
export const MAX_ANOMALIES = 500;

const epochMs = z.string().check(z.regex(/^\d{1,15}$/, "expected epoch milliseconds (an integer)"));

export const anomaliesQuerySchema = z
  .object({
    from: z.optional(epochMs),
    to: z.optional(epochMs),
    target: z.optional(
      z
        .string()
        .check(
          z.regex(
            /^(device|site:[a-z0-9][a-z0-9-]{0,62}|cloud:[a-z0-9][a-z0-9-]{0,31})$/,
            "expected site:<id>, cloud:<region> or device",
          ),
        ),
    ),
    limit: limitParam(MAX_ANOMALIES),
  })
  .check(
    // Only when both are numbers: a malformed one has its own issue already.
    z.refine((q) => !(Number(q.from) > Number(q.to)), {
      message: "from must not be after to",
      path: ["from"],
    }),
  );

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

anomaliesApp.get("/", requireRole("operator"), async (c) => {
  const parsed = anomaliesQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new InvalidRequest("invalid query", toFieldIssues(parsed.error.issues));
  }
  const q = parsed.data;
  const to = q.to !== undefined ? Number(q.to) : Date.now();
  const from = q.from !== undefined ? Number(q.from) : to - DAY_MS;
  const limit = q.limit !== undefined ? Number(q.limit) : 100;
  const where = ["minute >= ?", "minute <= ?"];
  const params: unknown[] = [from, to];
  if (q.target !== undefined) {
    where.push("target = ?");
    params.push(q.target);
  }
  const { results } = await c.env.DB.prepare(
    `SELECT id, detected_at, minute, kind, tier, target, model, metric, observed, expected, score,
       severity, detail, resolved_at
     FROM anomalies WHERE ${where.join(" AND ")}
     ORDER BY minute DESC, detected_at DESC, id LIMIT ?`,
  )
    .bind(...params, limit)
    .all<AnomalyRow>();
  return c.json({
    from,
    to,
    anomalies: results.map((r) => ({
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
      detail: parseDetail(r.detail),
      resolvedAt: r.resolved_at,
    })),
  });
});

function parseDetail(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
