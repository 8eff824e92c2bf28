// The pure parts of `npm run demo`: the seeded workload is valid for the router and has the
// documented mix, and the summary math (percentiles, SLA, failovers, errors) counts right.

import { describe, expect, it } from "vitest";
import {
  faultPlan,
  formatSummary,
  generateWorkload,
  percentile,
  type RequestResult,
  summarize,
} from "../../scripts/demo-workload.mjs";
import { chatHintsSchema } from "../../shared/chat-routing.ts";
import { chatCompletionRequestSchema } from "../../shared/openai.ts";
import { routeRequestSchema } from "../../shared/route-request.ts";

describe("generateWorkload", () => {
  const items = generateWorkload({ requests: 2_000, seed: 42 });
  const share = (pred: (i: (typeof items)[number]) => boolean) =>
    items.filter(pred).length / items.length;

  it("is deterministic for a seed and differs between seeds", () => {
    expect(generateWorkload({ requests: 50, seed: 42 })).toEqual(items.slice(0, 50));
    expect(generateWorkload({ requests: 50, seed: 43 })).not.toEqual(items.slice(0, 50));
  });

  it("has the documented endpoint, privacy and modality mix", () => {
    expect(share((i) => i.path === "/v1/chat/completions")).toBeCloseTo(0.5, 1);
    expect(share((i) => i.kind === "route")).toBeCloseTo(0.35, 1);
    expect(share((i) => i.kind === "infer")).toBeCloseTo(0.15, 1);
    expect(share((i) => i.kind === "chat-stream")).toBeGreaterThan(0.1);
    expect(share((i) => i.traits.privacy === "public")).toBeCloseTo(0.6, 1);
    expect(share((i) => i.traits.privacy === "strict")).toBeCloseTo(0.1, 1);
    expect(share((i) => i.traits.onDevice)).toBeCloseTo(0.35, 1);
    // Only decide-only requests carry media; chat and infer stay text.
    const media = items.filter((i) => i.traits.modality !== "text");
    expect(media.length).toBeGreaterThan(0);
    expect(media.every((i) => i.kind === "route")).toBe(true);
    expect(new Set(items.map((i) => i.traits.city))).toEqual(
      new Set(["Berlin", "Frankfurt", "Paris", "Madrid", "Warsaw"]),
    );
  });

  it("builds bodies the router's schemas accept", () => {
    for (const item of items) {
      if (item.kind === "route") {
        expect(routeRequestSchema.safeParse(item.body).success).toBe(true);
      } else if (item.kind === "infer") {
        const { input, ...route } = item.body;
        expect(routeRequestSchema.safeParse(route).success).toBe(true);
        expect(typeof (input as { prompt?: unknown }).prompt).toBe("string");
      } else {
        const chat = chatCompletionRequestSchema.safeParse(item.body);
        expect(chat.success).toBe(true);
        expect(chatHintsSchema.safeParse(item.body.mec).success).toBe(true);
        expect(chat.data?.stream === true).toBe(item.kind === "chat-stream");
      }
    }
  });

  it("gives every request an SLA that matches its body", () => {
    for (const item of items) {
      const constraints =
        item.kind === "chat" || item.kind === "chat-stream"
          ? (item.body.mec as { constraints: { latencySlaMs: number } }).constraints
          : (item.body.constraints as { latencySlaMs: number });
      expect(constraints.latencySlaMs).toBe(item.slaMs);
      expect(item.latencyTarget).toBe(item.kind === "chat-stream" ? "first_token" : "complete");
    }
  });
});

describe("faultPlan", () => {
  it("covers the middle third and restores every site it touched", () => {
    const plan = faultPlan(300);
    expect(plan.map((s) => s.at)).toEqual([100, 150, 200]);
    const injected = plan.flatMap((s) => s.inject.map((i) => i.site));
    const restored = plan.flatMap((s) => s.restore);
    expect(new Set(restored)).toEqual(new Set(injected));
  });
});

