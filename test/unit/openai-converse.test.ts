// The OpenAI chat schema as real clients send it, and the OpenAI ⇄ Converse translation in both
// directions, streaming included; the failover helpers; roles always alternate (property).

import type {
  ConverseRequest,
  ConverseStreamOutput,
  TokenUsage,
} from "@aws-sdk/client-bedrock-runtime";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { modalityOf } from "../../shared/chat-routing.ts";
import {
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatMessage,
  chatCompletionRequestSchema,
  estimatePromptTokens,
  IMAGE_TOKENS,
  VIDEO_TOKENS,
} from "../../shared/openai.ts";
import {
  CONTINUE_INSTRUCTION,
  type ConverseBody,
  type ConverseResult,
  continuationRequest,
  createConverseStreamTranslator,
  finishReason,
  fromConverseResponse,
  OPENING_USER_TEXT,
  sseChunkText,
  type ToConverseResult,
  toConverseRequest,
} from "../../shared/openai-converse.ts";

const PNG_BYTES = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_B64 = btoa(String.fromCharCode(...PNG_BYTES));
const PNG_URL = `data:image/png;base64,${PNG_B64}`;
/** A stand-in for an MP4 clip: the start of an `ftyp` box. */
const MP4_BYTES = [0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x6d, 0x70, 0x34, 0x32];
const MP4_B64 = btoa(String.fromCharCode(...MP4_BYTES));
const MP4_URL = `data:video/mp4;base64,${MP4_B64}`;
const META = { id: "chatcmpl-test", model: "amazon.nova-lite-v1:0", created: 1_700_000_000 };

function parse(body: unknown): ChatCompletionRequest {
  const result = chatCompletionRequestSchema.safeParse(body);
  if (!result.success) throw new Error(JSON.stringify(result.error.issues));
  return result.data;
}

function issues(body: unknown) {
  const result = chatCompletionRequestSchema.safeParse(body);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((i) => ({ code: i.code, path: i.path }));
}

function chat(messages: ChatMessage[], extra: Partial<ChatCompletionRequest> = {}) {
  return { model: "auto", messages, ...extra } satisfies ChatCompletionRequest;
}

function converse(req: ChatCompletionRequest): ConverseBody {
  const result = toConverseRequest(req, { modelId: "amazon.nova-lite-v1:0" });
  if (!result.ok) throw new Error(`${result.code} at ${result.path}: ${result.message}`);
  // The body is a real ConverseRequest (checked by tsc).
  const typed: ConverseRequest = result.request;
  expect(typed.modelId).toBe("amazon.nova-lite-v1:0");
  return result.request;
}

function failure(req: ChatCompletionRequest): Extract<ToConverseResult, { ok: false }> {
  const result = toConverseRequest(req, { modelId: "m" });
  if (result.ok) throw new Error("expected a failure");
  return result;
}

const roles = (body: ConverseBody) => body.messages.map((m) => m.role);

