// The router agent's score and its side signals: latency costs little while well within the
// SLA and much near it, price decides among comfortable options (a free device included), the
// learned answer length feeds the predictions, and a model resident nowhere near is asked for.

import { describe, expect, it } from "vitest";
import { type DecideResult, decide, latencyUtility } from "../../shared/decide.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import type { RouteRequest } from "../../shared/types.ts";
import { makeFleet, makeRequest, makeSite, NOW, targetKey } from "./helpers/fleet-builders.ts";

const FAR = { lat: 40.417, lon: -3.704 };

function placed(req: RouteRequest, fleet = makeFleet([])) {
  const result = decide(req, fleet, DEFAULT_POLICY, NOW);
  if (!result.ok) throw new Error(`expected a decision, got ${result.code}: ${result.message}`);
  return result;
}

describe("latencyUtility", () => {
  const u = (x: number) => latencyUtility(x, DEFAULT_POLICY);

  it("rises gently up to the comfort share of the SLA, then steeply to 1 at the SLA", () => {
    expect(u(0)).toBe(0);
    expect(u(0.6)).toBeCloseTo(0.15, 12);
    expect(u(1)).toBeCloseTo(1, 12);
    const gentle = (u(0.6) - u(0.3)) / 0.3;
    const steep = (u(1) - u(0.8)) / 0.2;
    expect(steep).toBeGreaterThan(8 * gentle);
    // Continuous at the knee, and increasing throughout.
    expect(u(0.6 + 1e-9) - u(0.6 - 1e-9)).toBeLessThan(1e-6);
    for (let x = 0; x < 1.2; x += 0.05) expect(u(x + 0.05)).toBeGreaterThan(u(x));
  });
});

describe("cost", () => {
  // Two idle sites serving only Llama 3.1 8B: the near one decodes twice as fast on GPUs that
  // bill three times the hour, so a token costs 1.5 times as much there.
  const sites = [
    makeSite({
      id: "near",
      cost: { gpuHourUsd: 4.5 },
      models: [{ model: "llama-3.1-8b", tokensPerSec: 110 }],
    }),
    makeSite({
      id: "far",
      location: FAR,
      cost: { gpuHourUsd: 1.5 },
      models: [{ model: "llama-3.1-8b", tokensPerSec: 55 }],
    }),
  ];
  const req = (latencySlaMs: number) =>
    makeRequest({ task: { model: "llama-3.1-8b" }, constraints: { latencySlaMs } });

  it("decides between targets comfortably within the SLA", () => {
    const d = placed(req(20_000), makeFleet(sites)).decision;
    expect(targetKey(d.target)).toBe("site:far");
    expect(d.bestEffort).toBe(false);
  });

  it("gives way to latency near the SLA", () => {
    // ~2.4 s expected and ~4.8 s for a full answer at the far site; half that near.
    const d = placed(req(3_000), makeFleet(sites)).decision;
    expect(targetKey(d.target)).toBe("site:near");
    expect(d.bestEffort).toBe(false);
  });

  it("takes a free device comfortably within the SLA, and keeps the paid options in price order", () => {
    // On the phone, 64 tokens at 40/s fit a 10 s SLA easily.
    const phone = makeRequest({
      task: { maxOutputTokens: 64 },
      device: { models: ["llama-3.2-1b-q4"] },
    });
    const d = placed(phone, makeFleet(sites)).decision;
    expect(d.tier).toBe("device");
    expect(d.predicted.costUsd).toBe(0);
    expect(d.plan.backups.map((b) => targetKey(b.target))).toEqual(["site:far", "site:near"]);
  });
});

