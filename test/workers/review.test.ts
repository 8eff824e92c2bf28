// The offline policy review (worker/monitor/review.ts) inside workerd, on D1 with the real
// migrations, against its own Nova Converse stand-in (`reviewNovaUrl`, so its faults never reach
// the hot path's tests): a seeded rollup/anomaly history gives one stored, valid proposal; a
// schema-violating answer stores nothing and is logged; the summary holds aggregates only; and
// the operator routes list, approve and reject proposals without applying anything.

import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { type NovaUsageEvent, novaUsageEventSchema } from "../../shared/events.ts";
import { policyVariantsSchema } from "../../worker/config.ts";
import {
  buildReviewSummary,
  REVIEW_WINDOW_MS,
  readReviewSummary,
  runReview,
} from "../../worker/monitor/review.ts";
import { reviewAnswerSchema } from "../../worker/reasoning/review.ts";

const NOVA = inject("reviewNovaUrl");
const reviewEnv: Env = { ...env, NOVA_ENDPOINT: NOVA };
const OPERATOR_KEY = "dev-operator-key";
const DEVICE_KEY = "dev-device-key";
const MINUTE = 60_000;
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE;

/** A usage sink that keeps what the review reports. */
function recorder() {
  const events: NovaUsageEvent[] = [];
  return { events, sink: (e: NovaUsageEvent) => events.push(e) };
}

