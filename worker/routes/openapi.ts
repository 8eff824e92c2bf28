// GET /openapi.json and GET /docs — the API's description and its reference page, no key. Both
// are built once per isolate, on first request (the builder is not on the routing path).

import { Hono } from "hono";
import type { AppEnv } from "../types.ts";

export const openApiApp = new Hono<AppEnv>();

const CACHE = "public, max-age=300";

openApiApp.get("/openapi.json", async (c) => {
  const { openApiDocument } = await import("../openapi/document.ts");
  c.header("cache-control", CACHE);
  c.header("access-control-allow-origin", "*");
  return c.json(openApiDocument());
});

let page: string | undefined;

openApiApp.get("/docs", async (c) => {
  if (page === undefined) {
    const [{ openApiDocument }, { renderDocs }] = await Promise.all([
      import("../openapi/document.ts"),
      import("../openapi/render-docs.ts"),
    ]);
    page = renderDocs(openApiDocument());
  }
  c.header("cache-control", CACHE);
  // Nothing but the page itself and its inline styles.
  c.header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'");
  c.header("x-content-type-options", "nosniff");
  return c.html(page);
});
