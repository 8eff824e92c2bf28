// Deciding and running: /v1/route, /v1/chat/completions, /v1/infer, /v1/outcomes, /v1/catalog.

import { chatCompletionRequestSchema } from "../../../shared/openai.ts";
import { routeRequestSchema } from "../../../shared/route-request.ts";
import { MAX_CHAT_BODY_BYTES } from "../../routes/chat.ts";
import { inferSchema, MAX_INFER_BODY_BYTES } from "../../routes/infer.ts";
import { outcomeSchema } from "../../routes/outcomes.ts";
import { MAX_BODY_BYTES } from "../../validate.ts";
import { operation } from "../operation.ts";
import {
  catalogSchema,
  chatCompletionSchema,
  inferAnswerSchema,
  outcomeAnswerSchema,
  routeAnswerSchema,
} from "../responses.ts";

const BERLIN = { lat: 52.52, lon: 13.4 };

const WHERE_IT_RAN = {
  "x-mec-decision-id": "The decision's id.",
  "x-mec-tier": "Where it ran: `mec` or `cloud` (`device` from /v1/infer when not executed).",
  "x-mec-target": "`site:<id>`, `cloud:<region>` or `device`.",
  "x-mec-attempts": "Attempts made, failovers included.",
};

const REFUSALS = {
  422: "`infeasible`: no target satisfies the request's rules (privacy, residency, compliance, model, budget, device, network); `details.rejected` names every candidate's reason. An SLA no target is expected to meet is not refused: the request gets a best effort (`bestEffort`).",
  503: "`overloaded` (a sheddable request, every feasible target saturated) or `unavailable` (refused only for a passing reason: breaker open, full, draining, unhealthy, a queue, or a model not yet resident where it would fit — its site is asked to load it); `Retry-After`.",
};

const BUDGET = {
  402: "`budget_exhausted`: the tenant's budget for the period cannot cover it, nor can a cheaper target that meets its constraints.",
};

const EXECUTION_ERRORS = {
  ...REFUSALS,
  ...BUDGET,
  502: "`upstream_error`: every attempt failed; `details.attempts` names each. An upstream's own 4xx is passed on as `upstream_rejected` with its status.",
  504: "`upstream_timeout`: the SLA (for a best-effort plan, its deadline) ran out before an answer.",
};

const routeExampleAnswer = {
  requestId: "req-7f3a",
  decisionId: "5a8e1f0c-3b7d-4d2e-9c1a-2f6b8e4d7c90",
  policyVariant: "default",
  tier: "mec",
  target: { kind: "site", siteId: "berlin-1", endpoint: "http://127.0.0.1:9101/v1" },
  model: "llama-3.2-3b",
  classification: "simple",
  complexity: 0.241,
  confidence: 0.82,
  confidenceLevel: "high",
  predicted: { latencyMs: 447, worstLatencyMs: 829, firstTokenMs: 91, costUsd: 0.0000185 },
  bestEffort: false,
  resources: { memoryGb: 3, cpuCores: 1, gpuUnits: 1, bandwidthMbps: 0.1 },
  plan: {
    primary: {
      tier: "mec",
      target: { kind: "site", siteId: "berlin-1", endpoint: "http://127.0.0.1:9101/v1" },
      model: "llama-3.2-3b",
      predictedLatencyMs: 447,
      worstLatencyMs: 829,
      predictedCostUsd: 0.0000185,
      timeoutMs: 1244,
    },
    backups: [
      {
        tier: "device",
        target: { kind: "device" },
        model: "llama-3.2-1b",
        predictedLatencyMs: 2310,
        worstLatencyMs: 4420,
        predictedCostUsd: 0,
        timeoutMs: 3000,
      },
    ],
    timeoutMs: 3000,
    retry: { maxAttempts: 2, baseDelayMs: 25, maxDelayMs: 200 },
  },
  rationale: [
    {
      factor: "latency",
      detail:
        "site:berlin-1 predicted 447 ms (complete) of 3000 ms SLA (network 66, upload 0, queue 0, cold start 0, compute 381, an answer of ~128 of 256 tokens)",
    },
  ],
  rejected: [
    {
      target: "cloud:eu-central-1",
      reason: "privacy",
      detail: "strict privacy never leaves for the cloud",
    },
  ],
  reasoner: "rules",
};

