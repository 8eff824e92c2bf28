// Policy A/B (worker/config.ts POLICY_VARIANTS): decision events carry the variant their id was
// assigned to, the consumer stores it, and GET /v1/analytics/policies compares the variants on
// decisions, outcomes, SLA attainment and cost. The worker's own vars have no experiment, so the
// decide path runs here under an env built by the test.

import {
  createExecutionContext,
  createMessageBatch,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import type { PolicyVariantStats } from "../../shared/analytics-api.ts";
import { type DecisionEvent, decisionEventSchema, type MonitorEvent } from "../../shared/events.ts";
import { routeRequestSchema } from "../../shared/route-request.ts";
import { policyForDecision } from "../../worker/config.ts";
import { decideRequest } from "../../worker/decide-request.ts";
import { consumeMessages } from "../../worker/monitor/consumer.ts";
import type { AppEnv } from "../../worker/types.ts";
import {
  decision,
  deps,
  MINUTE,
  messages,
  outcome,
  QUEUE,
  resetDb,
  T0,
} from "./helpers/monitor-harness.ts";

const OPERATOR = { authorization: "Bearer dev-operator-key" };
const DEVICE = { authorization: "Bearer dev-device-key" };
const VARIANTS = JSON.stringify([
  { name: "control", weight: 1 },
  { name: "cost-lean", weight: 1, weights: { cost: 0.4, latency: 0.35 } },
]);

async function policies(query: string, headers: Record<string, string> = OPERATOR) {
  return exports.default.fetch(`http://router.test/v1/analytics/policies${query}`, { headers });
}

async function deliver(bodies: readonly MonitorEvent[]) {
  const batch = createMessageBatch(QUEUE, messages(bodies));
  await consumeMessages(batch.messages, deps());
}

/** Runs `decideRequest` under `vars` with a queue that keeps what it is sent. */
async function decideUnder(vars: Partial<Env>, times: number) {
  const sent: unknown[] = [];
  const queue = {
    async send(body: unknown) {
      sent.push(body);
    },
    async sendBatch(batch: Iterable<{ body: unknown }>) {
      // Each message holds a window's events (worker/monitor/producer.ts).
      for (const m of batch) sent.push(...(m.body as unknown[]));
    },
  } as unknown as Queue;
  const testEnv = { ...env, ...vars, EVENTS: queue } as Env;
  const app = new Hono<AppEnv>();
  app.post("/", async (c) => {
    const input = routeRequestSchema.parse(await c.req.json());
    const d = await decideRequest(c, input);
    return c.json({ decisionId: d.decisionId, policyVariant: d.policyVariant });
  });
  const answers: { decisionId: string; policyVariant: string }[] = [];
  for (let i = 0; i < times; i++) {
    const ctx = createExecutionContext();
    const res = await app.request(
      "/",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          task: { modality: "text", inputTokens: 200, maxOutputTokens: 64 },
          constraints: { latencySlaMs: 5000 },
        }),
      },
      testEnv,
      ctx,
    );
    expect(res.status).toBe(200);
    answers.push(await res.json());
    await waitOnExecutionContext(ctx);
  }
  return { answers, events: sent.map((e) => decisionEventSchema.parse(e)) };
}

beforeEach(resetDb);

