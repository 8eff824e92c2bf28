// Request limits that hold on every path before any route runs (worker/limits.ts), and the JSON
// nesting limit of every JSON body (worker/validate.ts).

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REQUEST_LIMITS } from "../../worker/limits.ts";
import { MAX_JSON_DEPTH } from "../../worker/validate.ts";
import { call, DEVICE_KEY, expectError, expectInvalid } from "./fixtures/fleet-api.ts";

const URL_BASE = "http://router.test";

function get(path: string, headers: Record<string, string> = {}) {
  return exports.default.fetch(`${URL_BASE}${path}`, { headers });
}

describe("URL and query limits", () => {
  it("413 url_too_long for a URL over the limit, on known and unknown paths alike", async () => {
    const pad = "a".repeat(REQUEST_LIMITS.urlChars);
    for (const path of [`/healthz?x=${pad}`, `/v1/${pad}`, `/v1/sites/${pad}`]) {
      const body = await expectError(await get(path), 413, "url_too_long");
      expect(body.error.details).toEqual({ limit: REQUEST_LIMITS.urlChars });
    }
  });

  it("400 for too many query parameters or a long one, before the key is even checked", async () => {
    const many = Array.from({ length: REQUEST_LIMITS.queryParams + 1 }, (_, i) => `p${i}=1`);
    await expectError(await get(`/v1/anomalies?${many.join("&")}`), 400, "invalid_request");
    const long = `/v1/anomalies?target=${"s".repeat(REQUEST_LIMITS.queryValueChars + 1)}`;
    await expectError(await get(long), 400, "invalid_request");
    const longKey = `/v1/anomalies?${"k".repeat(REQUEST_LIMITS.queryKeyChars + 1)}=1`;
    await expectError(await get(longKey), 400, "invalid_request");
    // Within the limits the request goes on to the route (here: no key, 401).
    const fine = Array.from({ length: REQUEST_LIMITS.queryParams }, (_, i) => `p${i}=1`);
    await expectError(await get(`/v1/anomalies?${fine.join("&")}`), 401, "unauthorized");
  });
});

describe("header limits", () => {
  it("413 headers_too_large for one long value, too many headers, or too many bytes", async () => {
    const long = { "x-pad": "v".repeat(REQUEST_LIMITS.headerValueBytes + 1) };
    await expectError(await get("/healthz", long), 413, "headers_too_large");
    const many = Object.fromEntries(
      Array.from({ length: REQUEST_LIMITS.headerCount + 1 }, (_, i) => [`x-h${i}`, "1"]),
    );
    await expectError(await get("/healthz", many), 413, "headers_too_large");
    const third = Math.ceil(REQUEST_LIMITS.headerBytes / 3) + 10;
    const bulky = { "x-a": "a".repeat(third), "x-b": "b".repeat(third), "x-c": "c".repeat(third) };
    await expectError(await get("/healthz", bulky), 413, "headers_too_large");
    // Ordinary headers pass.
    const ok = await get("/healthz", { "user-agent": "okhttp/4.12.0", "x-request-id": "abc" });
    expect(ok.status).toBe(200);
  });
});

