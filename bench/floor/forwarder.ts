// The runtime floor of the overhead benchmark: the least a Hono proxy can do. `POST
// /v1/chat/completions` hands the body to the upstream and streams its answer back;
// `POST /v1/route` parses the JSON body and answers a small JSON, with no upstream (the floor of
// a decide-only endpoint). The same app runs on Node (@hono/node-server, the floor Portkey is
// judged against) and as a Worker under Miniflare (the floor mec-router is judged against).

import { Hono } from "hono";

export interface FloorEnv {
  /** The upstream's OpenAI base URL, e.g. `http://127.0.0.1:40123/v1`. */
  UPSTREAM: string;
}

export const forwarder = new Hono<{ Bindings: FloorEnv }>();

forwarder.post("/v1/chat/completions", async (c) => {
  const res = await fetch(`${c.env.UPSTREAM}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: await c.req.text(),
  });
  return new Response(res.body, {
    status: res.status,
    headers: { "content-type": res.headers.get("content-type") ?? "application/json" },
  });
});

forwarder.post("/v1/route", async (c) => {
  const body: unknown = JSON.parse(await c.req.text());
  return c.json({
    ok: true,
    fields: body && typeof body === "object" ? Object.keys(body).length : 0,
  });
});

export default forwarder;
