// The demo MEC site as the router meets it: a real server on 127.0.0.1:0 spoken to with real
// fetch. Delays run at timeScale 0.01 (a 12 s cold load takes 120 ms) unless a test measures
// pacing itself.

import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  type DemoModel,
  type DemoSite,
  type DemoSiteOptions,
  loadSeedSites,
  seedSiteOptions,
  startDemoSite,
} from "../../scripts/demo-site.mjs";
import { CATALOG } from "../../shared/catalog.ts";
import { heartbeatSchema, reportFromPrometheus } from "../../shared/heartbeat.ts";
import seed from "../../shared/seed/fleet.json" with { type: "json" };

const L8 = "llama-3.1-8b";
const L3 = "llama-3.2-3b";
const WHISPER = "whisper-large-v3-turbo";
const VL = "qwen2.5-vl-7b";
const MODELS: DemoModel[] = [
  { model: L8, sizeGb: 16, tokensPerSec: 55, loadTimeMs: 12_000 },
  { model: L3, sizeGb: 7, tokensPerSec: 110, loadTimeMs: 6_000 },
  { model: WHISPER, sizeGb: 4, tokensPerSec: 400, loadTimeMs: 5_000 },
  { model: VL, sizeGb: 17, tokensPerSec: 45, loadTimeMs: 14_000 },
  { model: "huge-70b", sizeGb: 140, tokensPerSec: 20, loadTimeMs: 60_000 },
];
const PROMPT = [{ role: "user", content: "Which cell is closest to the Brandenburg Gate?" }];

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: string; content: string };
    finish_reason: string;
  }[];
  usage: Usage;
}
interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: {
    index: number;
    delta: { role?: string; content?: string };
    finish_reason: string | null;
  }[];
  usage?: Usage | null;
}
interface ApiErrorBody {
  error: { message: string; type: string; code: string };
}

