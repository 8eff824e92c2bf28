// The plan around the primary: fault-domain-diverse backups, timeouts and retries; confidence;
// the latency target; and which sites the spatial pre-filter lets through.

import { describe, expect, it } from "vitest";
import { decide } from "../../shared/decide.ts";
import type { PreparedFleet } from "../../shared/fleet.ts";
import { DEFAULT_POLICY, type Policy } from "../../shared/policy.ts";
import type { RouteRequest } from "../../shared/types.ts";
import {
  makeFleet,
  makeRegion,
  makeRequest,
  makeSite,
  NOW,
  planSteps,
  rejections,
  targetKey,
} from "./helpers/fleet-builders.ts";

const US_EAST = { lat: 38.95, lon: -77.45 };
const farRegion = makeRegion({ id: "us-east-1", country: "US", location: US_EAST });

function placed(req: RouteRequest, fleet: PreparedFleet, policy: Policy = DEFAULT_POLICY) {
  const result = decide(req, fleet, policy, NOW);
  if (!result.ok) throw new Error(`expected a decision, got ${result.code}: ${result.message}`);
  return result.decision;
}

function layout(req: RouteRequest, fleet: PreparedFleet, policy: Policy = DEFAULT_POLICY) {
  const d = placed(req, fleet, policy);
  return { primary: targetKey(d.target), backups: d.plan.backups.map((b) => targetKey(b.target)) };
}

describe("backups", () => {
  it("never share the primary's fault domain, even when the runner-up is there", () => {
    // a1 and a2 are identical and share a rack; b is busier; the US region is far.
    const sites = (a2Domain: string) => [
      makeSite({ id: "a1", faultDomain: "rack-a" }),
      makeSite({ id: "a2", faultDomain: a2Domain }),
      makeSite({ id: "b", faultDomain: "rack-b", load: { running: 8 } }),
    ];
    // The region's Nova Micro is cheaper than busy b's GPU time, so it ranks first.
    expect(layout(makeRequest(), makeFleet(sites("rack-a"), [farRegion]))).toEqual({
      primary: "site:a1",
      backups: ["cloud:us-east-1", "site:b"],
    });
    // The same fleet with a2 in a rack of its own: now a2 is the first backup.
    expect(layout(makeRequest(), makeFleet(sites("rack-c"), [farRegion]))).toEqual({
      primary: "site:a1",
      backups: ["site:a2", "cloud:us-east-1"],
    });
  });

  it("put first those that can still meet the SLA after the primary's whole timeout", () => {
    // b bills GPU time at 20 $/h, so the far US region's Nova Micro outscores it; but a1 may
    // take 2.2 s before it is given up on, and the region needs ~1.1 s more, b ~0.8 s.
    const fleet = makeFleet(
      [
        makeSite({ id: "a1", faultDomain: "rack-a" }),
        makeSite({ id: "b", faultDomain: "rack-b", cost: { gpuHourUsd: 20 } }),
      ],
      [farRegion],
    );
    const within = (latencySlaMs: number) => {
      const d = placed(makeRequest({ constraints: { latencySlaMs } }), fleet);
      const room = latencySlaMs - d.plan.primary.timeoutMs;
      return {
        room,
        backups: d.plan.backups.map((b) => [targetKey(b.target), b.predictedLatencyMs]),
      };
    };
    // 3.2 s leaves ~1 s after a1's timeout: only b fits in it.
    const tight = within(3_200);
    expect(tight.backups).toEqual([
      ["site:b", expect.any(Number)],
      ["cloud:us-east-1", expect.any(Number)],
    ]);
    expect(tight.backups[0]?.[1]).toBeLessThanOrEqual(tight.room);
    expect(tight.backups[1]?.[1]).toBeGreaterThan(tight.room);
    // With room for both, the score decides.
    const loose = within(4_000);
    expect(loose.backups.map(([key]) => key)).toEqual(["cloud:us-east-1", "site:b"]);
    expect(loose.backups.every(([, ms]) => Number(ms) <= loose.room)).toBe(true);
  });

  it("count sites sharing a fault domain as one", () => {
    const fleet = makeFleet([
      makeSite({ id: "p" }),
      makeSite({ id: "q1", faultDomain: "rack-q" }),
      makeSite({ id: "q2", faultDomain: "rack-q" }),
    ]);
    expect(layout(makeRequest(), fleet)).toEqual({ primary: "site:p", backups: ["site:q1"] });
  });

  it("include another tier when one is feasible, even if it scores worse than the same tier", () => {
    const fleet = makeFleet(
      [makeSite({ id: "s1" }), makeSite({ id: "s2" }), makeSite({ id: "s3" })],
      [farRegion],
    );
    expect(layout(makeRequest(), fleet)).toEqual({
      primary: "site:s1",
      backups: ["site:s2", "cloud:us-east-1"],
    });
    // With room for three, the third MEC site joins, ordered by score.
    expect(layout(makeRequest(), fleet, { ...DEFAULT_POLICY, maxBackups: 3 })).toEqual({
      primary: "site:s1",
      backups: ["site:s2", "site:s3", "cloud:us-east-1"],
    });
  });

  it("count the device as a tier of its own", () => {
    // A hot phone low on battery: free, but not the first choice.
    const req = makeRequest({
      task: { inputTokens: 50, maxOutputTokens: 20 },
      device: { models: ["llama-3.2-1b-q4"], batteryPct: 10, thermal: "serious" },
    });
    const fleet = makeFleet([
      makeSite({ id: "s1" }),
      makeSite({ id: "s2" }),
      makeSite({ id: "s3" }),
    ]);
    expect(layout(req, fleet)).toEqual({ primary: "site:s1", backups: ["site:s2", "device"] });
  });

  it("are left out when the policy allows none", () => {
    const fleet = makeFleet([makeSite({ id: "s1" }), makeSite({ id: "s2" })], [farRegion]);
    expect(layout(makeRequest(), fleet, { ...DEFAULT_POLICY, maxBackups: 0 }).backups).toEqual([]);
  });
});