describe("chatCompletionRequestSchema: bodies real clients send", () => {
  it("accepts the OpenAI SDK quick-start body", () => {
    const req = parse({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "Hello!" },
      ],
    });
    expect(req.messages).toHaveLength(2);
  });

  it("accepts a streaming body full of options no tier maps, and drops unknown keys", () => {
    const req = parse({
      model: "gpt-4o",
      messages: [
        { role: "developer", content: "Answer in JSON." },
        { role: "user", content: "Hi" },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 512,
      temperature: 0.7,
      top_p: 0.9,
      stop: ["\n\n", "END"],
      n: 1,
      user: "user-1234",
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      seed: 42,
      logprobs: false,
      top_logprobs: 0,
      response_format: { type: "json_object" },
      metadata: { session: "abc" },
      parallel_tool_calls: true,
      service_tier: "auto",
      store: false,
      // Newer or vendor keys: accepted and dropped.
      reasoning_effort: "low",
      logit_bias: { "50256": -100 },
      modalities: ["text"],
      mec: { criticality: "critical", constraints: { latencySlaMs: 900 } },
    });
    expect(req.stream_options?.include_usage).toBe(true);
    expect(req.seed).toBe(42);
    expect(req.mec).toEqual({ criticality: "critical", constraints: { latencySlaMs: 900 } });
    expect("reasoning_effort" in req).toBe(false);
    expect("logit_bias" in req).toBe(false);
  });

  it("reads explicit nulls as absent", () => {
    const req = parse({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      max_tokens: null,
      temperature: null,
      stop: null,
      n: null,
      stream: null,
      stream_options: null,
    });
    expect(req.max_tokens).toBeUndefined();
    expect(req.temperature).toBeUndefined();
    expect(req.stop).toBeUndefined();
    expect(req.n).toBeUndefined();
  });

  it("accepts vision and audio content parts", () => {
    const req = parse({
      model: "gpt-4o",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What's in this image?" },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "low" } },
            { type: "image_url", image_url: { url: PNG_URL } },
            { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
          ],
        },
      ],
      max_tokens: 300,
    });
    expect(req.messages[0]?.content).toHaveLength(4);
  });

  it("accepts vLLM's video_url part, as an https or a data: URL", () => {
    const req = parse({
      model: "qwen2.5-vl-7b",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What happens in these clips?" },
            { type: "video_url", video_url: { url: "https://example.com/clip.mp4" } },
            { type: "video_url", video_url: { url: MP4_URL } },
          ],
        },
      ],
    });
    expect(req.messages[0]?.content).toHaveLength(3);
    expect(
      issues({
        model: "m",
        messages: [{ role: "user", content: [{ type: "video_url", video_url: { url: "" } }] }],
      }).map((i) => i.path),
    ).toEqual([["messages", 0, "content", 0, "video_url", "url"]]);
  });

  it("accepts a tool round trip as the SDK echoes it back", () => {
    const req = parse({
      model: "gpt-4o",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: null,
          refusal: null,
          tool_calls: [
            {
              id: "call_abc",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_abc", content: '{"temp_c":18}' },
      ],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Current weather",
            parameters: { type: "object", properties: { city: { type: "string" } } },
            strict: true,
          },
        },
      ],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    expect(req.messages).toHaveLength(3);
  });
});

describe("chatCompletionRequestSchema: rejections name the field", () => {
  const ok = { model: "m", messages: [{ role: "user", content: "x" }] };

  it("refuses n other than 1", () => {
    expect(issues({ ...ok, n: 2 })).toEqual([{ code: "invalid_value", path: ["n"] }]);
  });

  it("needs a model and at least one message", () => {
    expect(issues({ messages: ok.messages })).toEqual([{ code: "invalid_type", path: ["model"] }]);
    expect(issues({ ...ok, messages: [] })).toEqual([{ code: "too_small", path: ["messages"] }]);
  });

  it("names the message and field", () => {
    expect(issues({ ...ok, messages: [{ role: "bot", content: "x" }] })).toEqual([
      { code: "invalid_union", path: ["messages", 0, "role"] },
    ]);
    expect(issues({ ...ok, messages: [ok.messages[0], { role: "tool", content: "42" }] })).toEqual([
      { code: "invalid_type", path: ["messages", 1, "tool_call_id"] },
    ]);
    expect(issues({ ...ok, temperature: 3 })).toEqual([{ code: "too_big", path: ["temperature"] }]);
    expect(issues({ ...ok, stop: ["a", "b", "c", "d", "e"] })).toEqual([
      { code: "invalid_union", path: ["stop"] },
    ]);
    expect(
      issues({ ...ok, tools: [{ type: "function", function: { name: "get weather" } }] }),
    ).toEqual([{ code: "invalid_format", path: ["tools", 0, "function", "name"] }]);
  });

  it("reports a bad content part at the content, with the part's path inside", () => {
    const result = chatCompletionRequestSchema.safeParse({
      ...ok,
      messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }],
    });
    expect(result.success).toBe(false);
    const issue = result.error?.issues[0];
    expect(issue?.path).toEqual(["messages", 0, "content"]);
    expect(issue?.message).toBe(
      "expected a string or an array of text, image_url, input_audio or video_url parts",
    );
    const nested = issue && "errors" in issue ? issue.errors.flat().map((e) => e.path) : [];
    expect(nested).toContainEqual([0, "image_url", "url"]);
  });
});