const started: DemoSite[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

/** Berlin-like: 24 GB with the 8B and 3B resident (23 GB), two requests at a time. */
async function site(overrides: Partial<DemoSiteOptions> = {}): Promise<DemoSite> {
  const s = await startDemoSite({
    id: "test-site",
    models: MODELS,
    residentModels: [L8, L3],
    maxConcurrent: 2,
    gpuMemoryGb: 24,
    timeScale: 0.01,
    ...overrides,
  });
  started.push(s);
  return s;
}

function chat(s: DemoSite, body: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(`${s.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ messages: PROMPT, ...body }),
    ...(signal ? { signal } : {}),
  });
}

function post(s: DemoSite, path: string, body: unknown) {
  return fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function metrics(s: DemoSite) {
  const res = await fetch(`${s.url}/metrics`);
  const text = await res.text();
  return { text, report: reportFromPrometheus(text) };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3_000) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}

/** Reads `data:` events one at a time, noting when each arrived. */
class SseReader {
  readonly arrivals: number[] = [];
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = "";
  constructor(res: Response) {
    if (!res.body) throw new Error("no body");
    this.#reader = res.body.getReader();
  }
  async next(): Promise<string | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const event = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        this.arrivals.push(performance.now());
        expect(event.startsWith("data: ")).toBe(true);
        return event.slice("data: ".length);
      }
      const { done, value } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }
  async rest(): Promise<string[]> {
    const out: string[] = [];
    for (let e = await this.next(); e !== undefined; e = await this.next()) out.push(e);
    return out;
  }
}

function chunks(events: string[]): Chunk[] {
  return events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e) as Chunk);
}

function contentOf(cs: Chunk[]): string[] {
  return cs.flatMap((c) => c.choices.flatMap((ch) => (ch.delta.content ? [ch.delta.content] : [])));
}

describe("chat completions", () => {
  it("answers a chat.completion with usage, the same answer for the same prompt", async () => {
    const s = await site();
    const res = await chat(s, { model: L8 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as Completion;
    expect(body).toMatchObject({ object: "chat.completion", model: L8 });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.choices).toHaveLength(1);
    const [choice] = body.choices;
    expect(choice?.message.role).toBe("assistant");
    expect(choice?.finish_reason).toBe("stop");
    const words = choice?.message.content.split(" ") ?? [];
    expect(words.length).toBeGreaterThanOrEqual(24);
    expect(body.usage.completion_tokens).toBe(words.length);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + words.length);

    const again = (await (await chat(s, { model: L8 })).json()) as Completion;
    expect(again.choices[0]?.message.content).toBe(choice?.message.content);
    expect(again.id).not.toBe(body.id);
    const other = (await (
      await chat(s, { model: L8, messages: [{ role: "user", content: "Something else" }] })
    ).json()) as Completion;
    expect(other.choices[0]?.message.content).not.toBe(choice?.message.content);
    expect(s.state.stats.completed).toBe(3);
  });

  it("takes vLLM's video_url parts, counted as four media parts", async () => {
    const s = await site({ residentModels: [VL] });
    const clip = `data:video/mp4;base64,${Buffer.from("\0\0\0\x18ftypmp42").toString("base64")}`;
    const ask = (part: unknown) =>
      chat(s, {
        model: VL,
        messages: [{ role: "user", content: [{ type: "text", text: "What happens?" }, part] }],
      });
    const image = (await (
      await ask({ type: "image_url", image_url: { url: "https://example.com/a.png" } })
    ).json()) as Completion;
    for (const url of [clip, "https://example.com/clip.mp4"]) {
      const res = await ask({ type: "video_url", video_url: { url } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Completion;
      expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
      expect(body.usage.prompt_tokens).toBe(image.usage.prompt_tokens + 3 * 256);
    }
    for (const bad of [{ type: "video_url" }, { type: "video_url", video_url: { url: 7 } }]) {
      const res = await ask(bad);
      expect(res.status).toBe(400);
      expect(((await res.json()) as ApiErrorBody).error.message).toMatch(/video_url/);
    }
  });

  it("honours max_tokens in both modes and says the answer was cut", async () => {
    const s = await site();
    const body = (await (await chat(s, { model: L3, max_tokens: 3 })).json()) as Completion;
    expect(body.usage.completion_tokens).toBe(3);
    expect(body.choices[0]?.message.content.split(" ")).toHaveLength(3);
    expect(body.choices[0]?.finish_reason).toBe("length");

    const stream = await chat(s, { model: L3, max_tokens: 4, stream: true });
    const cs = chunks(await new SseReader(stream).rest());
    expect(contentOf(cs)).toHaveLength(4);
    expect(cs.at(-1)?.choices[0]?.finish_reason).toBe("length");
  });

  it("streams SSE chunks: role first, content deltas, finish, usage, then [DONE]", async () => {
    const s = await site();
    const res = await chat(s, {
      model: L8,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await new SseReader(res).rest();
    expect(events.at(-1)).toBe("[DONE]");
    const cs = chunks(events);
    for (const c of cs) expect(c).toMatchObject({ object: "chat.completion.chunk", model: L8 });
    expect(new Set(cs.map((c) => c.id)).size).toBe(1);
    expect(cs[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    const usageChunk = cs.at(-1);
    const finish = cs.at(-2);
    expect(usageChunk?.choices).toEqual([]);
    expect(finish?.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    const content = contentOf(cs);
    expect(cs.slice(1, -2).every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
    expect(cs.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(usageChunk?.usage?.completion_tokens).toBe(content.length);

    // The same prompt gives the same text streamed or not.
    const whole = (await (await chat(s, { model: L8 })).json()) as Completion;
    expect(content.join("")).toBe(whole.choices[0]?.message.content);

    const plain = chunks(await new SseReader(await chat(s, { model: L8, stream: true })).rest());
    expect(plain.every((c) => !("usage" in c))).toBe(true);
    expect(plain.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("writes each token when it is produced, at the model's rate", async () => {
    // 20 tokens/s at timeScale 1: a token every 50 ms.
    const slow = { model: "slow", sizeGb: 1, tokensPerSec: 20, loadTimeMs: 0 };
    const s = await site({ models: [slow], residentModels: ["slow"], timeScale: 1 });
    const t0 = performance.now();
    const reader = new SseReader(await chat(s, { model: "slow", stream: true, max_tokens: 6 }));
    const events = await reader.rest();
    expect(contentOf(chunks(events))).toHaveLength(6);
    const [role = 0, first = 0] = reader.arrivals;
    const done = reader.arrivals.at(-1) ?? 0;
    expect(role - t0).toBeLessThan(200);
    expect(done - t0).toBeGreaterThanOrEqual(280);
    // Nothing is held back until the end: the first token arrives well before the last.
    expect(done - first).toBeGreaterThanOrEqual(180);
  });

  it("lists resident models at /v1/models and answers /health", async () => {
    const s = await site();
    const list = (await (await fetch(`${s.url}/v1/models`)).json()) as {
      object: string;
      data: { id: string; object: string }[];
    };
    expect(list.object).toBe("list");
    expect(list.data.map((m) => m.id)).toEqual([L8, L3]);
    expect(list.data.every((m) => m.object === "model")).toBe(true);
    const health = await fetch(`${s.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({});
  });
});