describe("decision events carry the policy variant", () => {
  it("assigns each decision the variant of its id, and says so in the event", async () => {
    const { answers, events } = await decideUnder({ POLICY_VARIANTS: VARIANTS }, 24);
    expect(events).toHaveLength(answers.length);
    for (const [i, a] of answers.entries()) {
      const e = events[i] as DecisionEvent;
      expect(e.id).toBe(a.decisionId);
      expect(["control", "cost-lean"]).toContain(a.policyVariant);
      expect(e.policyVariant).toBe(a.policyVariant);
      // The same id gets the same variant again, on any isolate: the assignment is a pure hash.
      expect(policyForDecision({ ...env, POLICY_VARIANTS: VARIANTS }, a.decisionId).variant).toBe(
        a.policyVariant,
      );
    }
    // 24 random ids over two equal shares: both variants all but surely appear.
    expect(new Set(answers.map((a) => a.policyVariant)).size).toBe(2);
  });

  it("says 'default' without an experiment, in the event and the /v1/route answer", async () => {
    const { events } = await decideUnder({ POLICY_VARIANTS: "" }, 2);
    for (const e of events) expect(e.policyVariant).toBe("default");
    const res = await exports.default.fetch("http://router.test/v1/route", {
      method: "POST",
      headers: { "content-type": "application/json", ...DEVICE },
      body: JSON.stringify({
        task: { modality: "text", inputTokens: 200, maxOutputTokens: 64 },
        constraints: { latencySlaMs: 5000 },
      }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { policyVariant: string }).policyVariant).toBe("default");
  });

  it("stores the variant, and events without one (older producers) still validate", async () => {
    const withVariant = decision({ policyVariant: "cost-lean" });
    const { policyVariant: _, ...older } = decision();
    expect(decisionEventSchema.safeParse(older).success).toBe(true);
    expect(decisionEventSchema.safeParse({ ...older, policyVariant: "Bad Name" }).success).toBe(
      false,
    );
    await deliver([withVariant, older as DecisionEvent]);
    const { results } = await env.DB.prepare(
      "SELECT event_id, policy_variant FROM decisions ORDER BY policy_variant",
    ).all<{ event_id: string; policy_variant: string | null }>();
    expect(results).toEqual([
      { event_id: older.id, policy_variant: null },
      { event_id: withVariant.id, policy_variant: "cost-lean" },
    ]);
  });
});

describe("GET /v1/analytics/policies", () => {
  it("compares the variants on decisions, outcomes, SLA attainment and cost", async () => {
    const control = [0, 1, 2, 3].map((i) => decision({ time: T0 + i, policyVariant: "control" }));
    const lean = [0, 1, 2].map((i) => decision({ time: T0 + i, policyVariant: "cost-lean" }));
    const { policyVariant: _, ...legacy } = decision({ time: T0 });
    const outside = decision({ time: T0 + 10 * MINUTE, policyVariant: "control" });
    const events: MonitorEvent[] = [
      ...control,
      ...lean,
      legacy as DecisionEvent,
      outside,
      // control: 3 outcomes, SLA met 1 of 2 known, cost 0.5 + 0.25 + 0.
      outcome({ decisionId: control[0]?.id, slaMet: true, costUsd: 0.5 }),
      outcome({ decisionId: control[1]?.id, slaMet: false, costUsd: 0.25 }),
      outcome({
        decisionId: control[2]?.id,
        ok: false,
        errorClass: "timeout",
        slaMet: undefined,
        costUsd: 0,
      }),
      // cost-lean: 2 outcomes, SLA met 2 of 2, cost 0.125 + 0.125.
      outcome({ decisionId: lean[0]?.id, slaMet: true, costUsd: 0.125 }),
      outcome({ decisionId: lean[1]?.id, slaMet: true, costUsd: 0.125 }),
      // Out of range (its decision is), and an outcome whose decision is unknown.
      outcome({ decisionId: outside.id, costUsd: 9 }),
      outcome({ costUsd: 7 }),
    ];
    // slaMet: undefined must be absent, not undefined, for the strict schema's JSON.
    await deliver(JSON.parse(JSON.stringify(events)));
    const res = await policies(`?from=${T0}&to=${T0 + MINUTE}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { from: number; to: number; variants: PolicyVariantStats[] };
    expect(body.from).toBe(T0);
    expect(body.to).toBe(T0 + MINUTE);
    expect(body.variants).toEqual([
      {
        variant: "control",
        decisions: 4,
        outcomes: 3,
        errors: 1,
        slaMet: 1,
        slaKnown: 2,
        slaAttainment: 0.5,
        costUsd: 0.75,
        meanCostUsd: 0.25,
      },
      {
        variant: "cost-lean",
        decisions: 3,
        outcomes: 2,
        errors: 0,
        slaMet: 2,
        slaKnown: 2,
        slaAttainment: 1,
        costUsd: 0.25,
        meanCostUsd: 0.125,
      },
      {
        variant: "default",
        decisions: 1,
        outcomes: 0,
        errors: 0,
        slaMet: 0,
        slaKnown: 0,
        slaAttainment: null,
        costUsd: 0,
        meanCostUsd: null,
      },
    ]);
  });

  it("is empty over a range without decisions", async () => {
    // A range of its own: answers are cached per caller for seconds, and the test before asked
    // for [T0, T0 + 1 min].
    const res = await policies(`?from=${T0 - 2 * MINUTE}&to=${T0 - MINUTE}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { variants: unknown[] }).variants).toEqual([]);
  });

  it("is for operators, and validates its query", async () => {
    expect((await policies("", DEVICE)).status).toBe(403);
    expect((await policies("", {})).status).toBe(401);
    const bad = await policies("?from=yesterday&to=12");
    expect(bad.status).toBe(400);
    const reversed = await policies("?from=2000&to=1000");
    expect(reversed.status).toBe(400);
  });
});
