// The Bedrock stand-in as the real @aws-sdk/client-bedrock-runtime meets it: a server on
// 127.0.0.1:0, SigV4-signed requests over HTTP/1.1, restJson1 bodies and errors, event-stream
// frames. Delays run at timeScale 0.01 unless a test measures pacing itself; clients make one
// attempt unless a test is about the SDK's retries.

import { setTimeout as sleep } from "node:timers/promises";
import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InternalServerException,
  ModelStreamErrorException,
  ServiceUnavailableException,
  ThrottlingException,
  type ToolUseBlock,
  ValidationException,
  type VideoFormat,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type BedrockStandin,
  type BedrockStandinOptions,
  type StreamExceptionType,
  startBedrockStandin,
} from "../../scripts/bedrock-standin.mjs";

const LITE = "eu.amazon.nova-lite-v1:0";
const MICRO = "amazon.nova-micro-v1:0";
const PROMPT = "Which cell is closest to the Brandenburg Gate?";

const started: BedrockStandin[] = [];
const clients: BedrockRuntimeClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function standin(options: BedrockStandinOptions = {}): Promise<BedrockStandin> {
  const s = await startBedrockStandin({ timeScale: 0.01, ...options });
  started.push(s);
  return s;
}

/** The real client, pointed at the stand-in. Node's default handler speaks HTTP/2 only. */
function client(
  s: BedrockStandin,
  overrides: Partial<BedrockRuntimeClientConfig> = {},
): BedrockRuntimeClient {
  const c = new BedrockRuntimeClient({
    endpoint: s.url,
    region: "eu-central-1",
    credentials: { accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
    ...overrides,
  });
  clients.push(c);
  return c;
}

/** Drops the SigV4 header after signing, as a caller that forgot to sign would send it. */
class UnsignedHandler extends NodeHttpHandler {
  override handle(...args: Parameters<NodeHttpHandler["handle"]>) {
    delete args[0].headers.authorization;
    return super.handle(...args);
  }
}

/** The SDK's document type; a JSON Schema from zod is plain JSON, checked on the way. */
type Document = Exclude<ToolUseBlock["input"], undefined>;
function asDocument(value: unknown): Document {
  const scalar = typeof value === "string" || typeof value === "number";
  if (value === null || scalar || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(asDocument);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asDocument(v)]));
  }
  throw new TypeError(`not JSON: ${typeof value}`);
}

function ask(text: string, extra: Partial<ConverseCommandInput> = {}): ConverseCommandInput {
  return { modelId: LITE, messages: [{ role: "user", content: [{ text }] }], ...extra };
}

function textOf(content: ContentBlock[] | undefined): string {
  return (content ?? []).map((b) => b.text ?? "").join("");
}

