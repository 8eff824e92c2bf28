// The OpenAPI 3.1 document, built from the operations in worker/openapi/paths/ and the zod
// schemas they name: request schemas as their input side (defaults optional), answers as their
// output side. Shared schemas become `components.schemas` entries referenced by name.

import * as z from "zod/mini";
import { siteViewSchema } from "../../shared/fleet-schema.ts";
import { chatMessageSchema } from "../../shared/openai.ts";
import { CSRF_HEADER, SESSION_COOKIE } from "../session.ts";
import * as A from "./analytics-responses.ts";
import type { OperationDoc, ResponseDoc } from "./operation.ts";
import { ANALYTICS_OPERATIONS } from "./paths/analytics.ts";
import { DECIDE_OPERATIONS } from "./paths/decide.ts";
import { FLEET_OPERATIONS } from "./paths/fleet.ts";
import { META_OPERATIONS } from "./paths/meta.ts";
import { MONITOR_OPERATIONS } from "./paths/monitor.ts";
import { SESSION_OPERATIONS } from "./paths/session.ts";
import { TENANCY_OPERATIONS } from "./paths/tenancy.ts";
import * as R from "./responses.ts";
import * as T from "./tenancy-responses.ts";

/** Every documented operation, in the order the reference page shows them. */
export const OPERATIONS: readonly OperationDoc[] = [
  ...DECIDE_OPERATIONS,
  ...FLEET_OPERATIONS,
  ...MONITOR_OPERATIONS,
  ...ANALYTICS_OPERATIONS,
  ...TENANCY_OPERATIONS,
  ...SESSION_OPERATIONS,
  ...META_OPERATIONS,
];

export const API_VERSION = "0.1.0";

const TAGS = [
  { name: "Routing", description: "Decide where a request runs; report how it went." },
  { name: "Running", description: "Decide and run: MEC site or Bedrock, with failover." },
  { name: "Fleet", description: "MEC sites: registration, live load, drain, models." },
  { name: "Monitor", description: "What the monitor found: anomalies." },
  {
    name: "Analytics",
    description: "Windows over the rollups, the decision explorer, the live fleet, policies.",
  },
  { name: "Policy", description: "Score-weight proposals; never applied directly." },
  { name: "Tenants", description: "Tenants, their budgets and their issued API keys." },
  { name: "Session", description: "Operator login for the dashboard." },
  { name: "Service", description: "Health, this document, the MCP endpoint." },
];

/** Names of answer schemas (an unnamed one is named after its operation and status). */
const NAMED_RESPONSES: [z.ZodMiniType, string][] = [
  [R.errorBodySchema, "Error"],
  [R.targetSchema, "Target"],
  [R.routeAnswerSchema, "RouteAnswer"],
  [R.chatCompletionSchema, "ChatCompletion"],
  [R.inferAnswerSchema, "InferAnswer"],
  [R.outcomeAnswerSchema, "OutcomeAnswer"],
  [R.catalogSchema, "Catalog"],
  [siteViewSchema, "SiteView"],
  [R.fleetSchema, "Fleet"],
  [R.siteAnswerSchema, "SiteAnswer"],
  [R.siteDetailSchema, "SiteDetail"],
  [R.heartbeatAnswerSchema, "HeartbeatAnswer"],
  [R.modelLoadAnswerSchema, "ModelLoadAnswer"],
  [R.anomalySchema, "Anomaly"],
  [R.anomaliesAnswerSchema, "Anomalies"],
  [A.windowSchema, "AnalyticsWindow"],
  [A.summaryAnswerSchema, "AnalyticsSummary"],
  [A.timeseriesAnswerSchema, "AnalyticsTimeseries"],
  [A.latencyAnswerSchema, "AnalyticsLatency"],
  [A.targetsAnswerSchema, "AnalyticsTargets"],
  [A.novaAnswerSchema, "AnalyticsNova"],
  [A.analyticsAnomaliesAnswerSchema, "AnalyticsAnomalies"],
  [A.decisionsAnswerSchema, "AnalyticsDecisions"],
  [A.decisionDetailAnswerSchema, "DecisionDetail"],
  [A.fleetAnswerSchema, "AnalyticsFleet"],
  [A.siteStatusAnswerSchema, "AnalyticsSite"],
  [A.policiesAnswerSchema, "PolicyAnalytics"],
  [R.sessionAnswerSchema, "SessionAnswer"],
  [R.currentSessionAnswerSchema, "CurrentSessionAnswer"],
  [T.tenantAnswerSchema, "TenantAnswer"],
  [T.tenantsAnswerSchema, "Tenants"],
  [T.keySchema, "ApiKey"],
  [T.keysAnswerSchema, "ApiKeys"],
  [T.issuedKeySchema, "IssuedKey"],
  [T.rotatedKeySchema, "RotatedKey"],
  [R.proposalSchema, "Proposal"],
  [R.proposalsAnswerSchema, "Proposals"],
  [R.proposalAnswerSchema, "ProposalAnswer"],
  [R.approvedAnswerSchema, "ApprovedProposal"],
  [R.healthSchema, "Health"],
  [R.jsonRpcResponseSchema, "JsonRpcResponse"],
];