describe("toConverseRequest", () => {
  it("moves system and developer messages to system, in order", () => {
    const body = converse(
      chat([
        { role: "system", content: "Be brief." },
        { role: "developer", content: [{ type: "text", text: "Use metric units." }] },
        { role: "user", content: "Hi" },
        { role: "system", content: "Late rule." },
      ]),
    );
    expect(body.system).toEqual([
      { text: "Be brief." },
      { text: "Use metric units." },
      { text: "Late rule." },
    ]);
    expect(body.messages).toEqual([{ role: "user", content: [{ text: "Hi" }] }]);
    expect(body.inferenceConfig).toBeUndefined();
    expect(body.toolConfig).toBeUndefined();
  });

  it("merges consecutive turns of one role", () => {
    const body = converse(
      chat([
        { role: "user", content: "a" },
        { role: "user", content: [{ type: "text", text: "b" }] },
        { role: "assistant", content: "c" },
        { role: "assistant", content: "d" },
        { role: "user", content: "e" },
      ]),
    );
    expect(body.messages).toEqual([
      { role: "user", content: [{ text: "a" }, { text: "b" }] },
      { role: "assistant", content: [{ text: "c" }, { text: "d" }] },
      { role: "user", content: [{ text: "e" }] },
    ]);
  });

  it("opens with a user turn when the assistant speaks first, or when there are only system messages", () => {
    expect(
      converse(
        chat([
          { role: "assistant", content: "Hi, how can I help?" },
          { role: "user", content: "Q" },
        ]),
      ).messages,
    ).toEqual([
      { role: "user", content: [{ text: OPENING_USER_TEXT }] },
      { role: "assistant", content: [{ text: "Hi, how can I help?" }] },
      { role: "user", content: [{ text: "Q" }] },
    ]);
    const only = converse(chat([{ role: "system", content: "Write a haiku about rain." }]));
    expect(only.messages).toEqual([{ role: "user", content: [{ text: OPENING_USER_TEXT }] }]);
  });

  it("drops blank text, then merges what became neighbours", () => {
    const body = converse(
      chat([
        { role: "user", content: "a" },
        { role: "assistant", content: "  " },
        { role: "user", content: "" },
        { role: "user", content: "b" },
      ]),
    );
    expect(body.messages).toEqual([{ role: "user", content: [{ text: "a" }, { text: "b" }] }]);
  });

  it("decodes data-URL images and audio into bytes", () => {
    const body = converse(
      chat([
        {
          role: "user",
          content: [
            { type: "text", text: "Describe" },
            { type: "image_url", image_url: { url: PNG_URL, detail: "high" } },
            { type: "image_url", image_url: { url: `data:image/jpg;base64,${PNG_B64}` } },
            { type: "input_audio", input_audio: { data: PNG_B64, format: "mp3" } },
          ],
        },
      ]),
    );
    const [text, png, jpg, audio] = body.messages[0]?.content ?? [];
    expect(text).toEqual({ text: "Describe" });
    expect(png?.image?.format).toBe("png");
    expect(Array.from(png?.image?.source?.bytes ?? [])).toEqual(PNG_BYTES);
    expect(jpg?.image?.format).toBe("jpeg");
    expect(audio?.audio?.format).toBe("mp3");
    expect(Array.from(audio?.audio?.source?.bytes ?? [])).toEqual(PNG_BYTES);
  });

  it("refuses remote image URLs, naming the path", () => {
    const f = failure(
      chat([
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        {
          role: "user",
          content: [
            { type: "text", text: "and this?" },
            { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
          ],
        },
      ]),
    );
    expect(f).toMatchObject({
      code: "unsupported_content",
      path: "messages.2.content.1.image_url.url",
    });
    expect(f.message).toMatch(/data: URL/);
  });

  it("refuses other image types and bad data", () => {
    const image = (url: string) =>
      chat([{ role: "user", content: [{ type: "image_url", image_url: { url } }] }]);
    expect(failure(image("data:image/svg+xml;base64,PHN2Zz4="))).toMatchObject({
      code: "unsupported_content",
      path: "messages.0.content.0.image_url.url",
    });
    expect(failure(image("data:image/png;base64,@@not base64@@")).code).toBe("invalid_content");
    expect(failure(image("data:image/png,rawbytes")).code).toBe("invalid_content");
    expect(failure(image("ftp://example.com/a.png")).code).toBe("invalid_content");
  });

  it("decodes data-URL videos into Converse video blocks", () => {
    const video = (subtype: string) =>
      chat([
        {
          role: "user",
          content: [
            { type: "text", text: "Describe" },
            { type: "video_url", video_url: { url: `data:video/${subtype};base64,${MP4_B64}` } },
          ],
        },
      ]);
    const [text, block] = converse(video("mp4")).messages[0]?.content ?? [];
    expect(text).toEqual({ text: "Describe" });
    expect(block?.video?.format).toBe("mp4");
    expect(Array.from(block?.video?.source?.bytes ?? [])).toEqual(MP4_BYTES);
    const formats = ["webm", "quicktime", "mov", "x-matroska", "mkv", "mpeg", "x-ms-wmv", "3gpp"];
    expect(formats.map((f) => converse(video(f)).messages[0]?.content[1]?.video?.format)).toEqual([
      "webm",
      "mov",
      "mov",
      "mkv",
      "mkv",
      "mpeg",
      "wmv",
      "three_gp",
    ]);
  });

  it("refuses remote video URLs, other video types and bad data, naming the path", () => {
    const video = (url: string) =>
      chat([
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: [{ type: "video_url", video_url: { url } }] },
      ]);
    const remote = failure(video("https://example.com/clip.mp4"));
    expect(remote).toMatchObject({
      code: "unsupported_content",
      path: "messages.2.content.0.video_url.url",
    });
    expect(remote.message).toMatch(/data: URL/);
    expect(failure(video("data:video/avi;base64,AAAA"))).toMatchObject({
      code: "unsupported_content",
      path: "messages.2.content.0.video_url.url",
    });
    expect(failure(video("data:video/constructor;base64,AAAA")).code).toBe("unsupported_content");
    expect(failure(video("data:video/mp4;base64,@@not base64@@")).code).toBe("invalid_content");
    expect(failure(video("data:video/mp4,rawbytes")).code).toBe("invalid_content");
    // An image where a video belongs, and a video where an image belongs.
    expect(failure(video(PNG_URL)).code).toBe("invalid_content");
    const swapped = chat([
      { role: "user", content: [{ type: "image_url", image_url: { url: MP4_URL } }] },
    ]);
    expect(failure(swapped).code).toBe("invalid_content");
    expect(failure(video("s3://bucket/clip.mp4")).code).toBe("invalid_content");
  });

  it("maps the inference options", () => {
    const body = converse(
      chat([{ role: "user", content: "x" }], {
        max_tokens: 100,
        max_completion_tokens: 200,
        temperature: 1.5,
        top_p: 0.8,
        stop: "END",
      }),
    );
    expect(body.inferenceConfig).toEqual({
      maxTokens: 200,
      temperature: 1,
      topP: 0.8,
      stopSequences: ["END"],
    });
    expect(
      converse(chat([{ role: "user", content: "x" }], { max_tokens: 7, stop: ["a", ""] }))
        .inferenceConfig,
    ).toEqual({ maxTokens: 7, stopSequences: ["a"] });
  });

  describe("tools", () => {
    const weather = {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Current weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    };
    const history: ChatMessage[] = [
      { role: "user", content: "Weather in Paris and Rome?" },
      {
        role: "assistant",
        content: "Checking.",
        tool_calls: [
          {
            id: "c1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
          {
            id: "c2",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Rome"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "c1", content: "18C" },
      { role: "tool", tool_call_id: "c2", content: [{ type: "text", text: "24C" }] },
      { role: "user", content: "Which is warmer?" },
    ];

    it("turns tool calls into toolUse and tool messages into one user turn of toolResults", () => {
      const body = converse(chat(history, { tools: [weather], tool_choice: "auto" }));
      expect(roles(body)).toEqual(["user", "assistant", "user"]);
      expect(body.messages[1]?.content).toEqual([
        { text: "Checking." },
        { toolUse: { toolUseId: "c1", name: "get_weather", input: { city: "Paris" } } },
        { toolUse: { toolUseId: "c2", name: "get_weather", input: { city: "Rome" } } },
      ]);
      expect(body.messages[2]?.content).toEqual([
        { toolResult: { toolUseId: "c1", content: [{ text: "18C" }] } },
        { toolResult: { toolUseId: "c2", content: [{ text: "24C" }] } },
        { text: "Which is warmer?" },
      ]);
      expect(body.toolConfig).toEqual({
        tools: [
          {
            toolSpec: {
              name: "get_weather",
              description: "Current weather",
              inputSchema: { json: weather.function.parameters },
            },
          },
        ],
        toolChoice: { auto: {} },
      });
    });

    it("maps each tool_choice", () => {
      const ask = (tool_choice: ChatCompletionRequest["tool_choice"]) =>
        converse(chat([{ role: "user", content: "x" }], { tools: [weather], tool_choice }))
          .toolConfig;
      expect(ask(undefined)?.toolChoice).toBeUndefined();
      expect(ask("required")?.toolChoice).toEqual({ any: {} });
      expect(ask({ type: "function", function: { name: "get_weather" } })?.toolChoice).toEqual({
        tool: { name: "get_weather" },
      });
      expect(ask("none")).toBeUndefined();
    });

    it("keeps a tool configuration when the history has tool blocks, defining tools it lacks", () => {
      const none = converse(chat(history, { tools: [weather], tool_choice: "none" }));
      expect(none.toolConfig?.tools).toHaveLength(1);
      expect(none.toolConfig?.toolChoice).toBeUndefined();
      const dropped = converse(chat(history));
      expect(dropped.toolConfig?.tools).toEqual([
        { toolSpec: { name: "get_weather", inputSchema: { json: { type: "object" } } } },
      ]);
    });

    it("gives a tool without parameters an empty object schema, and empty arguments {}", () => {
      const body = converse(
        chat(
          [
            { role: "user", content: "time?" },
            {
              role: "assistant",
              content: null,
              tool_calls: [{ id: "t", type: "function", function: { name: "now", arguments: "" } }],
            },
            { role: "tool", tool_call_id: "t", content: "" },
          ],
          { tools: [{ type: "function", function: { name: "now" } }] },
        ),
      );
      expect(body.messages[1]?.content).toEqual([
        { toolUse: { toolUseId: "t", name: "now", input: {} } },
      ]);
      expect(body.messages[2]?.content[0]?.toolResult?.content).toEqual([{ text: "(empty)" }]);
      expect(body.toolConfig?.tools?.[0]?.toolSpec?.inputSchema).toEqual({
        json: { type: "object", properties: {} },
      });
    });

    it("refuses tool arguments that are not a JSON object, naming the path", () => {
      const call = (args: string): ChatMessage[] => [
        { role: "user", content: "x" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: args } }],
        },
      ];
      expect(failure(chat(call("{not json")))).toMatchObject({
        code: "invalid_content",
        path: "messages.1.tool_calls.0.function.arguments",
      });
      expect(failure(chat(call("[1,2]"))).code).toBe("invalid_content");
    });

    it("round-trips: a Converse tool answer becomes tool_calls that translate back to the same toolUse", () => {
      const out: ConverseResult = {
        output: {
          message: {
            role: "assistant",
            content: [
              { toolUse: { toolUseId: "tu-1", name: "get_weather", input: { city: "Oslo" } } },
            ],
          },
        },
        stopReason: "tool_use",
        usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
      };
      const completion = fromConverseResponse(out, META);
      const choice = completion.choices[0];
      expect(choice?.finish_reason).toBe("tool_calls");
      expect(choice?.message.content).toBeNull();
      const calls = choice?.message.tool_calls ?? [];
      const back = converse(
        chat([
          { role: "user", content: "Weather in Oslo?" },
          { role: "assistant", content: choice?.message.content, tool_calls: calls },
          { role: "tool", tool_call_id: calls[0]?.id ?? "", content: "-3C" },
        ]),
      );
      expect(back.messages[1]?.content).toEqual(out.output?.message?.content);
      expect(back.messages[2]?.content[0]?.toolResult?.toolUseId).toBe("tu-1");
    });
  });
});

describe("fromConverseResponse", () => {
  it("joins text blocks, maps usage and keeps the caller's id, model and time", () => {
    const completion = fromConverseResponse(
      {
        output: {
          message: {
            role: "assistant",
            content: [{ text: "Hello, " }, { text: "world." }],
          },
        },
        stopReason: "end_turn",
        usage: {
          inputTokens: 12,
          outputTokens: 4,
          totalTokens: 20,
          cacheReadInputTokens: 3,
          cacheWriteInputTokens: 1,
        },
      },
      META,
    );
    expect(completion).toEqual({
      id: META.id,
      object: "chat.completion",
      created: META.created,
      model: META.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello, world.", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: {
        prompt_tokens: 16,
        completion_tokens: 4,
        total_tokens: 20,
        prompt_tokens_details: { cached_tokens: 3 },
      },
    });
  });

  it("maps every stop reason", () => {
    const table: [string | undefined, string][] = [
      ["end_turn", "stop"],
      ["stop_sequence", "stop"],
      ["max_tokens", "length"],
      ["model_context_window_exceeded", "length"],
      ["tool_use", "tool_calls"],
      ["content_filtered", "content_filter"],
      ["guardrail_intervened", "content_filter"],
      ["malformed_model_output", "stop"],
      [undefined, "stop"],
    ];
    for (const [reason, expected] of table) expect(finishReason(reason)).toBe(expected);
  });

  it("answers with empty content when the model said nothing", () => {
    const completion = fromConverseResponse(
      {
        output: { message: { role: "assistant", content: [] } },
        stopReason: "max_tokens",
        usage: undefined,
      },
      META,
    );
    expect(completion.choices[0]?.message.content).toBe("");
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  });
});

