// POST /v1/outcomes — a device that ran a request itself, or called a MEC site directly with the
// lease from /v1/route, says how it went: the lease is freed and the site's breaker learns.
// Object-level checks: a lease is released only for the tenant that took it (another tenant's
// lease answers like an unknown one), and the outcome event carries the caller's tenant, so it
// counts for a decision only of that same tenant (analytics join on both).

import { Hono } from "hono";
import * as z from "zod/mini";
import { catalogModel } from "../../shared/catalog.ts";
import { reportedOutcome } from "../../shared/events.ts";
import { requireRole } from "../auth.ts";
import { InvalidRequest, NotFound } from "../errors.ts";
import { fleetSource } from "../fleet/live-fleet-source.ts";
import { siteOfLease, siteStub } from "../fleet/site-stub.ts";
import { sendEvents } from "../monitor/producer.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson } from "../validate.ts";

export const outcomesApp = new Hono<AppEnv>();

export const outcomeSchema = z.strictObject({
  decisionId: z.optional(z.uuid()),
  leaseId: z.optional(z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}\.[0-9a-f-]{36}$/))),
  siteId: z.optional(z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/))),
  /** The catalog model that ran (for history); any other name is refused, never stored. */
  model: z.optional(
    z
      .string()
      .check(
        z.refine(
          (m) => catalogModel(m) !== undefined,
          "expected a catalog model id (GET /v1/catalog)",
        ),
      ),
  ),
  ok: z.boolean(),
  /** The whole call. */
  latencyMs: z.optional(z.number().check(z.gte(0), z.lte(3_600_000))),
  /** Time to first token, when streamed; the breaker judges slow calls by it. */
  ttftMs: z.optional(z.number().check(z.gte(0), z.lte(3_600_000))),
  errorClass: z.optional(z.enum(["timeout", "connect", "http_4xx", "http_5xx", "stream", "other"])),
});

outcomesApp.post("/", limitBody(), requireRole("device", "operator"), async (c) => {
  const body = await readJson(c, outcomeSchema);
  const outcome = {
    ok: body.ok,
    ...(body.latencyMs === undefined ? {} : { latencyMs: body.latencyMs }),
    ...(body.ttftMs === undefined ? {} : { ttftMs: body.ttftMs }),
    // A device's timeout of a request that waited in the site's queue says the queue was long,
    // not that the site failed (shared/queued-outcome.ts).
    ...(body.errorClass === "timeout" ? { timedOut: true } : {}),
  };
  const { tenantId } = c.get("principal");
  let released = false;
  if (body.leaseId) {
    const site = siteOfLease(body.leaseId) as string;
    ({ released } = await siteStub(c.env, site).release(body.leaseId, outcome, tenantId));
  } else if (body.siteId) {
    if (!(await siteStub(c.env, body.siteId).reportOutcome(outcome))) {
      throw new NotFound(`no site "${body.siteId}" is registered`);
    }
  } else if (!body.decisionId) {
    throw new InvalidRequest("say what the outcome is about", [
      { path: "leaseId", message: "give leaseId, siteId or decisionId" },
    ]);
  }
  // A failure may have opened a breaker: re-read the fleet before routing again here.
  if (!body.ok) fleetSource(c.env).invalidate();
  if (body.decisionId) {
    const siteId = body.siteId ?? (body.leaseId ? siteOfLease(body.leaseId) : undefined);
    sendEvents(c.env, c.executionCtx, [
      reportedOutcome({
        decisionId: body.decisionId,
        time: Date.now(),
        tier: siteId ? "mec" : "device",
        target: siteId ? `site:${siteId}` : "device",
        model: body.model ?? "auto",
        ok: body.ok,
        latencyMs: body.latencyMs ?? 0,
        errorClass: body.errorClass,
        tenant: tenantId,
      }),
    ]);
  }
  return c.json({ accepted: true, released }, 202);
});
