// The MCP tools operators' assistants call. Each takes the same zod schema as its HTTP route and
// runs the same function; a tool is a name, a description, that schema and a few lines.

import type { Context } from "hono";
import * as z from "zod/mini";
import { decisionIdParam, siteIdParam, windowQuerySchema } from "../../shared/analytics-api.ts";
import { KEY_ID_PATTERN } from "../../shared/api-key.ts";
import { routeRequestSchema } from "../../shared/route-request.ts";
import { explainDecision } from "../analytics/decisions.ts";
import { fleetStatus, siteStatus } from "../analytics/fleet.ts";
import { summary } from "../analytics/summary.ts";
import { assertPlatform, type Principal } from "../auth.ts";
import { decideRequest, routeAnswer } from "../decide-request.ts";
import { InvalidRequest, NotFound } from "../errors.ts";
import {
  decisionDetailAnswerSchema,
  fleetAnswerSchema,
  siteStatusAnswerSchema,
  summaryAnswerSchema,
} from "../openapi/analytics-responses.ts";
import {
  anomaliesAnswerSchema,
  proposalAnswerSchema,
  routeAnswerSchema,
  siteAnswerSchema,
} from "../openapi/responses.ts";
import {
  issuedKeySchema,
  keySchema,
  keysAnswerSchema,
  rotatedKeySchema,
} from "../openapi/tenancy-responses.ts";
import { FLEET_WIDE_ONLY, windowOf } from "../routes/analytics.ts";
import { anomaliesQuerySchema, recentAnomalies } from "../routes/anomalies.ts";
import {
  createKey,
  createSchema as createKeySchema,
  listKeys,
  listQuerySchema as listKeysSchema,
  revokeKey,
  rotateKey,
  rotateSchema,
} from "../routes/keys.ts";
import { createProposal, proposalBodySchema } from "../routes/proposals.ts";
import { setDraining, siteParamsSchema } from "../routes/sites.ts";
import { readScope } from "../tenancy/scope.ts";
import type { AppEnv } from "../types.ts";
import { toFieldIssues } from "../validate.ts";

/** What a tool runs with: the HTTP request that carried the call, and who made it. */
export interface ToolContext {
  c: Context<AppEnv>;
  principal: Principal;
}

/** MCP's behaviour hints for clients (they ask before running a tool that changes things). */
export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface Tool {
  name: string;
  title: string;
  description: string;
  input: z.ZodMiniType;
  /** The answer: the HTTP route's documented answer schema (worker/openapi/responses.ts). */
  output: z.ZodMiniType;
  annotations: ToolAnnotations;
  /** Validates the arguments with `input` (400 `invalid_request` with field paths) and runs. */
  call(ctx: ToolContext, args: unknown): Promise<object>;
}

export function defineTool<S extends z.ZodMiniType>(def: {
  name: string;
  title: string;
  description: string;
  input: S;
  output: z.ZodMiniType;
  annotations: ToolAnnotations;
  run: (ctx: ToolContext, input: z.output<S>) => Promise<object>;
}): Tool {
  const { run, ...rest } = def;
  return {
    ...rest,
    async call(ctx, args) {
      const parsed = z.safeParse(def.input, args ?? {});
      if (!parsed.success) {
        throw new InvalidRequest(
          "tool input failed validation",
          toFieldIssues(parsed.error.issues),
        );
      }
      return run(ctx, parsed.data);
    },
  };
}

const READ = { readOnlyHint: true, openWorldHint: false } as const;
const noInput = z.strictObject({});

const keyId = z.strictObject({
  id: z.string().check(z.regex(KEY_ID_PATTERN, "expected a key id (16 base32 characters)")),
});

/** `/v1/route`'s body without `reserve`: a dry run never takes a slot. */
export const dryRunSchema = z.omit(routeRequestSchema, { reserve: true });