/** Reads a stream to its end, or to the error it ends with. */
async function drain(
  stream: AsyncIterable<ConverseStreamOutput> | undefined,
): Promise<{ events: ConverseStreamOutput[]; error: unknown }> {
  const events: ConverseStreamOutput[] = [];
  try {
    for await (const e of stream ?? []) events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

const deltasOf = (events: ConverseStreamOutput[]) =>
  events.flatMap((e) => (e.contentBlockDelta ? [e.contentBlockDelta] : []));

/** The shape another component asks Converse for through a forced tool. */
const RoutePlan = z.object({
  tier: z.enum(["device", "mec", "cloud"]),
  confidence: z.number().min(0).max(1),
  maxTokens: z.int().min(16).max(4096),
  reason: z.string().min(20).max(80),
  sites: z
    .array(z.object({ id: z.string().min(1), rttMs: z.number().positive().multipleOf(0.5) }))
    .min(2)
    .max(3),
  fallback: z.object({ tier: z.literal("cloud"), model: z.string() }).nullable(),
  decidedAt: z.iso.datetime(),
  requestId: z.uuid(),
  note: z.string().optional(),
});
const ROUTE_PLAN_JSON = z.toJSONSchema(RoutePlan);
const ROUTE_PLAN_SCHEMA = asDocument(ROUTE_PLAN_JSON);

function toolConfig(choice: "tool" | "any" | "auto"): ConverseCommandInput["toolConfig"] {
  const spec = (name: string) => ({
    toolSpec: { name, description: "Plan a route.", inputSchema: { json: ROUTE_PLAN_SCHEMA } },
  });
  return {
    tools: [spec("route_plan"), spec("other_plan")],
    toolChoice:
      choice === "tool"
        ? { tool: { name: "route_plan" } }
        : choice === "any"
          ? { any: {} }
          : { auto: {} },
  };
}

describe("Converse", () => {
  it("answers deterministically with usage, and keeps no content", async () => {
    const s = await standin();
    const c = client(s);
    const first = await c.send(new ConverseCommand(ask(PROMPT)));
    const again = await c.send(new ConverseCommand(ask(PROMPT)));
    const other = await c.send(new ConverseCommand(ask("Something else entirely.")));

    const text = textOf(first.output?.message?.content);
    expect(first.output?.message?.role).toBe("assistant");
    expect(text.split(" ").length).toBeGreaterThanOrEqual(24);
    expect(textOf(again.output?.message?.content)).toBe(text);
    expect(textOf(other.output?.message?.content)).not.toBe(text);
    expect(first.stopReason).toBe("end_turn");
    const usage = first.usage;
    expect(usage?.inputTokens).toBeGreaterThan(0);
    expect(usage?.outputTokens).toBe(text.split(" ").length);
    expect(usage?.totalTokens).toBe((usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0));
    expect(first.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(first.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

    expect(s.state.counts).toEqual({ [LITE]: { Converse: 3, ConverseStream: 0 } });
    expect(s.state.calls.map((e) => [e.operation, e.modelId, e.status])).toEqual([
      ["Converse", LITE, 200],
      ["Converse", LITE, 200],
      ["Converse", LITE, 200],
    ]);
    const kept = JSON.stringify(s.state);
    expect(kept).not.toContain("Brandenburg");
    expect(kept).not.toContain(text.slice(0, 20));
  });

  it("cuts the same answer at maxTokens and at stop sequences", async () => {
    const c = client(await standin());
    const full = textOf((await c.send(new ConverseCommand(ask(PROMPT)))).output?.message?.content);
    const short = await c.send(
      new ConverseCommand(ask(PROMPT, { inferenceConfig: { maxTokens: 5 } })),
    );
    expect(short.stopReason).toBe("max_tokens");
    expect(short.usage?.outputTokens).toBe(5);
    expect(full.startsWith(textOf(short.output?.message?.content))).toBe(true);

    const stopped = await c.send(
      new ConverseCommand(ask(PROMPT, { inferenceConfig: { stopSequences: ["."] } })),
    );
    expect(stopped.stopReason).toBe("stop_sequence");
    expect(textOf(stopped.output?.message?.content)).toBe(full.slice(0, full.indexOf(".")));
  });

  it("accepts Nova ids, geographic profiles and ARNs; rejects other models", async () => {
    const s = await standin();
    const c = client(s);
    const ids = [
      "amazon.nova-pro-v1:0",
      "us.amazon.nova-micro-v1:0",
      "apac.amazon.nova-lite-v1:0",
      "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0",
      "arn:aws:bedrock:eu-central-1::foundation-model/amazon.nova-lite-v1:0",
    ];
    for (const modelId of ids) {
      const answer = await c.send(new ConverseCommand(ask(PROMPT, { modelId })));
      expect(answer.stopReason, modelId).toBe("end_turn");
    }
    for (const modelId of ["amazon.titan-text-express-v1", "eu.amazon.nova-premier-v1:0"]) {
      const call = c.send(new ConverseCommand(ask(PROMPT, { modelId })));
      await expect(call).rejects.toBeInstanceOf(ValidationException);
      await expect(call).rejects.toThrow("The provided model identifier is invalid.");
    }
    expect(Object.keys(s.state.counts)).toEqual([
      ...ids,
      "amazon.titan-text-express-v1",
      "eu.amazon.nova-premier-v1:0",
    ]);
  });

  it("takes images on Lite but rejects them on Micro, like Bedrock", async () => {
    const c = client(await standin());
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const withImage = (modelId: string) =>
      ask(PROMPT, {
        modelId,
        messages: [
          {
            role: "user",
            content: [{ text: PROMPT }, { image: { format: "png", source: { bytes: png } } }],
          },
        ],
      });
    const lite = await c.send(new ConverseCommand(withImage(LITE)));
    expect(lite.usage?.inputTokens).toBeGreaterThan(1_000);
    const micro = c.send(new ConverseCommand(withImage(MICRO)));
    await expect(micro).rejects.toBeInstanceOf(ValidationException);
    await expect(micro).rejects.toThrow("doesn't support the image content block");
    await expect(
      c.send(new ConverseCommand(ask(PROMPT, { modelId: MICRO }))),
    ).resolves.toBeTruthy();
  });

  it("takes video on Lite and Pro but rejects it on Micro, like Bedrock", async () => {
    const c = client(await standin());
    const mp4 = new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x6d, 0x70, 0x34, 0x32]);
    const withVideo = (modelId: string, format: VideoFormat = "mp4") =>
      ask(PROMPT, {
        modelId,
        messages: [
          {
            role: "user",
            content: [{ text: PROMPT }, { video: { format, source: { bytes: mp4 } } }],
          },
        ],
      });
    for (const modelId of [LITE, "amazon.nova-pro-v1:0"]) {
      const answer = await c.send(new ConverseCommand(withVideo(modelId)));
      expect(answer.usage?.inputTokens, modelId).toBeGreaterThan(5_000);
    }
    await expect(c.send(new ConverseCommand(withVideo(LITE, "three_gp")))).resolves.toBeTruthy();
    const micro = c.send(new ConverseCommand(withVideo(MICRO)));
    await expect(micro).rejects.toBeInstanceOf(ValidationException);
    await expect(micro).rejects.toThrow("doesn't support the video content block");
    const avi = c.send(new ConverseCommand(withVideo(LITE, "avi" as VideoFormat)));
    await expect(avi).rejects.toThrow("video.format must be one of the following");
  });

  it("rejects bodies Bedrock rejects", async () => {
    const c = client(await standin());
    const bad: Partial<ConverseCommandInput>[] = [
      { messages: [] },
      { messages: [{ role: "assistant", content: [{ text: "Hi." }] }] },
      {
        messages: [
          { role: "user", content: [{ text: "a" }] },
          { role: "user", content: [{ text: "b" }] },
        ],
      },
      { inferenceConfig: { maxTokens: 20_000 } },
      { inferenceConfig: { temperature: 1.5 } },
      {
        toolConfig: {
          tools: [{ toolSpec: { name: "t", inputSchema: { json: { type: "string" } } } }],
        },
      },
      {
        toolConfig: {
          tools: [{ toolSpec: { name: "t", inputSchema: { json: { type: "object" } } } }],
          toolChoice: { tool: { name: "missing" } },
        },
      },
    ];
    for (const extra of bad) {
      const call = c.send(new ConverseCommand(ask(PROMPT, extra)));
      await expect(call, JSON.stringify(extra)).rejects.toBeInstanceOf(ValidationException);
    }
  });
});

describe("ConverseStream", () => {
  it("streams the Converse answer token by token, flushed as produced", async () => {
    const reference = await client(await standin()).send(new ConverseCommand(ask(PROMPT)));
    const expected = textOf(reference.output?.message?.content);
    // Real pacing: 200 tokens/s after a 50 ms first token.
    const s = await standin({ timeScale: 1, tokensPerSec: 200, ttftMs: 50 });
    const t0 = performance.now();
    const { stream } = await client(s).send(new ConverseStreamCommand(ask(PROMPT)));
    const arrivals: number[] = [];
    const events: ConverseStreamOutput[] = [];
    let openAtFirstDelta: boolean | undefined;
    for await (const event of stream ?? []) {
      events.push(event);
      if (event.contentBlockDelta) {
        arrivals.push(performance.now() - t0);
        openAtFirstDelta ??= s.state.calls[0]?.status === 0;
      }
    }

    const deltas = deltasOf(events);
    expect(deltas.map((d) => d.delta?.text).join("")).toBe(expected);
    expect(deltas.every((d) => d.contentBlockIndex === 0)).toBe(true);
    expect(Object.keys(events[0] ?? {})).toEqual(["messageStart"]);
    expect(events[0]?.messageStart?.role).toBe("assistant");
    expect(events.slice(-3).map((e) => Object.keys(e)[0])).toEqual([
      "contentBlockStop",
      "messageStop",
      "metadata",
    ]);
    expect(events.at(-2)?.messageStop?.stopReason).toBe("end_turn");
    expect(events.at(-1)?.metadata?.usage).toEqual(reference.usage);
    expect(events.at(-1)?.metadata?.metrics?.latencyMs).toBeGreaterThanOrEqual(50);
    // Incremental: the first token arrives while the stand-in is still generating, and the
    // tokens are spread over the decode time (5 ms each) instead of arriving in one burst.
    expect(openAtFirstDelta).toBe(true);
    const first = arrivals[0] ?? 0;
    const last = arrivals.at(-1) ?? 0;
    expect(first).toBeGreaterThanOrEqual(45);
    expect(last - first).toBeGreaterThan((deltas.length - 1) * 5 * 0.7);
    expect(s.state.counts[LITE]).toEqual({ Converse: 0, ConverseStream: 1 });
    expect(s.state.calls[0]?.status).toBe(200);
  });

  it("sends an exception frame after N tokens, surfacing as the SDK's exception class", async () => {
    const s = await standin();
    const c = client(s);
    const cases: [StreamExceptionType, new (...args: never[]) => Error][] = [
      ["modelStreamErrorException", ModelStreamErrorException],
      ["internalServerException", InternalServerException],
      ["throttlingException", ThrottlingException],
      ["serviceUnavailableException", ServiceUnavailableException],
    ];
    for (const [type, ErrorClass] of cases) {
      s.setFaults({ midStreamError: { afterTokens: 3, type } });
      const { stream } = await c.send(new ConverseStreamCommand(ask(PROMPT)));
      const { events, error } = await drain(stream);
      expect(deltasOf(events), type).toHaveLength(3);
      expect(error, type).toBeInstanceOf(ErrorClass);
      expect(s.state.calls.at(-1)).toMatchObject({ status: 200, error: type });
    }
    s.setFaults({ midStreamError: { afterTokens: 1_000 } });
    const { stream } = await c.send(new ConverseStreamCommand(ask(PROMPT)));
    const { events, error } = await drain(stream);
    expect(error).toBeInstanceOf(ModelStreamErrorException);
    expect(events.some((e) => e.messageStop)).toBe(false);
  });

  it("stalls after N tokens until the client leaves", async () => {
    const s = await standin();
    const c = client(s);
    s.setFaults({ stallAfterTokens: 3 });
    const abort = new AbortController();
    const { stream } = await c.send(new ConverseStreamCommand(ask(PROMPT)), {
      abortSignal: abort.signal,
    });
    const events: ConverseStreamOutput[] = [];
    const reading = drain(stream).then((r) => {
      events.push(...r.events);
      return r.error;
    });
    await sleep(300);
    expect(s.state.inFlight).toBe(1);
    abort.abort();
    const error = await reading;
    expect(error).toBeInstanceOf(Error);
    expect(deltasOf(events)).toHaveLength(3);
    expect(events.some((e) => e.messageStop)).toBe(false);
    await expect.poll(() => s.state.inFlight).toBe(0);

    s.setFaults({ stallAfterTokens: null });
    const again = await c.send(new ConverseStreamCommand(ask(PROMPT)));
    expect((await drain(again.stream)).events.at(-1)?.metadata).toBeDefined();
  });
});

describe("tool use", () => {
  it("answers a forced tool with an input that satisfies its schema", async () => {
    const c = client(await standin());
    const answer = await c.send(
      new ConverseCommand(ask(PROMPT, { toolConfig: toolConfig("tool") })),
    );
    expect(answer.stopReason).toBe("tool_use");
    const [block, ...rest] = answer.output?.message?.content ?? [];
    expect(rest).toEqual([]);
    expect(block?.toolUse?.name).toBe("route_plan");
    expect(block?.toolUse?.toolUseId).toMatch(/^tooluse_/);
    const input = block?.toolUse?.input;
    expect(RoutePlan.safeParse(input).error).toBeUndefined();
    expect(z.fromJSONSchema(ROUTE_PLAN_JSON).safeParse(input).error).toBeUndefined();

    const again = await c.send(
      new ConverseCommand(ask(PROMPT, { toolConfig: toolConfig("tool") })),
    );
    expect(again.output?.message?.content?.[0]?.toolUse).toEqual(block?.toolUse);
    const any = await c.send(new ConverseCommand(ask(PROMPT, { toolConfig: toolConfig("any") })));
    expect(any.output?.message?.content?.[0]?.toolUse?.name).toBe("route_plan");
    const auto = await c.send(new ConverseCommand(ask(PROMPT, { toolConfig: toolConfig("auto") })));
    expect(auto.stopReason).toBe("end_turn");
    expect(textOf(auto.output?.message?.content).length).toBeGreaterThan(0);
  });

  it("fills the schema validly whatever the prompt", async () => {
    const c = client(await standin());
    for (let i = 0; i < 20; i++) {
      const answer = await c.send(
        new ConverseCommand(ask(`Plan number ${i}`, { toolConfig: toolConfig("tool") })),
      );
      const input = answer.output?.message?.content?.[0]?.toolUse?.input;
      expect(RoutePlan.safeParse(input).error, JSON.stringify(input)).toBeUndefined();
    }
  });

  it("streams the tool call as contentBlockStart and JSON input deltas", async () => {
    const c = client(await standin());
    const whole = await c.send(
      new ConverseCommand(ask(PROMPT, { toolConfig: toolConfig("tool") })),
    );
    const { stream } = await c.send(
      new ConverseStreamCommand(ask(PROMPT, { toolConfig: toolConfig("tool") })),
    );
    const { events, error } = await drain(stream);
    expect(error).toBeUndefined();
    const start = events.find((e) => e.contentBlockStart)?.contentBlockStart;
    const toolUse = whole.output?.message?.content?.[0]?.toolUse;
    expect(start?.start?.toolUse).toEqual({ toolUseId: toolUse?.toolUseId, name: "route_plan" });
    const json = deltasOf(events)
      .map((d) => d.delta?.toolUse?.input ?? "")
      .join("");
    expect(JSON.parse(json)).toEqual(toolUse?.input);
    expect(events.find((e) => e.messageStop)?.messageStop?.stopReason).toBe("tool_use");
  });
});

describe("errors and faults", () => {
  it("answers 429 ThrottlingException to Converse and ConverseStream", async () => {
    const s = await standin({ faults: { throttleRate: 1 } });
    const call = client(s).send(new ConverseCommand(ask(PROMPT)));
    await expect(call).rejects.toBeInstanceOf(ThrottlingException);
    await expect(call).rejects.toMatchObject({ $metadata: { httpStatusCode: 429 } });
    const stream = client(s).send(new ConverseStreamCommand(ask(PROMPT)));
    await expect(stream).rejects.toBeInstanceOf(ThrottlingException);
    expect(s.state.calls.map((e) => e.error)).toEqual([
      "ThrottlingException",
      "ThrottlingException",
    ]);
  });

  it("answers 500 InternalServerException and 503 ServiceUnavailableException", async () => {
    const s = await standin({ faults: { errorRate: 1 } });
    const c = client(s);
    const seen = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const error = await c.send(new ConverseCommand(ask(PROMPT))).catch((e: unknown) => e);
      if (
        error instanceof InternalServerException ||
        error instanceof ServiceUnavailableException
      ) {
        seen.set(error.name, error.$metadata.httpStatusCode ?? 0);
      } else throw new Error(`unexpected ${String(error)}`);
    }
    expect(Object.fromEntries(seen)).toEqual({
      InternalServerException: 500,
      ServiceUnavailableException: 503,
    });
  });

  it("answers 403 AccessDeniedException to an unsigned request", async () => {
    const s = await standin();
    const c = client(s, { requestHandler: new UnsignedHandler() });
    const call = c.send(new ConverseCommand(ask(PROMPT)));
    await expect(call).rejects.toMatchObject({
      name: "AccessDeniedException",
      $metadata: { httpStatusCode: 403 },
    });
    expect(s.state.calls).toMatchObject([{ status: 403, error: "AccessDeniedException" }]);
  });

  it("rejects a skewed clock like AWS, which the SDK corrects and retries", async () => {
    const s = await standin();
    const c = client(s, { systemClockOffset: -3_600_000, maxAttempts: 2 });
    const answer = await c.send(new ConverseCommand(ask(PROMPT)));
    expect(answer.$metadata.attempts).toBe(2);
    expect(s.state.calls.map((e) => [e.status, e.error])).toEqual([
      [403, "InvalidSignatureException"],
      [200, undefined],
    ]);
  });

  it("resets connections, which the SDK retries", async () => {
    const s = await standin({ faults: { resetRate: 1 } });
    const call = client(s, { maxAttempts: 2 }).send(new ConverseCommand(ask(PROMPT)));
    await expect(call).rejects.toThrow();
    expect(s.state.calls).toMatchObject([
      { status: 0, error: "ConnectionReset" },
      { status: 0, error: "ConnectionReset" },
    ]);
  });

  it("adds latency, goes dark and back through POST /__faults", async () => {
    const s = await standin();
    const c = client(s);
    const post = (body: unknown) =>
      fetch(`${s.url}/__faults`, { method: "POST", body: JSON.stringify(body) });

    expect((await post({ addedLatencyMs: 150 })).status).toBe(200);
    const t0 = performance.now();
    await c.send(new ConverseCommand(ask(PROMPT)));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);

    await post({ addedLatencyMs: 0, dark: true });
    await expect(c.send(new ConverseCommand(ask(PROMPT)))).rejects.toThrow();
    expect(await (await fetch(`${s.url}/__faults`)).json()).toMatchObject({ dark: true });
    await post({ dark: false });
    await expect(c.send(new ConverseCommand(ask(PROMPT)))).resolves.toBeTruthy();

    const bad = await post({ errorRate: 2 });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-amzn-errortype")).toMatch(/^ValidationException:/);
    expect(() => s.setFaults({ midStreamError: { afterTokens: -1 } })).toThrow(TypeError);
    expect(s.state.calls.map((e) => e.status)).toEqual([200, 0, 200]);
  });

  it("logs unknown routes, so a test can tell that nothing reached the cloud", async () => {
    const s = await standin();
    expect(s.state.calls).toEqual([]);
    const res = await fetch(`${s.url}/model/${encodeURIComponent(LITE)}/invoke`, {
      method: "POST",
      body: "{}",
    });
    expect(res.status).toBe(404);
    expect(s.state.calls).toMatchObject([{ operation: "Unknown", status: 404 }]);
    expect(s.state.counts).toEqual({});
  });
});