const usage: TokenUsage = { inputTokens: 9, outputTokens: 3, totalTokens: 12 };

function textEvents(pieces: string[], stopReason = "end_turn"): ConverseStreamOutput[] {
  return [
    { messageStart: { role: "assistant" } },
    ...pieces.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { text } } })),
    { contentBlockStop: { contentBlockIndex: 0 } },
    { messageStop: { stopReason: stopReason as "end_turn" } },
    { metadata: { usage, metrics: { latencyMs: 120 } } },
  ];
}

function translate(events: ConverseStreamOutput[], includeUsage: boolean): ChatCompletionChunk[] {
  const t = createConverseStreamTranslator({ ...META, includeUsage });
  const chunks = events.flatMap((e) => t.onEvent(e));
  chunks.push(...t.finish());
  expect(t.finish()).toEqual([]);
  return chunks;
}

/** The shape OpenAI streams have: role first, one finish, then at most the usage chunk. */
function expectValidSequence(chunks: ChatCompletionChunk[], includeUsage: boolean) {
  expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
  const finishes = chunks.flatMap((c, i) => (c.choices[0]?.finish_reason ? [i] : []));
  expect(finishes).toHaveLength(1);
  const after = chunks.slice((finishes[0] ?? 0) + 1);
  if (includeUsage) {
    expect(after).toHaveLength(1);
    expect(after[0]?.choices).toEqual([]);
    expect(after[0]?.usage).toBeTruthy();
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  } else {
    expect(after).toEqual([]);
    for (const c of chunks) expect("usage" in c).toBe(false);
  }
  for (const c of chunks) {
    expect(c).toMatchObject({
      id: META.id,
      object: "chat.completion.chunk",
      created: META.created,
    });
    expect(c.choices.filter((x) => x.delta.role)).toHaveLength(c === chunks[0] ? 1 : 0);
  }
}