describe("timeouts and retries", () => {
  const fleet = makeFleet([makeSite({ id: "a" })], [makeRegion({ id: "eu-central-1" })]);

  it("give the primary 1.5× its worst case, capped by the SLA", () => {
    const d = placed(makeRequest({ constraints: { latencySlaMs: 10_000 } }), fleet);
    const p = d.plan.primary;
    expect(p.worstLatencyMs).toBeGreaterThan(p.predictedLatencyMs);
    expect(p.timeoutMs).toBeGreaterThanOrEqual(Math.floor(1.5 * p.worstLatencyMs));
    expect(p.timeoutMs).toBeLessThanOrEqual(Math.ceil(1.5 * (p.worstLatencyMs + 0.5)));
    expect(d.plan.timeoutMs).toBe(10_000);
    expect(d.plan.retry).toEqual({ maxAttempts: 2, baseDelayMs: 25, maxDelayMs: 200 });
  });

  it("never cut a healthy primary short to make room for a backup", () => {
    // The full timeout leaves the backup no room inside the SLA; the primary keeps it anyway.
    const d = placed(makeRequest({ constraints: { latencySlaMs: 3_000 } }), fleet);
    const p = d.plan.primary;
    const [backup] = d.plan.backups;
    expect(backup).toBeDefined();
    expect(p.timeoutMs).toBe(Math.min(3_000, Math.ceil(1.5 * p.worstLatencyMs)));
    expect(p.timeoutMs + (backup?.predictedLatencyMs ?? 0)).toBeGreaterThan(3_000);
  });

  it("give the primary the whole SLA when neither a retry nor a backup could follow it in time", () => {
    const alone = makeFleet([makeSite({ id: "a" })]);
    const req = (latencySlaMs?: number) =>
      makeRequest({ task: { model: "llama-3.2-1b" }, constraints: { latencySlaMs } });
    const worst = placed(req(), alone).plan.primary.worstLatencyMs;
    // Between 1.5× and 2× the worst case: no backup, and no room for a second attempt. Cut at
    // 1.5× the worst case, a slow answer would be lost with nothing to follow it.
    const sla = Math.round(1.8 * worst);
    const d = placed(req(sla), alone);
    expect(d.plan.backups).toEqual([]);
    expect(d.plan.retry.maxAttempts).toBe(1);
    expect(d.plan.primary.timeoutMs).toBe(sla);
  });

  it("allow no retry when a second attempt cannot fit the SLA", () => {
    const d = placed(makeRequest({ constraints: { latencySlaMs: 1_500 } }), fleet);
    expect(d.bestEffort).toBe(false);
    expect(d.plan.primary.timeoutMs).toBe(1_500);
    expect(d.plan.retry.maxAttempts).toBe(1);
    // A quarter of the time left after the primary's expected answer, at least the base delay.
    expect(d.plan.retry.maxDelayMs).toBe(Math.floor((1_500 - d.predicted.latencyMs) / 4));
  });
});

