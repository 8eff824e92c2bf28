// POST /v1/chat/completions through the worker, against real local demo MEC sites on 127.0.0.1:
// plain and streamed answers, retries and failover before the first byte, and mid-stream
// failover that continues the partial answer on the backup.

import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";

const OPERATOR = { authorization: "Bearer dev-operator-key" };
const SITE_A = inject("execSiteAUrl");
const SITE_B = inject("execSiteBUrl");
const HERE = { lat: 47.37, lon: 8.54 };

function site(id: string, endpoint: string, lat: number, resident: string[]) {
  return {
    name: id,
    location: { lat, lon: 8.54 },
    country: "CH",
    trusted: true,
    certifications: ["iso27001"],
    endpoint: `${endpoint}/v1`,
    capacity: { maxConcurrent: 8, maxQueue: 8, gpus: 1, gpuMemoryGb: 24 },
    cost: { gpuHourUsd: 1 },
    models: [{ model: "llama-3.2-3b" }],
    residentModels: resident,
  };
}

async function put(id: string, body: unknown) {
  const res = await exports.default.fetch(`http://router.test/v1/sites/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...OPERATOR },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

async function faults(url: string, f: Record<string, unknown>) {
  const res = await fetch(`${url}/control/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(f),
  });
  expect(res.ok).toBe(true);
}

function chat(body: Record<string, unknown>) {
  return exports.default.fetch("http://router.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "What is mobile edge computing?" }],
      max_tokens: 48,
      mec: {
        location: HERE,
        // Strict privacy keeps these tests on the two MEC sites (no cloud tier).
        constraints: { privacy: "strict", latencySlaMs: 20_000, dataResidency: ["CH"] },
      },
      ...body,
    }),
  });
}

/** Reads an SSE body into its `data:` payloads. */
async function events(res: Response): Promise<string[]> {
  return eventsOf(await res.text());
}

function eventsOf(text: string): string[] {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6));
}

function contentOf(data: string[]): string {
  return data
    .filter((d) => d !== "[DONE]")
    .map((d) => JSON.parse(d) as { choices: { delta: { content?: string } }[] })
    .map((c) => c.choices[0]?.delta.content ?? "")
    .join("");
}

beforeAll(async () => {
  // A has the model resident, so it is the primary; B, registered without it (a predicted cold
  // start; the demo site actually has it loaded), is the backup.
  await put("exec-a", site("exec-a", SITE_A, 47.37, ["llama-3.2-3b"]));
  await put("exec-b", site("exec-b", SITE_B, 47.9, []));
});

afterEach(async () => {
  await faults(SITE_A, { errorRate: 0, stallAfterTokens: null, dark: false, resetRate: 0 });
});

describe("POST /v1/chat/completions", () => {
  it("answers an OpenAI request from the MEC site and says where it ran", async () => {
    const res = await chat({});
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-tier")).toBe("mec");
    expect(res.headers.get("x-mec-target")).toBe("site:exec-a");
    expect(res.headers.get("x-mec-attempts")).toBe("1");
    expect(res.headers.get("x-mec-decision-id")).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as {
      object: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { completion_tokens: number };
    };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]?.message.role).toBe("assistant");
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(48);
  });

  it("streams chunks ending with [DONE], with usage when asked", async () => {
    const res = await chat({ stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const data = await events(res);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(contentOf(data).length).toBeGreaterThan(0);
    const usage = chunks.at(-1) as { choices: unknown[]; usage: { total_tokens: number } };
    expect(usage.choices).toEqual([]);
    expect(usage.usage.total_tokens).toBeGreaterThan(0);
  });

  it("fails over to the backup site when the primary answers 5xx", async () => {
    await faults(SITE_A, { errorRate: 1 });
    const res = await chat({});
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-target")).toBe("site:exec-b");
    expect(Number(res.headers.get("x-mec-attempts"))).toBeGreaterThanOrEqual(2);
  });

  it("continues a stream that stalls mid-way on the backup, as one stream", async () => {
    await faults(SITE_A, { stallAfterTokens: 5 });
    const res = await chat({ stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-target")).toBe("site:exec-a");
    const raw = await res.text();
    const data = eventsOf(raw);
    expect(data.at(-1)).toBe("[DONE]");
    expect(data.filter((d) => d === "[DONE]")).toHaveLength(1);
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as { id: string; error?: unknown });
    expect(chunks.some((c) => c.error)).toBe(false);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    // The closing comment names where the stream ended and counts the failover.
    expect(raw).toMatch(/^: x-mec-target=site:exec-b x-mec-tier=mec x-mec-attempts=2$/m);
    // Five tokens from A, then B's continuation: more text than A alone sent.
    const text = contentOf(data);
    const fromA = contentOf(data.slice(0, 7));
    expect(text.length).toBeGreaterThan(fromA.length);
  });

  it("answers 502 naming the tier when every site fails, never a stack", async () => {
    await faults(SITE_A, { errorRate: 1 });
    await faults(SITE_B, { errorRate: 1 });
    try {
      const res = await chat({});
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("upstream_error");
      expect(body.error.message).toMatch(/mec tier/);
    } finally {
      await faults(SITE_B, { errorRate: 0 });
    }
  });

  it("rejects a bad body with field paths", async () => {
    const res = await exports.default.fetch("http://router.test/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
      body: JSON.stringify({
        model: "x",
        messages: [],
        mec: { constraints: { privacy: "secret" } },
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { path: string }[] } };
    expect(body.error.details.map((d) => d.path)).toContain("messages");
  });
});

describe("POST /v1/infer", () => {
  function infer(body: Record<string, unknown>) {
    return exports.default.fetch("http://router.test/v1/infer", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
      body: JSON.stringify(body),
    });
  }

  it("answers with the decision, not executed, when the device is the best place", async () => {
    const res = await infer({
      task: { modality: "text", maxOutputTokens: 16, inputTokens: 20 },
      constraints: { latencySlaMs: 10_000 },
      device: { models: ["llama-3.2-1b-q4"], memoryFreeMb: 4000 },
      network: { type: "offline" },
      input: { prompt: "Summarise my notes" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-tier")).toBe("device");
    const body = (await res.json()) as { executed: boolean; decision: { tier: string } };
    expect(body.executed).toBe(false);
    expect(body.decision.tier).toBe("device");
  });

  it("runs text at the MEC site and returns its output", async () => {
    const res = await infer({
      task: { modality: "text", maxOutputTokens: 16 },
      constraints: { latencySlaMs: 20_000, privacy: "strict", dataResidency: ["CH"] },
      location: HERE,
      input: { prompt: "Summarise my notes" },
    });
    expect(res.status).toBe(200);
    // Either site: earlier tests' injected failures count against A's record.
    expect(res.headers.get("x-mec-target")).toMatch(/^site:exec-[ab]$/);
    const body = (await res.json()) as {
      executed: boolean;
      output: { choices: { message: { content: string } }[] };
    };
    expect(body.executed).toBe(true);
    expect(body.output.choices[0]?.message.content.length).toBeGreaterThan(0);
  });

  it("400s an input with nothing to run", async () => {
    const res = await infer({
      task: { modality: "text" },
      constraints: { latencySlaMs: 20_000, privacy: "strict", dataResidency: ["CH"] },
      location: HERE,
      input: {},
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { path: string }[] } };
    expect(body.error.details.map((d) => d.path)).toEqual(["input"]);
  });
});