const textOf = (chunks: ChatCompletionChunk[]) => chunks.map(sseChunkText).join("");

describe("createConverseStreamTranslator", () => {
  it("streams text: role chunk, deltas, finish, usage", () => {
    const chunks = translate(textEvents(["Hel", "lo", " world"]), true);
    expectValidSequence(chunks, true);
    expect(textOf(chunks)).toBe("Hello world");
    expect(chunks.at(-2)?.choices[0]).toEqual({
      index: 0,
      delta: {},
      logprobs: null,
      finish_reason: "stop",
    });
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 9,
      completion_tokens: 3,
      total_tokens: 12,
    });
  });

  it("leaves usage out entirely without includeUsage", () => {
    const chunks = translate(textEvents(["a"], "max_tokens"), false);
    expectValidSequence(chunks, false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("length");
  });

  it("streams tool calls with an index, the id and name first, then argument text", () => {
    const chunks = translate(
      [
        { messageStart: { role: "assistant" } },
        { contentBlockDelta: { contentBlockIndex: 0, delta: { text: "Let me check." } } },
        { contentBlockStop: { contentBlockIndex: 0 } },
        {
          contentBlockStart: {
            contentBlockIndex: 1,
            start: { toolUse: { toolUseId: "tu-1", name: "get_weather" } },
          },
        },
        { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } } },
        { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '"Oslo"}' } } } },
        { contentBlockStop: { contentBlockIndex: 1 } },
        {
          contentBlockStart: {
            contentBlockIndex: 2,
            start: { toolUse: { toolUseId: "tu-2", name: "now" } },
          },
        },
        { contentBlockStop: { contentBlockIndex: 2 } },
        { messageStop: { stopReason: "tool_use" } },
        { metadata: { usage, metrics: { latencyMs: 80 } } },
      ],
      true,
    );
    expectValidSequence(chunks, true);
    expect(textOf(chunks)).toBe("Let me check.");
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({
      index: 0,
      id: "tu-1",
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    const args = deltas
      .filter((d) => d.index === 0)
      .map((d) => d.function?.arguments ?? "")
      .join("");
    expect(JSON.parse(args)).toEqual({ city: "Oslo" });
    expect(deltas.filter((d) => d.index === 1)).toEqual([
      { index: 1, id: "tu-2", type: "function", function: { name: "now", arguments: "" } },
    ]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("finishes a stream that ended early: role, stop, and zero usage", () => {
    const t = createConverseStreamTranslator({ ...META, includeUsage: true });
    const chunks = t.finish();
    expectValidSequence(chunks, true);
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 0,
      completion_tokens: 0,
      total_tokens: 0,
    });
  });

  it("sends usage when metadata arrives after the finish chunk, or at finish() if it came first", () => {
    const t = createConverseStreamTranslator({ ...META, includeUsage: true });
    const early = [
      { metadata: { usage, metrics: { latencyMs: 1 } } },
      ...textEvents(["x"]).slice(0, 4),
    ].flatMap((e) => t.onEvent(e));
    early.push(...t.finish());
    expectValidSequence(early, true);
    expect(early.at(-1)?.usage?.total_tokens).toBe(12);
  });

  it("ignores events it has no chunk for", () => {
    const t = createConverseStreamTranslator({ ...META, includeUsage: false });
    expect(
      t.onEvent({
        contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: "hmm" } } },
      }),
    ).toEqual([]);
    expect(t.onEvent({ contentBlockStop: { contentBlockIndex: 0 } })).toEqual([]);
  });

  it("concatenated chunk text always equals the streamed text (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 0, maxLength: 12 }), { maxLength: 20 }),
        fc.boolean(),
        (pieces, includeUsage) => {
          const chunks = translate(textEvents(pieces), includeUsage);
          expectValidSequence(chunks, includeUsage);
          expect(textOf(chunks)).toBe(pieces.join(""));
        },
      ),
    );
  });
});

