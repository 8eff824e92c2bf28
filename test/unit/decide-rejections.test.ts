// Every rejection reason the router agent gives, with the target it names and why.

import { describe, expect, it } from "vitest";
import { decide } from "../../shared/decide.ts";
import type { PreparedFleet } from "../../shared/fleet.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { REJECTION_REASONS, type RouteRequest } from "../../shared/types.ts";
import {
  makeFleet,
  makeRegion,
  makeRequest,
  makeSite,
  NOW,
  type RequestOverrides,
  rejections,
  type SiteOverrides,
} from "./helpers/fleet-builders.ts";

const oneSite = (o: Partial<SiteOverrides> = {}) => makeFleet([makeSite({ ...o, id: "edge" })]);
const oneRegion = (o: Parameters<typeof makeRegion>[0] = { id: "eu-central-1" }) =>
  makeFleet([], [makeRegion(o)]);
/** A short prompt the high-end phone can run with Llama 3.2 1B in well under a second. */
const onDevice: RequestOverrides = {
  task: { inputTokens: 50, maxOutputTokens: 20 },
  device: { models: ["llama-3.2-1b-q4"] },
};

/** A short answer the default site next to the caller gives in well under 200 ms. */
const short: RequestOverrides = { task: { inputTokens: 50, maxOutputTokens: 20 } };
const SYDNEY = { lat: -33.87, lon: 151.21 };

interface Case {
  name: string;
  req: RouteRequest;
  fleet: PreparedFleet;
  expected: { target: string; reason: (typeof REJECTION_REASONS)[number]; detail: RegExp };
}