describe("capacity", () => {
  it("runs at most maxConcurrent requests; the rest wait their turn in FIFO order", async () => {
    // 100 tokens/s at timeScale 1 and 20 tokens: each request generates for 200 ms.
    const s = await site({
      models: [{ model: "m", sizeGb: 1, tokensPerSec: 100, loadTimeMs: 0 }],
      residentModels: ["m"],
      maxConcurrent: 1,
      timeScale: 1,
    });
    const order: string[] = [];
    const send = (name: string) =>
      chat(s, { model: "m", max_tokens: 20 }).then(async (r) => {
        expect(r.status).toBe(200);
        await r.json();
        order.push(name);
      });
    const a = send("a");
    await waitFor(() => s.state.running === 1);
    const b = send("b");
    await waitFor(() => s.state.waiting === 1);
    const c = send("c");
    await waitFor(() => s.state.waiting === 2);

    const during = await metrics(s);
    expect(during.report).toMatchObject({ running: 1, waiting: 2 });
    expect(during.report?.kvCacheUsage).toBeGreaterThan(0);
    expect(during.text).toContain('vllm:num_requests_running{model_name="m"} 1.0');
    expect(during.text).toContain('vllm:num_requests_waiting{model_name="m"} 2.0');
    expect(during.text).toContain("# TYPE vllm:num_requests_waiting gauge");
    expect(during.text).toContain("# HELP vllm:kv_cache_usage_perc");

    await Promise.all([a, b, c]);
    expect(order).toEqual(["a", "b", "c"]);
    const after = await metrics(s);
    expect(after.report).toMatchObject({ running: 0, waiting: 0, kvCacheUsage: 0 });
  });

  it("frees the place of a queued request whose client gives up", async () => {
    const s = await site({
      models: [{ model: "m", sizeGb: 1, tokensPerSec: 100, loadTimeMs: 0 }],
      residentModels: ["m"],
      maxConcurrent: 1,
      timeScale: 1,
    });
    const first = chat(s, { model: "m", max_tokens: 20 });
    await waitFor(() => s.state.running === 1);
    const gaveUp = new AbortController();
    const queued = chat(s, { model: "m" }, gaveUp.signal);
    await waitFor(() => s.state.waiting === 1);
    gaveUp.abort();
    await expect(queued).rejects.toThrow();
    await waitFor(() => s.state.waiting === 0);
    expect((await first).status).toBe(200);
    expect(s.state.stats.completed).toBe(1);
  });
});

describe("priority scheduling", () => {
  const models: DemoModel[] = [
    // At timeScale 1 a token of "slow" takes 1,000 s: it holds the slot until its client leaves.
    { model: "slow", sizeGb: 1, tokensPerSec: 0.001, loadTimeMs: 0 },
    { model: "m", sizeGb: 1, tokensPerSec: 1_000, loadTimeMs: 0 },
  ];

  it("serves the queue by priority (lower first, absent = 0), ties in arrival order", async () => {
    const s = await site({
      models,
      residentModels: ["slow", "m"],
      maxConcurrent: 1,
      timeScale: 1,
      scheduling: "priority",
    });
    const blocker = new AbortController();
    const held = chat(s, { model: "slow", stream: true }, blocker.signal);
    await waitFor(() => s.state.running === 1);
    const order: string[] = [];
    const sent: Promise<void>[] = [];
    const arrivals: [string, number | undefined][] = [
      ["sheddable", 2],
      ["standard-1", 1],
      ["none", undefined],
      ["critical", 0],
      ["standard-2", 1],
    ];
    for (const [name, priority] of arrivals) {
      const body = { model: "m", max_tokens: 2, ...(priority === undefined ? {} : { priority }) };
      sent.push(
        chat(s, body).then(async (r) => {
          expect(r.status).toBe(200);
          await r.json();
          order.push(name);
        }),
      );
      const queued = sent.length;
      await waitFor(() => s.state.waiting === queued);
    }
    blocker.abort();
    await held.then((r) => r.body?.cancel()).catch(() => {});
    await Promise.all(sent);
    expect(order).toEqual(["none", "critical", "standard-1", "standard-2", "sheddable"]);
    expect(s.state.stats.priorities).toEqual({ "0": 1, "1": 2, "2": 1, none: 2 });
  });

  it("under fcfs, refuses a non-zero priority with 400 as vLLM does, and takes 0", async () => {
    const s = await site();
    const refused = await chat(s, { model: L3, priority: 1 });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as ApiErrorBody;
    expect(body.error.message).toMatch(/priority scheduling is not enabled/);
    expect((await chat(s, { model: L3, priority: 0 })).status).toBe(200);
    expect(s.state.stats.completed).toBe(1);
    for (const scheduling of ["fcfs", "priority"] as const) {
      const t = await site({ scheduling });
      expect((await chat(t, { model: L3, priority: 1.5 })).status).toBe(400);
      expect((await chat(t, { model: L3, priority: "high" })).status).toBe(400);
    }
  });
});

