// Tenants (platform operator keys; a tenant's own operator may read its own):
//   POST  /v1/tenants        create { id, name, budget? { limitUsd, period } }      201, 409 if taken
//   GET   /v1/tenants        list (`limit` 1–500, default 100; `after` an id for the next page)
//   GET   /v1/tenants/:id    one, with this period's spending when it has a budget
//   PATCH /v1/tenants/:id    { name?, status?, budget? (null: none) }
// A tenant's status and budget travel with its keys in the isolates' key caches, so a change is
// in force everywhere within the key cache's 30 s (at once in this isolate).

import { Hono } from "hono";
import * as z from "zod/mini";
import { PLATFORM_TENANT, TENANT_ID_PATTERN, tenantIdSchema } from "../../shared/api-key.ts";
import { BUDGET_PERIODS, type BudgetPeriod } from "../../shared/budget.ts";
import { requirePlatform, requireRole } from "../auth.ts";
import { AppError, InvalidRequest, NotFound } from "../errors.ts";
import { forgetAllKeys } from "../tenancy/key-store.ts";
import { TENANT_STATUSES } from "../tenancy/schema.ts";
import { mayAccess } from "../tenancy/scope.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, limitParam, readJson, toFieldIssues } from "../validate.ts";

export const tenantsApp = new Hono<AppEnv>();

export const MAX_TENANTS_PAGE = 500;

const tenantId = z.string().check(
  z.regex(TENANT_ID_PATTERN, "expected a lower-case slug of [a-z0-9-], ≤ 63 chars"),
  z.refine((id) => id !== PLATFORM_TENANT, `"${PLATFORM_TENANT}" is reserved`),
);
const tenantName = z.string().check(z.minLength(1), z.maxLength(128));
const budgetSchema = z.strictObject({
  /** USD per period, at the router's predicted and measured costs. */
  limitUsd: z.number().check(z.gte(0), z.lte(1_000_000_000)),
  period: z.optional(z.enum(BUDGET_PERIODS)),
});

export const createSchema = z.strictObject({
  id: tenantId,
  name: tenantName,
  budget: z.optional(budgetSchema),
});

export const patchSchema = z.strictObject({
  name: z.optional(tenantName),
  status: z.optional(z.enum(TENANT_STATUSES)),
  budget: z.optional(z.nullable(budgetSchema)),
});

export const listQuerySchema = z.object({
  limit: limitParam(MAX_TENANTS_PAGE),
  after: z.optional(tenantIdSchema),
});

interface TenantRow {
  id: string;
  name: string;
  status: string;
  budget_usd: number | null;
  budget_period: BudgetPeriod;
  created_at: number;
  updated_at: number;
}

const COLUMNS = "id, name, status, budget_usd, budget_period, created_at, updated_at";

function view(r: TenantRow) {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    budget: r.budget_usd === null ? null : { limitUsd: r.budget_usd, period: r.budget_period },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The tenant row, or 404 (also for a tenant the caller may not see). */
export async function tenantRow(db: D1Database, id: string, visible = true): Promise<TenantRow> {
  const row =
    visible && TENANT_ID_PATTERN.test(id)
      ? await db.prepare(`SELECT ${COLUMNS} FROM tenants WHERE id = ?`).bind(id).first<TenantRow>()
      : null;
  if (!row) throw new NotFound(`no tenant "${id}"`);
  return row;
}

tenantsApp.post("/", limitBody(), requireRole("operator"), requirePlatform, async (c) => {
  const body = await readJson(c, createSchema);
  const now = Date.now();
  const inserted = await c.env.DB.prepare(
    `INSERT INTO tenants (id, name, status, budget_usd, budget_period, created_at, updated_at)
     VALUES (?, ?, 'active', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  )
    .bind(
      body.id,
      body.name,
      body.budget?.limitUsd ?? null,
      body.budget?.period ?? "month",
      now,
      now,
    )
    .run();
  if (inserted.meta.changes !== 1) {
    throw new AppError(409, "conflict", `tenant "${body.id}" exists already`);
  }
  return c.json({ tenant: view(await tenantRow(c.env.DB, body.id)) }, 201);
});

tenantsApp.get("/", requireRole("operator"), requirePlatform, async (c) => {
  const parsed = listQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new InvalidRequest("invalid query", toFieldIssues(parsed.error.issues));
  }
  const limit = parsed.data.limit !== undefined ? Number(parsed.data.limit) : 100;
  const { results } = await c.env.DB.prepare(
    `SELECT ${COLUMNS} FROM tenants WHERE id > ? ORDER BY id LIMIT ?`,
  )
    .bind(parsed.data.after ?? "", limit)
    .all<TenantRow>();
  const tenants = results.map(view);
  const next = tenants.length === limit ? tenants.at(-1)?.id : undefined;
  return c.json(next ? { tenants, next } : { tenants });
});

tenantsApp.get("/:id", requireRole("operator"), async (c) => {
  const id = c.req.param("id");
  const row = await tenantRow(c.env.DB, id, mayAccess(c.get("principal"), id));
  const tenant = view(row);
  if (!tenant.budget) return c.json({ tenant });
  const spending = await c.env.TENANT_BUDGET.getByName(id).status(
    tenant.budget.limitUsd,
    tenant.budget.period,
  );
  return c.json({ tenant, spending });
});

tenantsApp.patch("/:id", limitBody(), requireRole("operator"), requirePlatform, async (c) => {
  const id = c.req.param("id");
  const body = await readJson(c, patchSchema);
  const row = await tenantRow(c.env.DB, id);
  const budget =
    body.budget === undefined
      ? { limitUsd: row.budget_usd, period: row.budget_period }
      : { limitUsd: body.budget?.limitUsd ?? null, period: body.budget?.period ?? "month" };
  await c.env.DB.prepare(
    `UPDATE tenants SET name = ?, status = ?, budget_usd = ?, budget_period = ?, updated_at = ?
     WHERE id = ?`,
  )
    .bind(
      body.name ?? row.name,
      body.status ?? row.status,
      budget.limitUsd,
      budget.period,
      Date.now(),
      id,
    )
    .run();
  // Cached keys carry the tenant's status and budget.
  forgetAllKeys();
  return c.json({ tenant: view(await tenantRow(c.env.DB, id)) });
});