const CASES: Case[] = [
  {
    name: "privacy: strict request, untrusted site",
    req: makeRequest({ constraints: { privacy: "strict" } }),
    fleet: oneSite({ trusted: false }),
    expected: { target: "site:edge", reason: "privacy", detail: /trusted site/ },
  },
  {
    name: "privacy: strict request, any region",
    req: makeRequest({ constraints: { privacy: "strict" } }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "privacy", detail: /never leaves/ },
  },
  {
    name: "privacy: sensitive request, region outside the residency",
    req: makeRequest({ constraints: { privacy: "sensitive", dataResidency: ["FR"] } }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "privacy", detail: /^DE not in FR$/ },
  },
  {
    name: "residency: site outside the residency",
    req: makeRequest({ constraints: { dataResidency: ["FR", "PL"] } }),
    fleet: oneSite(),
    expected: { target: "site:edge", reason: "residency", detail: /^DE not in FR,PL$/ },
  },
  {
    name: "residency: public request, region outside the residency",
    req: makeRequest({ constraints: { dataResidency: ["US"] } }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "residency", detail: /^DE not in US$/ },
  },
  {
    name: "compliance: site without the tag",
    req: makeRequest({ constraints: { compliance: ["soc2", "gdpr"] } }),
    fleet: oneSite({ certifications: ["gdpr"] }),
    expected: { target: "site:edge", reason: "compliance", detail: /^lacks soc2$/ },
  },
  {
    name: "compliance: region without the tags",
    req: makeRequest({ constraints: { compliance: ["bsi-c5", "hds"] } }),
    fleet: oneRegion({ id: "eu-central-1", certifications: ["gdpr"] }),
    expected: { target: "cloud:eu-central-1", reason: "compliance", detail: /^lacks bsi-c5,hds$/ },
  },
  {
    name: "modality: site serving only text models, audio request",
    req: makeRequest({ task: { modality: "audio" } }),
    fleet: oneSite(),
    expected: { target: "site:edge", reason: "modality", detail: /no audio model/ },
  },
  {
    name: "modality: site whose GPU cannot hold the only model",
    req: makeRequest({ task: { model: "llama-3.1-8b" } }),
    fleet: oneSite({ capacity: { gpuMemoryGb: 8 } }),
    expected: { target: "site:edge", reason: "modality", detail: /llama-3.1-8b/ },
  },
  {
    name: "modality: region without a speech model",
    req: makeRequest({ task: { modality: "audio" } }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "modality", detail: /no audio model/ },
  },
  {
    name: "modality: region that does not serve the model asked for",
    req: makeRequest({ task: { model: "nova-pro" } }),
    fleet: oneRegion({ id: "eu-central-1", models: ["nova-micro", "nova-lite"] }),
    expected: { target: "cloud:eu-central-1", reason: "modality", detail: /nova-pro/ },
  },
  {
    name: "breaker: site breaker open",
    req: makeRequest(),
    fleet: oneSite({ breaker: "open" }),
    expected: { target: "site:edge", reason: "breaker", detail: /open/ },
  },
  {
    name: "breaker: region breaker open",
    req: makeRequest(),
    fleet: oneRegion({ id: "eu-central-1", breaker: "open" }),
    expected: { target: "cloud:eu-central-1", reason: "breaker", detail: /open/ },
  },
  {
    name: "capacity: draining site",
    req: makeRequest(),
    fleet: oneSite({ draining: true }),
    expected: { target: "site:edge", reason: "capacity", detail: /^draining$/ },
  },
  {
    name: "capacity: unhealthy site",
    req: makeRequest(),
    fleet: oneSite({ healthy: false }),
    expected: { target: "site:edge", reason: "capacity", detail: /^unhealthy$/ },
  },
  {
    name: "capacity: every run and queue slot taken",
    req: makeRequest(),
    fleet: oneSite({
      capacity: { maxConcurrent: 8, maxQueue: 32 },
      load: { running: 8, waiting: 32 },
    }),
    expected: { target: "site:edge", reason: "capacity", detail: /^full \(40\/40\)$/ },
  },
  {
    name: "capacity: a site without a queue is full once every run slot is taken",
    req: makeRequest(),
    fleet: oneSite({
      capacity: { maxConcurrent: 8, maxQueue: 0 },
      load: { running: 8, waiting: 0 },
    }),
    expected: { target: "site:edge", reason: "capacity", detail: /^full \(8\/8\)$/ },
  },
  {
    name: "capacity: saturated site, sheddable request",
    req: makeRequest({ task: { criticality: "sheddable" } }),
    fleet: oneSite({ load: { kvCacheUsage: 0.85 } }),
    expected: {
      target: "site:edge",
      reason: "capacity",
      detail: /^saturated \(queue 0, kv 0.85\)$/,
    },
  },
  {
    name: "capacity: stale site data while a fresh target is feasible",
    req: makeRequest(),
    fleet: makeFleet(
      [makeSite({ id: "edge", load: { updatedAt: NOW - DEFAULT_POLICY.staleAfterMs } })],
      [makeRegion({ id: "eu-central-1" })],
    ),
    expected: { target: "site:edge", reason: "capacity", detail: /^stale: no recent heartbeat$/ },
  },
  {
    name: "device: no installed model",
    req: makeRequest({ device: { models: ["whisper-base-q8"] } }),
    fleet: makeFleet([]),
    expected: { target: "device", reason: "device", detail: /no installed text model/ },
  },
  {
    name: "device: thermal state critical",
    req: makeRequest({ ...onDevice, device: { models: ["llama-3.2-1b-q4"], thermal: "critical" } }),
    fleet: makeFleet([]),
    expected: { target: "device", reason: "device", detail: /thermal state critical/ },
  },
  {
    name: "device: not enough free RAM",
    req: makeRequest({ ...onDevice, device: { models: ["llama-3.2-1b-q4"], memoryFreeMb: 1_000 } }),
    fleet: makeFleet([]),
    expected: { target: "device", reason: "device", detail: /more than 1000 MB/ },
  },
  {
    name: "network: offline device, site",
    req: makeRequest({ network: { type: "offline", rttMs: 0, uplinkMbps: 0, downlinkMbps: 0 } }),
    fleet: oneSite(),
    expected: { target: "site:edge", reason: "network", detail: /offline/ },
  },
  {
    name: "network: offline device, region",
    req: makeRequest({ network: { type: "offline", rttMs: 0, uplinkMbps: 0, downlinkMbps: 0 } }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "network", detail: /offline/ },
  },
  // A target too slow for the SLA is rejected when another meets it (else it is a best effort).
  {
    name: "sla: site too slow",
    req: makeRequest({ ...short, constraints: { latencySlaMs: 200 } }),
    fleet: makeFleet([makeSite({ id: "edge", location: SYDNEY }), makeSite({ id: "near" })]),
    expected: { target: "site:edge", reason: "sla", detail: /^predicted \d+ ms > SLA 200 ms$/ },
  },
  {
    name: "sla: region too slow",
    req: makeRequest({ ...short, constraints: { latencySlaMs: 200 } }),
    fleet: makeFleet([makeSite({ id: "near" })], [makeRegion({ id: "eu-central-1" })]),
    expected: { target: "cloud:eu-central-1", reason: "sla", detail: /> SLA 200 ms$/ },
  },
  {
    name: "sla: device too slow",
    req: makeRequest({ ...onDevice, constraints: { latencySlaMs: 200 } }),
    fleet: makeFleet([makeSite({ id: "near" })]),
    expected: { target: "device", reason: "sla", detail: /> SLA 200 ms$/ },
  },
  {
    name: "sla: an upload over a dead uplink never completes",
    req: makeRequest({
      task: { modality: "image", payloadBytes: 200_000 },
      network: { uplinkMbps: 0 },
    }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "sla", detail: /never \(no uplink\)/ },
  },
  {
    name: "budget: site over budget",
    req: makeRequest({ constraints: { maxCostUsd: 0.000001 } }),
    fleet: oneSite(),
    expected: { target: "site:edge", reason: "budget", detail: /> budget \$0.000001$/ },
  },
  {
    name: "budget: region over budget",
    req: makeRequest({ constraints: { maxCostUsd: 0 } }),
    fleet: oneRegion(),
    expected: { target: "cloud:eu-central-1", reason: "budget", detail: /> budget \$0$/ },
  },
];