describe("model residency", () => {
  it("loads a model on the control API, evicting the least recently used", async () => {
    const s = await site();
    await (await chat(s, { model: L8, max_tokens: 1 })).json(); // the 3B is now the LRU
    const res = await post(s, "/control/models/load", { model: WHISPER });
    expect(res.status).toBe(200);
    const loaded = (await res.json()) as { loadedInMs: number };
    expect(loaded).toMatchObject({ model: WHISPER, resident: true, evicted: [L3] });
    expect(loaded.loadedInMs).toBeGreaterThanOrEqual(45); // 5 s × 0.01

    const listed = (await (await fetch(`${s.url}/control/models`)).json()) as {
      models: { model: string; sizeGb: number; lastUsedAt: number }[];
      freeGpuMemoryGb: number;
    };
    expect(listed.models.map((m) => [m.model, m.sizeGb])).toEqual([
      [L8, 16],
      [WHISPER, 4],
    ]);
    expect(listed.models.every((m) => m.lastUsedAt > Date.now() - 10_000)).toBe(true);
    expect(listed.freeGpuMemoryGb).toBe(4);

    const again = await (await post(s, "/control/models/load", { model: WHISPER })).json();
    expect(again).toEqual({ model: WHISPER, resident: true, loadedInMs: 0, evicted: [] });
    const unloaded = await post(s, "/control/models/unload", { model: WHISPER });
    expect(await unloaded.json()).toEqual({ model: WHISPER, resident: false });
    expect([...s.state.resident.keys()]).toEqual([L8]);

    expect(s.state.controlLog.map((e) => [e.method, e.path, e.model, e.status])).toEqual([
      ["POST", "/control/models/load", WHISPER, 200],
      ["GET", "/control/models", undefined, 200],
      ["POST", "/control/models/load", WHISPER, 200],
      ["POST", "/control/models/unload", WHISPER, 200],
    ]);
    expect(s.state.stats).toMatchObject({ coldLoads: 1, evictions: 1 });
  });

  it("cold-loads a servable model a request asks for, counting the request as waiting", async () => {
    const s = await site();
    await (await chat(s, { model: L3, max_tokens: 1 })).json(); // the 8B is now the LRU
    const t0 = performance.now();
    const pending = [chat(s, { model: VL, max_tokens: 2 }), chat(s, { model: VL, max_tokens: 2 })];
    await waitFor(() => s.state.waiting === 2);
    const { text } = await metrics(s);
    expect(text).toContain(`vllm:num_requests_waiting{model_name="${VL}"} 2.0`);
    const answers = await Promise.all(pending);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(135); // 14 s × 0.01
    for (const a of answers) expect(((await a.json()) as Completion).model).toBe(VL);
    expect([...s.state.resident.keys()]).toEqual([L3, VL]);
    expect(s.state.stats).toMatchObject({ coldLoads: 1, evictions: 1 });
    const listed = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(listed.data.map((m) => m.id)).toEqual([L3, VL]);
  });

  it("never evicts nor unloads a model in use", async () => {
    const s = await site({ faults: { stallAfterTokens: 1 } });
    const gone = new AbortController();
    const reader = new SseReader(await chat(s, { model: L8, stream: true }, gone.signal));
    await reader.next(); // role
    await reader.next(); // first token, then the stream stalls holding the 8B
    const load = await post(s, "/control/models/load", { model: VL });
    expect(load.status).toBe(507);
    expect(((await load.json()) as ApiErrorBody).error.code).toBe("insufficient_gpu_memory");
    const unload = await post(s, "/control/models/unload", { model: L8 });
    expect(unload.status).toBe(409);
    expect([...s.state.resident.keys()]).toEqual([L8, L3]);
    gone.abort();
    await waitFor(() => s.state.running === 0);
    s.setFaults({ stallAfterTokens: null });
    expect((await post(s, "/control/models/load", { model: VL })).status).toBe(200);
  });
});