describe("percentile", () => {
  it("is nearest-rank and ignores input order", () => {
    const values = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
    expect(values[0]).toBe(5);
  });
});

describe("summarize", () => {
  const base = { latencyTarget: "complete", slaMs: 1_000 } as const;
  const results: RequestResult[] = [
    {
      ...base,
      kind: "chat",
      status: 200,
      latencyMs: 400,
      executed: true,
      tier: "mec",
      target: "site:berlin-1",
      attempts: 1,
    },
    {
      ...base,
      kind: "chat",
      status: 200,
      latencyMs: 1_400,
      executed: true,
      tier: "cloud",
      target: "cloud:eu-central-1",
      attempts: 2,
    },
    {
      ...base,
      kind: "chat-stream",
      status: 200,
      latencyMs: 3_000,
      firstTokenMs: 300,
      latencyTarget: "first_token",
      executed: true,
      tier: "mec",
      target: "site:paris-1",
      attempts: 1,
    },
    {
      ...base,
      kind: "chat",
      status: 502,
      latencyMs: 900,
      executed: false,
      code: "upstream_error",
      errorWhere: "site:berlin-1 server_error",
    },
    {
      ...base,
      kind: "route",
      status: 200,
      latencyMs: 10,
      executed: false,
      tier: "device",
      target: "device",
    },
    {
      ...base,
      kind: "route",
      status: 422,
      latencyMs: 12,
      executed: false,
      code: "infeasible",
      errorWhere: "privacy+sla",
    },
    { ...base, kind: "infer", status: 200, latencyMs: 20, executed: false, tier: "device" },
    {
      ...base,
      kind: "infer",
      status: 200,
      latencyMs: 800,
      executed: true,
      tier: "mec",
      target: "site:madrid-1",
      primary: "site:paris-1",
      attempts: 1,
    },
  ];
  const s = summarize(results);

  it("counts status, tiers and latency per endpoint", () => {
    expect(s.total).toBe(8);
    expect(s.byKind.chat).toMatchObject({ count: 3, ok: 2, statuses: { "200": 2, "502": 1 } });
    expect(s.byKind.chat?.tiers).toEqual({ mec: 1, cloud: 1 });
    expect(s.byKind.route?.tiers).toEqual({ device: 1 });
    expect(s.byKind.infer?.tiers).toEqual({ device: 1, mec: 1 });
    expect(s.byKind.chat?.p50).toBe(400);
    expect(s.byKind.chat?.p99).toBe(1_400);
    expect(s.byKind["chat-stream"]?.firstTokenP50).toBe(300);
  });

  it("measures SLA on executed requests, a stream's on its first token", () => {
    // Executed: 400 ✓, 1400 ✗, stream first token 300 ✓, infer 800 ✓.
    expect(s.sla).toEqual({ met: 3, executed: 4, attempted: 5 });
    expect(s.byKind["chat-stream"]).toMatchObject({ executed: 1, slaMet: 1 });
  });

  it("counts a failover for a retry or a target off the primary", () => {
    expect(s.failovers).toEqual({ any: 2, retried: 1, moved: 1, executed: 4 });
  });

  it("groups errors by code and status", () => {
    expect(s.errors.map((e) => [e.code, e.status, e.count])).toEqual([
      ["upstream_error", 502, 1],
      ["infeasible", 422, 1],
    ]);
    expect(s.targets).toEqual({
      "site:berlin-1": 1,
      "cloud:eu-central-1": 1,
      "site:paris-1": 1,
      "site:madrid-1": 1,
    });
  });

  it("renders every section", () => {
    const text = formatSummary(s, { title: "8 requests" });
    for (const heading of [
      "Requests by endpoint and status",
      "Tier split",
      "Latency",
      "SLA attainment: 75.0 %",
      "Failovers: 2 of 4",
      "Errors by code",
    ]) {
      expect(text).toContain(heading);
    }
    expect(text).not.toContain("By fault phase");
  });
});
