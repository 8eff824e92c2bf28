// Issued API keys (operator keys; a tenant's operator manages its own tenant's keys, a platform
// key any tenant's and the per-site keys):
//   POST /v1/keys              { tenant?, scope, name?, site?, expiresAt? } → 201 with the key,
//                              shown this once; only its SHA-256 is stored
//   GET  /v1/keys              `tenant?`, `limit` (1–500, default 100): prefixes, never secrets
//   GET  /v1/keys/:id
//   POST /v1/keys/:id/rotate   { overlapSeconds? } → 201 with the new key; the old one keeps
//                              working for the overlap (default 24 h, 0 = stop now), then expires
//   POST /v1/keys/:id/revoke   stops the key (idempotent)
// Another tenant's key or tenant answers 404. Revocation and rotation are in force in this
// isolate at once and in every other within the key cache's 30 s; an expiry is exact.

import { Hono } from "hono";
import * as z from "zod/mini";
import {
  KEY_ID_PATTERN,
  keyPrefix,
  newIssuedKey,
  PLATFORM_TENANT,
  SCOPES,
  type Scope,
  tenantIdSchema,
} from "../../shared/api-key.ts";
import { type Principal, requireRole } from "../auth.ts";
import { AppError, Forbidden, InvalidRequest, NotFound } from "../errors.ts";
import { siteStub } from "../fleet/site-stub.ts";
import { forgetKey } from "../tenancy/key-store.ts";
import { mayAccess, readScope } from "../tenancy/scope.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, limitParam, readJson, toFieldIssues } from "../validate.ts";
import { tenantRow } from "./tenants.ts";

export const keysApp = new Hono<AppEnv>();

export const MAX_KEYS_PAGE = 500;
export const DEFAULT_OVERLAP_S = 86_400;
export const MAX_OVERLAP_S = 30 * 86_400;

export const createSchema = z.strictObject({
  tenant: z.optional(tenantIdSchema),
  scope: z.enum(SCOPES),
  /** A label for people; printable, ≤ 64 chars. */
  name: z.optional(
    z.string().check(z.minLength(1), z.maxLength(64), z.regex(/^[\x20-\x7e]+$/, "printable ASCII")),
  ),
  /** Site keys: the site it may heartbeat. */
  site: z.optional(z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "expected a site id"))),
  /** Epoch ms after which the key stops working. */
  expiresAt: z.optional(z.int().check(z.gte(0), z.lte(253_402_300_799_999))),
});

export const rotateSchema = z.strictObject({
  overlapSeconds: z.optional(z.int().check(z.gte(0), z.lte(MAX_OVERLAP_S))),
});

export const listQuerySchema = z.object({
  tenant: z.optional(tenantIdSchema),
  limit: limitParam(MAX_KEYS_PAGE),
});

export type CreateKeyInput = z.infer<typeof createSchema>;
export type RotateKeyInput = z.infer<typeof rotateSchema>;
export type ListKeysQuery = z.infer<typeof listQuerySchema>;

interface KeyRow {
  id: string;
  tenant_id: string;
  scope: Scope;
  site_id: string | null;
  name: string | null;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
  replaced_by: string | null;
}

const COLUMNS = `id, tenant_id, scope, site_id, name, created_at, created_by, expires_at,
  revoked_at, replaced_by`;

function view(r: KeyRow, now: number) {
  const status =
    r.revoked_at !== null
      ? "revoked"
      : r.expires_at !== null && r.expires_at <= now
        ? "expired"
        : "active";
  return {
    id: r.id,
    prefix: keyPrefix(r.scope, r.id),
    tenant: r.tenant_id,
    scope: r.scope,
    site: r.site_id,
    name: r.name,
    status,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    replacedBy: r.replaced_by,
  };
}