describe("errors", () => {
  it("answers OpenAI-style errors: 404 unknown model, 400 bad bodies, 507 too large", async () => {
    const s = await site();
    const expectError = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      const body = (await res.json()) as ApiErrorBody;
      expect(body.error.code).toBe(code);
      expect(body.error.type).toBe(status < 500 ? "invalid_request_error" : "server_error");
      expect(body.error.message.length).toBeGreaterThan(0);
    };
    await expectError(await chat(s, { model: "gpt-5" }), 404, "model_not_found");
    await expectError(await post(s, "/v1/chat/completions", "{not json"), 400, "invalid_json");
    await expectError(await post(s, "/v1/chat/completions", { model: L8 }), 400, "invalid_request");
    await expectError(await chat(s, { model: L8, max_tokens: 0 }), 400, "invalid_request");
    await expectError(await chat(s, { model: L8, stream: "yes" }), 400, "invalid_request");
    await expectError(
      await chat(s, { model: L8, messages: [{ content: "x" }] }),
      400,
      "invalid_request",
    );
    await expectError(
      await post(s, "/control/models/load", { model: "gpt-5" }),
      404,
      "model_not_found",
    );
    await expectError(await post(s, "/control/models/load", {}), 400, "invalid_request");
    await expectError(
      await post(s, "/control/models/unload", { model: "gpt-5" }),
      404,
      "model_not_found",
    );
    await expectError(
      await post(s, "/control/models/load", { model: "huge-70b" }),
      507,
      "model_too_large",
    );
    await expectError(await chat(s, { model: "huge-70b" }), 507, "model_too_large");
    await expectError(await fetch(`${s.url}/v2/nothing`), 404, "not_found");
    expect([...s.state.resident.keys()]).toEqual([L8, L3]);
    expect(s.state.stats.completed).toBe(0);
    expect(s.state.controlLog.map((e) => e.status)).toEqual([404, 400, 404, 507]);
  });
});