export const ERROR_TEXT: Record<number, string> = {
  400: "`invalid_request`: bad JSON, a schema miss, or a query past the request limits; `details` lists `{ path, message }`.",
  401: "`unauthorized`: no key, or a key that is not configured (`WWW-Authenticate: Bearer`).",
  403: "`forbidden`: a valid key of a role this endpoint does not take.",
  413: "`url_too_long`, `headers_too_large`, `payload_too_large`: the URL, the headers or a body exceed the request limits (checked on every path).",
  415: "`unsupported_media_type`: the body is not `application/json`.",
  429: "`rate_limited`: an issued key over its rate limit (`Retry-After`); platform keys are not limited.",
  500: "`internal`: a bug (logged without request content); no internals in the answer.",
};

/** Every error an operation may answer: its kind's common ones and its own. */
export function errorStatuses(op: OperationDoc): Record<number, string> {
  // The request limits run before every route: any of them may refuse a query (400) or a size.
  const errors: Record<number, string> = { 400: ERROR_TEXT[400] as string };
  errors[413] = ERROR_TEXT[413] as string;
  if (op.roles.length > 0 || op.session) errors[401] = ERROR_TEXT[401] as string;
  if (op.roles.length > 0) {
    errors[403] = `${ERROR_TEXT[403]} Takes: ${op.roles.join(", ")}.`;
    errors[429] = ERROR_TEXT[429] as string;
  }
  if (op.body) {
    errors[413] = `\`payload_too_large\`: the body exceeds ${op.bodyLimitBytes ?? 0} bytes; \`url_too_long\`, \`headers_too_large\`: the URL or the headers exceed the request limits.`;
    errors[415] = ERROR_TEXT[415] as string;
  }
  Object.assign(errors, op.errors);
  errors[500] = ERROR_TEXT[500] as string;
  for (const status of Object.keys(op.responses)) delete errors[Number(status)];
  return errors;
}

/** `/v1/sites/:id` → `/v1/sites/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

type Json = z.core.JSONSchema.BaseSchema;

function stripIds(schemas: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, { $schema: _s, $id: _i, ...rest }] of Object.entries(schemas)) out[name] = rest;
  return out;
}

function parameters(op: OperationDoc) {
  const list: Record<string, unknown>[] = [];
  for (const [where, schema] of [
    ["path", op.params],
    ["query", op.query],
  ] as const) {
    if (!schema) continue;
    const json = z.toJSONSchema(schema, { io: "input" });
    const required = new Set(json.required ?? []);
    for (const [name, prop] of Object.entries(json.properties ?? {})) {
      const example = op.example[where === "path" ? "params" : "query"]?.[name];
      list.push({
        name,
        in: where,
        required: where === "path" || required.has(name),
        schema: prop,
        ...(example === undefined ? {} : { example }),
      });
    }
  }
  for (const [name, h] of Object.entries(op.headers ?? {})) {
    const example = op.example.headers?.[name];
    list.push({
      name,
      in: "header",
      required: h.required ?? false,
      description: h.description,
      schema: { type: "string" },
      ...(example === undefined ? {} : { example }),
    });
  }
  return list;
}

/** Who may call: OpenAPI 3.1 lets a non-OAuth scheme list role names, the roles accepted. */
export function security(op: Pick<OperationDoc, "roles" | "session">) {
  const roles = [...op.roles];
  const ways: Record<string, string[]>[] = roles.length > 0 ? [{ bearerKey: roles }] : [];
  if (op.session) ways.push({ sessionCookie: roles });
  return ways;
}

