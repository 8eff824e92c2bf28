// POST /v1/policy/proposals: an operator's proposal is stored as 'proposed' beside Nova's, with
// the same aggregate summary, and goes through the same approve / reject path. Nothing applies.

import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { DEVICE_KEY, expectError, expectInvalid, OPERATOR_KEY } from "./fixtures/fleet-api.ts";

function post(path: string, body: unknown, key: string | null = OPERATOR_KEY) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  return exports.default.fetch(`http://router.test/v1/policy/proposals${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
}

const WEIGHTS = { latency: 0.4, cost: 0.35, privacy: 0.1, reliability: 0.15 };

beforeEach(async () => {
  await env.DB.prepare("DELETE FROM policy_proposals").run();
});

describe("POST /v1/policy/proposals", () => {
  it("stores the proposal as proposed, with the review summary, and changes no policy", async () => {
    const res = await post("", { weights: WEIGHTS, rationale: "cost matters more at night" });
    expect(res.status).toBe(201);
    const { proposal } = (await res.json()) as {
      proposal: Record<string, unknown> & { id: string };
    };
    expect(proposal).toMatchObject({
      status: "proposed",
      weights: WEIGHTS,
      rationale: "cost matters more at night",
      confidence: 1,
      promptVersion: "manual",
      decidedAt: null,
    });
    // The key's id (a hash prefix), never the key.
    expect(proposal.model).toMatch(/^operator:[0-9a-f]{12}$/);
    expect(proposal.summary).toMatchObject({ targets: [], openAnomalies: {} });
    const row = await env.DB.prepare("SELECT status, weights FROM policy_proposals WHERE id = ?")
      .bind(proposal.id)
      .first<{ status: string; weights: string }>();
    expect(row?.status).toBe("proposed");
    expect(JSON.parse(row?.weights ?? "null")).toEqual(WEIGHTS);

    const approved = await post(`/${proposal.id}/approve`, {});
    expect(approved.status).toBe(200);
    const body = (await approved.json()) as { policyVariants: { weights?: unknown }[] };
    expect(body.policyVariants.map((v) => v.weights)).toEqual([undefined, WEIGHTS]);
  });

  it("refuses bad bodies with field paths and other keys with 401/403", async () => {
    const paths = await expectInvalid(
      await post("", { weights: { ...WEIGHTS, cost: 2 }, rationale: "", extra: 1 }),
    );
    expect(paths).toEqual(expect.arrayContaining(["weights.cost", "rationale", "(body)"]));
    await expectError(
      await post("", { weights: WEIGHTS, rationale: "x" }, null),
      401,
      "unauthorized",
    );
    await expectError(
      await post("", { weights: WEIGHTS, rationale: "x" }, DEVICE_KEY),
      403,
      "forbidden",
    );
    expect((await env.DB.prepare("SELECT count(*) AS n FROM policy_proposals").first())?.n).toBe(0);
  });
});
