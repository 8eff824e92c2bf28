// The analytics API (operator key or dashboard session): windows of 15 min to 7 days over the
// per-minute rollups, the decision explorer, the live fleet, the policy comparison.

import * as z from "zod/mini";
import {
  anomaliesQuerySchema,
  decisionIdParam,
  decisionsQuerySchema,
  latencyQuerySchema,
  siteIdParam,
  targetsQuerySchema,
  timeseriesQuerySchema,
  windowQuerySchema,
} from "../../../shared/analytics-api.ts";
import { policiesQuerySchema } from "../../routes/analytics.ts";
import {
  analyticsAnomaliesAnswerSchema,
  decisionDetailAnswerSchema,
  decisionsAnswerSchema,
  fleetAnswerSchema,
  latencyAnswerSchema,
  novaAnswerSchema,
  policiesAnswerSchema,
  siteStatusAnswerSchema,
  summaryAnswerSchema,
  targetsAnswerSchema,
  timeseriesAnswerSchema,
} from "../analytics-responses.ts";
import { operation } from "../operation.ts";

const WINDOW =
  "Window: `range` (`15m`, `1h`, `6h`, `24h`, `7d`; default `1h`) or `from` / `to` (epoch ms, " +
  "at most 7 days), and an optional `step` (default about 60–120 buckets). Cached per caller " +
  "for 5–30 s.";

const common = { tag: "Analytics", roles: ["operator"] as const, session: true };

export const ANALYTICS_OPERATIONS = [
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/summary",
    operationId: "analyticsSummary",
    summary: "Totals over a window",
    description: `Requests, outcomes, errors, SLA attainment, cost and failovers, in total and per tier; latency and time-to-first-token percentiles; Nova calls and cost; anomalies. ${WINDOW}`,
    query: windowQuerySchema,
    responses: { 200: { description: "The window's totals.", schema: summaryAnswerSchema } },
    example: { query: { range: "1h" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/timeseries",
    operationId: "analyticsTimeseries",
    summary: "Requests, tier split, SLA, cost, errors and failovers over time",
    description: `Columnar: one array per measure, aligned with \`t\` (bucket starts). ${WINDOW}`,
    query: timeseriesQuerySchema,
    responses: { 200: { description: "The series.", schema: timeseriesAnswerSchema } },
    example: { query: { range: "6h", tier: "mec" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/latency",
    operationId: "analyticsLatency",
    summary: "Latency percentiles per tier over time",
    description: `p50 / p95 / p99 of the complete answer (\`latency\`) or the first token (\`ttft\`), per bucket and over the window, from the rollups' sketches (within 1 %). ${WINDOW}`,
    query: latencyQuerySchema,
    responses: { 200: { description: "The percentiles.", schema: latencyAnswerSchema } },
    example: { query: { range: "1h", metric: "latency" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/targets",
    operationId: "analyticsTargets",
    summary: "Per site, region and device, busiest first",
    description: `${WINDOW}`,
    query: targetsQuerySchema,
    responses: { 200: { description: "One row per target.", schema: targetsAnswerSchema } },
    example: { query: { range: "24h", limit: "20" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/nova",
    operationId: "analyticsNova",
    summary: "Nova usage and cost per role",
    description: `Calls, fallbacks, tokens and cost of Nova Micro, Lite, Pro and the offline review. ${WINDOW}`,
    query: windowQuerySchema,
    responses: { 200: { description: "Usage per role.", schema: novaAnswerSchema } },
    example: { query: { range: "24h" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/anomalies",
    operationId: "analyticsAnomalies",
    summary: "Anomalies with their evidence",
    description: `Newest first; \`open=true\` for unresolved ones only. ${WINDOW}`,
    query: anomaliesQuerySchema,
    responses: { 200: { description: "The anomalies.", schema: analyticsAnomaliesAnswerSchema } },
    example: { query: { range: "24h", open: "true" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/decisions",
    operationId: "analyticsDecisions",
    summary: "The decision explorer",
    description: `Recent decisions with their latest outcome, newest first, filtered by tier, target, model or outcome; \`limit\` per page and \`before\` (the previous page's \`next\`) to page. ${WINDOW}`,
    query: decisionsQuerySchema,
    responses: { 200: { description: "One page.", schema: decisionsAnswerSchema } },
    example: { query: { range: "1h", tier: "mec", limit: "20" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/decisions/:id",
    operationId: "explainDecision",
    summary: "One decision explained",
    description:
      "What was asked (features, never content), the rationale, every rejected candidate and " +
      "why, the plan, and each outcome with its attempts.",
    params: z.strictObject({ id: decisionIdParam }),
    responses: { 200: { description: "The decision.", schema: decisionDetailAnswerSchema } },
    errors: { 404: "`not_found`: unknown, or older than the raw retention." },
    example: { params: { id: "5a8e1f0c-3b7d-4d2e-9c1a-2f6b8e4d7c90" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/fleet",
    operationId: "analyticsFleet",
    summary: "The live fleet",
    description:
      "Every site's health, breaker, load and utilisation, resident models and location (for " +
      "a map), counts, and the cloud services' breakers.",
    responses: { 200: { description: "The fleet.", schema: fleetAnswerSchema } },
    example: {},
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/fleet/:siteId",
    operationId: "analyticsSite",
    summary: "One site live, with its last 15 minutes",
    params: z.strictObject({ siteId: siteIdParam }),
    responses: { 200: { description: "The site.", schema: siteStatusAnswerSchema } },
    errors: { 404: "`not_found`: no site with this id is registered." },
    example: { params: { siteId: "berlin-1" } },
  }),
  operation({
    ...common,
    method: "get",
    path: "/v1/analytics/policies",
    operationId: "policyAnalytics",
    summary: "Policy A/B comparison",
    description:
      "Per policy variant (`POLICY_VARIANTS`): decisions, outcomes, errors, SLA attainment and " +
      "cost over `from` … `to` (epoch ms, default the last 24 h), from the raw history.",
    query: policiesQuerySchema,
    responses: { 200: { description: "One row per variant.", schema: policiesAnswerSchema } },
    example: { query: { from: "1767225600000", to: "1767312000000" } },
  }),
];
