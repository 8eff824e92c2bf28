// What the monitor learned, for operators: anomalies and policy proposals.

import * as z from "zod/mini";
import { anomaliesQuerySchema } from "../../routes/anomalies.ts";
import { listQuerySchema, proposalBodySchema } from "../../routes/proposals.ts";
import { MAX_BODY_BYTES } from "../../validate.ts";
import { operation } from "../operation.ts";
import {
  anomaliesAnswerSchema,
  approvedAnswerSchema,
  proposalAnswerSchema,
  proposalsAnswerSchema,
} from "../responses.ts";

const proposalParams = z.strictObject({ id: z.uuid() });
const UNKNOWN_PROPOSAL = { 404: "`not_found`: no proposal with this id." };

/** Fixed ids, so that a test (or an operator trying the docs) can seed them. */
export const EXAMPLE_PROPOSAL_IDS = {
  approve: "0d9a3c52-7a43-4c1e-8a55-3f2b6c1d9e01",
  reject: "0d9a3c52-7a43-4c1e-8a55-3f2b6c1d9e02",
};

export const MONITOR_OPERATIONS = [
  operation({
    method: "get",
    path: "/v1/anomalies",
    operationId: "listAnomalies",
    tag: "Monitor",
    session: true,
    summary: "Anomalies the monitor found",
    description:
      "Latency and error-rate anomalies per target, newest first, with when they started and, " +
      "once the series is back to normal, when they resolved. `from` / `to` are epoch ms " +
      "(default the last 24 h), `limit` 1–500 (default 100).",
    roles: ["operator"],
    query: anomaliesQuerySchema,
    responses: { 200: { description: "The anomalies in range.", schema: anomaliesAnswerSchema } },
    example: { query: { target: "site:berlin-1", limit: "20" } },
  }),
  operation({
    method: "get",
    path: "/v1/policy/proposals",
    operationId: "listProposals",
    tag: "Policy",
    session: true,
    summary: "Policy proposals",
    description:
      "Score-weight proposals, newest first: Nova Pro's daily review and operators' own. " +
      "`limit` 1–200 (default 50).",
    roles: ["operator"],
    query: listQuerySchema,
    responses: { 200: { description: "The proposals.", schema: proposalsAnswerSchema } },
    example: { query: { limit: "10" } },
  }),
  operation({
    method: "post",
    path: "/v1/policy/proposals",
    operationId: "createProposal",
    tag: "Policy",
    summary: "Propose score weights",
    description:
      "Stored as `proposed` with the same aggregate summary Nova's review is shown; nothing " +
      "is applied until an operator approves it, and then only as an A/B experiment.",
    roles: ["operator"],
    body: proposalBodySchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 201: { description: "The stored proposal.", schema: proposalAnswerSchema } },
    example: {
      body: {
        weights: { latency: 0.4, cost: 0.35, privacy: 0.1, reliability: 0.15 },
        rationale: "Night traffic is latency-tolerant; weigh cost more.",
        confidence: 0.6,
      },
    },
  }),
  operation({
    method: "post",
    path: "/v1/policy/proposals/:id/approve",
    operationId: "approveProposal",
    tag: "Policy",
    summary: "Approve a proposal",
    description:
      "Idempotent. Changes no policy: answers the `POLICY_VARIANTS` value that runs the " +
      "proposal as a 10 % experiment beside the current policy, for an operator to deploy.",
    roles: ["operator"],
    params: proposalParams,
    responses: { 200: { description: "Approved.", schema: approvedAnswerSchema } },
    errors: { ...UNKNOWN_PROPOSAL, 409: "`conflict`: the proposal was rejected already." },
    example: { params: { id: EXAMPLE_PROPOSAL_IDS.approve } },
  }),
  operation({
    method: "post",
    path: "/v1/policy/proposals/:id/reject",
    operationId: "rejectProposal",
    tag: "Policy",
    summary: "Reject a proposal",
    description: "Idempotent.",
    roles: ["operator"],
    params: proposalParams,
    responses: { 200: { description: "Rejected.", schema: proposalAnswerSchema } },
    errors: { ...UNKNOWN_PROPOSAL, 409: "`conflict`: the proposal was approved already." },
    example: { params: { id: EXAMPLE_PROPOSAL_IDS.reject } },
  }),
];
