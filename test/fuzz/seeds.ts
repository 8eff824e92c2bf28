// Valid requests per route, the starting points the fuzz suite mutates. Keyed by the route as
// the app lists it (`METHOD /pattern`); a route without seeds still gets generic cases.

export interface FuzzContext {
  /** Two demo MEC sites of the fuzz suite's own, base URLs without `/v1`. */
  siteA: string;
  siteB: string;
  /** Ids of stored policy proposals. */
  proposals: string[];
  /** The suite's tenant (a budget of about one request a day) and keys issued to it. */
  tenant: string;
  tenantKeys: { device: string; operator: string };
  /** Ids of issued keys that seeds read, rotate and revoke (never used to call). */
  spareKeyIds: string[];
  /** A platform operator's session cookie (`name=value`). */
  cookie: string;
  /** A decision the router made, for the explorer. */
  decisionId: string;
}

export interface SeedRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A JSON value; sent as application/json. */
  body?: unknown;
  /** The key the route wants (a role's dev key), or null for none. */
  key: string | null;
}

export const KEYS = {
  device: "dev-device-key",
  operator: "dev-operator-key",
  site: "dev-site-key",
} as const;

/** Every key a case may present: the platform's, and the suite tenant's issued ones. */
export function callerKeys(ctx: FuzzContext): string[] {
  return [...Object.values(KEYS), ctx.tenantKeys.device, ctx.tenantKeys.operator];
}

/** The same-origin check of the session routes (worker/session.ts). */
const CSRF = { "x-mec-csrf": "1" };
const MCP_ACCEPT = { accept: "application/json, text/event-stream" };

/** Sites the suite registers (and mutations may drain, remove and register again). */
export const SITE_IDS = ["fz-a", "fz-b", "fz-c"] as const;
export const AMSTERDAM = { lat: 52.37, lon: 4.9 };
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABh6FO1AAAAABJRU5ErkJggg==";
const WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

export function registration(ctx: FuzzContext, id: string) {
  const url = id === "fz-b" ? ctx.siteB : ctx.siteA;
  return {
    name: `Fuzz ${id}`,
    location: id === "fz-b" ? { lat: 52.09, lon: 5.12 } : AMSTERDAM,
    country: "NL",
    trusted: id !== "fz-c",
    certifications: ["gdpr"],
    endpoint: `${url}/v1`,
    controlEndpoint: `${url}/control`,
    faultDomain: id,
    capacity: { maxConcurrent: 64, maxQueue: 64, gpus: 2, gpuMemoryGb: 48 },
    cost: { gpuHourUsd: 1.2 },
    models: [{ model: "llama-3.2-3b", tokensPerSec: 110 }, { model: "qwen2.5-vl-7b" }],
    residentModels: ["llama-3.2-3b"],
  };
}

const routeBody = {
  requestId: "req-1",
  task: { modality: "text", inputTokens: 300, maxOutputTokens: 64, criticality: "standard" },
  constraints: { latencySlaMs: 5_000, privacy: "public", maxCostUsd: 0.01 },
  device: {
    models: ["llama-3.2-1b"],
    batteryPct: 80,
    charging: false,
    thermal: "nominal",
    memoryFreeMb: 3_000,
    class: "high",
  },
  network: { type: "5g", rttMs: 20, uplinkMbps: 50, downlinkMbps: 300 },
  location: AMSTERDAM,
};

const chatBody = {
  model: "llama-3.2-3b",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What is mobile edge computing?" },
  ],
  max_tokens: 8,
  temperature: 0.2,
  user: "user-1",
  mec: {
    location: AMSTERDAM,
    constraints: { privacy: "sensitive", latencySlaMs: 20_000, dataResidency: ["NL"] },
  },
};

