// Video through POST /v1/infer on both server tiers: first the cloud tier (Nova Lite on the
// Bedrock stand-in, the clip as a Converse video block) while no MEC site is registered, then a
// MEC site serving qwen2.5-vl-7b (a demo site; the clip as vLLM's `video_url` part).

import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";

const BEDROCK = inject("bedrockUrl");
const VISION = inject("visionSiteUrl");
const FRANKFURT = { lat: 50.11, lon: 8.68 };

/** A few KB standing in for an MP4: an `ftyp` box, then zeros. Nobody decodes it. */
const CLIP = btoa(`\0\0\0\x18ftypmp42\0\0\0\0mp42isom${"\0".repeat(3_000)}`);

function infer(body: Record<string, unknown>) {
  return exports.default.fetch("http://router.test/v1/infer", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
    body: JSON.stringify(body),
  });
}

interface InferAnswer {
  executed: boolean;
  decision: { tier: string };
  output: {
    choices: { message: { content: string } }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
}

async function bedrockCalls(): Promise<number> {
  const res = await fetch(`${BEDROCK}/__calls`);
  expect(res.ok).toBe(true);
  return ((await res.json()) as { calls: number }).calls;
}

describe("video through /v1/infer, cloud tier (no MEC site registered yet)", () => {
  it("runs an inline clip on Bedrock as a Converse video block", async () => {
    const before = await bedrockCalls();
    const res = await infer({
      task: { modality: "video", maxOutputTokens: 32 },
      constraints: { latencySlaMs: 30_000 },
      location: FRANKFURT,
      input: {
        prompt: "What happens in this clip?",
        media: [{ type: "video", data: CLIP, format: "mp4" }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-tier")).toBe("cloud");
    const body = (await res.json()) as InferAnswer;
    expect(body.executed).toBe(true);
    expect(body.output.choices[0]?.message.content.length).toBeGreaterThan(0);
    // The stand-in charges 5k prompt tokens for a video block: the clip reached it as one.
    expect(body.output.usage.prompt_tokens).toBeGreaterThan(5_000);
    expect(await bedrockCalls()).toBe(before + 1);
  });
});

describe("video through /v1/infer, MEC site serving qwen2.5-vl-7b", () => {
  beforeAll(async () => {
    const res = await exports.default.fetch("http://router.test/v1/sites/vision-de", {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: "Bearer dev-operator-key" },
      body: JSON.stringify({
        name: "vision-de",
        location: FRANKFURT,
        country: "DE",
        trusted: true,
        certifications: [],
        endpoint: `${VISION}/v1`,
        capacity: { maxConcurrent: 8, maxQueue: 8, gpus: 1, gpuMemoryGb: 24 },
        cost: { gpuHourUsd: 1 },
        models: [{ model: "qwen2.5-vl-7b" }],
        residentModels: ["qwen2.5-vl-7b"],
      }),
    });
    expect(res.status).toBe(200);
  });

  it("runs the clip at the site as a video_url part", async () => {
    const before = await bedrockCalls();
    const res = await infer({
      task: { modality: "video", maxOutputTokens: 32 },
      // Strict privacy keeps it off the cloud tier.
      constraints: { latencySlaMs: 30_000, privacy: "strict", dataResidency: ["DE"] },
      location: FRANKFURT,
      input: {
        prompt: "What happens in this clip?",
        media: [{ type: "video", data: CLIP }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-mec-tier")).toBe("mec");
    expect(res.headers.get("x-mec-target")).toBe("site:vision-de");
    const body = (await res.json()) as InferAnswer;
    expect(body.executed).toBe(true);
    expect(body.output.choices[0]?.message.content.length).toBeGreaterThan(0);
    // The demo site counts a video part as 1024 prompt tokens.
    expect(body.output.usage.prompt_tokens).toBeGreaterThanOrEqual(1_024);
    expect(await bedrockCalls()).toBe(before);
  });

  it("refuses a video URL: no site is asked to fetch a caller's URL", async () => {
    const res = await infer({
      task: { modality: "video", maxOutputTokens: 16 },
      constraints: { latencySlaMs: 30_000, privacy: "strict", dataResidency: ["DE"] },
      location: FRANKFURT,
      input: {
        prompt: "Summarise",
        media: [{ type: "video", url: "https://example.com/clip.mp4" }],
      },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { path: string }[] } };
    expect(body.error.details.map((d) => d.path)).toEqual(["input.media.0.url"]);
  });
});
