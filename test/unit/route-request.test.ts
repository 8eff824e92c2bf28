// The `/v1/route` body: the strict schema, and the documented defaults that complete it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_INPUT_TOKENS,
  DEFAULT_MAX_OUTPUT_TOKENS,
  DEFAULT_NETWORK,
  DEFAULT_PAYLOAD_BYTES,
  normalizeRouteRequest,
  type RouteRequestInput,
  routeRequestSchema,
} from "../../shared/route-request.ts";
import { MODALITIES, type Modality, NETWORK_TYPES } from "../../shared/types.ts";

const minimal = (modality: Modality = "text"): RouteRequestInput => ({
  task: { modality },
  constraints: { latencySlaMs: 800 },
});

function parse(body: unknown) {
  const result = routeRequestSchema.safeParse(body);
  if (!result.success) throw new Error(JSON.stringify(result.error.issues));
  return result.data;
}

function issues(body: unknown) {
  const result = routeRequestSchema.safeParse(body);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((i) => ({
    code: i.code,
    path: i.path,
    ...("keys" in i ? { keys: i.keys } : {}),
  }));
}

describe("normalizeRouteRequest", () => {
  it("fills every default into a minimal text request", () => {
    expect(normalizeRouteRequest(parse(minimal()))).toEqual({
      requestId: undefined,
      task: {
        modality: "text",
        model: "auto",
        inputTokens: 500,
        maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS,
        payloadBytes: 0,
        criticality: "standard",
      },
      constraints: {
        latencySlaMs: 800,
        latencyTarget: "complete",
        maxCostUsd: undefined,
        privacy: "public",
        dataResidency: [],
        compliance: [],
      },
      device: {
        models: [],
        batteryPct: 100,
        charging: false,
        thermal: "nominal",
        memoryFreeMb: 2048,
        class: "mid",
      },
      network: { type: "unknown", rttMs: 60, uplinkMbps: 5, downlinkMbps: 20 },
      location: undefined,
    });
  });

  it.each(MODALITIES)("sizes a %s request by its modality", (modality) => {
    const req = normalizeRouteRequest(parse(minimal(modality)));
    expect(req.task.inputTokens).toBe(DEFAULT_INPUT_TOKENS[modality]);
    expect(req.task.payloadBytes).toBe(DEFAULT_PAYLOAD_BYTES[modality]);
  });

  it("gives a photo, a clip and 15 s of audio their typical sizes", () => {
    const size = (m: Modality) => normalizeRouteRequest(parse(minimal(m))).task;
    expect(size("image")).toMatchObject({ inputTokens: 1_300, payloadBytes: 200_000 });
    expect(size("audio")).toMatchObject({ inputTokens: 750, payloadBytes: 480_000 });
    expect(size("video")).toMatchObject({ inputTokens: 4_000, payloadBytes: 5_000_000 });
  });

  it("keeps what the caller gave over the modality's defaults", () => {
    const body = {
      ...minimal("video"),
      task: { modality: "video", inputTokens: 10, payloadBytes: 0 },
    };
    expect(normalizeRouteRequest(parse(body)).task).toMatchObject({
      inputTokens: 10,
      payloadBytes: 0,
    });
  });

  it.each(NETWORK_TYPES)(
    "assumes the typical %s link when the device reports only the type",
    (type) => {
      const req = normalizeRouteRequest(parse({ ...minimal(), network: { type } }));
      expect(req.network).toEqual({ type, ...DEFAULT_NETWORK[type] });
    },
  );

  it("fills only the link figures the device left out", () => {
    const req = normalizeRouteRequest(parse({ ...minimal(), network: { type: "4g", rttMs: 80 } }));
    expect(req.network).toEqual({ type: "4g", rttMs: 80, uplinkMbps: 10, downlinkMbps: 40 });
  });

  it("zeroes the link of an offline device, whatever it reported", () => {
    const body = { ...minimal(), network: { type: "offline", rttMs: 30, uplinkMbps: 50 } };
    expect(normalizeRouteRequest(parse(body)).network).toEqual({
      type: "offline",
      rttMs: 0,
      uplinkMbps: 0,
      downlinkMbps: 0,
    });
  });

  it("uses the edge's location only when the body gives none", () => {
    const edge = { lat: 48.1, lon: 11.6 };
    expect(normalizeRouteRequest(parse(minimal()), edge).location).toEqual(edge);
    const own = { lat: 52.5, lon: 13.4 };
    expect(normalizeRouteRequest(parse({ ...minimal(), location: own }), edge).location).toEqual(
      own,
    );
  });

  it("turns every valid body into a complete request", () => {
    const body = fc.record(
      {
        task: fc.record(
          {
            modality: fc.constantFrom(...MODALITIES),
            inputTokens: fc.integer({ min: 0, max: 2_000_000 }),
            maxOutputTokens: fc.integer({ min: 1, max: 200_000 }),
            criticality: fc.constantFrom("critical", "standard", "sheddable"),
          },
          { requiredKeys: ["modality"] },
        ),
        constraints: fc.record(
          {
            latencySlaMs: fc.integer({ min: 1, max: 600_000 }),
            privacy: fc.constantFrom("public", "sensitive", "strict"),
            dataResidency: fc.subarray(["DE", "EU", "EEA"]),
          },
          { requiredKeys: ["latencySlaMs"] },
        ),
        network: fc.record({
          type: fc.constantFrom(...NETWORK_TYPES),
          rttMs: fc.double({ min: 0, max: 60_000, noNaN: true }),
        }),
      },
      { requiredKeys: ["task", "constraints"] },
    );
    fc.assert(
      fc.property(body, (b) => {
        const req = normalizeRouteRequest(parse(b));
        expect(req.task.inputTokens).toBeGreaterThanOrEqual(0);
        expect(req.constraints.latencySlaMs).toBe(b.constraints.latencySlaMs);
        for (const value of [req.network.rttMs, req.network.uplinkMbps, req.network.downlinkMbps]) {
          expect(Number.isFinite(value)).toBe(true);
        }
        if (req.network.type === "offline") expect(req.network.uplinkMbps).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe("routeRequestSchema", () => {
  it("rejects an unknown key at the top level, naming it", () => {
    expect(issues({ ...minimal(), priority: "high" })).toEqual([
      { code: "unrecognized_keys", path: [], keys: ["priority"] },
    ]);
  });

  it.each([
    ["task", { ...minimal(), task: { modality: "text", temperature: 0.2 } }, "temperature"],
    ["constraints", { ...minimal(), constraints: { latencySlaMs: 800, region: "eu" } }, "region"],
    ["device", { ...minimal(), device: { gpu: true } }, "gpu"],
    ["network", { ...minimal(), network: { type: "5g", jitterMs: 3 } }, "jitterMs"],
    ["location", { ...minimal(), location: { lat: 1, lon: 2, alt: 3 } }, "alt"],
  ])("rejects an unknown key inside %s with its path", (path, body, key) => {
    expect(issues(body)).toEqual([{ code: "unrecognized_keys", path: [path], keys: [key] }]);
  });

  it("names the path of every bad value", () => {
    const body = {
      task: { modality: "smell", inputTokens: -1 },
      constraints: { latencySlaMs: 0, dataResidency: ["de"], compliance: ["HIPAA"] },
      network: { type: "6g" },
      location: { lat: 91, lon: 0 },
    };
    expect(issues(body).map((i) => i.path.join("."))).toEqual([
      "task.modality",
      "task.inputTokens",
      "constraints.latencySlaMs",
      "constraints.dataResidency.0",
      "constraints.compliance.0",
      "network.type",
      "location.lat",
    ]);
  });

  it("requires a modality and an SLA", () => {
    expect(issues({ task: {}, constraints: {} }).map((i) => i.path.join("."))).toEqual([
      "task.modality",
      "constraints.latencySlaMs",
    ]);
  });

  it("accepts zones and country codes for residency, and lower-case tags for compliance", () => {
    const body = {
      ...minimal(),
      constraints: {
        latencySlaMs: 800,
        dataResidency: ["EU", "EEA", "CH"],
        compliance: ["iso27001", "bsi-c5"],
      },
    };
    expect(parse(body).constraints.dataResidency).toEqual(["EU", "EEA", "CH"]);
  });
});