describe("rejections", () => {
  it.each(CASES)("$name", ({ req, fleet, expected }) => {
    const result = decide(req, fleet, DEFAULT_POLICY, NOW);
    const found = rejections(result).filter((r) => r.target === expected.target);
    expect(found).toHaveLength(1);
    expect(found[0]).toEqual({
      target: expected.target,
      reason: expected.reason,
      detail: expect.stringMatching(expected.detail),
    });
  });

  it("covers every rejection reason", () => {
    const covered = new Set(CASES.map((c) => c.expected.reason));
    expect([...covered].sort()).toEqual([...REJECTION_REASONS].sort());
  });

  it("names every target it turned down; only passing reasons make it `unavailable`", () => {
    const fleet = makeFleet(
      [makeSite({ id: "edge", breaker: "open" }), makeSite({ id: "spare", draining: true })],
      [makeRegion({ id: "eu-central-1", breaker: "open" })],
    );
    const result = decide(makeRequest(), fleet, DEFAULT_POLICY, NOW);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("unavailable");
    expect(result.rejected.map((r) => `${r.target} ${r.reason}`)).toEqual([
      "device device",
      "site:edge breaker",
      "site:spare capacity",
      "cloud:eu-central-1 breaker",
    ]);
    expect(result.rationale.map((r) => r.factor)).toEqual(["classification", "candidates"]);
  });

  it("falls back to a cheaper model of the same site when the best one is over budget", () => {
    // Only 8B is resident; under a 5 s SLA the cold 1B is too close to it, so 8B wins despite
    // its price: a full answer costs ~$0.00025 on 8B, ~$0.00008 on 1B.
    const fleet = oneSite({ load: { residentModels: ["llama-3.1-8b"] } });
    const model = (maxCostUsd?: number) => {
      const result = decide(
        makeRequest({ constraints: { maxCostUsd, latencySlaMs: 5_000 } }),
        fleet,
        DEFAULT_POLICY,
        NOW,
      );
      return result.ok ? result.decision.model : result.code;
    };
    expect(model()).toBe("llama-3.1-8b");
    expect(model(0.0001)).toBe("llama-3.2-1b");
  });
});

describe("queue wait by criticality", () => {
  // One site, every run slot busy, its queue growing: standard work may spend half its slack
  // queued (shared/admission.ts), critical work all of it.
  const placed = (criticality: "critical" | "standard", waiting: number) => {
    const fleet = oneSite({
      capacity: { maxConcurrent: 16, maxQueue: 1_000 },
      load: { running: 16, waiting },
    });
    const req = makeRequest({ task: { criticality, model: "llama-3.2-1b" } });
    return decide(req, fleet, DEFAULT_POLICY, NOW);
  };

  it("refuses standard work a queue that only critical work may wait in, as busy (503), not impossible", () => {
    const band: number[] = [];
    for (let waiting = 0; waiting <= 600; waiting += 4) {
      const standard = placed("standard", waiting);
      const critical = placed("critical", waiting);
      // Never placed where critical work would not be.
      if (standard.ok) expect(critical.ok).toBe(true);
      if (critical.ok && !standard.ok) {
        band.push(waiting);
        expect(standard.code).toBe("unavailable");
        expect(rejections(standard)).toContainEqual({
          target: "site:edge",
          reason: "sla",
          detail: "queue over the share of the SLA standard work may wait",
        });
      }
    }
    expect(band.length).toBeGreaterThan(2);
    // The band sits above every queue standard work accepts.
    const lastStandard = Math.max(
      ...Array.from({ length: 151 }, (_, i) => i * 4).filter((w) => placed("standard", w).ok),
    );
    expect(Math.min(...band)).toBeGreaterThan(lastStandard);
  });
});