export function seeds(ctx: FuzzContext): Record<string, SeedRequest[]> {
  const d = KEYS.device;
  const o = KEYS.operator;
  const proposal = ctx.proposals[0] ?? "00000000-0000-4000-8000-000000000000";
  return {
    "GET /healthz": [{ method: "GET", path: "/healthz", key: null }],
    "POST /v1/route": [
      { method: "POST", path: "/v1/route", body: routeBody, key: d },
      {
        method: "POST",
        path: "/v1/route",
        body: {
          task: { modality: "image", model: "qwen2.5-vl-7b", criticality: "sheddable" },
          constraints: {
            latencySlaMs: 30_000,
            privacy: "strict",
            dataResidency: ["NL", "EU"],
            compliance: ["gdpr"],
          },
          location: AMSTERDAM,
          reserve: true,
          reasoning: "force",
        },
        key: o,
      },
      {
        method: "POST",
        path: "/v1/route",
        body: {
          task: { modality: "audio", payloadBytes: 480_000 },
          constraints: { latencySlaMs: 800, latencyTarget: "first_token" },
          network: { type: "offline" },
        },
        key: d,
      },
    ],
    "GET /v1/catalog": [{ method: "GET", path: "/v1/catalog", key: d }],
    "POST /v1/chat/completions": [
      { method: "POST", path: "/v1/chat/completions", body: chatBody, key: d },
      // The suite tenant's budget covers next to nothing: a cheaper target, or 402.
      {
        method: "POST",
        path: "/v1/chat/completions",
        body: { ...chatBody, mec: { ...chatBody.mec, criticality: "critical" } },
        key: ctx.tenantKeys.device,
      },
      {
        method: "POST",
        path: "/v1/chat/completions",
        body: { ...chatBody, stream: true, stream_options: { include_usage: true } },
        key: d,
      },
      {
        method: "POST",
        path: "/v1/chat/completions",
        headers: {
          "x-mec-latency-sla-ms": "20000",
          "x-mec-privacy": "public",
          "x-mec-network": "4g",
        },
        body: {
          model: "auto",
          messages: [
            {
              role: "user",
              content: [
                { type: "text", text: "Weather?" },
                { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
              ],
            },
            {
              role: "assistant",
              content: null,
              tool_calls: [
                {
                  id: "c1",
                  type: "function",
                  function: { name: "weather", arguments: '{"city":"Amsterdam"}' },
                },
              ],
            },
            { role: "tool", tool_call_id: "c1", content: "12 °C" },
          ],
          tools: [
            {
              type: "function",
              function: {
                name: "weather",
                parameters: { type: "object", properties: { city: { type: "string" } } },
              },
            },
          ],
          tool_choice: "auto",
          max_tokens: 8,
          metadata: { app: "fuzz" },
        },
        key: o,
      },
    ],
    "POST /v1/infer": [
      {
        method: "POST",
        path: "/v1/infer",
        body: {
          task: { modality: "text", maxOutputTokens: 8 },
          constraints: { latencySlaMs: 20_000, privacy: "sensitive", dataResidency: ["NL"] },
          location: AMSTERDAM,
          input: { prompt: "Summarise MEC in one line." },
        },
        key: d,
      },
      {
        method: "POST",
        path: "/v1/infer",
        body: {
          task: { modality: "multimodal", maxOutputTokens: 8 },
          constraints: { latencySlaMs: 30_000 },
          device: { models: [] },
          location: AMSTERDAM,
          input: {
            prompt: "What is this?",
            media: [
              { type: "image", data: PNG, format: "png" },
              { type: "audio", data: WAV, format: "wav" },
            ],
          },
        },
        key: d,
      },
      {
        method: "POST",
        path: "/v1/infer",
        body: {
          task: { modality: "text", inputTokens: 50, maxOutputTokens: 16 },
          constraints: { latencySlaMs: 60_000, privacy: "strict" },
          device: {
            models: ["llama-3.2-1b", "llama-3.2-3b"],
            class: "flagship",
            memoryFreeMb: 6_000,
          },
          network: { type: "offline" },
          input: { messages: [{ role: "user", content: "hi" }] },
        },
        key: d,
      },
    ],
    "PUT /v1/sites/:id": SITE_IDS.map((id) => ({
      method: "PUT",
      path: `/v1/sites/${id}`,
      body: registration(ctx, id),
      key: o,
    })),
    "GET /v1/sites": [{ method: "GET", path: "/v1/sites", key: o }],
    "GET /v1/sites/:id": [{ method: "GET", path: "/v1/sites/fz-a", key: o }],
    "POST /v1/sites/:id/heartbeat": [
      {
        method: "POST",
        path: "/v1/sites/fz-a/heartbeat",
        body: {
          metrics: {
            "vllm:num_requests_waiting": 0,
            "vllm:num_requests_running": 1,
            "vllm:kv_cache_usage_perc": 0.1,
          },
          gpuUtilization: 0.2,
          freeGpuMemoryGb: 30,
          residentModels: [{ model: "llama-3.2-3b", sizeGb: 7, lastUsedAt: 1_700_000_000_000 }],
          tokensPerSec: { "llama-3.2-3b": 110 },
        },
        key: KEYS.site,
      },
    ],
    "POST /v1/sites/:id/drain": [{ method: "POST", path: "/v1/sites/fz-c/drain", key: o }],
    "POST /v1/sites/:id/resume": [{ method: "POST", path: "/v1/sites/fz-c/resume", key: o }],
    "DELETE /v1/sites/:id": [{ method: "DELETE", path: "/v1/sites/fz-c", key: o }],
    "POST /v1/sites/:id/models": [
      { method: "POST", path: "/v1/sites/fz-b/models", body: { model: "qwen2.5-vl-7b" }, key: o },
    ],
    "POST /v1/outcomes": [
      {
        method: "POST",
        path: "/v1/outcomes",
        body: { siteId: "fz-a", ok: true, latencyMs: 120, ttftMs: 40, model: "llama-3.2-3b" },
        key: d,
      },
      {
        method: "POST",
        path: "/v1/outcomes",
        body: {
          decisionId: "6f1c1b9e-2d7a-4c1e-9a51-0a7d3c2b1e90",
          ok: false,
          errorClass: "timeout",
        },
        key: d,
      },
      {
        method: "POST",
        path: "/v1/outcomes",
        body: { leaseId: "fz-a.6f1c1b9e-2d7a-4c1e-9a51-0a7d3c2b1e90", ok: true },
        key: o,
      },
    ],
    "GET /v1/anomalies": [
      {
        method: "GET",
        path: "/v1/anomalies",
        query: { from: "0", to: "9999999999999", target: "site:fz-a", limit: "10" },
        key: o,
      },
    ],
    "GET /v1/analytics/policies": [
      {
        method: "GET",
        path: "/v1/analytics/policies",
        query: { from: "0", to: "9999999999999" },
        key: o,
      },
    ],
    "GET /v1/policy/proposals": [
      { method: "GET", path: "/v1/policy/proposals", query: { limit: "5" }, key: o },
    ],
    "POST /v1/policy/proposals/:id/approve": [
      { method: "POST", path: `/v1/policy/proposals/${proposal}/approve`, key: o },
    ],
    "POST /v1/policy/proposals/:id/reject": [
      {
        method: "POST",
        path: `/v1/policy/proposals/${ctx.proposals[1] ?? proposal}/reject`,
        key: o,
      },
    ],
    "POST /v1/policy/proposals": [
      {
        method: "POST",
        path: "/v1/policy/proposals",
        body: {
          weights: { latency: 0.4, cost: 0.35, privacy: 0.1, reliability: 0.15 },
          rationale: "Night traffic is latency-tolerant.",
          confidence: 0.6,
        },
        key: o,
      },
    ],
    ...analyticsSeeds(ctx),
    ...tenancySeeds(ctx),
    ...sessionSeeds(ctx),
    ...mcpSeeds(ctx),
    "GET /openapi.json": [{ method: "GET", path: "/openapi.json", key: null }],
    "GET /docs": [{ method: "GET", path: "/docs", key: null }],
  };
}

/** Each analytics view, as the platform operator, a session and the suite tenant's operator. */
function analyticsSeeds(ctx: FuzzContext): Record<string, SeedRequest[]> {
  const views: [string, string, Record<string, string>][] = [
    ["summary", "/v1/analytics/summary", { range: "1h" }],
    ["timeseries", "/v1/analytics/timeseries", { range: "6h", tier: "mec", step: "5m" }],
    ["latency", "/v1/analytics/latency", { range: "1h", metric: "ttft" }],
    ["targets", "/v1/analytics/targets", { range: "24h", limit: "20" }],
    ["nova", "/v1/analytics/nova", { range: "24h" }],
    ["anomalies", "/v1/analytics/anomalies", { range: "24h", open: "true" }],
    ["decisions", "/v1/analytics/decisions", { range: "1h", tier: "mec", limit: "20" }],
    ["decision", `/v1/analytics/decisions/${ctx.decisionId}`, {}],
    ["fleet", "/v1/analytics/fleet", {}],
    ["site", "/v1/analytics/fleet/fz-a", {}],
  ];
  const out: Record<string, SeedRequest[]> = {};
  for (const [name, path, query] of views) {
    const label = `GET ${name === "decision" ? "/v1/analytics/decisions/:id" : name === "site" ? "/v1/analytics/fleet/:siteId" : path}`;
    out[label] = [
      { method: "GET", path, query, key: KEYS.operator },
      { method: "GET", path, query, headers: { cookie: ctx.cookie }, key: null },
      { method: "GET", path, query, key: ctx.tenantKeys.operator },
    ];
  }
  return out;
}

function tenancySeeds(ctx: FuzzContext): Record<string, SeedRequest[]> {
  const o = KEYS.operator;
  const t = ctx.tenant;
  const [readId, rotateId, revokeId] = ctx.spareKeyIds;
  return {
    "POST /v1/tenants": [
      {
        method: "POST",
        path: "/v1/tenants",
        body: { id: "fz-new", name: "Fuzz new", budget: { limitUsd: 5, period: "day" } },
        key: o,
      },
    ],
    "GET /v1/tenants": [{ method: "GET", path: "/v1/tenants", query: { limit: "20" }, key: o }],
    "GET /v1/tenants/:id": [
      { method: "GET", path: `/v1/tenants/${t}`, key: o },
      { method: "GET", path: `/v1/tenants/${t}`, key: ctx.tenantKeys.operator },
    ],
    "PATCH /v1/tenants/:id": [
      {
        method: "PATCH",
        path: `/v1/tenants/${t}`,
        body: {
          name: "Fuzz tenant",
          status: "active",
          budget: { limitUsd: 0.000001, period: "day" },
        },
        key: o,
      },
    ],
    "POST /v1/keys": [
      {
        method: "POST",
        path: "/v1/keys",
        body: { tenant: t, scope: "device", name: "fuzz app", expiresAt: 4_102_444_800_000 },
        key: o,
      },
      {
        method: "POST",
        path: "/v1/keys",
        body: { scope: "site", site: "fz-a" },
        key: o,
      },
      {
        method: "POST",
        path: "/v1/keys",
        body: { scope: "operator", name: "fuzz ops" },
        key: ctx.tenantKeys.operator,
      },
    ],
    "GET /v1/keys": [
      { method: "GET", path: "/v1/keys", query: { tenant: t, limit: "50" }, key: o },
      { method: "GET", path: "/v1/keys", key: ctx.tenantKeys.operator },
    ],
    "GET /v1/keys/:id": [{ method: "GET", path: `/v1/keys/${readId}`, key: o }],
    "POST /v1/keys/:id/rotate": [
      {
        method: "POST",
        path: `/v1/keys/${rotateId}/rotate`,
        body: { overlapSeconds: 60 },
        key: o,
      },
    ],
    "POST /v1/keys/:id/revoke": [
      { method: "POST", path: `/v1/keys/${revokeId}/revoke`, key: ctx.tenantKeys.operator },
    ],
  };
}

function sessionSeeds(ctx: FuzzContext): Record<string, SeedRequest[]> {
  return {
    "POST /v1/session": [
      {
        method: "POST",
        path: "/v1/session",
        headers: CSRF,
        body: { key: KEYS.operator },
        key: null,
      },
      {
        method: "POST",
        path: "/v1/session",
        headers: { ...CSRF, origin: "http://router.test" },
        body: { key: ctx.tenantKeys.operator },
        key: null,
      },
    ],
    "GET /v1/session": [
      { method: "GET", path: "/v1/session", headers: { cookie: ctx.cookie }, key: null },
    ],
    // Logging out clears the browser's cookie; the signed token itself stays valid to its expiry.
    "DELETE /v1/session": [
      {
        method: "DELETE",
        path: "/v1/session",
        headers: { ...CSRF, cookie: ctx.cookie },
        key: null,
      },
    ],
  };
}

/** JSON-RPC calls to every MCP tool, and the protocol's own methods. */
function mcpSeeds(ctx: FuzzContext): Record<string, SeedRequest[]> {
  const rpc = (id: number, method: string, params?: unknown): SeedRequest => ({
    method: "POST",
    path: "/mcp",
    headers: MCP_ACCEPT,
    body: { jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) },
    key: KEYS.operator,
  });
  const tool = (id: number, name: string, args: unknown) =>
    rpc(id, "tools/call", { name, arguments: args });
  const [, rotateId, revokeId] = ctx.spareKeyIds;
  return {
    "POST /mcp": [
      rpc(1, "initialize", {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "fuzz", version: "1" },
      }),
      rpc(2, "tools/list"),
      tool(3, "route_dry_run", routeBody),
      tool(4, "fleet_status", {}),
      tool(5, "site_status", { siteId: "fz-a" }),
      tool(6, "drain_site", { id: "fz-c" }),
      tool(7, "undrain_site", { id: "fz-c" }),
      tool(8, "list_anomalies", { target: "site:fz-a", limit: 10 }),
      tool(9, "explain_decision", { id: ctx.decisionId }),
      tool(10, "analytics_summary", { range: "1h" }),
      tool(11, "propose_policy_change", {
        weights: { latency: 0.5, cost: 0.2, privacy: 0.1, reliability: 0.2 },
        rationale: "fuzz",
      }),
      tool(12, "list_keys", { tenant: ctx.tenant }),
      tool(13, "create_key", { tenant: ctx.tenant, scope: "device" }),
      tool(14, "rotate_key", { id: rotateId, overlapSeconds: 0 }),
      tool(15, "revoke_key", { id: revokeId }),
      {
        method: "POST",
        path: "/mcp",
        headers: MCP_ACCEPT,
        body: [
          { jsonrpc: "2.0", id: 1, method: "tools/list" },
          { jsonrpc: "2.0", method: "notifications/initialized" },
        ],
        key: KEYS.operator,
      },
    ],
    "GET /mcp": [{ method: "GET", path: "/mcp", headers: MCP_ACCEPT, key: KEYS.operator }],
    "DELETE /mcp": [{ method: "DELETE", path: "/mcp", key: KEYS.operator }],
  };
}
