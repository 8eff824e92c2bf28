// The edge API: one Hono app per resource, mounted here; errors mapped once.

import { Hono } from "hono";
import { errorAnswer, errorBody } from "./errors.ts";
import { requestLimits } from "./limits.ts";
import { analyticsApp } from "./routes/analytics.ts";
import { anomaliesApp } from "./routes/anomalies.ts";
import { catalogApp } from "./routes/catalog.ts";
import { chatApp } from "./routes/chat.ts";
import { inferApp } from "./routes/infer.ts";
import { keysApp } from "./routes/keys.ts";
import { mcpApp } from "./routes/mcp.ts";
import { openApiApp } from "./routes/openapi.ts";
import { outcomesApp } from "./routes/outcomes.ts";
import { proposalsApp } from "./routes/proposals.ts";
import { routeApp } from "./routes/route.ts";
import { sessionApp } from "./routes/session.ts";
import { sitesApp } from "./routes/sites.ts";
import { tenantsApp } from "./routes/tenants.ts";
import type { AppEnv } from "./types.ts";

export const app = new Hono<AppEnv>();

app.use(requestLimits());
app.get("/healthz", (c) => c.json({ ok: true }));
app.route("/v1/route", routeApp);
app.route("/v1/catalog", catalogApp);
app.route("/v1/chat/completions", chatApp);
app.route("/v1/infer", inferApp);
app.route("/v1/sites", sitesApp);
app.route("/v1/outcomes", outcomesApp);
app.route("/v1/anomalies", anomaliesApp);
app.route("/v1/analytics", analyticsApp);
app.route("/v1/policy/proposals", proposalsApp);
app.route("/v1/tenants", tenantsApp);
app.route("/v1/keys", keysApp);
app.route("/v1/session", sessionApp);
app.route("/mcp", mcpApp);
app.route("/", openApiApp);

app.notFound((c) =>
  c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404),
);

app.onError((err, c) => {
  // A bug is logged by its route pattern, never the caller's path (it may carry content).
  const { status, headers, body } = errorAnswer(err, c.req.routePath);
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return c.json(body, status);
});
