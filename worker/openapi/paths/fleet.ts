// The fleet API: /v1/sites and each site's heartbeat, drain, resume and models.

import { heartbeatSchema } from "../../../shared/heartbeat.ts";
import { modelBody, registrationBody, siteParamsSchema } from "../../routes/sites.ts";
import { MAX_BODY_BYTES } from "../../validate.ts";
import { operation } from "../operation.ts";
import {
  fleetSchema,
  heartbeatAnswerSchema,
  modelLoadAnswerSchema,
  siteAnswerSchema,
  siteDetailSchema,
} from "../responses.ts";

const UNKNOWN_SITE = { 404: "`not_found`: no site with this id is registered." };
const SITE = { id: "berlin-1" };

export const FLEET_OPERATIONS = [
  operation({
    method: "put",
    path: "/v1/sites/:id",
    operationId: "putSite",
    tag: "Fleet",
    summary: "Register or update a MEC site",
    description:
      "The site's OpenAI-compatible `endpoint` (`…/v1`; `/health` and `/metrics` are probed at " +
      "its root), an optional model `controlEndpoint`, location, country, trust and " +
      "certifications, capacity, GPU cost and the models it can serve. `scheduling: " +
      '"priority"` declares a site that orders its queue by request priority (vLLM ' +
      "`--scheduling-policy priority`): it is sent vLLM's `priority` field (0 critical, 1 " +
      "standard, 2 sheddable); an `fcfs` site (the default) never is.",
    roles: ["operator"],
    params: siteParamsSchema,
    body: registrationBody,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 200: { description: "The site's live view.", schema: siteAnswerSchema } },
    example: {
      params: SITE,
      body: {
        name: "Berlin Friedrichshain",
        location: { lat: 52.51, lon: 13.45 },
        country: "DE",
        trusted: true,
        certifications: ["gdpr", "iso27001"],
        endpoint: "http://127.0.0.1:9101/v1",
        capacity: { maxConcurrent: 8, maxQueue: 16, gpus: 1, gpuMemoryGb: 24 },
        cost: { gpuHourUsd: 1.2 },
        models: [{ model: "llama-3.2-3b" }, { model: "llama-3.1-8b" }],
        residentModels: ["llama-3.2-3b"],
      },
    },
  }),
  operation({
    method: "get",
    path: "/v1/sites",
    operationId: "listSites",
    tag: "Fleet",
    session: true,
    summary: "The fleet",
    description: "Every site's live view (by id) and the cloud service breakers.",
    roles: ["operator"],
    responses: { 200: { description: "The fleet snapshot.", schema: fleetSchema } },
    example: {},
  }),
  operation({
    method: "get",
    path: "/v1/sites/:id",
    operationId: "getSite",
    tag: "Fleet",
    session: true,
    summary: "One site in detail",
    description:
      "Registration, live view, breaker, model residency and demand (cache agent), open " +
      "leases and the last health probe.",
    roles: ["operator"],
    params: siteParamsSchema,
    responses: { 200: { description: "The site.", schema: siteDetailSchema } },
    errors: UNKNOWN_SITE,
    example: { params: SITE },
  }),
  operation({
    method: "post",
    path: "/v1/sites/:id/heartbeat",
    operationId: "siteHeartbeat",
    tag: "Fleet",
    summary: "A site's live load",
    description:
      "Sent by the site every few seconds: vLLM's queue metrics, GPU utilisation and free " +
      "memory, resident models and measured decode speed.",
    roles: ["site"],
    params: siteParamsSchema,
    body: heartbeatSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: {
      200: {
        description: "Health and breaker as the router sees them.",
        schema: heartbeatAnswerSchema,
      },
    },
    errors: UNKNOWN_SITE,
    example: {
      params: SITE,
      body: {
        metrics: {
          "vllm:num_requests_waiting": 0,
          "vllm:num_requests_running": 2,
          "vllm:kv_cache_usage_perc": 0.31,
        },
        gpuUtilization: 0.42,
        freeGpuMemoryGb: 9.5,
      },
    },
  }),
  operation({
    method: "post",
    path: "/v1/sites/:id/drain",
    operationId: "drainSite",
    tag: "Fleet",
    summary: "Drain a site",
    description: "No new work goes to the site; in-flight work finishes. Undo with resume.",
    roles: ["operator"],
    params: siteParamsSchema,
    responses: { 200: { description: "The site's live view.", schema: siteAnswerSchema } },
    errors: UNKNOWN_SITE,
    example: { params: SITE },
  }),
  operation({
    method: "post",
    path: "/v1/sites/:id/resume",
    operationId: "resumeSite",
    tag: "Fleet",
    summary: "Resume a drained site",
    roles: ["operator"],
    params: siteParamsSchema,
    responses: { 200: { description: "The site's live view.", schema: siteAnswerSchema } },
    errors: UNKNOWN_SITE,
    example: { params: SITE },
  }),
  operation({
    method: "post",
    path: "/v1/sites/:id/models",
    operationId: "loadSiteModel",
    tag: "Fleet",
    summary: "Make a model resident at a site",
    description:
      "Through the site's control API, evicting by the cache agent's policy when GPU memory " +
      "is short.",
    roles: ["operator"],
    params: siteParamsSchema,
    body: modelBody,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 200: { description: "Resident.", schema: modelLoadAnswerSchema } },
    errors: {
      ...UNKNOWN_SITE,
      409: "`model_not_loaded`: the site could not load it (reason in the message).",
    },
    example: { params: SITE, body: { model: "llama-3.2-3b" } },
  }),
  operation({
    method: "delete",
    path: "/v1/sites/:id",
    operationId: "deleteSite",
    tag: "Fleet",
    summary: "Forget a site",
    roles: ["operator"],
    params: siteParamsSchema,
    responses: { 204: { description: "Removed." } },
    errors: UNKNOWN_SITE,
    example: { params: SITE },
  }),
];