describe("best effort", () => {
  // 1,024 tokens at 180/s take ~5.7 s; half of them ~2.9 s. Only the expected answer fits 4 s.
  const long = makeRequest({
    task: { maxOutputTokens: 1_024 },
    constraints: { latencySlaMs: 4_000 },
  });
  const fleet = makeFleet([makeSite({ id: "a" })]);

  it("serves a request whose expected answer fits the SLA though a full one would not, and says so", () => {
    const d = placed(long, fleet);
    expect(d.bestEffort).toBe(true);
    expect(d.predicted.latencyMs).toBeLessThanOrEqual(4_000);
    expect(d.predicted.worstLatencyMs).toBeGreaterThan(4_000);
    const note = d.rationale.find((r) => r.factor === "sla");
    expect(note?.detail).toMatch(/^best effort: .* 1024 tokens would take \d+ ms; no target fits/);
    // The answer is let through late rather than cut off at the SLA with nothing.
    expect(Math.abs(d.plan.timeoutMs - 1.5 * d.predicted.worstLatencyMs)).toBeLessThanOrEqual(1);
    expect(d.plan.primary.timeoutMs).toBe(d.plan.timeoutMs);
  });

  it("prefers a target that meets the SLA even with a full answer, unless the SLA is wide", () => {
    // A second site, four times as fast but eight times the price per GPU-hour.
    const fast = makeSite({
      id: "b",
      cost: { gpuHourUsd: 12 },
      models: [{ model: "llama-3.2-1b", tokensPerSec: 720 }],
      load: { residentModels: ["llama-3.2-1b"] },
    });
    const d = placed(long, makeFleet([makeSite({ id: "a" }), fast]));
    expect(targetKey(d.target)).toBe("site:b");
    expect(d.bestEffort).toBe(false);
    // Under a wide SLA the price decides, and nothing is at risk.
    const wide = { ...long, constraints: { ...long.constraints, latencySlaMs: 20_000 } };
    expect(targetKey(placed(wide, makeFleet([makeSite({ id: "a" }), fast])).target)).toBe("site:a");
  });

  it("names the target that would have met the SLA in the worst case when the risk is small", () => {
    const fast = makeSite({
      id: "b",
      cost: { gpuHourUsd: 12 },
      models: [{ model: "llama-3.2-1b", tokensPerSec: 720 }],
      load: { residentModels: ["llama-3.2-1b"] },
    });
    const req = { ...long, constraints: { ...long.constraints, latencySlaMs: 5_600 } };
    const d = placed(req, makeFleet([makeSite({ id: "a" }), fast]));
    expect(targetKey(d.target)).toBe("site:a");
    expect(d.bestEffort).toBe(true);
    const note = d.rationale.find((r) => r.factor === "sla");
    expect(note?.detail).toMatch(/; site:b would fit even then but scored [\d.]+$/);
  });

  it("is not needed when the learned answer length says answers are short", () => {
    const learned = makeFleet([makeSite({ id: "a" })]);
    learned.data.answerShares = { text: 0.1 };
    const d = placed(long, learned);
    expect(d.bestEffort).toBe(true);
    expect(d.predicted.latencyMs).toBeLessThan(placed(long, fleet).predicted.latencyMs);
    const short = placed({ ...long, task: { ...long.task, maxOutputTokens: 512 } }, learned);
    expect(short.bestEffort).toBe(false);
  });
});

