// Dashboard login (see worker/session.ts):
//   POST   /v1/session  {"key": "<operator key>"} → the session cookie; 401 bad key, 403 not operator
//   GET    /v1/session  the current session, or `{"session": null}` (200: a page asks without an
//                       error, which browsers would log)
//   DELETE /v1/session  clears the cookie (204)
// POST and DELETE must come from this origin with the `x-mec-csrf` header. Answers are never
// cached.

import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import * as z from "zod/mini";
import { authenticate } from "../auth.ts";
import { Forbidden, Unauthorized } from "../errors.ts";
import {
  assertSameOrigin,
  issueSession,
  SESSION_COOKIE,
  type Session,
  sessionOf,
  sessionTtlSeconds,
} from "../session.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson } from "../validate.ts";

export const sessionApp = new Hono<AppEnv>();

export const loginBodySchema = z.strictObject({
  key: z.string().check(z.minLength(1), z.maxLength(512)),
});

/** What the dashboard needs to know of its session: whose key, and so which views it may show. */
function view(s: Session) {
  const { keyId, role, tenantId, platform } = s.principal;
  return { session: { keyId, role, tenantId, platform, expiresAt: s.expiresAt } };
}

sessionApp.use("*", async (c, next) => {
  await next();
  c.header("cache-control", "no-store");
});

sessionApp.post("/", limitBody(4 * 1024), async (c) => {
  assertSameOrigin(c);
  const { key } = await readJson(c, loginBodySchema);
  const principal = await authenticate(c.env, key);
  if (!principal) throw new Unauthorized("invalid API key");
  if (principal.role !== "operator") {
    throw new Forbidden(`a ${principal.role} key cannot open a dashboard session (needs operator)`);
  }
  const ttl = sessionTtlSeconds(c.env);
  const { token, expiresAt } = await issueSession(c.env, principal, Date.now(), ttl);
  setCookie(c, SESSION_COOKIE, token, {
    prefix: "host",
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "Strict",
    maxAge: ttl,
  });
  console.log(JSON.stringify({ event: "session_login", keyId: principal.keyId, expiresAt }));
  return c.json(view({ principal, expiresAt }));
});

sessionApp.get("/", async (c) => {
  const session = await sessionOf(c, Date.now());
  return c.json(session ? view(session) : { session: null });
});

sessionApp.delete("/", async (c) => {
  assertSameOrigin(c);
  deleteCookie(c, SESSION_COOKIE, { prefix: "host", path: "/", secure: true });
  return c.body(null, 204);
});