describe("learned answer length", () => {
  const fleet = makeFleet([makeSite({ id: "a" })]);

  it("predicts with the model's learned share, else the modality's, else the policy's prior", () => {
    const at = (shares?: Record<string, number>) => {
      const f = makeFleet([makeSite({ id: "a" })]);
      f.data.answerShares = shares;
      return placed(makeRequest(), f).decision.predicted.latencyMs;
    };
    const prior = at();
    expect(placed(makeRequest(), fleet).decision.predicted.latencyMs).toBe(prior);
    expect(at({ text: 0.25 })).toBeLessThan(prior);
    expect(at({ text: 0.25, "text|llama-3.2-1b": 0.9 })).toBeGreaterThan(prior);
    expect(at({ image: 0.1 })).toBe(prior);
  });

  it("says how long an answer it expects", () => {
    const d = placed(makeRequest(), fleet).decision;
    const latency = d.rationale.find((r) => r.factor === "latency");
    expect(latency?.detail).toContain("an answer of ~128 of 256 tokens");
  });
});

describe("a model resident nowhere near", () => {
  // Qwen2.5 7B is served but not loaded next door; Nova Micro in the cloud is quick.
  const cold = makeSite({
    id: "edge",
    models: [{ model: "qwen2.5-7b" }, { model: "llama-3.2-1b" }],
    load: { residentModels: ["llama-3.2-1b"] },
  });
  const qwen = (latencySlaMs: number) =>
    makeRequest({ task: { model: "qwen2.5-7b" }, constraints: { latencySlaMs } });

  function prewarmOf(result: DecideResult) {
    return result.prewarm && { siteId: result.prewarm.siteId, model: result.prewarm.model };
  }

  it("is loaded by the request itself when nothing else can take it: a best effort", () => {
    // Loading takes 11 s: nothing meets a 5 s SLA now, and the cold site is the only one.
    const result = placed(qwen(5_000), makeFleet([cold]));
    expect(targetKey(result.decision.target)).toBe("site:edge");
    expect(result.decision.bestEffort).toBe(true);
    expect(result.decision.predicted.latencyMs).toBeGreaterThan(5_000);
    expect(prewarmOf(result)).toBeUndefined();
  });

  it("is asked for at the site that would serve it fastest once loaded, when the request is refused", () => {
    // Cold and with every run slot taken: a best effort would queue there, which work with no
    // slack left may not, so the request is refused as busy (503) and the load is asked for.
    const busy = { ...cold, load: { ...cold.load, running: cold.capacity.maxConcurrent } };
    const result = decide(qwen(5_000), makeFleet([busy]), DEFAULT_POLICY, NOW);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("unavailable");
    expect(prewarmOf(result)).toEqual({ siteId: "edge", model: "qwen2.5-7b" });
    expect(result.rationale.at(-1)).toEqual({
      factor: "cache",
      detail: expect.stringMatching(/^site:edge would answer in ~\d+ ms with qwen2.5-7b resident/),
    });
  });

  it("is asked for when the request goes elsewhere though the site would be faster warm", () => {
    // A warm copy in Madrid takes it; loaded next door, the cold one would beat it.
    const warm = makeSite({ id: "far", location: FAR, models: [{ model: "qwen2.5-7b" }] });
    const result = placed(
      qwen(20_000),
      makeFleet([cold, { ...warm, load: { ...warm.load, residentModels: ["qwen2.5-7b"] } }]),
    );
    expect(targetKey(result.decision.target)).toBe("site:far");
    expect(prewarmOf(result)).toEqual({ siteId: "edge", model: "qwen2.5-7b" });
    expect(result.decision.rationale.filter((r) => r.factor === "cache")).toHaveLength(1);
    // The other way round (warm next door, cold in Madrid) nothing is asked for.
    const near = makeSite({ id: "near", models: [{ model: "qwen2.5-7b" }] });
    const coldFar = { ...warm, load: { ...warm.load, residentModels: [] } };
    const other = placed(
      qwen(20_000),
      makeFleet([{ ...near, load: { ...near.load, residentModels: ["qwen2.5-7b"] } }, coldFar]),
    );
    expect(targetKey(other.decision.target)).toBe("site:near");
    expect(other.prewarm).toBeUndefined();
  });

  it("is not asked for when the request itself will load it there", () => {
    const result = placed(qwen(20_000), makeFleet([cold]));
    expect(targetKey(result.decision.target)).toBe("site:edge");
    expect(result.prewarm).toBeUndefined();
    expect(result.decision.rationale.some((r) => r.factor === "cache")).toBe(false);
  });
});
