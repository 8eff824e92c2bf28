// What the router calls out to: only the sites operators registered — https unless the
// deployment allows plain http (ALLOW_HTTP_SITES, set for local development and these tests in
// .dev.vars; some requests here go through the same app with it off, as a deployment runs) —
// and never a URL a caller gave. And what comes back is checked: a site or Bedrock that answers
// 200 with something malformed, oversized or endless fails the attempt with a typed error.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { PlanStep } from "../../shared/types.ts";
import { app } from "../../worker/app.ts";
import { bedrockClient } from "../../worker/execute/bedrock-client.ts";
import { mecClient } from "../../worker/execute/mec-client.ts";
import { UpstreamError } from "../../worker/execute/upstream.ts";
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

describe("what upstreams answer", () => {
  const GARBAGE = inject("garbageSiteUrl");
  const VADUZ = { lat: 47.14, lon: 9.52 };
  const request = {
    model: "llama-3.2-3b",
    messages: [{ role: "user" as const, content: "ping" }],
    max_tokens: 8,
  };
  const siteStep: PlanStep = {
    tier: "mec",
    target: { kind: "site", siteId: "garbage", endpoint: `${GARBAGE}/v1` },
    model: "llama-3.2-3b",
    predictedLatencyMs: 100,
    worstLatencyMs: 100,
    predictedCostUsd: 0,
    timeoutMs: 10_000,
  };

  async function faults(f: Record<string, unknown>) {
    const res = await fetch(`${GARBAGE}/control/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(f),
    });
    expect(res.ok).toBe(true);
  }

  async function garbageSent(): Promise<number> {
    return ((await (await fetch(`${GARBAGE}/control/stats`)).json()) as { garbage: number })
      .garbage;
  }

  it("the MEC client turns every malformed answer into an UpstreamError, streamed or not", async () => {
    await faults({ garbageRate: 1 });
    const client = mecClient(env);
    const before = await garbageSent();
    // Each answer is one of three kinds (not JSON, the wrong shape, too large / endless), drawn
    // by the site's seeded PRNG: 12 of each mode meet all three.
    for (let i = 0; i < 12; i++) {
      const signal = AbortSignal.timeout(20_000);
      await expect(client.complete(siteStep, request, signal)).rejects.toSatisfy(
        (e) => e instanceof UpstreamError && e.failure === "reset" && /malformed/.test(e.message),
      );
      await expect(client.stream(siteStep, request, signal)).rejects.toBeInstanceOf(UpstreamError);
    }
    expect((await garbageSent()) - before).toBe(24);
    await faults({ garbageRate: 0 });
    const ok = await client.complete(siteStep, request, AbortSignal.timeout(20_000));
    expect(ok.object).toBe("chat.completion");
    expect(ok.choices[0]?.message.role).toBe("assistant");
  }, 60_000);

  it("through the router, a site answering garbage gives a typed 502, and the worker stays up", async () => {
    const junk = site("junk", "LI", VADUZ, { endpoint: `${GARBAGE}/v1` });
    expect((await call("PUT", "/v1/sites/junk", { body: junk })).status).toBe(200);
    await faults({ garbageRate: 1 });
    for (const stream of [false, true]) {
      const res = await call("POST", "/v1/chat/completions", {
        key: DEVICE_KEY,
        body: {
          ...request,
          stream,
          mec: {
            location: VADUZ,
            constraints: { privacy: "strict", latencySlaMs: 20_000, dataResidency: ["LI"] },
          },
        },
      });
      const body = await expectError(res, 502, "upstream_error");
      const { attempts } = body.error.details as { attempts: { target: string; ok: boolean }[] };
      expect(attempts.length).toBeGreaterThan(0);
      expect(attempts.every((a) => a.target === "site:junk" && !a.ok)).toBe(true);
    }
    await faults({ garbageRate: 0 });
    expect((await call("GET", "/healthz", { key: null })).status).toBe(200);
    expect((await call("DELETE", "/v1/sites/junk")).status).toBe(204);
  }, 60_000);

  it("a /metrics scrape with out-of-range values is clamped to what a heartbeat may say", async () => {
    await faults({ garbageMetrics: true });
    const probed = site("scraped", "LI", { lat: 47.2, lon: 9.5 }, { endpoint: `${GARBAGE}/v1` });
    expect((await call("PUT", "/v1/sites/scraped", { body: probed })).status).toBe(200);
    // The site agent's alarm probes right after registration.
    let detail: { lastProbeAt: number; view: { load: Record<string, number> } } | undefined;
    for (let i = 0; i < 100 && !detail?.lastProbeAt; i++) {
      await new Promise((r) => setTimeout(r, 50));
      detail = (await (await call("GET", "/v1/sites/scraped")).json()) as typeof detail;
    }
    await faults({ garbageMetrics: false });
    expect(detail?.lastProbeAt).toBeGreaterThan(0);
    expect(detail?.view.load.waiting).toBe(10_000_000);
    expect(detail?.view.load.running).toBeGreaterThanOrEqual(0);
    expect(detail?.view.load.kvCacheUsage).toBe(1);
    expect((await call("DELETE", "/v1/sites/scraped")).status).toBe(204);
  });

  it("the Bedrock client turns a malformed Converse answer or stream into an UpstreamError", async () => {
    const standin = inject("garbageBedrockUrl");
    const set = await fetch(`${standin}/__faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ garbageRate: 1 }),
    });
    expect(set.ok).toBe(true);
    const client = bedrockClient({ ...env, BEDROCK_ENDPOINT: standin });
    const cloudStep: PlanStep = {
      tier: "cloud",
      target: { kind: "cloud", region: "eu-central-1", modelId: "amazon.nova-micro-v1:0" },
      model: "nova-micro",
      predictedLatencyMs: 100,
      worstLatencyMs: 100,
      predictedCostUsd: 0,
      timeoutMs: 10_000,
    };
    // Converse: a body without its message, or not JSON; ConverseStream: a corrupt frame.
    for (let i = 0; i < 4; i++) {
      const signal = AbortSignal.timeout(20_000);
      await expect(client.complete(cloudStep, request, signal)).rejects.toBeInstanceOf(
        UpstreamError,
      );
      await expect(client.stream(cloudStep, request, signal)).rejects.toBeInstanceOf(UpstreamError);
    }
  }, 60_000);
});