describe("faults", () => {
  it("errorRate 1 answers 500/503 before the first byte, switched over HTTP", async () => {
    const s = await site();
    const set = await post(s, "/control/faults", { errorRate: 1 });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ errorRate: 1, dark: false });
    for (let i = 0; i < 6; i++) {
      const res = await chat(s, { model: L8, stream: true });
      expect([500, 503]).toContain(res.status);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(((await res.json()) as ApiErrorBody).error.type).toBe("server_error");
    }
    expect(s.state.stats.injectedErrors).toBe(6);
    await post(s, "/control/faults", { errorRate: 0 });
    expect((await chat(s, { model: L8 })).status).toBe(200);
    expect(s.state.controlLog.filter((e) => e.path === "/control/faults")).toHaveLength(2);
  });

  it("decides which requests fail with a PRNG seeded by `seed`", async () => {
    const statuses = async (seed: number) => {
      const s = await site({ seed, faults: { errorRate: 0.5 } });
      const out: number[] = [];
      for (let i = 0; i < 16; i++) {
        const res = await chat(s, { model: L3, max_tokens: 1 });
        await res.body?.cancel();
        out.push(res.status === 200 ? 200 : 500);
      }
      return out;
    };
    const first = await statuses(7);
    expect(await statuses(7)).toEqual(first);
    expect(first).toContain(200);
    expect(first).toContain(500);
  });

  it("resetRate 1 destroys the socket without an answer", async () => {
    const s = await site({ faults: { resetRate: 1 } });
    await expect(chat(s, { model: L8 })).rejects.toThrow(TypeError);
    expect(s.state.stats.resets).toBe(1);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });

  it("stallAfterTokens stops a stream after N tokens until the client leaves", async () => {
    const s = await site({ faults: { stallAfterTokens: 3 } });
    const gone = new AbortController();
    const reader = new SseReader(await chat(s, { model: L3, stream: true }, gone.signal));
    const got = [
      await reader.next(),
      await reader.next(),
      await reader.next(),
      await reader.next(),
    ];
    expect(contentOf(chunks(got.filter((e) => e !== undefined)))).toHaveLength(3);
    const more = reader.next();
    more.catch(() => {});
    expect(await Promise.race([more, sleep(200, "stalled")])).toBe("stalled");
    expect(s.state.running).toBe(1);
    gone.abort();
    await waitFor(() => s.state.running === 0);

    // A non-stream request just hangs.
    await expect(chat(s, { model: L3 }, AbortSignal.timeout(150))).rejects.toThrow();
    await waitFor(() => s.state.running === 0);
    expect(s.state.stats.completed).toBe(0);
  });

  it("dark cuts streams and refuses everything but /health (503) and /control/faults", async () => {
    const slow = { model: "slow", sizeGb: 1, tokensPerSec: 20, loadTimeMs: 0 };
    const s = await site({ models: [slow], residentModels: ["slow"], timeScale: 1 });
    const reader = new SseReader(await chat(s, { model: "slow", stream: true }));
    await reader.next();
    s.setFaults({ dark: true });
    await expect(reader.rest()).rejects.toThrow();
    expect((await fetch(`${s.url}/health`)).status).toBe(503);
    await expect(chat(s, { model: "slow" })).rejects.toThrow(TypeError);
    await expect(fetch(`${s.url}/metrics`)).rejects.toThrow(TypeError);
    await expect(fetch(`${s.url}/control/models`)).rejects.toThrow(TypeError);
    expect((await post(s, "/control/faults", { dark: false })).status).toBe(200);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });

  it("unhealthy fails /health only; addedLatencyMs delays answers", async () => {
    const s = await site({ faults: { unhealthy: true } });
    const health = await fetch(`${s.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as ApiErrorBody).error.code).toBe("site_unhealthy");
    expect((await chat(s, { model: L3, max_tokens: 1 })).status).toBe(200);
    s.setFaults({ unhealthy: false, addedLatencyMs: 120 });
    const t0 = performance.now();
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
  });

  it("rejects malformed fault settings", async () => {
    const s = await site();
    const res = await post(s, "/control/faults", { errorRate: 2 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ApiErrorBody).error.code).toBe("invalid_faults");
    expect(() => s.setFaults({ stallAfterTokens: -1 })).toThrow(TypeError);
    expect(s.state.faults).toMatchObject({ errorRate: 0, stallAfterTokens: null });
  });
});

describe("heartbeats", () => {
  /** A stand-in router that records heartbeats and answers `status`. */
  async function receiver(status = 204) {
    const seen: {
      url: string;
      auth: string | undefined;
      type: string | undefined;
      body: unknown;
    }[] = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      let text = "";
      for await (const chunk of req) text += chunk;
      seen.push({
        url: req.url ?? "",
        auth: req.headers.authorization,
        type: req.headers["content-type"],
        body: JSON.parse(text),
      });
      res.writeHead(status).end();
    });
    server.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const { port } = server.address() as AddressInfo;
    const close = () => new Promise((r) => server.close(r));
    return { url: `http://127.0.0.1:${port}`, seen, close };
  }

  it("posts heartbeats in the router's format until closed", async () => {
    const router = await receiver();
    try {
      const s = await site({
        id: "berlin-1",
        heartbeat: { routerUrl: `${router.url}/`, siteKey: "site-key-1", intervalMs: 40 },
        faults: { stallAfterTokens: 0 },
      });
      await waitFor(() => router.seen.length >= 2);
      const first = router.seen[0];
      expect(first?.url).toBe("/v1/sites/berlin-1/heartbeat");
      expect(first?.auth).toBe("Bearer site-key-1");
      expect(first?.type).toBe("application/json");
      const hb = heartbeatSchema.parse(first?.body);
      expect(hb.metrics).toEqual({
        "vllm:num_requests_waiting": 0,
        "vllm:num_requests_running": 0,
        "vllm:kv_cache_usage_perc": 0,
      });
      expect(hb.residentModels?.map((m) => [m.model, m.sizeGb])).toEqual([
        [L8, 16],
        [L3, 7],
      ]);
      expect(hb.freeGpuMemoryGb).toBe(1);
      // What it really decodes at: 100× the model's speed at timeScale 0.01.
      expect(hb.tokensPerSec).toEqual({ [L8]: 5_500, [L3]: 11_000 });

      // A stalled stream shows up as running in the next heartbeat.
      const gone = new AbortController();
      const stream = chat(s, { model: L8, stream: true }, gone.signal);
      await waitFor(() =>
        router.seen.some(
          (r) => heartbeatSchema.parse(r.body).metrics["vllm:num_requests_running"] === 1,
        ),
      );
      const busy = router.seen.map((r) => heartbeatSchema.parse(r.body)).at(-1);
      expect(busy?.gpuUtilization).toBeGreaterThan(0);
      expect(busy?.metrics["vllm:kv_cache_usage_perc"]).toBeGreaterThan(0);
      gone.abort();
      await stream.catch(() => {});
      expect(s.state.stats.heartbeatsSent).toBeGreaterThanOrEqual(2);

      await s.close();
      const count = router.seen.length;
      await sleep(150);
      expect(router.seen.length).toBe(count);
    } finally {
      await router.close();
    }
  });

  it("counts heartbeats the router refuses or cannot take, and keeps serving", async () => {
    const refusing = await receiver(401);
    const gone = await receiver();
    await gone.close();
    try {
      const a = await site({
        heartbeat: { routerUrl: refusing.url, siteKey: "wrong", intervalMs: 30 },
      });
      const b = await site({ heartbeat: { routerUrl: gone.url, siteKey: "k", intervalMs: 30 } });
      await waitFor(
        () => a.state.stats.heartbeatsFailed >= 2 && b.state.stats.heartbeatsFailed >= 2,
      );
      expect(a.state.stats).toMatchObject({ heartbeatsSent: 0, lastHeartbeatStatus: 401 });
      expect(b.state.stats).toMatchObject({ heartbeatsSent: 0, lastHeartbeatStatus: 0 });
      expect((await fetch(`${b.url}/health`)).status).toBe(200);
    } finally {
      await refusing.close();
    }
  });
});

