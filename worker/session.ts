// Operator sessions for the dashboard: an operator key, presented once to `POST /v1/session`,
// becomes a short-lived cookie, so that the key never sits in a URL or in browser storage.
//
// The cookie is `__Host-mec_session` (HttpOnly, Secure, SameSite=Strict, Path=/; Chromium
// accepts Secure cookies on http://127.0.0.1 and localhost, so the local stack works too). Its
// value is stateless and signed: `v1.<keyId>.<expires>.<nonce>.<hmac>`, HMAC-SHA256 with the
// `SESSION_SECRET` secret over everything before it. It names the key by its id, never the key:
// every request checks the signature and expiry, then looks the key id up again
// (`principalById`), so a revoked key's sessions stop at once and the role is always the key's
// current one. Logging out clears the cookie; a copy of it stays valid until it expires (the
// lifetime is short, `SESSION_TTL_S`, one hour by default), unless its key is revoked or
// `SESSION_SECRET` rotated, which ends every session.
//
// CSRF: SameSite=Strict keeps the cookie off cross-site requests; on top of that, a
// state-changing request made with a session must come from this origin (`Origin`, when sent,
// equal to the worker's own) and carry the `x-mec-csrf` header, which no cross-origin page can
// set without a CORS preflight the worker never grants.

import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { type Principal, principalById, type Role, requireRole } from "./auth.ts";
import { AppError, Forbidden, Unauthorized } from "./errors.ts";
import { enforceRateLimit } from "./tenancy/rate-limit.ts";
import type { AppEnv } from "./types.ts";

/** The cookie's name after its `__Host-` prefix (hono's `prefix: "host"` adds it). */
export const SESSION_COOKIE = "mec_session";
export const CSRF_HEADER = "x-mec-csrf";
export const DEFAULT_SESSION_TTL_S = 3_600;
export const MAX_SESSION_TTL_S = 43_200;
/** A shorter secret is refused (and logged): sessions are then off. */
export const MIN_SECRET_LENGTH = 32;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const encoder = new TextEncoder();

export interface Session {
  principal: Principal;
  /** Epoch ms. */
  expiresAt: number;
}

/** `SESSION_TTL_S` (60 s – 12 h), else one hour. */
export function sessionTtlSeconds(env: Pick<Env, "SESSION_TTL_S">): number {
  const raw = env.SESSION_TTL_S;
  const n = Number(raw);
  if (raw !== undefined && raw !== "" && Number.isInteger(n) && n >= 60 && n <= MAX_SESSION_TTL_S) {
    return n;
  }
  return DEFAULT_SESSION_TTL_S;
}

let keyCache: { secret: string; key: Promise<CryptoKey> } | undefined;

/** The HMAC key of `SESSION_SECRET`, or undefined when sessions are not configured. */
function hmacKey(env: Pick<Env, "SESSION_SECRET">): Promise<CryptoKey> | undefined {
  const secret = env.SESSION_SECRET ?? "";
  if (secret.length < MIN_SECRET_LENGTH) {
    if (secret !== "") {
      console.warn(
        JSON.stringify({ event: "config", problem: "SESSION_SECRET shorter than 32 characters" }),
      );
    }
    return undefined;
  }
  if (keyCache?.secret !== secret) {
    const key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keyCache = { secret, key };
  }
  return keyCache.key;
}

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Sessions need `SESSION_SECRET`; without it login answers 503. */
export class SessionsDisabled extends AppError {
  constructor() {
    super(503, "sessions_disabled", "operator sessions are not configured (SESSION_SECRET)");
  }
}

/** A signed session token for `principal`, valid for `ttlSeconds` from `now`. */
export async function issueSession(
  env: Pick<Env, "SESSION_SECRET">,
  principal: Principal,
  now: number,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: number }> {
  const key = hmacKey(env);
  if (!key) throw new SessionsDisabled();
  const expiresAt = now + ttlSeconds * 1000;
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(12)));
  const body = `v1.${principal.keyId}.${expiresAt}.${nonce}`;
  const sig = await crypto.subtle.sign("HMAC", await key, encoder.encode(body));
  return { token: `${body}.${base64url(sig)}`, expiresAt };
}

/**
 * The session of a token: signed by `SESSION_SECRET`, not expired, and its key still configured
 * (with the key's current role). Undefined otherwise.
 */
export async function readSession(
  env: Env,
  token: string,
  now: number,
): Promise<Session | undefined> {
  const key = hmacKey(env);
  if (!key || token.length > 256) return undefined;
  const parts = token.split(".");
  if (parts.length !== 5 || parts[0] !== "v1") return undefined;
  const [, keyId = "", expires = "", , sig = ""] = parts;
  // Key ids: hex for the platform's keys (API_KEYS), base32 for issued ones; principalById decides.
  if (!/^[0-9a-z]{1,64}$/.test(keyId) || !/^\d{1,15}$/.test(expires)) return undefined;
  const signature = fromBase64url(sig);
  if (!signature) return undefined;
  const body = parts.slice(0, 4).join(".");
  // `verify` compares in constant time.
  const valid = await crypto.subtle.verify("HMAC", await key, signature, encoder.encode(body));
  const expiresAt = Number(expires);
  if (!valid || expiresAt <= now) return undefined;
  const principal = await principalById(env, keyId);
  return principal ? { principal, expiresAt } : undefined;
}

/** The session cookie of a request, if it holds a valid session. */
export async function sessionOf(c: Context<AppEnv>, now: number): Promise<Session | undefined> {
  const token = getCookie(c, SESSION_COOKIE, "host");
  return token ? readSession(c.env, token, now) : undefined;
}

/**
 * Refuses a state-changing request unless it comes from this origin: `Origin`, when the browser
 * sends it, must be the worker's own, and the `x-mec-csrf` header must be present.
 */
export function assertSameOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) {
    throw new Forbidden("cross-origin request refused");
  }
  if (c.req.header(CSRF_HEADER) === undefined) {
    throw new Forbidden(`a request made with a session must carry the ${CSRF_HEADER} header`);
  }
}

/**
 * Like `requireRole`, and also accepts the dashboard's session cookie when there is no
 * `Authorization` header. A state-changing request made with a session must pass
 * `assertSameOrigin`.
 */
export function requireRoleOrSession(...roles: Role[]) {
  const bearer = requireRole(...roles);
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.header("authorization") !== undefined) return bearer(c, next);
    const session = await sessionOf(c, Date.now());
    if (!session) throw new Unauthorized("missing or invalid API key or session");
    const { role } = session.principal;
    if (!roles.includes(role)) {
      throw new Forbidden(`a ${role} key cannot call this endpoint (needs ${roles.join(" or ")})`);
    }
    if (!SAFE_METHODS.has(c.req.method)) assertSameOrigin(c);
    await enforceRateLimit(c.env, session.principal);
    c.set("role", role);
    c.set("principal", session.principal);
    await next();
  });
}
