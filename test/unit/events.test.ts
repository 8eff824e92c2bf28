// Monitor events (shared/events.ts): what they carry, and the property that no request content
// reaches them — a random secret placed in every free-text field of a chat request (messages,
// tool calls, images, audio, model name, `user`, request id, metadata) never appears in the JSON
// of the events built from it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chatHintsSchema, routeInputFromChat } from "../../shared/chat-routing.ts";
import { decide } from "../../shared/decide.ts";
import {
  type AttemptLike,
  decisionEvent,
  decisionEventSchema,
  eventDetail,
  MAX_DETAIL_CHARS,
  monitorEventSchema,
  novaUsageEvent,
  novaUsageEventSchema,
  outcomeEventSchema,
  outcomeFromRun,
  reportedOutcome,
  targetKey,
} from "../../shared/events.ts";
import { prepareFleet } from "../../shared/fleet.ts";
import { chatCompletionRequestSchema } from "../../shared/openai.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { normalizeRouteRequest, routeRequestSchema } from "../../shared/route-request.ts";
import type { Decision, RouteRequest } from "../../shared/types.ts";
import { arbFleetData, arbRequest, TAGS } from "./helpers/arbitraries.ts";
import { BERLIN, makeRequest, NOW, seedFleet } from "./helpers/fleet-builders.ts";

const DECISION_ID = "6f1c2b0e-4a53-4f0e-9a51-3d2f1c7b8e90";
const OUTCOME_ID = "0b7e3a52-1c4d-4e8f-8a6b-5d9c2e1f7a34";

/** A secret no event could contain by chance (upper case never appears in an event). */
const arbSecret = fc.stringMatching(/^[A-Za-z0-9]{8,24}$/).map((s) => `S3CR3T${s}`);

function decided(req: RouteRequest): Decision | undefined {
  const result = decide(req, seedFleet(), DEFAULT_POLICY, NOW);
  return result.ok ? result.decision : undefined;
}

/** A chat body with the secret in every field a client writes freely. */
function chatBody(secret: string, o: { stream: boolean; catalogModel: boolean }) {
  return {
    model: o.catalogModel ? "qwen2.5-vl-7b" : `gpt-${secret}`,
    stream: o.stream,
    user: secret,
    metadata: { note: secret },
    stop: [secret],
    messages: [
      { role: "system", content: `You are ${secret}.` },
      {
        role: "user",
        content: [
          { type: "text", text: `my password is ${secret}` },
          { type: "image_url", image_url: { url: `https://img.example/${secret}.png` } },
        ],
        name: secret,
      },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: `call_${secret}`,
            type: "function",
            function: { name: "lookup", arguments: JSON.stringify({ q: secret }) },
          },
        ],
      },
      { role: "tool", tool_call_id: `call_${secret}`, content: secret },
    ],
    tools: [{ type: "function", function: { name: "lookup", description: secret } }],
    mec: {
      requestId: secret,
      location: BERLIN,
      network: { type: "5g" },
      constraints: { latencySlaMs: 20_000, privacy: "public" },
    },
  };
}

/** The request as the chat route normalises it. */
function chatRequest(body: unknown): RouteRequest {
  const chat = chatCompletionRequestSchema.parse(body);
  const input = routeInputFromChat(chat, chatHintsSchema.parse(chat.mec ?? {}));
  return normalizeRouteRequest(routeRequestSchema.parse(input));
}

/** Attempts along the plan: the primary failed (with a detail naming the secret), then OK. */
function attemptsFor(d: Decision, secret: string): (AttemptLike & { detail: string })[] {
  const steps = [d.plan.primary, ...d.plan.backups].filter((s) => s.tier !== "device");
  return steps.slice(0, 2).map((s, i, all) => ({
    target: targetKey(s.target),
    tier: s.tier,
    ok: i === all.length - 1,
    errorClass: i === all.length - 1 ? undefined : "http_5xx",
    latencyMs: 40 + i,
    detail: secret,
  }));
}

