// Bearer API keys. Keys are configured only as SHA-256 hashes (`API_KEYS` secret:
// `role:hexhash,role:hexhash,…`) and compared in constant time.

import { createMiddleware } from "hono/factory";
import { Forbidden, Unauthorized } from "./errors.ts";
import type { AppEnv } from "./types.ts";

export const ROLES = ["device", "operator", "site"] as const;
export type Role = (typeof ROLES)[number];

interface KeyEntry {
  role: Role;
  hash: Uint8Array;
  /** The first 12 hex digits of the hash: names the key in logs and sessions, reveals nothing. */
  id: string;
}

/** Who is calling: the key's role and its id (never the key itself). */
export interface Principal {
  role: Role;
  keyId: string;
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
    keys.push({ role: role as Role, hash: hexToBytes(hex), id: hex.slice(0, 12).toLowerCase() });
  }
  if (keys.length === 0) {
    console.warn(JSON.stringify({ event: "config", problem: "API_KEYS has no usable key" }));
  }
  parsed = { source: text, keys };
  return keys;
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The entry of a presented key, or undefined. Checks every entry, so timing says nothing. */
export async function matchKey(key: string, keys: KeyEntry[]): Promise<KeyEntry | undefined> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)),
  );
  let found: KeyEntry | undefined;
  for (const entry of keys) {
    if (crypto.subtle.timingSafeEqual(digest, entry.hash)) found ??= entry;
  }
  return found;
}

/**
 * The one place a presented key becomes a principal: every route (bearer header) and every
 * other way in (sessions, MCP) goes through here.
 */
export async function authenticate(env: Env, key: string): Promise<Principal | undefined> {
  const entry = await matchKey(key, parseApiKeys(env.API_KEYS));
  return entry ? { role: entry.role, keyId: entry.id } : undefined;
}

/**
 * The principal of a key that is still configured, by its id: how a session (worker/session.ts),
 * which holds the key id and never the key, re-checks its key on every request, so that a revoked
 * key's sessions stop working at once.
 */
export async function principalById(env: Env, keyId: string): Promise<Principal | undefined> {
  const entry = parseApiKeys(env.API_KEYS).find((k) => k.id === keyId);
  return entry ? { role: entry.role, keyId: entry.id } : undefined;
}

/** Requires `Authorization: Bearer <key>` with one of `roles`. */
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
    c.set("role", role);
    c.set("principal", principal);
    await next();
  });
}