function buildDocument() {
  const requests = z.registry<{ id: string }>();
  // Chat messages appear in two request bodies: one definition, referenced.
  requests.add(chatMessageSchema, { id: "ChatMessage" });
  const answers = z.registry<{ id: string }>();
  for (const [schema, id] of NAMED_RESPONSES) answers.add(schema, { id });
  const name = (registry: typeof answers, schema: z.ZodMiniType, fallback: string) => {
    const known = registry.get(schema);
    if (known) return known.id;
    registry.add(schema, { id: fallback });
    return fallback;
  };
  const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const id = pascal(op.operationId);
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.responses) as [string, ResponseDoc][]) {
      const content: Record<string, unknown> = {};
      if (r.schema) {
        const media: Record<string, unknown> = {
          schema: ref(name(answers, r.schema, `${id}${status}`)),
        };
        if (r.example !== undefined) media.example = r.example;
        content[r.contentType ?? "application/json"] = media;
      }
      if (r.stream)
        content["text/event-stream"] = { schema: { type: "string", description: r.stream } };
      const headers = Object.fromEntries(
        Object.entries(r.headers ?? {}).map(([h, description]) => [
          h,
          { description, schema: { type: "string" } },
        ]),
      );
      responses[status] = {
        description: r.description,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(Object.keys(content).length > 0 ? { content } : {}),
      };
    }
    for (const [status, description] of Object.entries(errorStatuses(op))) {
      responses[status] = {
        description,
        content: { "application/json": { schema: ref("Error") } },
      };
    }
    const body = op.body && {
      required: true,
      content: {
        "application/json": {
          schema: ref(name(requests, op.body, `${id}Request`)),
          example: op.example.body,
        },
      },
    };
    paths[openApiPath(op.path)] ??= {};
    (paths[openApiPath(op.path)] as Record<string, unknown>)[op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security: security(op),
      ...(parameters(op).length > 0 ? { parameters: parameters(op) } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  const uri = (id: string) => `#/components/schemas/${id}`;
  const schemas = {
    ...stripIds(z.toJSONSchema(requests, { io: "input", uri }).schemas),
    ...stripIds(z.toJSONSchema(answers, { io: "output", uri }).schemas),
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "mec-router",
      version: API_VERSION,
      description:
        "An inference router for mobile edge computing: for each request it decides whether it " +
        "runs on the device, at a nearby MEC site or in the cloud (Amazon Bedrock), and can run " +
        "it there with failover. Errors always have the shape " +
        '`{ "error": { "code", "message", "details"? } }`.',
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [{ url: "/", description: "This router" }],
    tags: TAGS,
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerKey: {
          type: "http",
          scheme: "bearer",
          description:
            "An API key of role `device` (phones), `operator` (fleet, monitor, policy, MCP) or " +
            "`site` (heartbeats): `Authorization: Bearer <key>`. Each operation lists the " +
            "roles it takes.",
        },
        sessionCookie: {
          type: "apiKey",
          in: "cookie",
          name: `__Host-${SESSION_COOKIE}`,
          description:
            "The dashboard's session (POST /v1/session with an operator key). Taken by the " +
            `analytics API and the operator GET routes; POST and DELETE with it need the \`${CSRF_HEADER}\` header.`,
        },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildDocument>;

let built: OpenApiDocument | undefined;

/** The document, built once per isolate. */
export function openApiDocument(): OpenApiDocument {
  built ??= buildDocument();
  return built;
}