/** The key row, or 404 (also for another tenant's key). */
async function keyRow(db: D1Database, principal: Principal, id: string): Promise<KeyRow> {
  const row = KEY_ID_PATTERN.test(id)
    ? await db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`).bind(id).first<KeyRow>()
    : null;
  if (!row || !mayAccess(principal, row.tenant_id)) throw new NotFound(`no key ${id}`);
  return row;
}

/** One key as the API shows it (prefix and status, never the secret), or 404. */
export async function describeKey(env: Env, principal: Principal, id: string) {
  return view(await keyRow(env.DB, principal, id), Date.now());
}

async function insertKey(
  db: D1Database,
  row: Omit<KeyRow, "id" | "revoked_at" | "replaced_by">,
): Promise<{ key: string; id: string }> {
  const issued = await newIssuedKey(row.scope);
  await db
    .prepare(
      `INSERT INTO api_keys (id, tenant_id, scope, site_id, name, hash, created_at, created_by,
         expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      issued.id,
      row.tenant_id,
      row.scope,
      row.site_id,
      row.name,
      issued.hash,
      row.created_at,
      row.created_by,
      row.expires_at,
    )
    .run();
  return { key: issued.key, id: issued.id };
}

/**
 * Issues a key for a tenant (a tenant's operator: its own; a platform key: any tenant's, and the
 * per-site keys). Answers it with the secret, shown this once.
 */
export async function createKey(env: Env, principal: Principal, body: CreateKeyInput) {
  const now = Date.now();
  if (body.expiresAt !== undefined && body.expiresAt <= now) {
    throw new InvalidRequest("the key would be expired already", [
      { path: "expiresAt", message: "give a time in the future (epoch ms)" },
    ]);
  }
  let tenant: string;
  if (body.scope === "site") {
    // Sites are the platform's: their keys too, each bound to one registered site.
    if (!principal.platform)
      throw new Forbidden("only a platform operator key can create site keys");
    if (body.tenant !== undefined && body.tenant !== PLATFORM_TENANT) {
      throw new InvalidRequest("site keys belong to the platform", [
        { path: "tenant", message: `omit it or give "${PLATFORM_TENANT}"` },
      ]);
    }
    if (body.site === undefined) {
      throw new InvalidRequest("a site key needs its site", [
        { path: "site", message: "give the id of the site it heartbeats" },
      ]);
    }
    if (!(await siteStub(env, body.site).describe())) {
      throw new NotFound(`no site "${body.site}" is registered`);
    }
    tenant = PLATFORM_TENANT;
  } else {
    if (body.site !== undefined) {
      throw new InvalidRequest("only site keys are bound to a site", [
        { path: "site", message: `omit it for a ${body.scope} key` },
      ]);
    }
    tenant = body.tenant ?? principal.tenantId;
    if (tenant === PLATFORM_TENANT) {
      throw new InvalidRequest("the platform's own device and operator keys are API_KEYS", [
        { path: "tenant", message: "give the tenant the key is for" },
      ]);
    }
    await tenantRow(env.DB, tenant, mayAccess(principal, tenant));
  }
  const row = {
    tenant_id: tenant,
    scope: body.scope,
    site_id: body.site ?? null,
    name: body.name ?? null,
    created_at: now,
    created_by: createdBy(principal),
    expires_at: body.expiresAt ?? null,
  };
  const { key, id } = await insertKey(env.DB, row);
  forgetKey(id);
  console.log(JSON.stringify({ event: "key_created", id, tenant, scope: body.scope }));
  return { key, ...view({ ...row, id, revoked_at: null, replaced_by: null }, now) };
}

keysApp.post("/", limitBody(), requireRole("operator"), async (c) => {
  const body = await readJson(c, createSchema);
  return c.json(await createKey(c.env, c.get("principal"), body), 201);
});

