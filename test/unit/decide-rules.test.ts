// The router agent's hard rules, one concrete case each: privacy, residency, compliance, offline
// and load shedding. Each case also shows the rule is what changed the answer.

import { describe, expect, it } from "vitest";
import { decide } from "../../shared/decide.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import type { RouteRequest } from "../../shared/types.ts";
import {
  makeFleet,
  makeRegion,
  makeRequest,
  makeSite,
  NOW,
  planSteps,
  rejections,
  seedFleet,
  targetKey,
} from "./helpers/fleet-builders.ts";

const MADRID = { lat: 40.417, lon: -3.704 };
const WARSAW = { lat: 52.23, lon: 21.012 };

function run(req: RouteRequest, fleet = makeFleet([])) {
  return decide(req, fleet, DEFAULT_POLICY, NOW);
}

function placed(req: RouteRequest, fleet = makeFleet([])) {
  const result = run(req, fleet);
  if (!result.ok) throw new Error(`expected a decision, got ${result.code}: ${result.message}`);
  return result.decision;
}

describe("privacy: strict", () => {
  // A cheap, idle partner site next to the caller, a busy trusted one far away, and the cloud.
  const fleet = makeFleet(
    [
      makeSite({ id: "partner", trusted: false, cost: { gpuHourUsd: 0.5 } }),
      makeSite({ id: "carrier", location: MADRID, load: { running: 16 } }),
    ],
    [makeRegion({ id: "eu-central-1" })],
  );

  it("goes to the untrusted site when public", () => {
    expect(targetKey(placed(makeRequest(), fleet).target)).toBe("site:partner");
  });

  it("uses only trusted sites when strict, never the cloud, not even as a backup", () => {
    const d = placed(makeRequest({ constraints: { privacy: "strict" } }), fleet);
    expect(targetKey(d.target)).toBe("site:carrier");
    expect(planSteps(d.plan).map((s) => targetKey(s.target))).toEqual(["site:carrier"]);
    expect(d.rejected).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ target: "site:partner", reason: "privacy" }),
        expect.objectContaining({ target: "cloud:eu-central-1", reason: "privacy" }),
      ]),
    );
    expect(d.rationale).toContainEqual(
      expect.objectContaining({ factor: "privacy", detail: expect.stringContaining("strict") }),
    );
  });

  it("falls back to the device when no trusted site is left", () => {
    const req = makeRequest({
      task: { inputTokens: 50, maxOutputTokens: 20 },
      constraints: { privacy: "strict" },
      device: { models: ["llama-3.2-1b-q4"] },
    });
    const d = placed(
      req,
      makeFleet(
        [makeSite({ id: "partner", trusted: false })],
        [makeRegion({ id: "eu-central-1" })],
      ),
    );
    expect(d.tier).toBe("device");
    expect(d.plan.backups).toEqual([]);
  });

  it("is infeasible when only untrusted sites and the cloud could serve it", () => {
    const result = run(
      makeRequest({ constraints: { privacy: "strict" } }),
      makeFleet(
        [makeSite({ id: "partner", trusted: false })],
        [makeRegion({ id: "eu-central-1" })],
      ),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("infeasible");
    expect(result.rejected.map((r) => [r.target, r.reason])).toEqual([
      ["device", "device"],
      ["site:partner", "privacy"],
      ["cloud:eu-central-1", "privacy"],
    ]);
  });

  it("drops the untrusted Warsaw site of the seed fleet from the plan, even from Warsaw", () => {
    // Only Frankfurt and the Warsaw partner serve Qwen2.5 7B.
    const req = makeRequest({ location: WARSAW, task: { model: "qwen2.5-7b" } });
    const keys = (r: RouteRequest) =>
      planSteps(placed(r, seedFleet()).plan).map((s) => targetKey(s.target));
    expect(keys(req).sort()).toEqual(["site:frankfurt-1", "site:warsaw-1"]);
    expect(keys({ ...req, constraints: { ...req.constraints, privacy: "strict" } })).toEqual([
      "site:frankfurt-1",
    ]);
  });
});

describe("privacy: sensitive", () => {
  // No sites; the French region is flaky, so on score alone the US one wins.
  const fleet = makeFleet(
    [],
    [
      makeRegion({ id: "eu-west-3", country: "FR", errorRate: 0.5 }),
      makeRegion({ id: "us-east-1", country: "US" }),
    ],
  );

  it("may use any region when no residency is given", () => {
    const d = placed(makeRequest({ constraints: { privacy: "sensitive" } }), fleet);
    expect(targetKey(d.target)).toBe("cloud:us-east-1");
  });

  it("uses only regions inside the residency given", () => {
    const req = makeRequest({ constraints: { privacy: "sensitive", dataResidency: ["EU"] } });
    const d = placed(req, fleet);
    expect(targetKey(d.target)).toBe("cloud:eu-west-3");
    expect(d.plan.backups).toEqual([]);
    expect(d.rejected).toContainEqual({
      target: "cloud:us-east-1",
      reason: "privacy",
      detail: "US not in EU",
    });
  });

  it("is infeasible when no region is inside the residency", () => {
    const req = makeRequest({ constraints: { privacy: "sensitive", dataResidency: ["DE"] } });
    const result = run(req, fleet);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("infeasible");
    expect(
      rejections(result)
        .filter((r) => r.reason === "privacy")
        .map((r) => r.target),
    ).toEqual(["cloud:eu-west-3", "cloud:us-east-1"]);
  });
});

