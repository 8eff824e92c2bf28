// Issued keys as the request path sees them: one D1 read per key id (the `api_keys` primary key,
// joined to its tenant by primary key), cached in the isolate with stale-while-revalidate so a
// warm isolate never waits on D1 for a key it has seen:
//   - younger than 10 s: answered from the cache;
//   - 10–30 s: answered from the cache while one background re-read runs;
//   - older, or never seen: the request waits for the one read.
// Unknown ids are cached too (negative caching), and the cache holds at most 10,000 ids.
// A revocation is therefore effective everywhere within 30 s (KEY_CACHE.maxAgeMs), and at once in
// the isolate that made it; an expiry (rotation overlap) is checked against the clock on every
// request, so it is exact.

import { waitUntil } from "cloudflare:workers";
import * as z from "zod/mini";
import { SCOPES } from "../../shared/api-key.ts";
import { BUDGET_PERIODS } from "../../shared/budget.ts";
import { SwrCache } from "../../shared/swr-cache.ts";
import { Unavailable } from "../errors.ts";
import { TENANT_STATUSES } from "./schema.ts";

export const KEY_CACHE = { freshMs: 10_000, maxAgeMs: 30_000, maxEntries: 10_000 } as const;

const epoch = z.nullable(z.number());
const keyRowSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  scope: z.enum(SCOPES),
  site_id: z.nullable(z.string()),
  hash: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  expires_at: epoch,
  revoked_at: epoch,
  /** NULL when the tenant row is missing (the platform tenant has none). */
  tenant_status: z.nullable(z.enum(TENANT_STATUSES)),
  budget_usd: z.nullable(z.number()),
  budget_period: z.nullable(z.enum(BUDGET_PERIODS)),
});
export type KeyRecord = z.infer<typeof keyRowSchema>;

const cache = new SwrCache<KeyRecord | null>(KEY_CACHE);

async function read(db: D1Database, id: string): Promise<KeyRecord | null> {
  const row = await db
    .prepare(
      `SELECT k.id, k.tenant_id, k.scope, k.site_id, k.hash, k.expires_at, k.revoked_at,
         t.status AS tenant_status, t.budget_usd, t.budget_period
       FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id
       WHERE k.id = ?`,
    )
    .bind(id)
    .first();
  if (row === null) return null;
  const parsed = keyRowSchema.safeParse(row);
  if (!parsed.success) {
    // A row this code did not write: refuse the key rather than guess.
    console.error(JSON.stringify({ event: "key_store", problem: "unreadable key row", id }));
    return null;
  }
  return parsed.data;
}

/** The stored record of key `id`, or null. Throws 503 when D1 cannot answer a cold lookup. */
export async function lookupKey(env: Env, id: string, now: number): Promise<KeyRecord | null> {
  try {
    return await cache.get(
      id,
      now,
      () => read(env.DB, id),
      (p) => waitUntil(p),
      (err) => logFailure(err, id),
    );
  } catch (err) {
    logFailure(err, id);
    throw new Unavailable("the key store is not reachable; try again", undefined, 2);
  }
}

/** Drops what this isolate knows of `id` (after it revoked, rotated or changed it). */
export function forgetKey(id: string): void {
  cache.delete(id);
}

/** Drops every cached key, e.g. after a tenant's status or budget changed. */
export function forgetAllKeys(): void {
  cache.clear();
}

function logFailure(err: unknown, id: string): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error(JSON.stringify({ event: "key_store", problem: "lookup failed", id, message }));
}