/** Keys of the caller's tenant (a platform key: every tenant's, or `tenant`'s), newest first. */
export async function listKeys(env: Env, principal: Principal, query: ListKeysQuery) {
  const tenant = readScope(principal, query.tenant);
  const limit = query.limit !== undefined ? Number(query.limit) : 100;
  const stmt =
    tenant === undefined
      ? env.DB.prepare(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at DESC, id LIMIT ?`).bind(
          limit,
        )
      : env.DB.prepare(
          `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = ?
           ORDER BY created_at DESC, id LIMIT ?`,
        ).bind(tenant, limit);
  const { results } = await stmt.all<KeyRow>();
  const now = Date.now();
  return { keys: results.map((r) => view(r, now)) };
}

keysApp.get("/", requireRole("operator"), async (c) => {
  const parsed = listQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new InvalidRequest("invalid query", toFieldIssues(parsed.error.issues));
  }
  return c.json(await listKeys(c.env, c.get("principal"), parsed.data));
});

keysApp.get("/:id", requireRole("operator"), async (c) => {
  return c.json(await describeKey(c.env, c.get("principal"), c.req.param("id")));
});

/**
 * Replaces a key with a new one; the old one keeps working for the overlap (default 24 h, 0 =
 * stop now). Answers the new key with its secret, shown this once; 409 when it was rotated,
 * revoked or expired already.
 */
export async function rotateKey(env: Env, principal: Principal, id: string, body: RotateKeyInput) {
  const old = await keyRow(env.DB, principal, id);
  const now = Date.now();
  const overlapEnd = now + (body.overlapSeconds ?? DEFAULT_OVERLAP_S) * 1000;
  const oldExpires = old.expires_at === null ? overlapEnd : Math.min(old.expires_at, overlapEnd);
  const issued = await newIssuedKey(old.scope);
  // One transaction: the old key is marked replaced only if it is still current, and the new
  // key is inserted only if that happened (two rotations at once: one wins, the other is 409).
  const [, inserted] = await env.DB.batch([
    env.DB.prepare(
      `UPDATE api_keys SET replaced_by = ?, expires_at = ?
       WHERE id = ? AND revoked_at IS NULL AND replaced_by IS NULL
         AND (expires_at IS NULL OR expires_at > ?)`,
    ).bind(issued.id, oldExpires, old.id, now),
    env.DB.prepare(
      `INSERT INTO api_keys (id, tenant_id, scope, site_id, name, hash, created_at, created_by,
         expires_at)
       SELECT ?, tenant_id, scope, site_id, name, ?, ?, ?, NULL
       FROM api_keys WHERE id = ? AND replaced_by = ?`,
    ).bind(issued.id, issued.hash, now, createdBy(principal), old.id, issued.id),
  ]);
  if (inserted?.meta.changes !== 1) {
    const current = view(await keyRow(env.DB, principal, old.id), now);
    throw new AppError(
      409,
      "conflict",
      current.replacedBy
        ? `key ${old.id} was already rotated (to ${current.replacedBy})`
        : `key ${old.id} is ${current.status}; create a new key instead`,
      { status: current.status },
    );
  }
  forgetKey(old.id);
  forgetKey(issued.id);
  console.log(JSON.stringify({ event: "key_rotated", id: old.id, to: issued.id }));
  const fresh = await keyRow(env.DB, principal, issued.id);
  return {
    key: issued.key,
    ...view(fresh, now),
    replaces: { id: old.id, expiresAt: oldExpires },
  };
}

keysApp.post("/:id/rotate", limitBody(), requireRole("operator"), async (c) => {
  const principal = c.get("principal");
  const id = c.req.param("id");
  // Unknown or another tenant's key: 404 before the body is read.
  await keyRow(c.env.DB, principal, id);
  // The body is optional: without one, the default overlap.
  const body = c.req.header("content-type") ? await readJson(c, rotateSchema) : {};
  return c.json(await rotateKey(c.env, principal, id, body), 201);
});

/** Stops a key at once (idempotent); 404 for an unknown or another tenant's key. */
export async function revokeKey(env: Env, principal: Principal, id: string) {
  await keyRow(env.DB, principal, id);
  const now = Date.now();
  await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
    .bind(now, id)
    .run();
  forgetKey(id);
  console.log(JSON.stringify({ event: "key_revoked", id }));
  return view(await keyRow(env.DB, principal, id), now);
}

keysApp.post("/:id/revoke", requireRole("operator"), async (c) => {
  return c.json(await revokeKey(c.env, c.get("principal"), c.req.param("id")));
});

/** Who created a key: the creating key's id, marked when it is a platform key. */
function createdBy(p: Principal): string {
  return p.platform ? `platform:${p.keyId}` : p.keyId;
}