export const TOOLS: readonly Tool[] = [
  defineTool({
    name: "route_dry_run",
    title: "Route dry run",
    description:
      "Decide where a request would run (device, MEC site or cloud) without running it: the " +
      "POST /v1/route body without `reserve`. Answers the full decision: tier, target, model, " +
      "predictions, plan, rationale and every rejected candidate with its reason. Takes no " +
      "slot, tells no site to expect it, and is not recorded in the history.",
    input: dryRunSchema,
    output: routeAnswerSchema,
    annotations: READ,
    run: async ({ c }, input) => {
      const decided = await decideRequest(c, input, { record: false });
      return routeAnswer(decided, decided.decision);
    },
  }),
  defineTool({
    name: "fleet_status",
    title: "Fleet status",
    description:
      "Every MEC site (health, breaker, load and utilisation, resident models, location) with " +
      "counts, and the cloud service breakers, as GET /v1/analytics/fleet.",
    input: noInput,
    output: fleetAnswerSchema,
    annotations: READ,
    run: ({ c }) => fleetStatus(c.env, Date.now()),
  }),
  defineTool({
    name: "site_status",
    title: "Site status",
    description:
      "One MEC site in depth, as GET /v1/analytics/fleet/{siteId}: its live view, its agent " +
      "(leases, last probe, breaker, model residency and demand) and its last 15 minutes " +
      "(requests, errors, SLA, latency percentiles).",
    input: z.strictObject({ siteId: siteIdParam }),
    output: siteStatusAnswerSchema,
    annotations: READ,
    run: async ({ c }, { siteId }) => {
      const status = await siteStatus(c.env, siteId, Date.now());
      if (!status) throw new NotFound(`no site "${siteId}" is registered`);
      return status;
    },
  }),
  defineTool({
    name: "drain_site",
    title: "Drain a site",
    description:
      "Stop sending new work to a MEC site (in-flight work finishes), as POST " +
      "/v1/sites/{id}/drain. Undo with undrain_site.",
    input: siteParamsSchema,
    output: siteAnswerSchema,
    annotations: { destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: ({ c, principal }, { id }) => {
      assertPlatform(principal);
      return setDraining(c.env, id, true);
    },
  }),
  defineTool({
    name: "undrain_site",
    title: "Undrain a site",
    description: "Send new work to a drained MEC site again, as POST /v1/sites/{id}/resume.",
    input: siteParamsSchema,
    output: siteAnswerSchema,
    annotations: { destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: ({ c, principal }, { id }) => {
      assertPlatform(principal);
      return setDraining(c.env, id, false);
    },
  }),
  defineTool({
    name: "list_anomalies",
    title: "List anomalies",
    description:
      "Latency and error-rate anomalies the monitor found, newest first, as GET /v1/anomalies: " +
      "`from` / `to` are epoch milliseconds as strings (default the last 24 h), `target` is " +
      "site:<id>, cloud:<region> or device, `limit` 1–500 (default 100).",
    input: anomaliesQuerySchema,
    output: anomaliesAnswerSchema,
    annotations: READ,
    run: ({ c }, query) => recentAnomalies(c.env.DB, query),
  }),
  defineTool({
    name: "explain_decision",
    title: "Explain a decision",
    description:
      "One past decision by id (the `decisionId` of an answer or of the decision explorer), as " +
      "GET /v1/analytics/decisions/{id}: what was asked (features, never content), the factors " +
      "weighed, every rejected candidate and why, the plan, and each outcome with its attempts.",
    input: z.strictObject({ id: decisionIdParam }),
    output: decisionDetailAnswerSchema,
    annotations: READ,
    run: async ({ c, principal }, { id }) => {
      const detail = await explainDecision(c.env.DB, id, readScope(principal));
      if (!detail)
        throw new NotFound(`no decision ${id} (unknown, or older than the raw retention)`);
      return detail;
    },
  }),
  defineTool({
    name: "analytics_summary",
    title: "Analytics summary",
    description:
      "Totals over a window, as GET /v1/analytics/summary: requests, outcomes, errors, SLA " +
      "attainment, cost and failovers in total and per tier, latency and time-to-first-token " +
      "percentiles, Nova calls and cost, anomalies. `range` is 15m, 1h (default), 6h, 24h or " +
      "7d; or `from` / `to` in epoch ms (at most 7 days).",
    input: windowQuerySchema,
    output: summaryAnswerSchema,
    annotations: READ,
    run: ({ c, principal }, query) => {
      assertPlatform(principal, FLEET_WIDE_ONLY);
      return summary(c.env.DB, windowOf(query));
    },
  }),
  defineTool({
    name: "propose_policy_change",
    title: "Propose a policy change",
    description:
      "Propose score weights (latency, cost, privacy, reliability, each 0–1) with a rationale, " +
      "as POST /v1/policy/proposals. The proposal is stored for an operator to approve or " +
      "reject; nothing is applied, and an approved one runs only as a 10 % A/B experiment.",
    input: proposalBodySchema,
    output: proposalAnswerSchema,
    annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: false },
    run: ({ c, principal }, body) => {
      assertPlatform(principal);
      return createProposal(c.env.DB, body, principal);
    },
  }),
  defineTool({
    name: "list_keys",
    title: "List API keys",
    description:
      "API keys of the caller's tenant (a platform key: every tenant's, or `tenant`'s), newest " +
      "first, as GET /v1/keys: prefix, scope, site, status, creation, expiry, revocation and " +
      "rotation. Never a secret. `limit` 1–500 (default 100), as a string.",
    input: listKeysSchema,
    output: keysAnswerSchema,
    annotations: READ,
    run: ({ c, principal }, query) => listKeys(c.env, principal, query),
  }),
  defineTool({
    name: "create_key",
    title: "Create an API key",
    description:
      "Issue a key, as POST /v1/keys: `scope` device, operator or site; `tenant` (default the " +
      "caller's; platform keys may give any tenant); `site` for a site key (platform only); " +
      "optional `name` and `expiresAt` (epoch ms). The answer holds the key's secret, shown " +
      "this once and stored nowhere: hand it to whoever needs it and do not keep it.",
    input: createKeySchema,
    output: issuedKeySchema,
    annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: false },
    run: ({ c, principal }, body) => createKey(c.env, principal, body),
  }),
  defineTool({
    name: "rotate_key",
    title: "Rotate an API key",
    description:
      "Replace key `id` with a new one, as POST /v1/keys/{id}/rotate: the old key keeps " +
      "working for `overlapSeconds` (default 86400, 0 = stop now, at most 30 days). The answer " +
      "holds the new key's secret, shown this once.",
    input: z.extend(keyId, rotateSchema.shape),
    output: rotatedKeySchema,
    annotations: { destructiveHint: true, idempotentHint: false, openWorldHint: false },
    run: ({ c, principal }, { id, ...body }) => rotateKey(c.env, principal, id, body),
  }),
  defineTool({
    name: "revoke_key",
    title: "Revoke an API key",
    description:
      "Stop key `id` now, as POST /v1/keys/{id}/revoke (in force in every edge isolate within " +
      "30 s). Idempotent.",
    input: keyId,
    output: keySchema,
    annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: ({ c, principal }, { id }) => revokeKey(c.env, principal, id),
  }),
];