describe("compliance", () => {
  it("never chooses a site or region that lacks a requested tag", () => {
    const fleet = makeFleet(
      [makeSite({ id: "edge", certifications: ["gdpr"] })],
      [
        makeRegion({ id: "eu-central-1", certifications: ["gdpr", "soc2"] }),
        makeRegion({ id: "eu-west-3", country: "FR", certifications: ["gdpr", "hipaa"] }),
      ],
    );
    expect(targetKey(placed(makeRequest(), fleet).target)).toBe("site:edge");

    const d = placed(makeRequest({ constraints: { compliance: ["gdpr", "hipaa"] } }), fleet);
    expect(planSteps(d.plan).map((s) => targetKey(s.target))).toEqual(["cloud:eu-west-3"]);
    expect(d.rejected).toContainEqual({
      target: "site:edge",
      reason: "compliance",
      detail: "lacks hipaa",
    });
    expect(d.rejected).toContainEqual({
      target: "cloud:eu-central-1",
      reason: "compliance",
      detail: "lacks hipaa",
    });
  });

  it("does not hold the device to certifications", () => {
    const req = makeRequest({
      task: { inputTokens: 50, maxOutputTokens: 20 },
      constraints: { compliance: ["hipaa"] },
      device: { models: ["llama-3.2-1b-q4"] },
    });
    expect(placed(req, makeFleet([makeSite({ id: "edge" })])).tier).toBe("device");
  });
});

describe("network: offline", () => {
  const fleet = makeFleet([makeSite({ id: "edge" })], [makeRegion({ id: "eu-central-1" })]);
  const offline = { type: "offline", rttMs: 0, uplinkMbps: 0, downlinkMbps: 0 } as const;

  it("runs on the device, with no remote backup", () => {
    const req = makeRequest({
      task: { inputTokens: 50, maxOutputTokens: 20 },
      device: { models: ["llama-3.2-1b-q4"] },
      network: offline,
    });
    const d = placed(req, fleet);
    expect(d.tier).toBe("device");
    expect(d.plan.backups).toEqual([]);
    expect(d.rejected).toEqual([
      { target: "site:edge", reason: "network", detail: "device is offline" },
      { target: "cloud:eu-central-1", reason: "network", detail: "device is offline" },
    ]);
  });

  it("is infeasible without an on-device model", () => {
    const result = run(makeRequest({ network: offline }), fleet);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe("infeasible");
  });
});

describe("load shedding", () => {
  const only = (load: { waiting?: number; kvCacheUsage?: number }) =>
    makeFleet([makeSite({ id: "edge", load })]);
  const as = (criticality: RouteRequest["task"]["criticality"]) =>
    makeRequest({ task: { criticality } });

  it.each([
    ["queue at the llm-d threshold", { waiting: 5 }, "saturated (queue 5, kv 0)"],
    ["KV cache at the llm-d threshold", { kvCacheUsage: 0.8 }, "saturated (queue 0, kv 0.8)"],
  ])("refuses a sheddable request as overloaded with the %s", (_, load, detail) => {
    const result = run(as("sheddable"), only(load));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("overloaded");
    expect(result.rejected).toContainEqual({ target: "site:edge", reason: "capacity", detail });
  });

  it.each([
    ["standard", { waiting: 5 }],
    ["critical", { kvCacheUsage: 0.95 }],
  ] as const)("still places a %s request on a saturated site", (criticality, load) => {
    expect(targetKey(placed(as(criticality), only(load)).target)).toBe("site:edge");
  });

  it("places a sheddable request just below both thresholds", () => {
    const d = placed(as("sheddable"), only({ waiting: 4, kvCacheUsage: 0.79 }));
    expect(targetKey(d.target)).toBe("site:edge");
  });

  it("moves a sheddable request to a target that is not saturated", () => {
    const fleet = makeFleet(
      [makeSite({ id: "edge", load: { waiting: 6 } })],
      [makeRegion({ id: "eu-central-1" })],
    );
    const d = placed(as("sheddable"), fleet);
    expect(planSteps(d.plan).map((s) => targetKey(s.target))).toEqual(["cloud:eu-central-1"]);
  });

  it("calls it infeasible, not overloaded, when the saturated site could not serve it anyway", () => {
    const audioOnly = makeSite({
      id: "edge",
      models: [{ model: "whisper-large-v3-turbo" }],
      load: { waiting: 10 },
    });
    const result = run(as("sheddable"), makeFleet([audioOnly]));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("infeasible");
    expect(result.rejected).toContainEqual(
      expect.objectContaining({ target: "site:edge", reason: "modality" }),
    );
  });
});