export const DECIDE_OPERATIONS = [
  operation({
    method: "post",
    path: "/v1/route",
    operationId: "route",
    tag: "Routing",
    summary: "Decide where a request should run",
    description:
      "Decide only: tier (device, MEC site, cloud), target, model, predictions, a plan with " +
      "backups, the rationale and every rejected candidate. Unknown fields are refused so that " +
      "a misspelt constraint is never silently ignored. With `reserve: true` a slot is taken " +
      "at the chosen MEC site and the answer carries a `lease`; report how it went with " +
      "POST /v1/outcomes.",
    roles: ["device", "operator"],
    body: routeRequestSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: {
      200: {
        description: "The decision.",
        schema: routeAnswerSchema,
        headers: { "x-mec-decision-id": WHERE_IT_RAN["x-mec-decision-id"] },
        example: routeExampleAnswer,
      },
    },
    errors: {
      ...REFUSALS,
      402: `${BUDGET[402]} With \`reserve\` only.`,
      503: `${REFUSALS[503]} With \`reserve\`: every target denied a slot.`,
    },
    example: {
      body: {
        requestId: "req-7f3a",
        task: { modality: "text", inputTokens: 300, maxOutputTokens: 64 },
        constraints: { latencySlaMs: 3000, privacy: "strict", dataResidency: ["DE"] },
        network: { type: "5g" },
        location: BERLIN,
      },
    },
  }),
  operation({
    method: "post",
    path: "/v1/chat/completions",
    operationId: "chatCompletions",
    tag: "Running",
    summary: "Decide and run a chat completion (OpenAI-compatible)",
    description:
      "The OpenAI chat completions API: decided like /v1/route (never the device here), then " +
      "run at the MEC site or on Bedrock with retries and failover, streamed when `stream` is " +
      "true. Routing hints come from the optional `mec` object (`constraints`, `criticality`, " +
      "`network`, `location`, `requestId`) or `x-mec-*` headers; `model` is a catalog id or " +
      "anything else for the smallest adequate model.",
    roles: ["device", "operator"],
    headers: {
      "x-mec-latency-sla-ms": {
        description: "SLA in ms (default 30000, 3000 to first token when streaming).",
      },
      "x-mec-privacy": { description: "`public`, `sensitive` or `strict`." },
      "x-mec-data-residency": { description: "Comma list of countries or zones." },
    },
    body: chatCompletionRequestSchema,
    bodyLimitBytes: MAX_CHAT_BODY_BYTES,
    responses: {
      200: {
        description: "The completion, or with `stream: true` its server-sent events.",
        schema: chatCompletionSchema,
        stream: "OpenAI `chat.completion.chunk` events, then `data: [DONE]`.",
        headers: WHERE_IT_RAN,
      },
    },
    errors: EXECUTION_ERRORS,
    example: {
      body: {
        model: "auto",
        messages: [{ role: "user", content: "What is mobile edge computing?" }],
        max_tokens: 64,
        mec: {
          location: BERLIN,
          constraints: { latencySlaMs: 20000, privacy: "strict", dataResidency: ["DE"] },
        },
      },
    },
  }),
  operation({
    method: "post",
    path: "/v1/infer",
    operationId: "infer",
    tag: "Running",
    summary: "Decide and run any modality",
    description:
      "The /v1/route body plus the `input` to run (prompt, messages, image / audio / video " +
      "media as base64 or URL). When the device is the best place the answer is the decision " +
      "with `executed: false` and the phone runs it; otherwise it runs like a chat completion.",
    roles: ["device", "operator"],
    body: inferSchema,
    bodyLimitBytes: MAX_INFER_BODY_BYTES,
    responses: {
      200: {
        description: "The decision, and the output when it ran.",
        schema: inferAnswerSchema,
        headers: WHERE_IT_RAN,
      },
    },
    errors: EXECUTION_ERRORS,
    example: {
      body: {
        task: { modality: "text", maxOutputTokens: 64 },
        constraints: { latencySlaMs: 20000, privacy: "strict", dataResidency: ["DE"] },
        location: BERLIN,
        input: { prompt: "Summarise: the MEC site is 8 ms away." },
      },
    },
  }),
  operation({
    method: "post",
    path: "/v1/outcomes",
    operationId: "reportOutcome",
    tag: "Routing",
    summary: "Report how a request went",
    description:
      "A device that ran a request itself, or called a MEC site directly with the lease from " +
      "/v1/route, reports the outcome. With `leaseId` the lease is freed (idempotent) and the " +
      "site's breaker and cache agent learn; with `siteId` only the breaker; `decisionId` " +
      "links it to the decision in the history.",
    roles: ["device", "operator"],
    body: outcomeSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 202: { description: "Accepted.", schema: outcomeAnswerSchema } },
    errors: { 404: "`not_found`: the `siteId` is not registered." },
    example: { body: { siteId: "berlin-1", ok: true, latencyMs: 412, ttftMs: 88 } },
  }),
  operation({
    method: "get",
    path: "/v1/catalog",
    operationId: "catalog",
    tag: "Routing",
    summary: "The model catalog",
    description:
      "The models the router knows, their quality tier, and their device / MEC / cloud " +
      "variants with the figures the predictions use.",
    roles: ["device", "operator", "site"],
    responses: { 200: { description: "Every model.", schema: catalogSchema } },
    example: {},
  }),
];
