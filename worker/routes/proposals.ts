// Policy weight proposals of the offline review (worker/monitor/review.ts), for operators:
//   GET  /v1/policy/proposals              newest first (`limit` 1–200, default 50)
//   POST /v1/policy/proposals              an operator's own proposal, stored like Nova's
//   POST /v1/policy/proposals/:id/approve  idempotent; 404 unknown, 409 if already rejected
//   POST /v1/policy/proposals/:id/reject   idempotent; 404 unknown, 409 if already approved
// Approval changes no policy: it answers the `POLICY_VARIANTS` snippet that A/B-tests the
// proposal (a `control` variant on the base policy and `proposal-<short id>` with the proposed
// weights, 90/10), for an operator to deploy. Proposals are applied only that way.
// The routing policy is the platform's (one for every tenant), and proposals are read from
// every tenant's aggregates: a platform operator key only.

import { Hono } from "hono";
import * as z from "zod/mini";
import { type Principal, requirePlatform, requireRole } from "../auth.ts";
import type { PolicyVariantConfig } from "../config.ts";
import { AppError, InvalidRequest, NotFound } from "../errors.ts";
import { readReviewSummary, storeProposal } from "../monitor/review.ts";
import { requireRoleOrSession } from "../session.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, limitParam, readJson, toFieldIssues } from "../validate.ts";

export const proposalsApp = new Hono<AppEnv>();

export const MAX_PROPOSALS = 200;

export const listQuerySchema = z.object({
  limit: limitParam(MAX_PROPOSALS),
});

const unit = z.number().check(z.gte(0), z.lte(1));

/** An operator's proposal: the four score weights (as Nova's review proposes them) and why. */
export const proposalBodySchema = z.strictObject({
  weights: z
    .strictObject({ latency: unit, cost: unit, privacy: unit, reliability: unit })
    .check(z.describe("Score weights, each 0–1; the base policy has 0.45, 0.25, 0.1, 0.2.")),
  rationale: z
    .string()
    .check(z.minLength(1), z.maxLength(500), z.describe("Why, for the approver.")),
  confidence: z.optional(unit.check(z.describe("How sure the proposer is, 0–1 (default 1)."))),
});
export type ProposalBody = z.infer<typeof proposalBodySchema>;

/** What stands in the `model` and `prompt_version` columns of a proposal made by an operator. */
export const OPERATOR_PROPOSAL = { model: "operator", promptVersion: "manual" } as const;

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface ProposalRow {
  id: string;
  created_at: number;
  model: string;
  prompt_version: string;
  summary: string;
  weights: string;
  rationale: string;
  confidence: number;
  status: "proposed" | "approved" | "rejected";
  decided_at: number | null;
  decided_by: string | null;
}

const COLUMNS = `id, created_at, model, prompt_version, summary, weights, rationale, confidence,
  status, decided_at, decided_by`;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function view(r: ProposalRow) {
  return {
    id: r.id,
    createdAt: r.created_at,
    model: r.model,
    promptVersion: r.prompt_version,
    summary: parseJson(r.summary),
    weights: parseJson(r.weights),
    rationale: r.rationale,
    confidence: r.confidence,
    status: r.status,
    decidedAt: r.decided_at,
    decidedBy: r.decided_by,
  };
}

/** The variant name a proposal is A/B-tested under. */
export function proposalVariantName(id: string): string {
  return `proposal-${id.replace(/-/g, "").slice(0, 8)}`;
}

/** `POLICY_VARIANTS` for an A/B test of a proposal: 90 % base policy, 10 % proposed weights. */
export function proposalVariants(
  id: string,
  weights: PolicyVariantConfig["weights"],
): PolicyVariantConfig[] {
  return [
    { name: "control", weight: 9 },
    { name: proposalVariantName(id), weight: 1, ...(weights ? { weights } : {}) },
  ];
}

proposalsApp.get("/", requireRoleOrSession("operator"), requirePlatform, async (c) => {
  const parsed = listQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new InvalidRequest("invalid query", toFieldIssues(parsed.error.issues));
  }
  const limit = parsed.data.limit !== undefined ? Number(parsed.data.limit) : 50;
  const { results } = await c.env.DB.prepare(
    `SELECT ${COLUMNS} FROM policy_proposals ORDER BY created_at DESC, id LIMIT ?`,
  )
    .bind(limit)
    .all<ProposalRow>();
  return c.json({ proposals: results.map(view) });
});

function readProposal(db: D1Database, id: string): Promise<ProposalRow | null> {
  return db
    .prepare(`SELECT ${COLUMNS} FROM policy_proposals WHERE id = ?`)
    .bind(id)
    .first<ProposalRow>();
}

/**
 * Stores an operator's proposal as 'proposed', with the same aggregate summary of the last hours
 * that Nova's review is shown, so an approver sees what the proposer saw. Nothing is applied.
 */
export async function createProposal(db: D1Database, body: ProposalBody, by: Principal) {
  const now = Date.now();
  const id = crypto.randomUUID();
  await storeProposal(db, {
    id,
    createdAt: now,
    model: `${OPERATOR_PROPOSAL.model}:${by.keyId}`,
    promptVersion: OPERATOR_PROPOSAL.promptVersion,
    summary: await readReviewSummary(db, now),
    weights: body.weights,
    rationale: body.rationale,
    confidence: body.confidence ?? 1,
  });
  const row = await readProposal(db, id);
  if (!row) throw new Error("a stored proposal could not be read back");
  return { proposal: view(row) };
}

proposalsApp.post("/", limitBody(), requireRole("operator"), requirePlatform, async (c) => {
  const body = await readJson(c, proposalBodySchema);
  return c.json(await createProposal(c.env.DB, body, c.get("principal")), 201);
});

async function decide(
  db: D1Database,
  id: string,
  to: "approved" | "rejected",
  by: string,
): Promise<ProposalRow> {
  if (!ID.test(id)) throw new NotFound(`no proposal ${id}`);
  // Only a proposal still open changes; a repeat of the same decision answers it unchanged.
  await db
    .prepare(
      `UPDATE policy_proposals SET status = ?, decided_at = ?, decided_by = ?
       WHERE id = ? AND status = 'proposed'`,
    )
    .bind(to, Date.now(), by, id)
    .run();
  const row = await readProposal(db, id);
  if (!row) throw new NotFound(`no proposal ${id}`);
  if (row.status !== to) {
    throw new AppError(409, "conflict", `proposal ${id} is already ${row.status}`, {
      status: row.status,
    });
  }
  return row;
}

proposalsApp.post("/:id/approve", requireRole("operator"), requirePlatform, async (c) => {
  const row = await decide(c.env.DB, c.req.param("id"), "approved", c.get("role"));
  const weights = parseJson(row.weights) as PolicyVariantConfig["weights"];
  const variants = proposalVariants(row.id, weights ?? undefined);
  return c.json({
    proposal: view(row),
    // Nothing was applied: deploy this as POLICY_VARIANTS to A/B-test the proposal.
    policyVariants: variants,
    policyVariantsJson: JSON.stringify(variants),
  });
});

proposalsApp.post("/:id/reject", requireRole("operator"), requirePlatform, async (c) => {
  const row = await decide(c.env.DB, c.req.param("id"), "rejected", c.get("role"));
  return c.json({ proposal: view(row) });
});