describe("sseChunkText", () => {
  it("reads delta content and nothing else", () => {
    expect(sseChunkText({ choices: [{ index: 0, delta: { content: "hi" } }] })).toBe("hi");
    expect(
      sseChunkText({ choices: [{ index: 0, delta: { role: "assistant", content: null } }] }),
    ).toBe("");
    expect(sseChunkText({ choices: [], usage: { total_tokens: 3 } })).toBe("");
    expect(sseChunkText({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })).toBe("");
    expect(sseChunkText("[DONE]")).toBe("");
    expect(sseChunkText({ error: { message: "boom" } })).toBe("");
  });
});

describe("continuationRequest", () => {
  const base = chat([{ role: "user", content: "Tell me a story." }], {
    max_tokens: 100,
    max_completion_tokens: 120,
    stream: true,
  });

  it("appends the partial answer and the instruction, and lowers the limits", () => {
    const partial = "Once upon a time, ".repeat(4); // 72 chars ≈ 18 tokens
    const next = continuationRequest(base, partial);
    expect(next.messages).toEqual([
      ...base.messages,
      { role: "assistant", content: partial },
      { role: "user", content: CONTINUE_INSTRUCTION },
    ]);
    expect(next.max_tokens).toBe(82);
    expect(next.max_completion_tokens).toBe(102);
    expect(next.stream).toBe(true);
    expect(base.messages).toHaveLength(1);
    expect(chatCompletionRequestSchema.safeParse(next).success).toBe(true);
  });

  it("keeps at least one token, takes a measured count, and retries as-is with nothing streamed", () => {
    expect(continuationRequest(base, "x".repeat(4_000)).max_tokens).toBe(1);
    expect(continuationRequest(base, "abc", { producedTokens: 30 }).max_tokens).toBe(70);
    expect(continuationRequest(base, "   ")).toBe(base);
    const noLimit = continuationRequest(chat([{ role: "user", content: "q" }]), "partial");
    expect(noLimit.max_tokens).toBeUndefined();
    expect(noLimit.max_completion_tokens).toBeUndefined();
  });

  it("works on a tier-bound body without model", () => {
    const body = { messages: [{ role: "user", content: "q" }], max_tokens: 10, seed: 7 };
    const next = continuationRequest(body, "abcd");
    expect(next).toEqual({
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: "abcd" },
        { role: "user", content: CONTINUE_INSTRUCTION },
      ],
      max_tokens: 9,
      seed: 7,
    });
  });

  it("translates to Converse as user, assistant (partial), user", () => {
    const body = converse(continuationRequest(base, "Once"));
    expect(roles(body)).toEqual(["user", "assistant", "user"]);
    expect(body.messages[1]?.content).toEqual([{ text: "Once" }]);
  });
});

