// Every documented operation, called with its own example against the worker (real Durable
// Objects, D1, a demo MEC site): the status must be one the document lists, a success where the
// example is meant to work, and the body must match the documented schema (JSON Schema, checked
// by @cfworker/json-schema, which runs inside workerd).

import { env, exports } from "cloudflare:workers";
import { Validator } from "@cfworker/json-schema";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { Role } from "../../worker/auth.ts";
import { OPERATIONS, openApiDocument, openApiPath } from "../../worker/openapi/document.ts";
import type { OperationDoc } from "../../worker/openapi/operation.ts";
import { EXAMPLE_PROPOSAL_IDS } from "../../worker/openapi/paths/monitor.ts";
import { waitForDecision } from "./fixtures/fleet-api.ts";

const KEYS: Record<Role, string> = {
  device: "dev-device-key",
  operator: "dev-operator-key",
  site: "dev-site-key",
};
/** The example site's endpoint, pointed at the demo MEC site the tests run. */
const SITE_ENDPOINT = `${inject("demoSiteUrl")}/v1`;
/** Examples that answer an error by design: the stateless MCP server has no stream or session. */
const EXPECTED_ERRORS: Record<string, number> = { mcpStream: 405, mcpEndSession: 405 };

interface MediaDoc {
  schema?: Record<string, unknown>;
}
type Responses = Record<string, { content?: Record<string, MediaDoc> }>;

const doc = openApiDocument();
// Component refs as `$defs`, so that one root schema resolves them all.
const defs = JSON.parse(
  JSON.stringify(doc.components.schemas).replaceAll("#/components/schemas/", "#/$defs/"),
) as Record<string, unknown>;

function validate(schema: Record<string, unknown>, body: unknown) {
  const ref = JSON.stringify(schema).replaceAll("#/components/schemas/", "#/$defs/");
  const root = { ...JSON.parse(ref), $defs: defs };
  return new Validator(root, "2020-12", false).validate(body);
}

function responsesOf(op: OperationDoc): Responses {
  const paths = doc.paths as Record<string, Record<string, { responses: Responses }>>;
  return paths[openApiPath(op.path)]?.[op.method]?.responses ?? {};
}

/** What the walk learned on the way: the session cookie, a real decision id, an issued key. */
interface Found {
  cookie?: string;
  decisionId?: string;
  keyId?: string;
}

function request(op: OperationDoc, found: Found): Request {
  let path = op.path;
  const params = { ...op.example.params };
  // The explained decision must exist: the one the /v1/route example made.
  if (op.operationId === "explainDecision" && found.decisionId) params.id = found.decisionId;
  // The key examples act on the key the create example issued.
  if (op.path.startsWith("/v1/keys/:id") && found.keyId) params.id = found.keyId;
  for (const [name, value] of Object.entries(params)) {
    path = path.replace(`:${name}`, encodeURIComponent(value));
  }
  const query = new URLSearchParams(op.example.query ?? {}).toString();
  const headers = new Headers(op.example.headers);
  const role = op.roles[0];
  if (role) headers.set("authorization", `Bearer ${KEYS[role]}`);
  // Session-only operations get the cookie that the login example set.
  else if (op.session && found.cookie) headers.set("cookie", found.cookie);
  let body = op.example.body;
  if (op.operationId === "putSite") {
    body = { ...(body as object), endpoint: SITE_ENDPOINT };
  }
  if (body !== undefined) headers.set("content-type", "application/json");
  return new Request(`http://router.test${path}${query ? `?${query}` : ""}`, {
    method: op.method.toUpperCase(),
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Registrations first and removals last, so that each example finds what it needs. */
function order(ops: readonly OperationDoc[]): OperationDoc[] {
  const rank = (op: OperationDoc) => (op.method === "put" ? 0 : op.method === "delete" ? 2 : 1);
  return [...ops].sort((a, b) => rank(a) - rank(b));
}

beforeAll(async () => {
  // The proposals the approve / reject examples name.
  const insert = env.DB.prepare(
    `INSERT INTO policy_proposals (id, created_at, model, prompt_version, summary, weights,
       rationale, confidence, status)
     VALUES (?, ?, 'operator', 'manual', '{}', ?, 'example', 0.5, 'proposed')`,
  );
  const weights = JSON.stringify({ latency: 0.4, cost: 0.3, privacy: 0.1, reliability: 0.2 });
  await env.DB.batch(
    Object.values(EXAMPLE_PROPOSAL_IDS).map((id) => insert.bind(id, Date.now(), weights)),
  );
});

describe("every documented operation, called with its example", () => {
  it("serves the document without a key", async () => {
    const res = await exports.default.fetch("http://router.test/openapi.json");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it("renders the reference page self-contained: every operation, no script, nothing fetched", async () => {
    const res = await exports.default.fetch("http://router.test/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    for (const op of OPERATIONS) expect(html).toContain(`id="op-${op.operationId}"`);
    for (const name of Object.keys(doc.components.schemas))
      expect(html).toContain(`id="schema-${name}"`);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    // Links stay on the page or on /openapi.json.
    for (const [, href] of html.matchAll(/href="([^"]*)"/g))
      expect(href).toMatch(/^(#|\/openapi\.json$)/);
    // Prose from the document is escaped, code spans aside.
    expect(html).toContain("<code>reserve: true</code>");
    expect(html).not.toContain("<key>");
  });

  it("checks bodies against the documented schemas, references resolved", () => {
    const answer = { $ref: "#/components/schemas/RouteAnswer" };
    const example = OPERATIONS.find((op) => op.operationId === "route")?.responses[200]?.example;
    expect(validate(answer, example).valid).toBe(true);
    const wrong = validate(answer, { ...(example as object), tier: "moon" });
    expect(wrong.valid).toBe(false);
    // Answers are closed: an undocumented field fails until it is documented.
    expect(validate(answer, { ...(example as object), extra: 1 }).valid).toBe(false);
  });

  it("answers a documented status and a body that matches its schema", async () => {
    const checked: string[] = [];
    const found: Found = {};
    for (const op of order(OPERATIONS)) {
      const where = `${op.method.toUpperCase()} ${op.path}`;
      if (op.operationId === "explainDecision" && found.decisionId) {
        await waitForDecision(found.decisionId);
      }
      const res = await exports.default.fetch(request(op, found));
      const setCookie = res.headers.get("set-cookie");
      if (setCookie) found.cookie = setCookie.split(";")[0];
      const responses = responsesOf(op);
      const text = await res.text();
      expect(Object.keys(responses), `${where} answered ${res.status}: ${text}`).toContain(
        String(res.status),
      );
      const expected = EXPECTED_ERRORS[op.operationId];
      if (expected) expect(res.status, where).toBe(expected);
      else expect(res.status, `${where}: ${text}`).toBeLessThan(300);
      const type = (res.headers.get("content-type") ?? "").split(";")[0] ?? "";
      const media = responses[String(res.status)]?.content;
      if (!media) {
        expect(text, `${where}: documented without a body`).toBe("");
        checked.push(where);
        continue;
      }
      const schema = media[type]?.schema;
      expect(schema, `${where}: ${type} is not documented for ${res.status}`).toBeDefined();
      const body = type === "application/json" ? JSON.parse(text) : text;
      if (op.operationId === "route")
        found.decisionId = (body as { decisionId: string }).decisionId;
      if (op.operationId === "createKey") found.keyId = (body as { id: string }).id;
      const result = validate(schema ?? {}, body);
      expect(result.errors.slice(0, 5), where).toEqual([]);
      checked.push(where);
    }
    expect(checked).toHaveLength(OPERATIONS.length);
  });
});
