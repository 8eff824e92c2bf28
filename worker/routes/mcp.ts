// /mcp — the MCP endpoint for operators' assistants (Streamable HTTP, operator key as
// `Authorization: Bearer`). Stateless: POST carries every call and is answered with JSON; there
// is no server-to-client stream to GET and no session to DELETE, so both answer 405, as the
// transport spec has it.

import { Hono } from "hono";
import { requireRole } from "../auth.ts";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../types.ts";
import { limitBody } from "../validate.ts";

export const mcpApp = new Hono<AppEnv>();

mcpApp.post("/", limitBody(), requireRole("operator"), async (c) => {
  // Loaded on first use: the SDK stays out of the routing path's cold start.
  const { handleMcp } = await import("../mcp/server.ts");
  return handleMcp({ c, principal: c.get("principal") });
});

mcpApp.on(["GET", "DELETE"], "/", requireRole("operator"), () => {
  throw new AppError(
    405,
    "method_not_allowed",
    "this MCP server is stateless: POST only",
    undefined,
    {
      allow: "POST",
    },
  );
});
