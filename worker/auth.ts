// Bearer API keys, two kinds, one way in (`authenticate`):
// - platform keys: the `API_KEYS` secret (`role:sha256hex,…`), set with `wrangler secret put`.
//   They belong to the platform itself: they manage tenants, keys and the fleet, and see every
//   tenant's data. A platform site key may heartbeat any site (a fleet-wide relay; local dev).
//   No rate limit or budget applies to them.
// - issued keys: `mec_<scope>_<id>_<secret>`, created through `/v1/keys` for one tenant and
//   stored as hashes in D1 (key-store.ts caches them in the isolate). A site key is bound to
//   its site.
// Both are compared as SHA-256 hashes in constant time; keys never reach logs, only key ids.

import { createMiddleware } from "hono/factory";
import {
  fromHex,
  KEY_ID_PATTERN,
  PLATFORM_TENANT,
  parseIssuedKey,
  SCOPES,
  type Scope,
  sha256,
} from "../shared/api-key.ts";
import type { BudgetPeriod } from "../shared/budget.ts";
import { Forbidden, Unauthorized } from "./errors.ts";
import { type KeyRecord, lookupKey } from "./tenancy/key-store.ts";
import { enforceRateLimit } from "./tenancy/rate-limit.ts";
import type { AppEnv } from "./types.ts";

export const ROLES = SCOPES;
export type Role = Scope;

interface KeyEntry {
  role: Role;
  hash: Uint8Array;
  /** The first 12 hex digits of the hash: names the key in logs and sessions, reveals nothing. */
  id: string;
}

/** Who is calling (never the key itself). */
export interface Principal {
  /** The key's scope. */
  role: Role;
  /** Names the key in logs, sessions and rate limits. */
  keyId: string;
  /** Whose data the caller sees and writes, and whose budget it spends. */
  tenantId: string;
  /** A platform key (`API_KEYS`): may manage tenants and the fleet and read every tenant. */
  platform: boolean;
  /** An issued site key: the only site it may heartbeat. */
  siteId?: string;
  /** The tenant's cost budget, when it has one. */
  budget?: { limitUsd: number; period: BudgetPeriod };
}

let parsed: { source: string; keys: KeyEntry[] } | undefined;

/** Parses `API_KEYS` once per isolate (and again only when the secret changes). */
export function parseApiKeys(source: string | undefined): KeyEntry[] {
  const text = source ?? "";
  if (parsed?.source === text) return parsed.keys;
  const keys: KeyEntry[] = [];
  for (const entry of text.split(",")) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    const [role, hex] = trimmed.split(":");
    if (!ROLES.includes(role as Role) || !hex || !/^[0-9a-f]{64}$/i.test(hex)) {
      console.warn(JSON.stringify({ event: "config", problem: "API_KEYS entry ignored", role }));
      continue;
    }
    keys.push({ role: role as Role, hash: fromHex(hex), id: hex.slice(0, 12).toLowerCase() });
  }
  if (keys.length === 0) {
    console.warn(JSON.stringify({ event: "config", problem: "API_KEYS has no usable key" }));
  }
  parsed = { source: text, keys };
  return keys;
}

/** The entry of a presented key, or undefined. Checks every entry, so timing says nothing. */
export async function matchKey(key: string, keys: KeyEntry[]): Promise<KeyEntry | undefined> {
  const digest = await sha256(key);
  let found: KeyEntry | undefined;
  for (const entry of keys) {
    if (crypto.subtle.timingSafeEqual(digest, entry.hash)) found ??= entry;
  }
  return found;
}

/**
 * The one place a presented key becomes a principal: every route (bearer header) and every
 * other way in (sessions, MCP) goes through here. Undefined for a key that is unknown, revoked,
 * expired or of a suspended tenant; throws `Unavailable` (503) when the key store cannot answer.
 */
export async function authenticate(env: Env, key: string): Promise<Principal | undefined> {
  const issued = parseIssuedKey(key);
  if (issued) return authenticateIssued(env, key, issued.scope, issued.id);
  const entry = await matchKey(key, parseApiKeys(env.API_KEYS));
  if (!entry) return undefined;
  return { role: entry.role, keyId: entry.id, tenantId: PLATFORM_TENANT, platform: true };
}

async function authenticateIssued(
  env: Env,
  key: string,
  scope: Scope,
  id: string,
): Promise<Principal | undefined> {
  const now = Date.now();
  const [record, digest] = await Promise.all([lookupKey(env, id, now), sha256(key)]);
  if (!record || !crypto.subtle.timingSafeEqual(digest, fromHex(record.hash))) return undefined;
  if (record.scope !== scope) return undefined;
  return issuedPrincipal(record, now);
}

/** The principal of an issued key's record, unless it is revoked, expired or its tenant is not active. */
function issuedPrincipal(record: KeyRecord, now: number): Principal | undefined {
  if (record.revoked_at !== null) return undefined;
  if (record.expires_at !== null && record.expires_at <= now) return undefined;
  // Every tenant but the platform has a row, and only an active one's keys work.
  if (record.tenant_id !== PLATFORM_TENANT && record.tenant_status !== "active") return undefined;
  const principal: Principal = {
    role: record.scope,
    keyId: record.id,
    tenantId: record.tenant_id,
    platform: false,
  };
  if (record.site_id !== null) principal.siteId = record.site_id;
  if (record.budget_usd !== null) {
    principal.budget = { limitUsd: record.budget_usd, period: record.budget_period ?? "month" };
  }
  return principal;
}

/**
 * The principal of a key that is still valid, by its id: how a session (worker/session.ts),
 * which holds the key id and never the key, re-checks its key on every request, so that a
 * revoked key's sessions stop working (a platform key's at once; an issued key's within the
 * key cache's lifetime, as for bearer calls).
 */
export async function principalById(env: Env, keyId: string): Promise<Principal | undefined> {
  const entry = parseApiKeys(env.API_KEYS).find((k) => k.id === keyId);
  if (entry) {
    return { role: entry.role, keyId: entry.id, tenantId: PLATFORM_TENANT, platform: true };
  }
  if (!KEY_ID_PATTERN.test(keyId)) return undefined;
  const now = Date.now();
  const record = await lookupKey(env, keyId, now);
  return record ? issuedPrincipal(record, now) : undefined;
}

/** Requires `Authorization: Bearer <key>` with one of `roles`, within the key's rate limit. */
export function requireRole(...roles: Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S{1,512})$/i.exec(header);
    if (!match?.[1]) throw new Unauthorized();
    const principal = await authenticate(c.env, match[1]);
    if (!principal) throw new Unauthorized();
    const { role } = principal;
    if (!roles.includes(role)) {
      throw new Forbidden(`a ${role} key cannot call this endpoint (needs ${roles.join(" or ")})`);
    }
    await enforceRateLimit(c.env, principal);
    c.set("role", role);
    c.set("principal", principal);
    await next();
  });
}

/** Requires a platform key (after `requireRole`): tenants and the fleet are the platform's. */
export const requirePlatform = createMiddleware<AppEnv>(async (c, next) => {
  assertPlatform(c.get("principal"));
  await next();
});

/** What `requirePlatform` checks, for callers that are not routes (MCP tools). */
export function assertPlatform(
  principal: Principal,
  message = "only a platform operator key (API_KEYS) can do this",
): void {
  if (!principal.platform) throw new Forbidden(message);
}
