// Valid requests per route, the starting points the fuzz suite mutates. Keyed by the route as
// the app lists it (`METHOD /pattern`); a route without seeds still gets generic cases.

export interface FuzzContext {
  /** Two demo MEC sites of the fuzz suite's own, base URLs without `/v1`. */
  siteA: string;
  siteB: string;
  /** Ids of stored policy proposals. */
  proposals: string[];
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
  };
}