describe("confidence", () => {
  const single = makeFleet([makeSite({ id: "a" })]);
  const twins = makeFleet([makeSite({ id: "a" }), makeSite({ id: "b" })]);
  const stale = makeFleet([makeSite({ id: "a", load: { updatedAt: NOW - 20_000 } })]);

  const tight = makeRequest({ constraints: { latencySlaMs: 1_200 } });
  /** The documented bands: high above 0.8, medium from 0.5 to 0.8, low below 0.5. */
  const band = (c: number) => (c > 0.8 ? "high" : c >= 0.5 ? "medium" : "low");

  it.each([
    { name: "only target, fresh data, wide SLA", req: makeRequest(), fleet: single, level: "high" },
    { name: "only target, tight SLA", req: tight, fleet: single, level: "medium" },
    { name: "only target, stale site data", req: makeRequest(), fleet: stale, level: "medium" },
    { name: "two equal targets, tight SLA", req: tight, fleet: twins, level: "low" },
  ])("is $level with $name", ({ req, fleet, level }) => {
    const d = placed(req, fleet);
    expect(band(d.confidence)).toBe(level);
    expect(d.confidenceLevel).toBe(level);
  });

  it("falls as the site data ages", () => {
    const at = (ageMs: number) =>
      placed(makeRequest(), makeFleet([makeSite({ id: "a", load: { updatedAt: NOW - ageMs } })]))
        .confidence;
    expect(at(0)).toBeGreaterThan(at(5_000));
    expect(at(5_000)).toBeGreaterThan(at(10_000));
    expect(at(10_000)).toBe(at(60_000));
  });
});

