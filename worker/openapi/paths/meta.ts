// The service itself: health, this document and its reference page, and the MCP endpoint.

import * as z from "zod/mini";
import { MAX_BODY_BYTES } from "../../validate.ts";
import { operation } from "../operation.ts";
import { healthSchema, jsonRpcRequestSchema, jsonRpcResponseSchema } from "../responses.ts";

const MCP_STATELESS = "`method_not_allowed`: the server is stateless, POST only (`Allow: POST`).";

export const META_OPERATIONS = [
  operation({
    method: "get",
    path: "/healthz",
    operationId: "health",
    tag: "Service",
    summary: "Liveness",
    roles: [],
    responses: { 200: { description: "Up.", schema: healthSchema } },
    example: {},
  }),
  operation({
    method: "get",
    path: "/openapi.json",
    operationId: "openApiDocument",
    tag: "Service",
    summary: "This OpenAPI document",
    roles: [],
    responses: {
      200: { description: "OpenAPI 3.1.", schema: z.record(z.string(), z.unknown()) },
    },
    example: {},
  }),
  operation({
    method: "get",
    path: "/docs",
    operationId: "docsPage",
    tag: "Service",
    summary: "The API reference, rendered from this document",
    roles: [],
    responses: {
      200: {
        description: "A self-contained HTML page.",
        schema: z.string(),
        contentType: "text/html",
      },
    },
    example: {},
  }),
  operation({
    method: "post",
    path: "/mcp",
    operationId: "mcp",
    tag: "Service",
    summary: "MCP (Model Context Protocol) for operators' assistants",
    description:
      "Streamable HTTP transport, stateless: each POST carries JSON-RPC 2.0 messages " +
      "(`initialize`, `tools/list`, `tools/call`, …) and is answered with JSON. Point an MCP " +
      "client at this URL with the operator key as a bearer token; `tools/list` describes " +
      "the tools and their input schemas. Transport-level mistakes are answered with " +
      "JSON-RPC errors.",
    roles: ["operator"],
    headers: {
      accept: {
        description: "Must list `application/json` and `text/event-stream`.",
        required: true,
      },
      "mcp-protocol-version": {
        description: "The negotiated protocol version, after `initialize`.",
      },
    },
    body: jsonRpcRequestSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: {
      200: { description: "The JSON-RPC response.", schema: jsonRpcResponseSchema },
      202: { description: "Notifications only: accepted, no body." },
      400: {
        description: "Not JSON-RPC, or an unsupported protocol version.",
        schema: jsonRpcResponseSchema,
      },
      406: { description: "`accept` lacks a required type.", schema: jsonRpcResponseSchema },
    },
    example: {
      headers: { accept: "application/json, text/event-stream" },
      body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
    },
  }),
  operation({
    method: "get",
    path: "/mcp",
    operationId: "mcpStream",
    tag: "Service",
    summary: "MCP server-to-client stream (not offered)",
    roles: ["operator"],
    responses: {},
    errors: { 405: MCP_STATELESS },
    example: {},
  }),
  operation({
    method: "delete",
    path: "/mcp",
    operationId: "mcpEndSession",
    tag: "Service",
    summary: "MCP session end (no sessions)",
    roles: ["operator"],
    responses: {},
    errors: { 405: MCP_STATELESS },
    example: {},
  }),
];
