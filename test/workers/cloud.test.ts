// The cloud tier through the worker: the real AWS SDK (Converse / ConverseStream) against the
// local Bedrock stand-in, translated to and from the OpenAI format; strict privacy never
// reaches it, whatever fails. No MEC site is registered in this file.

import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";

const BEDROCK = inject("bedrockUrl");
const FRANKFURT = { lat: 50.11, lon: 8.68 };

function chat(body: Record<string, unknown>, mec: Record<string, unknown> = {}) {
  return exports.default.fetch("http://router.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: "Where is the nearest edge site?" },
      ],
      max_tokens: 32,
      mec: { location: FRANKFURT, constraints: { latencySlaMs: 30_000 }, ...mec },
      ...body,
    }),
  });
}

async function bedrockCalls(): Promise<number> {
  const res = await fetch(`${BEDROCK}/__calls`);
  expect(res.ok).toBe(true);
  return ((await res.json()) as { calls: number }).calls;
}

async function bedrockFaults(f: Record<string, unknown>) {
  const res = await fetch(`${BEDROCK}/__faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(f),
  });
  expect(res.ok).toBe(true);
}

describe("cloud tier (Bedrock Converse)", () => {
  it("answers an OpenAI request through Converse, translated both ways", async () => {
    const before = await bedrockCalls();
    const res = await chat({});
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-tier")).toBe("cloud");
    expect(res.headers.get("x-mec-target")).toMatch(/^cloud:eu-/);
    const body = (await res.json()) as {
      object: string;
      model: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(body.object).toBe("chat.completion");
    expect(body.model).toMatch(/^nova-/);
    expect(body.choices[0]?.message.role).toBe("assistant");
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(body.choices[0]?.finish_reason);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(await bedrockCalls()).toBe(before + 1);
  });

  it("streams ConverseStream as OpenAI chunks ending with [DONE]", async () => {
    const res = await chat({ stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-tier")).toBe("cloud");
    const data = (await res.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => e.slice(6));
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map(
      (d) =>
        JSON.parse(d) as {
          object: string;
          choices: { delta: { content?: string }; finish_reason: string | null }[];
          usage?: { total_tokens: number } | null;
        },
    );
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text.length).toBeGreaterThan(0);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(true);
    expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("answers 502/503/504 without internals when every region fails", async () => {
    await bedrockFaults({ errorRate: 1 });
    try {
      const res = await chat({});
      expect([502, 503, 504]).toContain(res.status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(["upstream_error", "upstream_timeout", "unavailable"]).toContain(body.error.code);
      expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+/);
    } finally {
      await bedrockFaults({ errorRate: 0 });
    }
  });

  it("never sends a strict-privacy request to the cloud, under any failures", async () => {
    const before = await bedrockCalls();
    const live = `${inject("demoSiteUrl")}/v1`;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          bedrockErrorRate: fc.constantFrom(0, 0.5, 1),
          // The only MEC site answers, or is unreachable, or is not registered at all.
          site: fc.constantFrom("live", "dead", "none"),
          stream: fc.boolean(),
          residency: fc.constantFrom([], ["DE"], ["EU"]),
        }),
        async ({ bedrockErrorRate, site, stream, residency }) => {
          await bedrockFaults({ errorRate: bedrockErrorRate });
          await setSite(
            site === "none" ? undefined : site === "live" ? live : "http://127.0.0.1:9/v1",
          );
          const res = await chat(
            { stream, model: "llama-3.2-3b" },
            { constraints: { latencySlaMs: 30_000, privacy: "strict", dataResidency: residency } },
          );
          expect([200, 422, 502, 503, 504]).toContain(res.status);
          if (res.status === 200) expect(res.headers.get("x-mec-tier")).toBe("mec");
          await res.body?.cancel();
        },
      ),
      { numRuns: 40 },
    );
    await bedrockFaults({ errorRate: 0 });
    await setSite(undefined);
    expect(await bedrockCalls()).toBe(before);
  });
});

/** Registers (or removes) the one trusted MEC site near Frankfurt. */
async function setSite(endpoint: string | undefined) {
  const url = "http://router.test/v1/sites/strict-de";
  const headers = { "content-type": "application/json", authorization: "Bearer dev-operator-key" };
  if (endpoint === undefined) {
    const res = await exports.default.fetch(url, { method: "DELETE", headers });
    expect([204, 404]).toContain(res.status);
    return;
  }
  const res = await exports.default.fetch(url, {
    method: "PUT",
    headers,
    body: JSON.stringify({
      name: "strict-de",
      location: FRANKFURT,
      country: "DE",
      trusted: true,
      certifications: [],
      endpoint,
      capacity: { maxConcurrent: 8, maxQueue: 8, gpus: 1, gpuMemoryGb: 24 },
      cost: { gpuHourUsd: 1 },
      models: [{ model: "llama-3.2-3b" }],
      residentModels: ["llama-3.2-3b"],
    }),
  });
  expect(res.status).toBe(200);
}