function eventsFor(req: RouteRequest, d: Decision, secret: string) {
  const attempts = attemptsFor(d, secret);
  return [
    decisionEvent({ id: DECISION_ID, time: NOW, request: req, decision: d }),
    outcomeFromRun({
      id: OUTCOME_ID,
      decisionId: DECISION_ID,
      time: NOW,
      request: req,
      decision: d,
      attempts,
      ok: true,
      latencyMs: 120,
      ttftMs: 30,
      tokens: { input: 50, output: 20 },
    }),
    outcomeFromRun({
      decisionId: DECISION_ID,
      time: NOW,
      request: req,
      decision: d,
      attempts: attempts.map((a) => ({ ...a, ok: false, errorClass: secret })),
      ok: false,
      latencyMs: 900,
      errorClass: secret,
    }),
  ];
}

describe("no request content reaches an event", () => {
  it("a secret anywhere in a chat request never appears in its events", () => {
    let built = 0;
    fc.assert(
      fc.property(arbSecret, fc.boolean(), fc.boolean(), (secret, stream, catalogModel) => {
        const req = chatRequest(chatBody(secret, { stream, catalogModel }));
        const d = decided(req);
        if (!d) return;
        built++;
        const events = eventsFor(req, d, secret);
        for (const e of events) expect(monitorEventSchema.safeParse(e).success).toBe(true);
        expect(JSON.stringify(events)).not.toContain(secret);
      }),
      { numRuns: 300 },
    );
    expect(built).toBeGreaterThan(200);
  });

  it("random requests and fleets: a secret request id never appears", () => {
    let built = 0;
    fc.assert(
      fc.property(arbSecret, arbRequest, arbFleetData(0, 8), (secret, r, data) => {
        const req = { ...r, requestId: secret };
        const result = decide(req, prepareFleet(data), DEFAULT_POLICY, NOW);
        if (!result.ok) return;
        built++;
        const events = eventsFor(req, result.decision, secret);
        for (const e of events) expect(monitorEventSchema.safeParse(e).success).toBe(true);
        expect(JSON.stringify(events)).not.toContain(secret);
      }),
      { numRuns: 500 },
    );
    expect(built).toBeGreaterThan(100);
  });

  it("residency zones, compliance tags and device model names a client chose never appear", () => {
    // Lower case and tag-shaped, as the route schema lets them through; the engine quotes
    // residency and compliance in its rejection details ("lacks <tag>").
    const arbTag = fc.stringMatching(/^[a-z0-9]{6,16}$/).map((s) => `s3cr3t${s}`);
    let built = 0;
    let explained = 0;
    fc.assert(
      fc.property(
        arbTag,
        fc.constantFrom("SQ", "ZZ", "QX"),
        fc.boolean(),
        fc.constantFrom(...TAGS),
        (tag, zone, withTag, known) => {
          const req = makeRequest({
            location: BERLIN,
            constraints: {
              dataResidency: withTag ? ["DE", zone] : [zone],
              compliance: withTag ? [known, tag] : [known],
            },
            device: { models: ["llama-3.2-1b-q4", tag] },
          });
          const d = decided(req);
          if (!d) return;
          built++;
          if (d.rejected.some((r) => r.detail.includes(tag) || r.detail.includes(zone)))
            explained++;
          const events = eventsFor(req, d, tag);
          for (const e of events) expect(monitorEventSchema.safeParse(e).success).toBe(true);
          const json = JSON.stringify(events);
          expect(json).not.toContain(tag);
          expect(json).not.toMatch(new RegExp(`\\b${zone}\\b`));
          // The rejections stay, with their reasons, only the detail that quoted the client goes.
          const [event] = events;
          expect(event?.type === "decision" && event.explain?.rejected.length).toBe(
            Math.min(d.rejected.length, 64),
          );
        },
      ),
      { numRuns: 200 },
    );
    expect(built).toBeGreaterThan(100);
    // The engine did quote the client's words: the property was tested, not passed by luck.
    expect(explained).toBeGreaterThan(50);
  });

  it("the schemas refuse an event that carries anything more", () => {
    const req = makeRequest();
    const d = decided(req) as Decision;
    const event = decisionEvent({ id: DECISION_ID, time: NOW, request: req, decision: d });
    expect(decisionEventSchema.safeParse(event).success).toBe(true);
    expect(decisionEventSchema.safeParse({ ...event, prompt: "hello" }).success).toBe(false);
    expect(
      decisionEventSchema.safeParse({ ...event, request: { ...event.request, text: "hello" } })
        .success,
    ).toBe(false);
    // Free text in an id-shaped field is refused too.
    expect(decisionEventSchema.safeParse({ ...event, model: "my password is x" }).success).toBe(
      false,
    );
    expect(decisionEventSchema.safeParse({ ...event, rationale: ["Hello there"] }).success).toBe(
      false,
    );
  });
});

