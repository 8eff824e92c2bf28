// The hot path's history, end to end: decisions and outcomes leave through the queue after the
// response, the monitor consumer writes them to D1 (real migrations), and no prompt content
// reaches any table.

import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";

const SITE = inject("demoSiteUrl");
const SECRET = `secret-${crypto.randomUUID()}`;

async function waitForRow(sql: string, id: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const row = await env.DB.prepare(sql).bind(id).first();
    if (row) return row;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no row for ${id} within ${timeoutMs} ms`);
}

describe("history through the queue", () => {
  it("stores the decision and the outcome of a chat request, and never its content", async () => {
    const put = await exports.default.fetch("http://router.test/v1/sites/hist-a", {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: "Bearer dev-operator-key" },
      body: JSON.stringify({
        name: "hist-a",
        location: { lat: 45.46, lon: 9.19 },
        country: "IT",
        trusted: true,
        certifications: [],
        endpoint: `${SITE}/v1`,
        capacity: { maxConcurrent: 8, maxQueue: 8, gpus: 1, gpuMemoryGb: 24 },
        cost: { gpuHourUsd: 1 },
        models: [{ model: "llama-3.2-3b" }],
        residentModels: ["llama-3.2-3b"],
      }),
    });
    expect(put.status).toBe(200);

    const res = await exports.default.fetch("http://router.test/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
      body: JSON.stringify({
        model: "llama-3.2-3b",
        messages: [{ role: "user", content: `Keep this private: ${SECRET}` }],
        max_tokens: 8,
        user: SECRET,
        mec: {
          location: { lat: 45.46, lon: 9.19 },
          constraints: { privacy: "strict", latencySlaMs: 20_000, dataResidency: ["IT"] },
        },
      }),
    });
    expect(res.status).toBe(200);
    await res.json();
    const decisionId = res.headers.get("x-mec-decision-id") as string;

    const decision = await waitForRow("SELECT * FROM decisions WHERE event_id = ?", decisionId);
    expect(decision.tier).toBe("mec");
    const outcome = await waitForRow("SELECT * FROM outcomes WHERE decision_id = ?", decisionId);
    expect(outcome.ok).toBe(1);
    // The explorer's view: the plan and rejections with the decision, the attempts with the outcome.
    const explain = JSON.parse(String(decision.explain)) as {
      plan: { target: string }[];
      rejected: { target: string; reason: string }[];
    };
    expect(explain.plan[0]?.target).toBe("site:hist-a");
    // Strict privacy: no cloud region may take it.
    expect(
      explain.rejected.some((r) => r.target.startsWith("cloud:") && r.reason === "privacy"),
    ).toBe(true);
    expect(JSON.parse(String(outcome.attempt_log))).toEqual([
      expect.objectContaining({ target: "site:hist-a", ok: true }),
    ]);

    // Nothing of the request's content in any table.
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
    ).all<{ name: string }>();
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      expect(JSON.stringify(rows.results)).not.toContain(SECRET);
    }
  }, 30_000);
});