async function faults(f: Record<string, unknown>) {
  const res = await fetch(`${NOVA}/__faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(f),
  });
  expect(res.ok).toBe(true);
}

async function seed() {
  const rollup = env.DB.prepare(
    `INSERT INTO performance_rollups (minute, tier, target, model, decisions, outcomes, errors,
       sla_met, sla_known, cost_usd, latency_sum_ms, latency_max_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  await env.DB.batch([
    rollup.bind(
      NOW - 60 * MINUTE,
      "mec",
      "site:berlin-1",
      "llama-3.1-8b",
      10,
      10,
      1,
      8,
      10,
      0.01,
      3000,
      600,
    ),
    rollup.bind(
      NOW - 30 * MINUTE,
      "mec",
      "site:berlin-1",
      "llama-3.1-8b",
      10,
      10,
      3,
      6,
      10,
      0.01,
      5000,
      900,
    ),
    rollup.bind(
      NOW - 10 * MINUTE,
      "cloud",
      "cloud:eu-central-1",
      "nova-lite",
      4,
      4,
      0,
      4,
      4,
      0.2,
      4000,
      1200,
    ),
    // Outside the 6-hour window: not counted.
    rollup.bind(
      NOW - REVIEW_WINDOW_MS - MINUTE,
      "cloud",
      "cloud:eu-central-1",
      "nova-lite",
      99,
      99,
      99,
      0,
      99,
      9,
      99,
      9,
    ),
    env.DB.prepare(
      `INSERT INTO anomalies (id, detected_at, minute, kind, tier, target, model, metric, observed,
         severity, resolved_at)
       VALUES ('a1', ?1, ?2, 'shift', 'mec', 'site:berlin-1', 'llama-3.1-8b', 'latency', 500, 'high', NULL),
              ('a2', ?1, ?2, 'shift', 'mec', 'site:berlin-1', 'llama-3.1-8b', 'error_rate', 0.3, 'high', NULL),
              ('a3', ?1, ?2, 'shift', 'mec', 'site:berlin-1', 'llama-3.1-8b', 'latency', 600, 'low', ?1)`,
    ).bind(NOW - 20 * MINUTE, NOW - 25 * MINUTE),
  ]);
}

async function proposalRows() {
  const { results } = await env.DB.prepare(
    "SELECT * FROM policy_proposals ORDER BY created_at",
  ).all<Record<string, unknown>>();
  return results;
}

function call(method: string, path: string, key = OPERATOR_KEY) {
  return exports.default.fetch(`http://router.test/v1/policy/proposals${path}`, {
    method,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
}

beforeEach(async () => {
  await env.DB.batch(
    ["performance_rollups", "anomalies", "policy_proposals"].map((t) =>
      env.DB.prepare(`DELETE FROM ${t}`),
    ),
  );
});

afterEach(async () => {
  vi.restoreAllMocks();
  await faults({ throttleRate: 0, errorRate: 0, addedLatencyMs: 0, toolInputOverride: null });
});

describe("review summary", () => {
  it("holds aggregates per tier/target and open anomalies by metric, nothing else", async () => {
    await seed();
    const s = await readReviewSummary(env.DB, NOW);
    expect(Object.keys(s).sort()).toEqual(["openAnomalies", "targets", "windowEnd", "windowStart"]);
    expect(s.windowStart).toBe(NOW - REVIEW_WINDOW_MS);
    expect(s.openAnomalies).toEqual({ error_rate: 1, latency: 1 });
    expect(s.targets).toEqual([
      {
        tier: "cloud",
        target: "cloud:eu-central-1",
        decisions: 4,
        outcomes: 4,
        errorRate: 0,
        slaAttainment: 1,
        meanLatencyMs: 1000,
        costUsd: 0.2,
      },
      {
        tier: "mec",
        target: "site:berlin-1",
        decisions: 20,
        outcomes: 20,
        errorRate: 0.2,
        slaAttainment: 0.7,
        meanLatencyMs: 400,
        costUsd: 0.02,
      },
    ]);
    for (const t of s.targets) {
      expect(Object.keys(t).sort()).toEqual([
        "costUsd",
        "decisions",
        "errorRate",
        "meanLatencyMs",
        "outcomes",
        "slaAttainment",
        "target",
        "tier",
      ]);
    }
  });

  it("has null rates without outcomes", () => {
    const s = buildReviewSummary(
      [
        {
          tier: "device",
          target: "device",
          decisions: 3,
          outcomes: 0,
          errors: 0,
          sla_met: 0,
          sla_known: 0,
          cost_usd: 0,
          latency_sum_ms: 0,
        },
      ],
      [],
      0,
      1,
    );
    expect(s.targets[0]).toMatchObject({
      errorRate: null,
      slaAttainment: null,
      meanLatencyMs: null,
    });
    expect(s.openAnomalies).toEqual({});
  });
});

describe("runReview", () => {
  it("stores a valid proposal from a seeded history", async () => {
    await seed();
    const usage = recorder();
    const result = await runReview(reviewEnv, NOW, usage.sink);
    expect(result.stored).toBe(true);
    // The call is metered as the review role, at Nova Pro's prices.
    expect(usage.events).toHaveLength(1);
    const [metered] = usage.events;
    expect(novaUsageEventSchema.safeParse(metered).success).toBe(true);
    expect(metered).toMatchObject({ role: "review", model: "amazon.nova-pro-v1:0", outcome: "ok" });
    expect(metered?.inputTokens).toBeGreaterThan(0);
    expect(metered?.outputTokens).toBeGreaterThan(0);
    expect(metered?.costUsd).toBeCloseTo(
      ((metered?.inputTokens ?? 0) * 0.0008 + (metered?.outputTokens ?? 0) * 0.0032) / 1000,
      12,
    );
    const rows = await proposalRows();
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, unknown>;
    expect(row.id).toBe(result.stored ? result.id : undefined);
    expect(row).toMatchObject({
      created_at: NOW,
      model: "amazon.nova-pro-v1:0",
      prompt_version: "review-v1",
      status: "proposed",
      decided_at: null,
      decided_by: null,
    });
    const answer = reviewAnswerSchema.safeParse({
      weights: JSON.parse(String(row.weights)),
      rationale: row.rationale,
      confidence: row.confidence,
    });
    expect(answer.success).toBe(true);
    expect(JSON.parse(String(row.summary))).toEqual(await readReviewSummary(env.DB, NOW));
  });

  it("stores nothing and logs when the answer violates the schema", async () => {
    await seed();
    const warn = vi.spyOn(console, "warn");
    const usage = recorder();
    for (const bad of [
      {
        weights: { latency: 2, cost: 0, privacy: 0, reliability: 0 },
        rationale: "x",
        confidence: 1,
      },
      { weights: { latency: 0.5 }, rationale: "x", confidence: 0.5 },
      {
        weights: { latency: 0, cost: 0, privacy: 0, reliability: 0 },
        rationale: "x".repeat(501),
        confidence: 0.5,
      },
      "not json {",
    ]) {
      await faults({ toolInputOverride: bad });
      const result = await runReview(reviewEnv, NOW, usage.sink);
      expect(result).toEqual({
        stored: false,
        reason: "Nova Pro invalid (answer violates the schema)",
      });
    }
    expect(await proposalRows()).toEqual([]);
    expect(usage.events.map((e) => [e.role, e.outcome])).toEqual(
      Array.from({ length: 4 }, () => ["review", "invalid"]),
    );
    const logged = warn.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(logged.filter((l) => l.event === "policy_review" && l.stored === false)).toHaveLength(4);
  });

  it("does not call Nova without traffic in the window", async () => {
    const usage = recorder();
    expect(await runReview(reviewEnv, NOW, usage.sink)).toEqual({
      stored: false,
      reason: "no traffic",
    });
    expect(await proposalRows()).toEqual([]);
    expect(usage.events).toEqual([]);
  });
});

describe("/v1/policy/proposals", () => {
  async function propose(at: number): Promise<string> {
    await seed();
    const r = await runReview(reviewEnv, at, () => {});
    if (!r.stored) throw new Error(r.reason);
    return r.id;
  }

  it("needs an operator key", async () => {
    expect((await call("GET", "", "")).status).toBe(401);
    expect((await call("GET", "", DEVICE_KEY)).status).toBe(403);
    expect((await call("POST", `/${crypto.randomUUID()}/approve`, DEVICE_KEY)).status).toBe(403);
    expect((await call("POST", `/${crypto.randomUUID()}/reject`, "")).status).toBe(401);
  });

  it("lists newest first", async () => {
    const older = await propose(NOW - MINUTE);
    await env.DB.batch(
      ["performance_rollups", "anomalies"].map((t) => env.DB.prepare(`DELETE FROM ${t}`)),
    );
    const newer = await propose(NOW);
    const res = await call("GET", "");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { proposals: { id: string; status: string }[] };
    expect(body.proposals.map((p) => p.id)).toEqual([newer, older]);
    expect(body.proposals[0]).toMatchObject({ status: "proposed", promptVersion: "review-v1" });
    expect((await call("GET", "?limit=0")).status).toBe(400);
  });

  it("approves idempotently, answers a POLICY_VARIANTS snippet, and refuses a later reject", async () => {
    const id = await propose(NOW);
    const res = await call("POST", `/${id}/approve`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      proposal: { status: string; decidedAt: number; decidedBy: string; weights: unknown };
      policyVariants: unknown;
      policyVariantsJson: string;
    };
    expect(body.proposal).toMatchObject({ status: "approved", decidedBy: "operator" });
    const variants = policyVariantsSchema.parse(JSON.parse(body.policyVariantsJson));
    expect(variants).toEqual(body.policyVariants);
    const proposal = variants.find((v) => v.name.startsWith("proposal-"));
    expect(proposal?.name).toBe(`proposal-${id.replace(/-/g, "").slice(0, 8)}`);
    expect(proposal?.weights).toEqual(body.proposal.weights);
    expect(variants.some((v) => v.name === "control" && v.weights === undefined)).toBe(true);

    const again = await call("POST", `/${id}/approve`);
    expect(again.status).toBe(200);
    const body2 = (await again.json()) as { proposal: { decidedAt: number } };
    expect(body2.proposal.decidedAt).toBe(body.proposal.decidedAt);

    const reject = await call("POST", `/${id}/reject`);
    expect(reject.status).toBe(409);
    expect(((await reject.json()) as { error: { code: string } }).error.code).toBe("conflict");
  });

  it("rejects idempotently and refuses a later approve", async () => {
    const id = await propose(NOW);
    const res = await call("POST", `/${id}/reject`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { proposal: { status: string } }).proposal.status).toBe(
      "rejected",
    );
    expect((await call("POST", `/${id}/reject`)).status).toBe(200);
    expect((await call("POST", `/${id}/approve`)).status).toBe(409);
    const rows = await proposalRows();
    expect(rows[0]?.status).toBe("rejected");
  });

  it("answers 404 for an unknown proposal", async () => {
    expect((await call("POST", `/${crypto.randomUUID()}/approve`)).status).toBe(404);
    expect((await call("POST", "/not-an-id/reject")).status).toBe(404);
  });
});
