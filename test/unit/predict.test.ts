// Latency and cost predictions per tier: the pieces add up, each input moves them the right way,
// and the expected answer length sits beside the worst case of `max_tokens`.

import { describe, expect, it } from "vitest";
import { type CatalogModel, catalogModel } from "../../shared/catalog.ts";
import { assessDevice } from "../../shared/context.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import {
  expectedOutputTokens,
  predictCloud,
  predictDevice,
  predictSite,
} from "../../shared/predict.ts";
import type { Criticality } from "../../shared/types.ts";
import { makeRegion, makeRequest, makeSite, type SiteOverrides } from "./helpers/fleet-builders.ts";

const policy = DEFAULT_POLICY;
function model(id: string): CatalogModel {
  const m = catalogModel(id);
  if (!m) throw new Error(`${id} is not in the catalog`);
  return m;
}
const llama1b = model("llama-3.2-1b");
const novaMicro = model("nova-micro");

function site(o: Partial<SiteOverrides> = {}, km = 0, share = 1) {
  return predictSite(makeRequest(), makeSite({ ...o, id: "edge" }), llama1b, km, policy, share);
}

describe("predictSite", () => {
  it("adds network, queue, cold start and compute, and bills a share of the GPU hour", () => {
    const p = site();
    // 500 tokens at 12k/s prefill + 256 tokens at 180/s decode.
    expect(p.computeMs).toBeCloseTo(500 / 12 + (256 / 180) * 1000, 6);
    expect(p).toMatchObject({ rttMs: 20, uploadMs: 0, queueMs: 0, coldStartMs: 0 });
    expect(p.latencyMs).toBeCloseTo(p.rttMs + p.computeMs, 6);
    expect(p.worstLatencyMs).toBeCloseTo(p.latencyMs, 6);
    expect(p.firstTokenMs).toBeCloseTo(p.rttMs + 500 / 12, 6);
    // $1.2 × 2 GPUs per hour over 16 slots.
    expect(p.costUsd).toBeCloseTo((((1.2 * 2) / 3600) * (p.computeMs / 1000)) / 16, 12);
    expect(p.worstCostUsd).toBeCloseTo(p.costUsd, 12);
  });

  it("decodes the expected answer, and keeps the whole of max_tokens as the worst case", () => {
    const full = site();
    const half = site({}, 0, 0.5);
    expect(half.outputTokens).toBe(128);
    expect(half.computeMs).toBeCloseTo(500 / 12 + (128 / 180) * 1000, 6);
    expect(half.worstLatencyMs).toBeCloseTo(full.latencyMs, 6);
    expect(half.firstTokenMs).toBeCloseTo(full.firstTokenMs, 6);
    expect(half.costUsd).toBeLessThan(full.costUsd);
    expect(half.worstCostUsd).toBeCloseTo(full.costUsd, 12);
  });

  it("adds the load time when the model is not resident", () => {
    expect(site({ load: { residentModels: [] } }).coldStartMs).toBe(4_000);
    const own = site({
      models: [{ model: "llama-3.2-1b", loadTimeMs: 1_500 }],
      load: { residentModels: [] },
    });
    expect(own.coldStartMs).toBe(1_500);
  });

  it("queues behind the requests beyond the free slots, each as long as the expected answer", () => {
    const idle = site();
    const full = site({ load: { running: 16 } });
    const queued = site({ load: { running: 16, waiting: 8 } });
    expect(full.computeMs).toBeGreaterThan(idle.computeMs);
    expect(full.queueMs).toBeCloseTo(full.computeMs / 16, 6);
    expect(queued.queueMs).toBeCloseTo((9 * queued.computeMs) / 16, 6);
    const short = site({ load: { running: 16, waiting: 8 } }, 0, 0.25);
    expect(short.queueMs).toBeCloseTo((9 * short.computeMs) / 16, 6);
    expect(short.queueMs).toBeLessThan(queued.queueMs);
  });

  it("at a priority site, counts only the queue of the request's class or more urgent ones", () => {
    const waitingByClass = { critical: 1, standard: 7, sheddable: 10 };
    const load = { running: 16, waiting: 18, waitingByClass };
    const at = (scheduling: "fcfs" | "priority", criticality: Criticality) =>
      predictSite(
        makeRequest({ task: { criticality } }),
        makeSite({ id: "edge", scheduling, load }),
        llama1b,
        0,
        policy,
        1,
      );
    const fcfs = at("fcfs", "critical");
    // FCFS: all 18 queued are ahead, plus one slot to free.
    expect(fcfs.queueMs).toBeCloseTo((19 * fcfs.computeMs) / 16, 6);
    for (const c of ["critical", "standard", "sheddable"] as const) {
      expect(at("fcfs", c).queueMs).toBeCloseTo(fcfs.queueMs, 6);
    }
    const critical = at("priority", "critical");
    const standard = at("priority", "standard");
    const sheddable = at("priority", "sheddable");
    expect(critical.queueMs).toBeCloseTo((2 * critical.computeMs) / 16, 6);
    expect(standard.queueMs).toBeCloseTo((9 * standard.computeMs) / 16, 6);
    expect(sheddable.queueMs).toBeCloseTo(fcfs.queueMs, 6);
    expect(critical.latencyMs).toBeLessThan(standard.latencyMs);
    // A priority site with no per-class estimate: the whole queue is ahead.
    const unknown = predictSite(
      makeRequest({ task: { criticality: "critical" } }),
      makeSite({ id: "edge", scheduling: "priority", load: { running: 16, waiting: 18 } }),
      llama1b,
      0,
      policy,
      1,
    );
    expect(unknown.queueMs).toBeCloseTo(fcfs.queueMs, 6);
  });

  it("uses the site's own measured decode rate over the catalog's", () => {
    const fast = site({ models: [{ model: "llama-3.2-1b", tokensPerSec: 360 }] });
    expect(fast.computeMs).toBeCloseTo(500 / 12 + (256 / 360) * 1000, 6);
  });

  it("slows a measured single-stream rate as a full site batches its streams", () => {
    const models = [{ model: "llama-3.2-1b", tokensPerSec: 360 }];
    const idle = site({ models });
    const full = site({ models, load: { running: 16 } });
    expect(full.computeMs).toBeGreaterThan(idle.computeMs);
    expect(full.queueMs).toBeCloseTo(full.computeMs / 16, 6);
  });

  it("adds distance at the policy's RTT per km", () => {
    expect(site({}, 1_000).rttMs).toBeCloseTo(20 + 1_000 * policy.rttMsPerKm, 9);
  });

  it("never completes an upload over a dead uplink", () => {
    const req = makeRequest({ task: { payloadBytes: 1_000 }, network: { uplinkMbps: 0 } });
    const p = predictSite(req, makeSite({ id: "edge" }), llama1b, 0, policy, 0.5);
    expect(p.latencyMs).toBe(Number.POSITIVE_INFINITY);
    expect(p.worstLatencyMs).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("predictCloud", () => {
  it("adds the cloud's base RTT and prices the tokens of the expected and the longest answer", () => {
    const region = makeRegion({ id: "eu-central-1" });
    const p = predictCloud(makeRequest(), region, novaMicro, 0, policy, 0.5);
    expect(p.rttMs).toBe(20 + policy.cloudBaseRttMs);
    expect(p.costUsd).toBeCloseTo(0.5 * 0.000035 + 0.128 * 0.00014, 12);
    expect(p.worstCostUsd).toBeCloseTo(0.5 * 0.000035 + 0.256 * 0.00014, 12);
    expect(p.firstTokenMs).toBeLessThan(p.latencyMs);
    expect(p.worstLatencyMs - p.latencyMs).toBeCloseTo((128 / 200) * 1000, 6);
  });
});

describe("predictDevice", () => {
  const req = makeRequest({
    task: { inputTokens: 50, maxOutputTokens: 20 },
    device: { class: "low" },
  });

  it("is free, local, and slower on a hot phone", () => {
    const cool = predictDevice(req, llama1b, assessDevice(req, policy), 1);
    expect(cool).toMatchObject({ costUsd: 0, worstCostUsd: 0, rttMs: 0, uploadMs: 0, queueMs: 0 });
    // 50 tokens at 250/s prefill + 20 tokens at 12/s on a low-end phone.
    expect(cool.latencyMs).toBeCloseTo(200 + (20 / 12) * 1000, 6);
    const hot = { ...req, device: { ...req.device, thermal: "serious" as const } };
    expect(predictDevice(hot, llama1b, assessDevice(hot, policy), 1).latencyMs).toBeCloseTo(
      cool.latencyMs * 1.5,
      6,
    );
    const half = predictDevice(req, llama1b, assessDevice(req, policy), 0.5);
    expect(half.latencyMs).toBeCloseTo(200 + (10 / 12) * 1000, 6);
    expect(half.worstLatencyMs).toBeCloseTo(cool.latencyMs, 6);
  });
});

describe("expectedOutputTokens", () => {
  it("is the share of max_tokens, at least one token and at most all of them", () => {
    const req = (max: number) => makeRequest({ task: { maxOutputTokens: max } });
    expect(expectedOutputTokens(req(512), 0.5)).toBe(256);
    expect(expectedOutputTokens(req(1), 0.3)).toBe(1);
    expect(expectedOutputTokens(req(100), 0)).toBe(1);
    expect(expectedOutputTokens(req(100), 2)).toBe(100);
  });
});
