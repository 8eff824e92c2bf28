// The MCP endpoint through the official SDK's client: its Streamable HTTP transport is given the
// worker's own fetch (`exports.default.fetch`), so every call crosses the real /mcp route, the
// real Durable Objects and D1.

import { env, exports } from "cloudflare:workers";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker-provider.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEVICE_KEY,
  describeSite,
  expectError,
  OPERATOR_KEY,
  register,
  route,
  routeBody,
  site,
  waitForDecision,
} from "./fixtures/fleet-api.ts";

const MUNICH = { lat: 48.14, lon: 11.58 };
const VIENNA = { lat: 48.21, lon: 16.37 };
const TOOL_NAMES = [
  "analytics_summary",
  "create_key",
  "drain_site",
  "explain_decision",
  "fleet_status",
  "list_anomalies",
  "list_keys",
  "propose_policy_change",
  "revoke_key",
  "rotate_key",
  "route_dry_run",
  "site_status",
  "undrain_site",
];

function workerFetch(url: string | URL | Request, init?: RequestInit) {
  return exports.default.fetch(url, init);
}

async function connect(key: string): Promise<Client> {
  // cfworker's validator: Ajv compiles with `new Function`, which workerd forbids.
  const client = new Client(
    { name: "mcp-test", version: "1.0.0" },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  const transport = new StreamableHTTPClientTransport(new URL("http://router.test/mcp"), {
    fetch: workerFetch,
    requestInit: { headers: { authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return client;
}

interface ToolAnswer {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  return (await client.callTool({ name, arguments: args })) as ToolAnswer;
}

/** A successful call's result; its text content says the same as its structured content. */
async function ok<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
  const res = await call(name, args);
  expect(res.isError ?? false, JSON.stringify(res.content)).toBe(false);
  expect(JSON.parse(res.content[0]?.text ?? "null")).toEqual(res.structuredContent);
  return res.structuredContent as T;
}

/** A failed call's error body: the HTTP API's `{ error: { code, message, details } }`. */
async function toolError(name: string, args: Record<string, unknown>, code: string) {
  const res = await call(name, args);
  expect(res.isError).toBe(true);
  const body = JSON.parse(res.content[0]?.text ?? "null") as {
    error: { code: string; message: string; details?: unknown };
  };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

const WEIGHTS = { latency: 0.5, cost: 0.3, privacy: 0.1, reliability: 0.1 };

/** An operator-key HTTP call to the worker. */
function http(method: string, path: string, body: unknown) {
  return exports.default.fetch(`http://router.test${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATOR_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

let client: Client;
/** A decision made through POST /v1/route and stored by the monitor. */
let realDecisionId = "";

beforeAll(async () => {
  await register(site("mcp-munich", "DE", MUNICH), site("mcp-vienna", "AT", VIENNA));
  client = await connect(OPERATOR_KEY);
  // Listing first makes the client check every structured answer against its tool's
  // outputSchema (the HTTP route's documented answer schema).
  await client.listTools();
});

afterAll(async () => {
  await client?.close();
});

describe("MCP: tools", () => {
  it("lists every tool with a JSON Schema input derived from the HTTP API's zod schema", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
    for (const t of tools) {
      expect(t.description?.length).toBeGreaterThan(20);
      expect(t.inputSchema.type).toBe("object");
      expect(t.outputSchema?.type).toBe("object");
    }
    const dryRun = tools.find((t) => t.name === "route_dry_run");
    expect(Object.keys(dryRun?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["task", "constraints", "device", "network", "location"]),
    );
    expect(dryRun?.inputSchema.properties).not.toHaveProperty("reserve");
    expect(dryRun?.inputSchema.required).toEqual(["task", "constraints"]);
    expect(dryRun?.annotations?.readOnlyHint).toBe(true);
    // The fields' descriptions travel with the schema, for the assistant to read.
    const constraints = dryRun?.inputSchema.properties?.constraints as {
      properties: Record<string, { description?: string }>;
    };
    expect(constraints.properties.latencySlaMs?.description).toMatch(/latency/);
    expect(constraints.properties.privacy?.description).toMatch(/never the cloud/);
    const site = tools.find((t) => t.name === "site_status");
    expect(site?.inputSchema.properties?.siteId).toMatchObject({ type: "string" });
  });

  it("fleet_status and site_status answer what the analytics fleet routes answer", async () => {
    const fleet = await ok<{ sites: { id: string }[]; counts: { sites: number } }>("fleet_status");
    expect(fleet.sites.map((s) => s.id)).toEqual(
      expect.arrayContaining(["mcp-munich", "mcp-vienna"]),
    );
    expect(fleet.counts.sites).toBe(fleet.sites.length);
    const status = await ok<{ site: { id: string }; agent: { leases: number } }>("site_status", {
      siteId: "mcp-munich",
    });
    expect(status.site.id).toBe("mcp-munich");
    expect(status.agent.leases).toBe((await describeSite("mcp-munich")).leases);
  });

  it("route_dry_run decides like /v1/route but takes no lease and records nothing", async () => {
    const { reserve: _reserve, ...body } = routeBody("AT", VIENNA);
    const d = await ok<{ decisionId: string; tier: string; target: { siteId?: string } }>(
      "route_dry_run",
      body,
    );
    expect(d.tier).toBe("mec");
    expect(d.target.siteId).toBe("mcp-vienna");
    expect((await describeSite("mcp-vienna")).leases).toBe(0);
    // A real decision made after it reaches D1 through the queue; the dry run never does.
    const real = await route(routeBody("AT", VIENNA));
    await waitForDecision(real.decisionId);
    const dry = await env.DB.prepare("SELECT 1 FROM decisions WHERE event_id = ?")
      .bind(d.decisionId)
      .first();
    expect(dry).toBeNull();
    realDecisionId = real.decisionId;
  });

  it("explain_decision explains a recorded decision; analytics_summary counts it", async () => {
    const explained = await ok<{
      decision: { id: string; target: string; rationale: unknown[]; rejected: unknown[] };
    }>("explain_decision", { id: realDecisionId });
    expect(explained.decision).toMatchObject({ id: realDecisionId, target: "site:mcp-vienna" });
    expect(explained.decision.rationale.length).toBeGreaterThan(0);
    const summary = await ok<{ window: { points: number }; totals: { decisions: number } }>(
      "analytics_summary",
      { range: "1h" },
    );
    expect(summary.window.points).toBeGreaterThan(0);
    expect(summary.totals.decisions).toBeGreaterThanOrEqual(1);
  });

  it("drain_site and undrain_site take a site out of rotation and back", async () => {
    const drained = await ok<{ site: { id: string; draining: boolean } }>("drain_site", {
      id: "mcp-munich",
    });
    expect(drained.site).toMatchObject({ id: "mcp-munich", draining: true });
    const { reserve: _r, ...body } = routeBody("DE", MUNICH);
    const refused = await toolError("route_dry_run", body, "unavailable");
    expect(JSON.stringify(refused.details)).toContain("site:mcp-munich");
    const back = await ok<{ site: { draining: boolean } }>("undrain_site", { id: "mcp-munich" });
    expect(back.site.draining).toBe(false);
    expect((await describeSite("mcp-munich")).view.draining).toBe(false);
  });

  it("list_anomalies reads the monitor's anomalies with the HTTP query's filters", async () => {
    const minute = Date.now() - 120_000;
    await env.DB.prepare(
      `INSERT INTO anomalies (id, detected_at, minute, kind, tier, target, model, metric, observed,
         severity, resolved_at)
       VALUES ('mcp-a1', ?1, ?2, 'shift', 'mec', 'site:mcp-munich', 'llama-3.2-3b', 'latency',
         900, 'high', NULL)`,
    )
      .bind(minute + 1000, minute)
      .run();
    const res = await ok<{ anomalies: { id: string; target: string }[] }>("list_anomalies", {
      target: "site:mcp-munich",
      from: String(minute - 1),
    });
    expect(res.anomalies.map((a) => a.id)).toEqual(["mcp-a1"]);
    const none = await ok<{ anomalies: unknown[] }>("list_anomalies", {
      target: "site:mcp-vienna",
    });
    expect(none.anomalies).toEqual([]);
  });

  it("propose_policy_change stores a proposal and applies nothing", async () => {
    const weights = WEIGHTS;
    const res = await ok<{ proposal: { id: string; status: string; weights: unknown } }>(
      "propose_policy_change",
      { weights, rationale: "latency first during the evening peak", confidence: 0.7 },
    );
    expect(res.proposal).toMatchObject({ status: "proposed", weights });
    const row = await env.DB.prepare(
      "SELECT status, rationale, confidence FROM policy_proposals WHERE id = ?",
    )
      .bind(res.proposal.id)
      .first();
    expect(row).toEqual({
      status: "proposed",
      rationale: "latency first during the evening peak",
      confidence: 0.7,
    });
  });
});

describe("MCP: keys", () => {
  /** A device key's answer from /v1/route: 200 while it works, 401 once it does not. */
  async function routeWith(key: string): Promise<number> {
    const res = await exports.default.fetch("http://router.test/v1/route", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(routeBody("DE", MUNICH)),
    });
    return res.status;
  }

  it("create_key, list_keys, rotate_key and revoke_key manage a tenant's keys", async () => {
    expect((await http("POST", "/v1/tenants", { id: "mcp-keys", name: "MCP keys" })).status).toBe(
      201,
    );
    const created = await ok<{ key: string; id: string; prefix: string; status: string }>(
      "create_key",
      { tenant: "mcp-keys", scope: "device", name: "phone app" },
    );
    expect(created.key.startsWith(`${created.prefix}_`)).toBe(true);
    expect(created.status).toBe("active");
    expect(await routeWith(created.key)).toBe(200);

    const listed = await ok<{ keys: { id: string; prefix: string }[] }>("list_keys", {
      tenant: "mcp-keys",
    });
    expect(listed.keys.map((k) => k.id)).toEqual([created.id]);
    // Lists never carry a secret.
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const rotated = await ok<{ key: string; id: string; replaces: { id: string } }>("rotate_key", {
      id: created.id,
      overlapSeconds: 0,
    });
    expect(rotated.replaces.id).toBe(created.id);
    expect(await routeWith(rotated.key)).toBe(200);
    expect(await routeWith(created.key)).toBe(401);
    await toolError("rotate_key", { id: created.id }, "conflict");

    const revoked = await ok<{ status: string }>("revoke_key", { id: rotated.id });
    expect(revoked.status).toBe("revoked");
    expect(await routeWith(rotated.key)).toBe(401);
    // Idempotent.
    expect((await ok<{ status: string }>("revoke_key", { id: rotated.id })).status).toBe("revoked");
  });

  it("refuses bad key tool input with field paths, and unknown keys with 404", async () => {
    const bad = await toolError("create_key", { scope: "admin" }, "invalid_request");
    expect(JSON.stringify(bad.details)).toContain("scope");
    await toolError("revoke_key", { id: "not-a-key" }, "invalid_request");
    await toolError("revoke_key", { id: "aaaaaaaaaaaaaaaa" }, "not_found");
  });
});

describe("MCP: errors", () => {
  it("refuses bad input with the HTTP API's error body and field paths", async () => {
    const bad = await toolError("site_status", { siteId: "Not A Slug" }, "invalid_request");
    expect(bad.details).toEqual([{ path: "siteId", message: expect.any(String) }]);
    const window = await toolError("analytics_summary", { range: "2y" }, "invalid_request");
    expect((window.details as { path: string }[]).map((d) => d.path)).toEqual(["range"]);
    const route = await toolError(
      "route_dry_run",
      { task: { modality: "smell" }, constraints: {}, reserve: true },
      "invalid_request",
    );
    const paths = (route.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(["task.modality", "constraints.latencySlaMs", "(body)"]),
    );
    const weights = await toolError(
      "propose_policy_change",
      { weights: { latency: 2 }, rationale: "x" },
      "invalid_request",
    );
    expect((weights.details as { path: string }[]).map((d) => d.path)).toEqual(
      expect.arrayContaining(["weights.latency", "weights.cost"]),
    );
  });

  it("answers domain errors as the HTTP API does", async () => {
    await toolError("site_status", { siteId: "mcp-nowhere" }, "not_found");
    await toolError("explain_decision", { id: crypto.randomUUID() }, "not_found");
    await toolError("drain_site", { id: "mcp-nowhere" }, "not_found");
    const infeasible = await toolError(
      "route_dry_run",
      {
        task: { modality: "text" },
        constraints: { latencySlaMs: 5_000, privacy: "strict", dataResidency: ["JP"] },
        network: { type: "offline" },
        location: MUNICH,
      },
      "infeasible",
    );
    expect(infeasible.details).toHaveProperty("rejected");
  });

  it("refuses a tenant's operator key what its HTTP routes refuse it", async () => {
    const tenant = await http("POST", "/v1/tenants", { id: "mcp-tenant", name: "MCP tenant" });
    expect(tenant.status).toBe(201);
    const issued = await http("POST", "/v1/keys", { tenant: "mcp-tenant", scope: "operator" });
    expect(issued.status).toBe(201);
    const { key } = (await issued.json()) as { key: string };
    const tenantClient = await connect(key);
    try {
      const as = async (name: string, args: Record<string, unknown>, code: string) => {
        const res = (await tenantClient.callTool({ name, arguments: args })) as ToolAnswer;
        expect(res.isError, name).toBe(true);
        expect(JSON.parse(res.content[0]?.text ?? "null").error.code, name).toBe(code);
      };
      await as("drain_site", { id: "mcp-munich" }, "forbidden");
      await as("analytics_summary", { range: "1h" }, "forbidden");
      await as("propose_policy_change", { weights: WEIGHTS, rationale: "x" }, "forbidden");
      // Another tenant's decision does not exist for it.
      await as("explain_decision", { id: realDecisionId }, "not_found");
      // The shared fleet is open to any operator.
      const fleet = (await tenantClient.callTool({
        name: "fleet_status",
        arguments: {},
      })) as ToolAnswer;
      expect(fleet.isError ?? false).toBe(false);
    } finally {
      await tenantClient.close();
    }
    expect((await describeSite("mcp-munich")).view.draining).toBe(false);
  });

  it("treats an unknown tool as a protocol error", async () => {
    await expect(client.callTool({ name: "delete_everything", arguments: {} })).rejects.toThrow(
      /unknown tool/,
    );
  });

  it("needs an operator key: 401 without one, 403 for another role", async () => {
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "curl", version: "1" },
      },
    };
    const headers = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    const post = (extra: Record<string, string>) =>
      exports.default.fetch("http://router.test/mcp", {
        method: "POST",
        headers: { ...headers, ...extra },
        body: JSON.stringify(init),
      });
    const none = await post({});
    await expectError(none, 401, "unauthorized");
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectError(await post({ authorization: "Bearer wrong-key" }), 401, "unauthorized");
    await expectError(await post({ authorization: `Bearer ${DEVICE_KEY}` }), 403, "forbidden");
    await expect(connect(DEVICE_KEY)).rejects.toThrow(/forbidden/);
    const okRes = await post({ authorization: `Bearer ${OPERATOR_KEY}` });
    expect(okRes.status).toBe(200);
    expect(((await okRes.json()) as { result: { serverInfo: { name: string } } }).result).toEqual(
      expect.objectContaining({ serverInfo: expect.objectContaining({ name: "mec-router" }) }),
    );
  });

  it("answers 405 to GET and DELETE: stateless, no stream, no session", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await exports.default.fetch("http://router.test/mcp", {
        method,
        headers: { authorization: `Bearer ${OPERATOR_KEY}`, accept: "text/event-stream" },
      });
      await expectError(res, 405, "method_not_allowed");
      expect(res.headers.get("allow")).toBe("POST");
    }
  });
});
