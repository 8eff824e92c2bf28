// The context agent: complexity, classification, required quality, resources, network class and
// what the device can do.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { catalogModel } from "../../shared/catalog.ts";
import {
  analyzeRequest,
  assessDevice,
  borderline,
  classify,
  complexityScore,
  contextRationale,
  estimateResources,
  networkClass,
} from "../../shared/context.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { MODALITIES, type RouteRequest } from "../../shared/types.ts";
import { arbRequest } from "./helpers/arbitraries.ts";
import { makeRequest } from "./helpers/fleet-builders.ts";

const policy = DEFAULT_POLICY;

/** The heaviest request the schema's defaults make easy: a long critical video analysis. */
const heavyVideo = makeRequest({
  task: {
    modality: "video",
    inputTokens: 4_000,
    maxOutputTokens: 2_048,
    payloadBytes: 5_000_000,
    criticality: "critical",
  },
});

function withTask(req: RouteRequest, task: Partial<RouteRequest["task"]>): RouteRequest {
  return { ...req, task: { ...req.task, ...task } };
}

describe("complexity", () => {
  it("scores a short text prompt low", () => {
    // 0.35·log(757)/log(32001) + 0.15·0.25 (model size, auto) + 0.15·256/2048
    expect(complexityScore(makeRequest())).toBe(0.28);
  });

  it("scores a long video analysis high", () => {
    expect(complexityScore(heavyVideo)).toBeGreaterThanOrEqual(policy.hardThreshold);
  });

  it("grows with the size of the model asked for", () => {
    const req = makeRequest();
    const small = complexityScore(req, catalogModel("llama-3.2-1b"));
    const large = complexityScore(req, catalogModel("nova-pro"));
    expect(large - small).toBeCloseTo(0.15, 3);
  });

  it("orders modalities text < audio < image < multimodal < video", () => {
    const order = ["text", "audio", "image", "multimodal", "video"] as const;
    const scores = order.map((modality) => complexityScore(withTask(makeRequest(), { modality })));
    expect([...scores].sort((a, b) => a - b)).toEqual(scores);
    expect(new Set(scores).size).toBe(MODALITIES.length);
  });

  it("stays within 0–1 and never falls as tokens, output or payload grow", () => {
    const grow = fc.tuple(
      fc.integer({ min: 0, max: 2_000_000 }),
      fc.integer({ min: 0, max: 2_000_000 }),
    );
    fc.assert(
      fc.property(arbRequest, grow, grow, grow, (req, inputs, outputs, payloads) => {
        const [i1, i2] = inputs.sort((a, b) => a - b);
        const [o1, o2] = outputs.map((o) => Math.max(1, o % 200_001)).sort((a, b) => a - b);
        const [p1, p2] = payloads.sort((a, b) => a - b);
        const low = complexityScore(
          withTask(req, { inputTokens: i1, maxOutputTokens: o1, payloadBytes: p1 }),
        );
        expect(low).toBeGreaterThanOrEqual(0);
        expect(low).toBeLessThanOrEqual(1);
        for (const task of [
          { inputTokens: i2, maxOutputTokens: o1, payloadBytes: p1 },
          { inputTokens: i1, maxOutputTokens: o2, payloadBytes: p1 },
          { inputTokens: i1, maxOutputTokens: o1, payloadBytes: p2 },
        ]) {
          const high = complexityScore(withTask(req, task));
          expect(high).toBeGreaterThanOrEqual(low);
          expect(high).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("classification", () => {
  it("puts the threshold itself on the complex side", () => {
    const req = makeRequest();
    expect(classify(req, 0.449, policy)).toBe("simple");
    expect(classify(req, policy.complexThreshold, policy)).toBe("complex");
    expect(classify(req, 0.3, { ...policy, complexThreshold: 0.3 })).toBe("complex");
  });

  it("makes every critical request critical, however simple", () => {
    const req = withTask(makeRequest(), { criticality: "critical" });
    expect(classify(req, 0, policy)).toBe("critical");
  });

  it.each([
    ["simple", makeRequest(), "simple", 1],
    [
      "complex",
      withTask(makeRequest(), { inputTokens: 8_000, maxOutputTokens: 2_048 }),
      "complex",
      3,
    ],
    ["critical", withTask(makeRequest(), { criticality: "critical" }), "critical", 3],
    ["critical and hard", heavyVideo, "critical", 4],
  ] as const)("asks a %s request for quality ≥ its class's", (_, req, classification, quality) => {
    const ctx = analyzeRequest(req, policy);
    expect(ctx.classification).toBe(classification);
    expect(ctx.requiredQuality).toBe(quality);
    expect(ctx.requestedModel).toBeUndefined();
  });

  it("asks for no quality when a model is named, and keeps the model", () => {
    const ctx = analyzeRequest(withTask(makeRequest(), { model: "qwen2.5-7b" }), policy);
    expect(ctx.requiredQuality).toBe(0);
    expect(ctx.requestedModel?.id).toBe("qwen2.5-7b");
  });

  it("explains itself in one line", () => {
    const req = makeRequest();
    expect(contextRationale(req, analyzeRequest(req, policy))).toEqual({
      factor: "classification",
      detail: "simple text request (complexity 0.28): needs quality ≥ 1",
    });
  });
});

describe("resources", () => {
  it("sizes a short text prompt by the smallest MEC model good enough", () => {
    // Llama 3.2 1B: 3 GB of weights + 756 tokens × 32 KiB of KV cache.
    expect(analyzeRequest(makeRequest(), policy).resources).toEqual({
      memoryGb: 3,
      cpuCores: 1,
      gpuUnits: 1,
      bandwidthMbps: 0.1,
    });
  });

  it("asks for the bandwidth that uploads the payload in a fifth of the SLA", () => {
    const req = makeRequest({
      task: { modality: "image", inputTokens: 1_300, payloadBytes: 200_000 },
      constraints: { latencySlaMs: 1_000 },
    });
    // 1.6 Mbit in 0.2 s; Qwen2.5-VL 7B: 17 GB + 1556 tokens × 56 KiB.
    expect(analyzeRequest(req, policy).resources).toEqual({
      memoryGb: 17.1,
      cpuCores: 2,
      gpuUnits: 1,
      bandwidthMbps: 8,
    });
  });

  it("needs a second GPU once a long context's KV cache outgrows one", () => {
    const req = withTask(makeRequest(), { model: "llama-3.1-8b", inputTokens: 100_000 });
    const r = analyzeRequest(req, policy).resources;
    expect(r.memoryGb).toBe(29.1);
    expect(r.gpuUnits).toBe(2);
  });

  it("needs no GPU for a model that runs only in the cloud or on the phone", () => {
    expect(analyzeRequest(heavyVideo, policy).resources).toMatchObject({
      memoryGb: 0,
      gpuUnits: 0,
      cpuCores: 4,
    });
    const onPhone = estimateResources(
      makeRequest({ task: { modality: "audio" } }),
      catalogModel("whisper-base"),
    );
    expect(onPhone).toMatchObject({ memoryGb: 0.3, gpuUnits: 0, cpuCores: 2 });
  });

  it("never needs less memory for a longer prompt", () => {
    const model = catalogModel("llama-3.1-8b");
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        (a, b) => {
          const at = (inputTokens: number) =>
            estimateResources(withTask(makeRequest(), { inputTokens }), model);
          const [lo, hi] = [at(Math.min(a, b)), at(Math.max(a, b))];
          expect(hi.memoryGb).toBeGreaterThanOrEqual(lo.memoryGb);
          expect(hi.gpuUnits).toBeGreaterThanOrEqual(lo.gpuUnits);
          // Whole 24 GB GPUs, enough for the (rounded) memory.
          expect(hi.gpuUnits * 24).toBeGreaterThanOrEqual(hi.memoryGb - 0.05);
          expect((hi.gpuUnits - 1) * 24).toBeLessThan(hi.memoryGb + 0.05);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("network class", () => {
  it.each([
    ["offline", { type: "offline", rttMs: 0, uplinkMbps: 1_000 }, "offline"],
    ["5G at the edge", { type: "5g", rttMs: 20, uplinkMbps: 20 }, "excellent"],
    ["just too slow for excellent", { type: "5g", rttMs: 20.5, uplinkMbps: 100 }, "good"],
    ["too little uplink for excellent", { type: "wifi", rttMs: 5, uplinkMbps: 19.9 }, "good"],
    ["4G", { type: "4g", rttMs: 50, uplinkMbps: 5 }, "good"],
    ["slow 4G", { type: "4g", rttMs: 51, uplinkMbps: 10 }, "fair"],
    ["unknown, defaults", { type: "unknown", rttMs: 60, uplinkMbps: 5 }, "fair"],
    ["weak uplink", { type: "4g", rttMs: 30, uplinkMbps: 4.9 }, "fair"],
    ["fair's limits", { type: "4g", rttMs: 120, uplinkMbps: 1 }, "fair"],
    ["satellite-like", { type: "unknown", rttMs: 121, uplinkMbps: 50 }, "poor"],
    ["no uplink", { type: "wifi", rttMs: 10, uplinkMbps: 0.5 }, "poor"],
  ] as const)("rates %s", (_, link, expected) => {
    expect(networkClass({ downlinkMbps: 10, ...link })).toBe(expected);
  });

  it("is what the context agent reports", () => {
    expect(analyzeRequest(makeRequest(), policy).networkClass).toBe("excellent");
  });
});

describe("device assessment", () => {
  const device = (d: Partial<RouteRequest["device"]>) =>
    assessDevice(makeRequest({ device: d }), policy);

  it("finds a cool, charged phone unremarkable", () => {
    expect(device({})).toEqual({ penalty: 0, throttle: 1, notes: [] });
  });

  it("penalises a low battery only when not charging", () => {
    expect(device({ batteryPct: 19 })).toEqual({
      penalty: 0.5,
      throttle: 1,
      notes: ["battery 19% and not charging"],
    });
    expect(device({ batteryPct: 19, charging: true }).penalty).toBe(0);
    expect(device({ batteryPct: 20 }).penalty).toBe(0);
  });

  it("throttles by thermal state and blocks at critical", () => {
    expect(device({ thermal: "fair" })).toEqual({ penalty: 0, throttle: 1.15, notes: [] });
    expect(device({ thermal: "serious" })).toMatchObject({ penalty: 0.5, throttle: 1.5 });
    expect(device({ thermal: "critical" }).blocked).toBe("thermal state critical");
  });

  it("caps the penalty at 1", () => {
    expect(device({ thermal: "serious", batteryPct: 5 }).penalty).toBe(1);
  });
});

describe("borderline classes and learned hints", () => {
  // 8,000 + 1,024 text tokens score 0.42: within 0.08 of the 0.45 threshold.
  const border = withTask(makeRequest(), { inputTokens: 8_000, maxOutputTokens: 1_024 });

  it("calls a request borderline only near the threshold, on an auto model, not critical", () => {
    expect(complexityScore(border)).toBeCloseTo(0.42, 2);
    expect(borderline(border, policy)).toBe(true);
    expect(borderline(makeRequest(), policy)).toBe(false);
    expect(borderline(withTask(border, { model: "llama-3.1-8b" }), policy)).toBe(false);
    expect(borderline(withTask(border, { criticality: "critical" }), policy)).toBe(false);
    expect(borderline(border, { ...policy, hintBand: 0.01 })).toBe(false);
  });

  it("takes the class and complexity from a hint, and names its source", () => {
    const ctx = analyzeRequest(border, policy, {
      classification: "complex",
      complexity: 0.62,
      source: "Nova Micro + Lite",
    });
    expect(ctx.classification).toBe("complex");
    expect(ctx.complexity).toBe(0.62);
    expect(ctx.requiredQuality).toBe(policy.qualityByClass.complex);
    expect(contextRationale(border, ctx).detail).toBe(
      "complex text request (complexity 0.62) (from Nova Micro + Lite): needs quality ≥ 3",
    );
    expect(analyzeRequest(border, policy).classification).toBe("simple");
  });

  it("classifies by the hint's complexity when the hint has no class", () => {
    const ctx = analyzeRequest(border, policy, { complexity: 0.5, source: "Nova Lite" });
    expect(ctx.classification).toBe("complex");
  });

  it("never lets a hint downgrade a caller's critical", () => {
    const critical = withTask(border, { criticality: "critical" });
    const ctx = analyzeRequest(critical, policy, { classification: "simple", source: "x" });
    expect(ctx.classification).toBe("critical");
  });
});