describe("estimatePromptTokens", () => {
  it("counts text at ~4 chars a token, images at a flat cost, and returns only a number", () => {
    const text = chat([{ role: "user", content: "x".repeat(400) }]);
    const withImages = chat([
      {
        role: "user",
        content: [
          { type: "text", text: "x".repeat(400) },
          { type: "image_url", image_url: { url: PNG_URL } },
          { type: "image_url", image_url: { url: "https://example.com/a.jpg" } },
        ],
      },
    ]);
    const t = estimatePromptTokens(text);
    expect(t).toBeGreaterThanOrEqual(100);
    expect(t).toBeLessThan(110);
    expect(estimatePromptTokens(withImages)).toBe(t + 2 * IMAGE_TOKENS);
  });

  it("counts a video as several images, however it is sent", () => {
    const text = chat([{ role: "user", content: "x".repeat(400) }]);
    const withVideos = chat([
      {
        role: "user",
        content: [
          { type: "text", text: "x".repeat(400) },
          { type: "video_url", video_url: { url: MP4_URL } },
          { type: "video_url", video_url: { url: "https://example.com/clip.mp4" } },
        ],
      },
    ]);
    expect(VIDEO_TOKENS).toBeGreaterThan(IMAGE_TOKENS);
    expect(estimatePromptTokens(withVideos)).toBe(estimatePromptTokens(text) + 2 * VIDEO_TOKENS);
  });

  it("counts tool definitions and tool call arguments", () => {
    const plain = chat([{ role: "user", content: "q" }]);
    const tools = chat([{ role: "user", content: "q" }], {
      tools: [{ type: "function", function: { name: "f", description: "d".repeat(400) } }],
    });
    expect(estimatePromptTokens(tools) - estimatePromptTokens(plain)).toBeGreaterThan(100);
  });
});

