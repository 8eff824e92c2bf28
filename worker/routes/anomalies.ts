// GET /v1/anomalies — what the monitor's anomaly detector flagged (worker/monitor/insights.ts),
// newest first: `from` / `to` (epoch ms, bounds of the anomaly's minute, inclusive; default the
// last 24 hours), optionally one `target`, at most `limit` rows (1–500, default 100).

import { Hono } from "hono";
import * as z from "zod/mini";
import { listAnomalies } from "../analytics/anomalies.ts";
import { InvalidRequest } from "../errors.ts";
import { requireRoleOrSession } from "../session.ts";
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

export type AnomaliesQuery = z.infer<typeof anomaliesQuerySchema>;

anomaliesApp.get("/", requireRoleOrSession("operator"), async (c) => {
  const parsed = anomaliesQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new InvalidRequest("invalid query", toFieldIssues(parsed.error.issues));
  }
  return c.json(await recentAnomalies(c.env.DB, parsed.data));
});

/** The anomalies a validated query asks for (default the last 24 h, 100 rows), newest first. */
export async function recentAnomalies(db: D1Database, q: AnomaliesQuery) {
  const to = q.to !== undefined ? Number(q.to) : Date.now();
  const from = q.from !== undefined ? Number(q.from) : to - DAY_MS;
  const limit = q.limit !== undefined ? Number(q.limit) : 100;
  const anomalies = await listAnomalies(db, { from, through: to, target: q.target, limit });
  return { from, to, anomalies };
}