describe("decision events", () => {
  it("carry the request's features and the decision, factor names only", () => {
    const req = makeRequest({ constraints: { dataResidency: ["DE", "EU"] } });
    const d = decided(req) as Decision;
    const e = decisionEvent({ id: DECISION_ID, time: NOW, request: req, decision: d });
    expect(e).toMatchObject({
      type: "decision",
      v: 1,
      id: DECISION_ID,
      time: NOW,
      request: {
        modality: "text",
        modelAsked: "auto",
        criticality: req.task.criticality,
        privacy: req.constraints.privacy,
        residencyCount: 2,
        complianceCount: 0,
        networkType: "5g",
        deviceClass: "high",
        hasLocation: true,
      },
      tier: d.tier,
      target: targetKey(d.target),
      model: d.model,
      confidence: d.confidence,
      reasoner: "rules",
      predicted: { latencyMs: d.predicted.latencyMs, costUsd: d.predicted.costUsd },
      backups: d.plan.backups.length,
    });
    expect(e.rationale).toEqual([...new Set(d.rationale.map((r) => r.factor))]);
  });

  it("explain the decision: rationale and rejection details, and the plan", () => {
    const req = makeRequest({ location: BERLIN, constraints: { privacy: "strict" } });
    const d = decided(req) as Decision;
    const e = decisionEvent({ id: DECISION_ID, time: NOW, request: req, decision: d });
    expect(decisionEventSchema.safeParse(e).success).toBe(true);
    expect(e.explain?.rationale).toEqual(
      d.rationale.map((r) => ({ factor: r.factor, detail: r.detail })),
    );
    expect(e.explain?.rejected).toEqual(
      d.rejected.map((r) => ({ target: r.target, reason: r.reason, detail: r.detail })),
    );
    // Strict privacy: every cloud region is among the rejections, for privacy.
    expect(e.explain?.rejected.filter((r) => r.target.startsWith("cloud:")).length).toBe(
      seedFleet().data.regions.length,
    );
    expect(
      e.explain?.rejected.every((r) => !r.target.startsWith("cloud:") || r.reason === "privacy"),
    ).toBe(true);
    expect(e.explain?.rejectedTotal).toBe(d.rejected.length);
    expect(e.explain?.plan.map((s) => s.target)).toEqual(
      [d.plan.primary, ...d.plan.backups].map((s) => targetKey(s.target)),
    );
    expect(e.explain?.plan[0]).toEqual({
      tier: d.plan.primary.tier,
      target: targetKey(d.plan.primary.target),
      model: d.plan.primary.model,
      predictedLatencyMs: d.plan.primary.predictedLatencyMs,
      predictedCostUsd: d.plan.primary.predictedCostUsd,
      timeoutMs: d.plan.primary.timeoutMs,
    });
  });
});

