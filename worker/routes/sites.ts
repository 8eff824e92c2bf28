// Fleet API: register / update / drain / remove MEC sites, their heartbeats and model residency.
// The fleet is the platform's, shared by every tenant: changing it takes a platform operator key;
// any operator key may read it (it holds no tenant's data). An issued site key heartbeats only
// its own site.

import { Hono } from "hono";
import * as z from "zod/mini";
import { siteRegistrationSchema, siteUrlAllowed } from "../../shared/fleet-schema.ts";
import { heartbeatSchema, reportFromHeartbeat } from "../../shared/heartbeat.ts";
import { notBuiltinProperty } from "../../shared/model-id.ts";
import { requirePlatform, requireRole } from "../auth.ts";
import { AppError, Forbidden, InvalidRequest, NotFound } from "../errors.ts";
import { fleetSource } from "../fleet/live-fleet-source.ts";
import { directoryStub, siteStub } from "../fleet/site-stub.ts";
import { requireRoleOrSession } from "../session.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson, toFieldIssues } from "../validate.ts";

export const sitesApp = new Hono<AppEnv>();

/** The `:id` of every site route (and the MCP drain tools' input). */
export const siteParamsSchema = z.strictObject({
  id: z
    .string()
    .check(
      z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "expected a lower-case slug of [a-z0-9-], ≤ 63 chars"),
    ),
});
export const registrationBody = z.extend(siteRegistrationSchema, { id: z.optional(z.string()) });
export const modelBody = z.strictObject({
  model: z.string().check(z.minLength(1), z.maxLength(64), notBuiltinProperty),
});

function siteId(raw: string): string {
  const parsed = siteParamsSchema.safeParse({ id: raw });
  if (!parsed.success) {
    throw new InvalidRequest("invalid site id", toFieldIssues(parsed.error.issues));
  }
  return parsed.data.id;
}

function unknownSite(id: string): NotFound {
  return new NotFound(`no site "${id}" is registered`);
}

sitesApp.put("/:id", limitBody(), requireRole("operator"), requirePlatform, async (c) => {
  const id = siteId(c.req.param("id"));
  const body = await readJson(c, registrationBody);
  const allowHttp = c.env.ALLOW_HTTP_SITES === "true";
  for (const field of ["endpoint", "controlEndpoint"] as const) {
    const url = body[field];
    if (url !== undefined && !siteUrlAllowed(url, allowHttp)) {
      throw new InvalidRequest("site endpoints must be https", [
        { path: field, message: "expected an https URL (plain http only with ALLOW_HTTP_SITES)" },
      ]);
    }
  }
  if (body.id !== undefined && body.id !== id) {
    throw new InvalidRequest("id in the body differs from the path", [
      { path: "id", message: `expected "${id}" or no id` },
    ]);
  }
  const view = await siteStub(c.env, id, body.location).register({ ...body, id });
  fleetSource(c.env).invalidate();
  return c.json({ site: view });
});

sitesApp.get("/", requireRoleOrSession("operator"), async (c) => {
  const snap = await directoryStub(c.env).snapshot();
  const sites = [...snap.sites].sort((a, b) => (a.id < b.id ? -1 : 1));
  return c.json({ version: snap.version, sites, services: snap.services });
});

sitesApp.get("/:id", requireRoleOrSession("operator"), async (c) => {
  const id = siteId(c.req.param("id"));
  const detail = await siteStub(c.env, id).describe();
  if (!detail) throw unknownSite(id);
  return c.json(detail);
});

sitesApp.post("/:id/heartbeat", limitBody(), requireRole("site"), async (c) => {
  const id = siteId(c.req.param("id"));
  const bound = c.get("principal").siteId;
  if (bound !== undefined && bound !== id) {
    throw new Forbidden(`this site key may only heartbeat site "${bound}"`);
  }
  const hb = await readJson(c, heartbeatSchema);
  const view = await siteStub(c.env, id).heartbeat(reportFromHeartbeat(hb));
  if (!view) throw unknownSite(id);
  return c.json({ ok: true, healthy: view.healthy, breaker: view.breaker });
});

/** Drains a site (no new work; in-flight work finishes) or resumes it. */
export async function setDraining(env: Env, rawId: string, draining: boolean) {
  const id = siteId(rawId);
  const view = await siteStub(env, id).drain(draining);
  if (!view) throw unknownSite(id);
  fleetSource(env).invalidate();
  return { site: view };
}

sitesApp.post("/:id/drain", requireRole("operator"), requirePlatform, async (c) =>
  c.json(await setDraining(c.env, c.req.param("id"), true)),
);

sitesApp.post("/:id/resume", requireRole("operator"), requirePlatform, async (c) =>
  c.json(await setDraining(c.env, c.req.param("id"), false)),
);

sitesApp.delete("/:id", requireRole("operator"), requirePlatform, async (c) => {
  const id = siteId(c.req.param("id"));
  if (!(await siteStub(c.env, id).remove())) throw unknownSite(id);
  fleetSource(c.env).invalidate();
  return c.body(null, 204);
});

/** Asks the site's cache agent to make a model resident (evicting as its policy says). */
sitesApp.post("/:id/models", limitBody(), requireRole("operator"), requirePlatform, async (c) => {
  const id = siteId(c.req.param("id"));
  const { model } = await readJson(c, modelBody);
  const stub = siteStub(c.env, id);
  if (!(await stub.describe())) throw unknownSite(id);
  const result = await stub.ensureModel(model);
  if (!result.ok) throw new AppError(409, "model_not_loaded", result.reason);
  return c.json(result);
});
