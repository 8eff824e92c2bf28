// The MCP server behind POST /mcp: the official SDK's low-level `Server` on its Web-standard
// Streamable HTTP transport, stateless (a server and a transport per request, JSON answers, no
// session), so any isolate answers any call. The low-level server (not `McpServer`) lets tool
// inputs be validated by our own zod schemas and refused exactly as the HTTP API refuses them.
//
// This module (with the SDK and the zod it brings) is imported on the first /mcp request only,
// so the routing path's cold start does not evaluate it.

import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool as ToolListing,
} from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod/mini";
import { errorAnswer } from "../errors.ts";
import { TOOLS, type ToolContext } from "./tools.ts";

export const SERVER_INFO = { name: "mec-router", version: "0.1.0" };

const INSTRUCTIONS =
  "mec-router decides, per inference request from a phone, whether it runs on the device, at a " +
  "MEC site or in the cloud. Use fleet_status and site_status to see the fleet, " +
  "analytics_summary for how routing went over a window, list_anomalies for what the monitor " +
  "flagged, explain_decision for why a past decision went where it did, route_dry_run to ask " +
  "where a request would go and why, " +
  "drain_site / undrain_site to take a site out of rotation and back, and " +
  "propose_policy_change to suggest score weights: proposals are stored for an operator to " +
  "review and are never applied directly. Errors come back as tool errors whose text is the " +
  'HTTP API\'s error body: {"error":{"code","message","details"}}.';

/** A zod schema as MCP lists a tool's input or output: a JSON Schema object. */
export function toolJsonSchema(schema: z.ZodMiniType, io: "input" | "output") {
  // The dialect is MCP's default (2020-12); naming it trips clients whose validator lacks it.
  const { $schema: _dialect, properties = {}, ...rest } = z.toJSONSchema(schema, { io });
  const props: Record<string, object> = {};
  for (const [key, value] of Object.entries(properties)) {
    props[key] = value === true ? {} : value === false ? { not: {} } : value;
  }
  return { ...rest, type: "object" as const, properties: props };
}

let listing: ToolListing[] | undefined;

function toolListing(): ToolListing[] {
  listing ??= TOOLS.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: toolJsonSchema(tool.input, "input"),
    outputSchema: toolJsonSchema(tool.output, "output"),
    annotations: { title: tool.title, ...tool.annotations },
  }));
  return listing;
}

const byName = new Map(TOOLS.map((t) => [t.name, t]));

function text(value: unknown): CallToolResult["content"] {
  return [{ type: "text", text: JSON.stringify(value) }];
}

/** Runs a tool; its errors become tool errors carrying the HTTP API's error body. */
export async function callTool(ctx: ToolContext, name: string, args: unknown) {
  const tool = byName.get(name);
  // An unknown tool is the caller's protocol mistake, not a tool failure (MCP spec).
  if (!tool) throw new McpError(ErrorCode.InvalidParams, `unknown tool: ${name}`);
  try {
    const result = await tool.call(ctx, args);
    return { content: text(result), structuredContent: { ...result } };
  } catch (err) {
    const { body } = errorAnswer(err, `/mcp tools/call ${name}`);
    return { content: text(body), isError: true };
  }
}

/** Answers one MCP HTTP request (already authenticated as an operator). */
export async function handleMcp(ctx: ToolContext): Promise<Response> {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: {} },
    instructions: INSTRUCTIONS,
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: toolListing() }));
  server.setRequestHandler(CallToolRequestSchema, (req) =>
    callTool(ctx, req.params.name, req.params.arguments),
  );
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  return transport.handleRequest(ctx.c.req.raw);
}
