// The edge API: one Hono app per resource, mounted here; errors mapped once.

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError, errorBody, errorLogFields } from "./errors.ts";
import { requestLimits } from "./limits.ts";
import { analyticsApp } from "./routes/analytics.ts";
import { anomaliesApp } from "./routes/anomalies.ts";
import { catalogApp } from "./routes/catalog.ts";
import { chatApp } from "./routes/chat.ts";
import { inferApp } from "./routes/infer.ts";
import { outcomesApp } from "./routes/outcomes.ts";
import { proposalsApp } from "./routes/proposals.ts";
import { routeApp } from "./routes/route.ts";
import { sitesApp } from "./routes/sites.ts";
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

app.notFound((c) =>
  c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404),
);

app.onError((err, c) => {
  if (err instanceof AppError) {
    for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof HTTPException && err.status < 500) {
    return c.json(errorBody("invalid_request", err.message || "bad request"), err.status);
  }
  // A real bug: log what and where, never the body (nor what the message quotes of it), and
  // answer without internals.
  console.error(JSON.stringify({ event: "error", route: c.req.routePath, ...errorLogFields(err) }));
  return c.json(errorBody("internal", "internal error"), 500);
});