describe("modalityOf", () => {
  const image = { type: "image_url" as const, image_url: { url: PNG_URL } };
  const audio = {
    type: "input_audio" as const,
    input_audio: { data: PNG_B64, format: "wav" as const },
  };
  const video = { type: "video_url" as const, video_url: { url: MP4_URL } };
  const of = (...content: ChatMessage[]) => modalityOf(chat(content));

  it("names the one kind of media a request carries, or multimodal for several", () => {
    expect(of({ role: "user", content: "hi" })).toBe("text");
    expect(of({ role: "user", content: [{ type: "text", text: "hi" }, video] })).toBe("video");
    expect(of({ role: "user", content: [video, video] })).toBe("video");
    expect(of({ role: "user", content: [image] })).toBe("image");
    expect(of({ role: "user", content: [audio] })).toBe("audio");
    expect(of({ role: "user", content: [video] }, { role: "user", content: [image] })).toBe(
      "multimodal",
    );
    expect(of({ role: "user", content: [audio, video] })).toBe("multimodal");
  });
});

const text = fc.oneof(fc.constantFrom("", " ", "\n"), fc.string({ minLength: 1, maxLength: 8 }));
const toolCall = fc.record({
  id: fc.string({ minLength: 1, maxLength: 4 }),
  type: fc.constant("function" as const),
  function: fc.record({
    name: fc.constantFrom("f", "g"),
    arguments: fc.constantFrom("", "{}", '{"a":1}'),
  }),
});
const message: fc.Arbitrary<ChatMessage> = fc.oneof(
  fc.record({ role: fc.constant("system" as const), content: text }),
  fc.record({ role: fc.constant("developer" as const), content: text }),
  fc.record({ role: fc.constant("user" as const), content: text }),
  fc.record({
    role: fc.constant("user" as const),
    content: fc.array(
      fc.oneof(
        text.map((t) => ({ type: "text" as const, text: t })),
        fc.constant({ type: "image_url" as const, image_url: { url: PNG_URL } }),
      ),
      { maxLength: 3 },
    ),
  }),
  fc.record(
    {
      role: fc.constant("assistant" as const),
      content: fc.option(text, { nil: null }),
      tool_calls: fc.array(toolCall, { maxLength: 2 }),
    },
    { requiredKeys: ["role", "content"] },
  ),
  fc.record({
    role: fc.constant("tool" as const),
    tool_call_id: fc.string({ minLength: 1, maxLength: 4 }),
    content: text,
  }),
);

describe("toConverseRequest (property)", () => {
  it("always alternates user/assistant, starts with user, and has no empty turn or blank text", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 12 }), (messages) => {
        const body = converse(chat(messages));
        expect(body.messages[0]?.role).toBe("user");
        body.messages.forEach((m, i) => {
          if (i > 0) expect(m.role).not.toBe(body.messages[i - 1]?.role);
          expect(m.content.length).toBeGreaterThan(0);
          for (const b of m.content) if (b.text !== undefined) expect(b.text.trim()).not.toBe("");
        });
        for (const s of body.system ?? []) expect(s.text?.trim()).not.toBe("");
      }),
    );
  });
});