describe("eventDetail", () => {
  it("keeps the engine's text and cuts it at the limit", () => {
    expect(eventDetail("site:berlin-1 predicted 120 ms", [])).toBe(
      "site:berlin-1 predicted 120 ms",
    );
    const long = eventDetail("x".repeat(500), []);
    expect(long).toHaveLength(MAX_DETAIL_CHARS);
    expect(long?.endsWith("…")).toBe(true);
  });

  it("drops a detail that quotes a client's word, as a whole word only", () => {
    expect(eventDetail("lacks gdpr,acme-x", ["acme-x"])).toBeUndefined();
    expect(eventDetail("DE not in FR,EU", ["FR", "EU"])).toBeUndefined();
    // "ME" (a zone) inside "MEC" is not a mention; "ms" next to a digit and a space is.
    expect(eventDetail("3 nearest of 5 MEC sites", ["ME"])).toBe("3 nearest of 5 MEC sites");
    expect(eventDetail("predicted 120 ms", ["ms"])).toBeUndefined();
  });

  it("drops a detail with a control character", () => {
    expect(eventDetail("line\nbreak", [])).toBeUndefined();
    expect(eventDetail("bell\u0007", [])).toBeUndefined();
  });
});

describe("Nova usage events", () => {
  it("price a call at the role's catalog prices and validate", () => {
    const e = novaUsageEvent({
      time: NOW,
      role: "lite",
      model: "eu.amazon.nova-lite-v1:0",
      outcome: "ok",
      inputTokens: 1_000,
      outputTokens: 500,
      latencyMs: 300,
    });
    expect(novaUsageEventSchema.safeParse(e).success).toBe(true);
    // Nova Lite: $0.06 / $0.24 per 1M tokens.
    expect(e.costUsd).toBeCloseTo(0.00006 + 0.00012, 12);
    const review = novaUsageEvent({ ...e, role: "review", model: "amazon.nova-pro-v1:0" });
    expect(review.costUsd).toBeCloseTo(0.0008 + 0.0016, 12);
  });

  it("count a skipped call with no tokens and no cost", () => {
    const e = novaUsageEvent({
      time: NOW,
      role: "pro",
      model: "amazon.nova-pro-v1:0",
      outcome: "breaker_open",
      latencyMs: 0,
    });
    expect(e).toMatchObject({ inputTokens: 0, outputTokens: 0, costUsd: 0 });
    expect(monitorEventSchema.safeParse(e).success).toBe(true);
    expect(novaUsageEventSchema.safeParse({ ...e, prompt: "hi" }).success).toBe(false);
    expect(novaUsageEventSchema.safeParse({ ...e, model: "Some Model" }).success).toBe(false);
  });
});

