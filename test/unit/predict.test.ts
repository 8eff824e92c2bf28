// Latency and cost predictions per tier: the pieces add up, and each input moves them the right way.

import { describe, expect, it } from "vitest";
import { type CatalogModel, catalogModel } from "../../shared/catalog.ts";
import { assessDevice } from "../../shared/context.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { predictCloud, predictDevice, predictSite } from "../../shared/predict.ts";
import { makeRegion, makeRequest, makeSite, type SiteOverrides } from "./helpers/fleet-builders.ts";

const policy = DEFAULT_POLICY;
function model(id: string): CatalogModel {
  const m = catalogModel(id);
  if (!m) throw new Error(`${id} is not in the catalog`);
  return m;
}
const llama1b = model("llama-3.2-1b");
const novaMicro = model("nova-micro");

function site(o: Partial<SiteOverrides> = {}, km = 0) {
  return predictSite(makeRequest(), makeSite({ ...o, id: "edge" }), llama1b, km, policy);
}

describe("predictSite", () => {
  it("adds network, queue, cold start and compute, and bills a share of the GPU hour", () => {
    const p = site();
    // 500 tokens at 12k/s prefill + 256 tokens at 180/s decode.
    expect(p.computeMs).toBeCloseTo(500 / 12 + (256 / 180) * 1000, 6);
    expect(p).toMatchObject({ rttMs: 20, uploadMs: 0, queueMs: 0, coldStartMs: 0 });
    expect(p.latencyMs).toBeCloseTo(p.rttMs + p.computeMs, 6);
    expect(p.firstTokenMs).toBeCloseTo(p.rttMs + 500 / 12, 6);
    // $1.5 × 2 GPUs per hour over 16 slots.
    expect(p.costUsd).toBeCloseTo((((1.5 * 2) / 3600) * (p.computeMs / 1000)) / 16, 12);
  });

  it("adds the load time when the model is not resident", () => {
    expect(site({ load: { residentModels: [] } }).coldStartMs).toBe(4_000);
    const own = site({
      models: [{ model: "llama-3.2-1b", loadTimeMs: 1_500 }],
      load: { residentModels: [] },
    });
    expect(own.coldStartMs).toBe(1_500);
  });

  it("queues behind the requests beyond the free slots and slows decode when busy", () => {
    const idle = site();
    const full = site({ load: { running: 16 } });
    const queued = site({ load: { running: 16, waiting: 8 } });
    expect(full.computeMs).toBeGreaterThan(idle.computeMs);
    expect(full.queueMs).toBeCloseTo(full.computeMs / 16, 6);
    expect(queued.queueMs).toBeCloseTo((9 * queued.computeMs) / 16, 6);
  });

  it("uses the site's own measured decode rate over the catalog's", () => {
    const fast = site({ models: [{ model: "llama-3.2-1b", tokensPerSec: 360 }] });
    expect(fast.computeMs).toBeCloseTo(500 / 12 + (256 / 360) * 1000, 6);
  });

  it("takes a measured rate as the site's streams get it, busy or not", () => {
    const models = [{ model: "llama-3.2-1b", tokensPerSec: 360 }];
    const idle = site({ models });
    const full = site({ models, load: { running: 16 } });
    expect(full.computeMs).toBe(idle.computeMs);
    expect(full.queueMs).toBeCloseTo(full.computeMs / 16, 6);
  });

  it("adds distance at the policy's RTT per km", () => {
    expect(site({}, 1_000).rttMs).toBeCloseTo(20 + 1_000 * policy.rttMsPerKm, 9);
  });

  it("never completes an upload over a dead uplink", () => {
    const req = makeRequest({ task: { payloadBytes: 1_000 }, network: { uplinkMbps: 0 } });
    const p = predictSite(req, makeSite({ id: "edge" }), llama1b, 0, policy);
    expect(p.latencyMs).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("predictCloud", () => {
  it("adds the cloud's base RTT and prices tokens", () => {
    const p = predictCloud(makeRequest(), makeRegion({ id: "eu-central-1" }), novaMicro, 0, policy);
    expect(p.rttMs).toBe(20 + policy.cloudBaseRttMs);
    expect(p.costUsd).toBeCloseTo(0.5 * 0.000035 + 0.256 * 0.00014, 12);
    expect(p.firstTokenMs).toBeLessThan(p.latencyMs);
  });
});

describe("predictDevice", () => {
  const req = makeRequest({
    task: { inputTokens: 50, maxOutputTokens: 20 },
    device: { class: "low" },
  });

  it("is free, local, and slower on a hot phone", () => {
    const cool = predictDevice(req, llama1b, assessDevice(req, policy));
    expect(cool).toMatchObject({ costUsd: 0, rttMs: 0, uploadMs: 0, queueMs: 0 });
    // 50 tokens at 250/s prefill + 20 tokens at 12/s on a low-end phone.
    expect(cool.latencyMs).toBeCloseTo(200 + (20 / 12) * 1000, 6);
    const hot = { ...req, device: { ...req.device, thermal: "serious" as const } };
    expect(predictDevice(hot, llama1b, assessDevice(hot, policy)).latencyMs).toBeCloseTo(
      cool.latencyMs * 1.5,
      6,
    );
  });
});
