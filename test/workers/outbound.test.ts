// What the router calls out to: only the sites operators registered — https unless the
// deployment allows plain http (ALLOW_HTTP_SITES, set for local development and these tests in
// .dev.vars; some requests here go through the same app with it off, as a deployment runs) —
// and never a URL a caller gave.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { app } from "../../worker/app.ts";
import {
  call,
  DEVICE_KEY,
  expectError,
  expectInvalid,
  OPERATOR_KEY,
  site,
} from "./fixtures/fleet-api.ts";

const LUXEMBOURG = { lat: 49.61, lon: 6.13 };
const httpsOnly: Env = { ...env, ALLOW_HTTP_SITES: "false" };

async function deployed(method: string, path: string, key: string, body: unknown) {
  const ctx = createExecutionContext();
  const res = await app.request(
    path,
    {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    },
    httpsOnly,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("site endpoints outside local development", () => {
  it("registration refuses plain http endpoints and control endpoints, and takes https", async () => {
    const plain = site("tls-a", "LU", LUXEMBOURG, { endpoint: "http://127.0.0.1:9/v1" });
    const res = await deployed("PUT", "/v1/sites/tls-a", OPERATOR_KEY, plain);
    expect(await expectInvalid(res)).toEqual(["endpoint"]);
    const control = { ...plain, endpoint: "https://127.0.0.1:9/v1", controlEndpoint: "http://x" };
    const res2 = await deployed("PUT", "/v1/sites/tls-a", OPERATOR_KEY, control);
    expect(await expectInvalid(res2)).toEqual(["controlEndpoint"]);
    const tls = { ...plain, endpoint: "https://127.0.0.1:9/v1" };
    expect((await deployed("PUT", "/v1/sites/tls-a", OPERATOR_KEY, tls)).status).toBe(200);
    expect((await call("DELETE", "/v1/sites/tls-a")).status).toBe(204);
  });

  it("a site registered over http while allowed is not called once it is not", async () => {
    const live = site("tls-b", "LU", LUXEMBOURG, { endpoint: `${inject("demoSiteUrl")}/v1` });
    expect((await call("PUT", "/v1/sites/tls-b", { body: live })).status).toBe(200);
    const chat = {
      model: "llama-3.2-3b",
      messages: [{ role: "user", content: "ping" }],
      max_tokens: 8,
      mec: {
        location: LUXEMBOURG,
        constraints: { privacy: "strict", latencySlaMs: 20_000, dataResidency: ["LU"] },
      },
    };
    // Allowed (this test environment): the site answers.
    const ok = await call("POST", "/v1/chat/completions", { key: DEVICE_KEY, body: chat });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-mec-target")).toBe("site:tls-b");
    // Not allowed: the attempt fails before any connection, and the plan has nowhere else to go.
    const refused = await deployed("POST", "/v1/chat/completions", DEVICE_KEY, chat);
    const body = await expectError(refused, 502, "upstream_error");
    const { attempts } = body.error.details as { attempts: { target: string }[] };
    expect(attempts.map((a) => a.target)).toContain("site:tls-b");
    expect((await call("DELETE", "/v1/sites/tls-b")).status).toBe(204);
  });
});

describe("callers' URLs", () => {
  const remote = [
    "https://example.com/cat.png",
    "http://169.254.169.254/latest/meta-data/",
    "HTTPS://internal.example/clip.mp4",
    "file:///etc/passwd",
  ];

  it("chat refuses image and video parts given by URL, naming each", async () => {
    for (const url of remote) {
      const res = await call("POST", "/v1/chat/completions", {
        key: DEVICE_KEY,
        body: {
          model: "auto",
          messages: [
            { role: "user", content: "earlier" },
            {
              role: "user",
              content: [
                { type: "text", text: "what is this?" },
                { type: "image_url", image_url: { url } },
                { type: "video_url", video_url: { url } },
              ],
            },
          ],
        },
      });
      expect(await expectInvalid(res)).toEqual([
        "messages.1.content.1.image_url.url",
        "messages.1.content.2.video_url.url",
      ]);
    }
  });

  it("infer refuses media and message parts given by URL, and takes data: URLs", async () => {
    const route = {
      task: { modality: "image" },
      constraints: { latencySlaMs: 30_000, privacy: "strict", dataResidency: ["LU"] },
      location: LUXEMBOURG,
    };
    for (const url of remote) {
      const res = await call("POST", "/v1/infer", {
        key: DEVICE_KEY,
        body: {
          ...route,
          input: {
            messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
            media: [{ type: "image", url }],
          },
        },
      });
      expect(await expectInvalid(res)).toEqual([
        "input.media.0.url",
        "input.messages.0.content.0.image_url.url",
      ]);
    }
    // An inline image is no URL to fetch: past validation, to the decision (no site here: 503).
    const inline = await call("POST", "/v1/infer", {
      key: DEVICE_KEY,
      body: {
        ...route,
        input: { media: [{ type: "image", url: "data:image/png;base64,iVBORw0KGgo=" }] },
      },
    });
    expect([200, 422, 503]).toContain(inline.status);
  });
});
