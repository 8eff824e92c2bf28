// API keys issued to tenants: format, generation and hashing. Pure (Web Crypto only), shared by
// the worker and the tests.
//
// A key reads `mec_<scope>_<id>_<secret>`: the scope and id are public (the id names the key in
// lists, logs and the database; `mec_<scope>_<id>` is its displayed prefix), the secret is 32
// random bytes. Only the SHA-256 of the whole key is stored. With 256 bits of randomness a
// stolen hash cannot be reversed by guessing, so no pepper is needed (a pepper would be one more
// secret whose loss or rotation invalidates every key). The recognisable `mec_` prefix lets
// secret scanners find leaked keys.

import * as z from "zod/mini";

export const SCOPES = ["device", "operator", "site"] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * The tenant of the platform's own keys (the `API_KEYS` secret) and of per-site keys. It is not a
 * row in `tenants` and cannot be created through the API.
 */
export const PLATFORM_TENANT = "platform";

/** Tenant ids: lower-case slugs, like site ids. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A tenant id in a query or body. */
export const tenantIdSchema = z.string().check(z.regex(TENANT_ID_PATTERN, "expected a tenant id"));

/** Key ids: 16 characters of base32 (80 bits), unique per key. */
export const KEY_ID_PATTERN = /^[a-z2-7]{16}$/;

const ISSUED_KEY = /^mec_(device|operator|site)_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export interface ParsedKey {
  scope: Scope;
  id: string;
}

/** The scope and id of a key in the issued format; undefined for anything else. */
export function parseIssuedKey(key: string): ParsedKey | undefined {
  const m = ISSUED_KEY.exec(key);
  if (!m) return undefined;
  return { scope: m[1] as Scope, id: m[2] as string };
}

/** What lists show of a key: everything but the secret. */
export function keyPrefix(scope: Scope, id: string): string {
  return `mec_${scope}_${id}`;
}

/** A new key of `scope`: the key itself (shown once), its id and its hash (stored). */
export async function newIssuedKey(
  scope: Scope,
): Promise<{ key: string; id: string; hash: string }> {
  const idBytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Array.from(idBytes, (b) => BASE32[b & 31]).join("");
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const key = `${keyPrefix(scope, id)}_${secret}`;
  return { key, id, hash: toHex(await sha256(key)) };
}

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a hex string of even length (validated by the caller). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