describe("lifecycle and seed", () => {
  it("close() cuts open streams and frees the port", async () => {
    const slow = { model: "slow", sizeGb: 1, tokensPerSec: 20, loadTimeMs: 0 };
    const s = await startDemoSite({
      id: "closing",
      models: [slow],
      residentModels: ["slow"],
      maxConcurrent: 1,
      gpuMemoryGb: 8,
    });
    const reader = new SseReader(await chat(s, { model: "slow", stream: true }));
    await reader.next();
    await s.close();
    await expect(reader.rest()).rejects.toThrow();
    await expect(fetch(`${s.url}/health`)).rejects.toThrow(TypeError);
    await s.close(); // idempotent
  });

  it("binds only to loopback and checks its options", async () => {
    await expect(site({ host: "0.0.0.0" })).rejects.toThrow(/loopback/);
    await expect(site({ residentModels: ["gpt-5"] })).rejects.toThrow(/not served/);
    await expect(site({ residentModels: [L8, VL] })).rejects.toThrow(/exceed/);
  });

  it("builds options for the seed fleet's sites from the catalog", async () => {
    const berlin = seed.sites.find((x) => x.id === "berlin-1");
    if (!berlin) throw new Error("berlin-1 missing from the seed");
    const opts = seedSiteOptions(berlin, CATALOG);
    expect(opts).toMatchObject({ id: "berlin-1", port: 9101, maxConcurrent: 16, gpuMemoryGb: 48 });
    expect(opts.models.find((m) => m.model === L8)).toEqual({
      model: L8,
      sizeGb: 16,
      tokensPerSec: 55,
      loadTimeMs: 12_000,
      prefillTokensPerSec: 4_000,
    });
    expect((await loadSeedSites()).map((o) => o.id)).toEqual(seed.sites.map((x) => x.id));

    const s = await site({ ...opts, port: 0 });
    const list = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(list.data.map((m) => m.id)).toEqual(berlin.residentModels);
  });
});