describe("body limits on every route", () => {
  const big = "x".repeat(REQUEST_LIMITS.bodyBytes + 1);

  it("413 on routes that read no body and on unknown paths", async () => {
    for (const [method, path] of [
      ["POST", "/v1/sites/any/drain"],
      ["POST", "/v1/policy/proposals/00000000-0000-0000-0000-000000000000/approve"],
      ["DELETE", "/v1/sites/any"],
      ["POST", "/v1/nowhere"],
    ] as const) {
      const res = await call(method, path, { body: big });
      await expectError(res, 413, "payload_too_large");
    }
  });

  it("413 for a streamed body without a length once it passes the limit", async () => {
    const chunk = new TextEncoder().encode("y".repeat(1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i <= REQUEST_LIMITS.bodyBytes / 1024; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await exports.default.fetch(`${URL_BASE}/v1/sites/any/drain`, {
      method: "POST",
      body: stream,
    });
    await expectError(res, 413, "payload_too_large");
  });

  it("lets chat and infer take media-sized bodies, and only up to their own limit", async () => {
    // 1 MiB of text: over the default limit, within chat's; the route answers (not 413).
    const chat = {
      model: "auto",
      messages: [{ role: "user", content: "z".repeat(1024 * 1024) }],
      mec: { constraints: { latencySlaMs: 1 } },
    };
    const res = await call("POST", "/v1/chat/completions", { key: DEVICE_KEY, body: chat });
    expect(res.status).not.toBe(413);
    await res.body?.cancel();
    const huge = { ...chat, messages: [{ role: "user", content: "z".repeat(9 * 1024 * 1024) }] };
    const tooBig = await call("POST", "/v1/chat/completions/", { key: DEVICE_KEY, body: huge });
    await expectError(tooBig, 413, "payload_too_large");
  });
});

describe("JSON nesting", () => {
  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

  it("400 for a body nested deeper than the limit, wherever the nesting is", async () => {
    const chat = (metadata: string) =>
      `{"model":"auto","messages":[{"role":"user","content":"hi"}],"metadata":{"a":${metadata}}}`;
    // The chat body's own two levels plus the nested value: one over the limit.
    const over = chat(nested(MAX_JSON_DEPTH - 1));
    const res = await call("POST", "/v1/chat/completions", { key: DEVICE_KEY, body: over });
    const body = await expectError(res, 400, "invalid_request");
    expect(body.error.message).toMatch(/nested deeper/);
    // A nesting bomb in a 64 KiB body: refused the same way, the worker unharmed.
    const bomb = nested(30_000);
    await expectError(
      await call("POST", "/v1/route", { key: DEVICE_KEY, body: bomb }),
      400,
      "invalid_request",
    );
    expect((await get("/healthz")).status).toBe(200);
  });

  it("brackets inside strings do not count", async () => {
    const res = await call("POST", "/v1/route", {
      key: DEVICE_KEY,
      body: `{"requestId":"${"[".repeat(100)}","task":{"modality":"text"},"constraints":{"latencySlaMs":900}}`,
    });
    // Refused for the id's characters, with a field path: the text got through to the schema.
    expect(await expectInvalid(res)).toEqual(["requestId"]);
  });
});

describe("field bounds", () => {
  const chat = { model: "auto", messages: [{ role: "user", content: "hi" }] };

  it("chat: names, ids and option values are bounded", async () => {
    for (const [extra, path] of [
      [{ user: "u".repeat(257) }, "user"],
      [{ model: "m".repeat(257) }, "model"],
      [
        { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
        "metadata",
      ],
      [{ top_logprobs: 1e9 }, "top_logprobs"],
      [{ stop: ["s".repeat(300)] }, "stop.0"],
      [{ messages: [{ role: "user", content: "hi", name: "n".repeat(300) }] }, "messages.0.name"],
      [
        { messages: [{ role: "user", content: Array(257).fill({ type: "text", text: "x" }) }] },
        "messages.0.content",
      ],
    ] as const) {
      const res = await call("POST", "/v1/chat/completions", {
        key: DEVICE_KEY,
        body: { ...chat, ...extra },
      });
      expect(await expectInvalid(res)).toContain(path);
    }
  });

  it("heartbeat: figures are finite and in range, model maps bounded", async () => {
    const base = { metrics: { "vllm:num_requests_waiting": 0, "vllm:num_requests_running": 0 } };
    for (const [extra, path] of [
      [{ freeGpuMemoryGb: 1e300 }, "freeGpuMemoryGb"],
      [{ residentModels: [{ model: "m", lastUsedAt: 1e20 }] }, "residentModels.0.lastUsedAt"],
      [
        { tokensPerSec: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, 1])) },
        "tokensPerSec",
      ],
      [{ tokensPerSec: { "": 5 } }, "tokensPerSec"],
    ] as const) {
      const res = await call("POST", "/v1/sites/any/heartbeat", {
        key: "dev-site-key",
        body: { ...base, ...extra },
      });
      expect((await expectInvalid(res)).some((p) => p.startsWith(path))).toBe(true);
    }
    // 1e999 parses as Infinity: refused like any other out-of-range number.
    const inf = '{"metrics":{"vllm:num_requests_waiting":1e999,"vllm:num_requests_running":0}}';
    const res = await call("POST", "/v1/sites/any/heartbeat", { key: "dev-site-key", body: inf });
    expect(await expectInvalid(res)).toEqual(["metrics.vllm:num_requests_waiting"]);
  });
});