describe("latency target", () => {
  // 2048 tokens out cannot complete in 2 s anywhere, but the first token can come back in time.
  const long = (latencyTarget: "complete" | "first_token") =>
    makeRequest({
      task: { maxOutputTokens: 2_048 },
      constraints: { latencySlaMs: 2_000, latencyTarget },
    });
  const fleet = makeFleet([makeSite({ id: "a" })], [makeRegion({ id: "eu-central-1" })]);

  it("gives a best effort where it is expected soonest when the complete response cannot fit", () => {
    const d = placed(long("complete"), fleet);
    const steps = planSteps(d.plan);
    expect(d.bestEffort).toBe(true);
    expect(d.predicted.latencyMs).toBeGreaterThan(2_000);
    // The fastest first; every other target is a backup, none is listed as rejected.
    for (const s of steps.slice(1))
      expect(s.predictedLatencyMs).toBeGreaterThanOrEqual(d.plan.primary.predictedLatencyMs);
    expect(steps.map((s) => targetKey(s.target)).sort()).toEqual(["cloud:eu-central-1", "site:a"]);
    expect(rejections({ ok: true, decision: d }).map((r) => `${r.target} ${r.reason}`)).toEqual([
      "device device",
    ]);
    expect(d.rationale).toContainEqual({
      factor: "sla",
      detail: `best effort: no target is expected to meet the 2000 ms SLA; ${targetKey(d.target)} is expected soonest`,
    });
    // Let through late rather than cut off at the SLA: the deadline is the primary's timeout.
    expect(d.plan.timeoutMs).toBe(d.plan.primary.timeoutMs);
    expect(d.plan.timeoutMs).toBeGreaterThan(d.predicted.worstLatencyMs);
  });

  it("refuses (422) rather than make a best effort that breaks a rule", () => {
    const strict = makeRequest({
      task: { maxOutputTokens: 2_048 },
      constraints: { latencySlaMs: 2_000, privacy: "strict" },
    });
    const result = decide(
      strict,
      makeFleet([], [makeRegion({ id: "eu-central-1" })]),
      DEFAULT_POLICY,
      NOW,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("infeasible");
  });

  it("places the request when only the first token must fit, and predicts that", () => {
    const d = placed(long("first_token"), fleet);
    expect(d.predicted.latencyMs).toBe(d.predicted.firstTokenMs);
    expect(d.predicted.latencyMs).toBeLessThanOrEqual(2_000);
    for (const s of [d.plan.primary, ...d.plan.backups])
      expect(s.predictedLatencyMs).toBeLessThanOrEqual(2_000);
    expect(d.rationale).toContainEqual(
      expect.objectContaining({
        factor: "latency",
        detail: expect.stringContaining("(first token)"),
      }),
    );
  });

  it("applies on the device too", () => {
    const req = (latencyTarget: "complete" | "first_token") =>
      makeRequest({
        task: { inputTokens: 50, maxOutputTokens: 500 },
        constraints: { latencySlaMs: 1_000, latencyTarget },
        device: { models: ["llama-3.2-1b-q4"] },
      });
    // 500 tokens on the phone take longer than 1 s: only a best effort, and said so.
    const complete = placed(req("complete"), makeFleet([]));
    expect(complete.tier).toBe("device");
    expect(complete.bestEffort).toBe(true);
    expect(complete.predicted.latencyMs).toBeGreaterThan(1_000);
    const first = placed(req("first_token"), makeFleet([]));
    expect(first.tier).toBe("device");
    expect(first.bestEffort).toBe(false);
  });

  it("still reports the first token when the complete response is the target", () => {
    const d = placed(makeRequest(), fleet);
    expect(d.predicted.firstTokenMs).toBeLessThan(d.predicted.latencyMs);
  });
});

describe("candidate sites", () => {
  it("looks only at the nearest maxSiteCandidates sites", () => {
    const fleet = makeFleet([
      makeSite({ id: "near" }),
      makeSite({ id: "far", location: { lat: 40.417, lon: -3.704 } }),
    ]);
    const d = placed(makeRequest(), fleet, { ...DEFAULT_POLICY, maxSiteCandidates: 1 });
    expect(targetKey(d.target)).toBe("site:near");
    expect(d.plan.backups).toEqual([]);
    expect(d.rejected.map((r) => r.target)).toEqual(["device"]);
    expect(d.rationale.at(-1)?.detail).toBe(
      "evaluated the device, 1 nearest of 2 MEC sites and 0 cloud regions",
    );
  });

  it("takes the first sites by id when the caller's location is unknown", () => {
    const fleet = makeFleet([makeSite({ id: "c" }), makeSite({ id: "b" }), makeSite({ id: "a" })]);
    const d = placed(makeRequest({ location: null }), fleet, {
      ...DEFAULT_POLICY,
      maxSiteCandidates: 2,
    });
    expect([targetKey(d.target), ...d.plan.backups.map((b) => targetKey(b.target))]).toEqual([
      "site:a",
      "site:b",
    ]);
    expect(d.rationale.at(-1)?.detail).toContain("(location unknown)");
  });

  it("uses a site with stale data only as a last resort, and says so", () => {
    const stale = makeSite({ id: "a", load: { updatedAt: NOW - 30_000 } });
    const d = placed(makeRequest(), makeFleet([stale]));
    expect(targetKey(d.target)).toBe("site:a");
    expect(d.rationale.at(-1)?.detail).toContain("stale");
    const withFresh = placed(
      makeRequest(),
      makeFleet([stale, makeSite({ id: "b", location: US_EAST })]),
    );
    expect(targetKey(withFresh.target)).toBe("site:b");
    expect(withFresh.plan.backups).toEqual([]);
  });

  it("notes a cold start and a half-open breaker in the rationale", () => {
    const site = makeSite({ id: "a", breaker: "half_open", load: { residentModels: [] } });
    const d = placed(makeRequest(), makeFleet([site]));
    const notes = d.rationale.filter((r) => r.factor === "reliability").map((r) => r.detail);
    expect(notes).toEqual(["breaker half-open (probing)", `cold start: ${d.model} not resident`]);
  });
});

describe("site targets", () => {
  it("carry the request's priority only to a site that schedules by priority", () => {
    for (const [criticality, priority] of [
      ["critical", 0],
      ["standard", 1],
      ["sheddable", 2],
    ] as const) {
      const req = makeRequest({ task: { criticality } });
      const prio = placed(req, makeFleet([makeSite({ id: "edge", scheduling: "priority" })]));
      expect(prio.target).toEqual({
        kind: "site",
        siteId: "edge",
        endpoint: "http://127.0.0.1:9100/edge",
        priority,
      });
      for (const scheduling of ["fcfs", undefined] as const) {
        const site = makeSite({ id: "edge", ...(scheduling ? { scheduling } : {}) });
        const fcfs = placed(req, makeFleet([site]));
        expect(fcfs.target.kind).toBe("site");
        expect(fcfs.target).not.toHaveProperty("priority");
      }
    }
  });

  it("give each backup the priority its own site takes", () => {
    const req = makeRequest({ task: { criticality: "standard" } });
    const fleet = makeFleet([
      makeSite({ id: "near", scheduling: "priority" }),
      makeSite({
        id: "far",
        faultDomain: "far",
        scheduling: "fcfs",
        location: { lat: 52.4, lon: 13.1 },
      }),
    ]);
    const d = placed(req, fleet);
    const steps = [d.plan.primary, ...d.plan.backups].filter((s) => s.target.kind === "site");
    expect(steps.length).toBe(2);
    for (const step of steps) {
      if (step.target.kind !== "site") continue;
      if (step.target.siteId === "near") expect(step.target.priority).toBe(1);
      else expect(step.target).not.toHaveProperty("priority");
    }
  });
});