describe("outcome events", () => {
  const req = makeRequest();
  const d = decided(req) as Decision;
  const steps = [d.plan.primary, ...d.plan.backups];

  it("name where the request ended, with that step's model", () => {
    const last = steps.at(-1) as (typeof steps)[number];
    const attempts: AttemptLike[] = [
      {
        target: targetKey(d.plan.primary.target),
        tier: d.tier,
        ok: false,
        errorClass: "timeout",
        latencyMs: 500,
      },
      { target: targetKey(last.target), tier: last.tier, ok: true, latencyMs: 200 },
    ];
    const e = outcomeFromRun({
      decisionId: DECISION_ID,
      time: NOW,
      request: req,
      decision: d,
      attempts,
      ok: true,
      latencyMs: 800,
    });
    expect(outcomeEventSchema.safeParse(e).success).toBe(true);
    expect(e).toMatchObject({
      tier: d.tier,
      target: targetKey(d.target),
      finalTier: last.tier,
      finalTarget: targetKey(last.target),
      finalModel: last.model,
      attempts: 2,
      ok: true,
      slaMet: true,
      costUsd: last.predictedCostUsd,
    });
    expect(e.errorClass).toBeUndefined();
    expect(e.attemptLog).toEqual([
      {
        target: targetKey(d.plan.primary.target),
        tier: d.tier,
        ok: false,
        errorClass: "timeout",
        latencyMs: 500,
      },
      { target: targetKey(last.target), tier: last.tier, ok: true, latencyMs: 200 },
    ]);
  });

  it("keep the first attempts only, with known error classes", () => {
    const attempts: AttemptLike[] = Array.from({ length: 20 }, (_, i) => ({
      target: targetKey(d.plan.primary.target),
      tier: d.tier,
      ok: false,
      errorClass: i % 2 ? "http_5xx" : "some detail text",
      latencyMs: i,
    }));
    const e = outcomeFromRun({
      decisionId: DECISION_ID,
      time: NOW,
      request: req,
      decision: d,
      attempts,
      ok: false,
      latencyMs: 100,
    });
    expect(outcomeEventSchema.safeParse(e).success).toBe(true);
    expect(e.attempts).toBe(20);
    expect(e.attemptLog).toHaveLength(16);
    expect(e.attemptLog?.map((a) => a.errorClass).slice(0, 2)).toEqual(["other", "http_5xx"]);
  });

  it("judge the SLA on what it bounds, and cost nothing when failed", () => {
    const ft = makeRequest({ constraints: { latencySlaMs: 100, latencyTarget: "first_token" } });
    const dft = decided(ft) as Decision;
    const base = { decisionId: DECISION_ID, time: NOW, request: ft, decision: dft, attempts: [] };
    expect(outcomeFromRun({ ...base, ok: true, latencyMs: 5_000, ttftMs: 90 }).slaMet).toBe(true);
    expect(outcomeFromRun({ ...base, ok: true, latencyMs: 50, ttftMs: 150 }).slaMet).toBe(false);
    const failed = outcomeFromRun({ ...base, ok: false, latencyMs: 50, errorClass: "connect" });
    expect(failed).toMatchObject({ ok: false, slaMet: false, costUsd: 0, errorClass: "connect" });
    const odd = outcomeFromRun({ ...base, ok: false, latencyMs: 50, errorClass: "weird" });
    expect(odd.errorClass).toBe("other");
  });

  it("price cloud calls from their tokens", () => {
    const cloud = makeRequest({ task: { model: "nova-pro" }, location: null });
    const dc = decided(cloud) as Decision;
    expect(dc.tier).toBe("cloud");
    const e = outcomeFromRun({
      decisionId: DECISION_ID,
      time: NOW,
      request: cloud,
      decision: dc,
      attempts: [{ target: targetKey(dc.target), tier: "cloud", ok: true, latencyMs: 900 }],
      ok: true,
      latencyMs: 900,
      tokens: { input: 1_000, output: 500 },
    });
    // Nova Pro: $0.80 / $3.20 per 1M tokens.
    expect(e.costUsd).toBeCloseTo(0.0008 + 0.0016, 10);
    expect(e.tokens).toEqual({ input: 1_000, output: 500 });
  });

  it("from a device's own report keep only catalog model names", () => {
    const base = { decisionId: DECISION_ID, time: NOW, tier: "device" as const, target: "device" };
    const e = reportedOutcome({ ...base, model: "secret-42", ok: true, latencyMs: 10 });
    expect(e.model).toBe("auto");
    expect(e.finalModel).toBe("auto");
    expect(JSON.stringify(e)).not.toContain("secret-42");
  });

  it("from a device's own report leave the SLA unknown", () => {
    const e = reportedOutcome({
      id: OUTCOME_ID,
      decisionId: DECISION_ID,
      time: NOW,
      tier: "device",
      target: "device",
      model: "llama-3.2-1b",
      ok: false,
      latencyMs: 3_000,
      errorClass: "other",
    });
    expect(outcomeEventSchema.safeParse(e).success).toBe(true);
    expect(e.slaMet).toBeUndefined();
    expect(e.model).toBe("llama-3.2-1b");
    expect(e).toMatchObject({
      finalTarget: "device",
      attempts: 1,
      costUsd: 0,
      errorClass: "other",
    });
  });
});
