// Nova reasoning on the hot path of /v1/route, against the Nova Converse stand-in through the
// real SDK: accepted answers, every way an answer is discarded, and the cases where the router
// must not wait for (or call) Nova at all. Each test uses its own SLA (a power of two), so the
// decision cache of one test never answers another's.

import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it } from "vitest";

const NOVA = inject("novaUrl");
const FRANKFURT = { lat: 50.11, lon: 8.68 };
const PRO = "amazon.nova-pro-v1:0";

interface Routed {
  reasoner: string;
  classification: string;
  complexity: number;
  model: string;
  target: { kind: string; region?: string };
  plan: { primary: { target: { kind: string; region?: string } }; backups: unknown[] };
  rationale: { factor: string; detail: string }[];
  rejected: { target: string; reason: string }[];
}

async function route(slaLog2: number, extra: Record<string, unknown> = {}) {
  const started = Date.now();
  const res = await exports.default.fetch("http://router.test/v1/route", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
    body: JSON.stringify({
      task: { modality: "text", inputTokens: 400, maxOutputTokens: 128 },
      constraints: { latencySlaMs: 2 ** slaLog2, dataResidency: ["EU"] },
      location: FRANKFURT,
      reasoning: "force",
      ...extra,
    }),
  });
  expect(res.status).toBe(200);
  return { d: (await res.json()) as Routed, ms: Date.now() - started };
}

const proCalls = () => calls(PRO);

async function faults(f: Record<string, unknown>) {
  const res = await fetch(`${NOVA}/__faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(f),
  });
  expect(res.ok).toBe(true);
}

const reasoning = (d: Routed) => d.rationale.filter((r) => r.factor === "reasoning");

async function calls(modelId: string): Promise<number> {
  const res = await fetch(`${NOVA}/__calls`);
  const body = (await res.json()) as { counts: Record<string, { Converse: number }> };
  return body.counts[modelId]?.Converse ?? 0;
}

/**
 * Waits until the monitor stored a Nova usage event of `role` with `outcome` (they travel the
 * queue after the response) and answers how many there are.
 */
async function usage(role: string, outcome: string): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const row = await env.DB.prepare(
      "SELECT count(*) AS n FROM nova_calls WHERE role = ? AND outcome = ?",
    )
      .bind(role, outcome)
      .first<{ n: number }>();
    if ((row?.n ?? 0) > 0 || Date.now() > deadline) return row?.n ?? 0;
    await new Promise((r) => setTimeout(r, 200));
  }
}

afterEach(async () => {
  await faults({ throttleRate: 0, errorRate: 0, addedLatencyMs: 0, toolInputOverride: null });
});

describe("Nova Pro on /v1/route", () => {
  it("accepts a valid choice among the feasible targets and caches it", async () => {
    const before = await proCalls();
    const { d } = await route(14);
    expect(d.reasoner).toBe("nova-pro");
    expect(d.target.kind).toBe("cloud");
    expect(["eu-central-1", "eu-west-3"]).toContain(d.target.region);
    expect(d.plan.primary.target).toEqual(d.target);
    expect(reasoning(d)[0]?.detail).toMatch(/^Nova Pro chose cloud:eu-/);
    expect(reasoning(d)[0]?.detail.length).toBeLessThan(260);
    expect(await proCalls()).toBe(before + 1);

    const again = await route(14);
    expect(again.d.reasoner).toBe("nova-pro");
    expect(again.d.target).toEqual(d.target);
    expect(reasoning(again.d)[0]?.detail).toMatch(/cached/);
    expect(await proCalls()).toBe(before + 1);
  });

  it("on auto (the default), asks only when the rules are unsure and the slack allows", async () => {
    const before = await proCalls();
    // 8 s SLA: the rules are sure enough (confidence ≥ 0.5) and Nova is not asked.
    const sure = await route(13, { reasoning: undefined });
    expect(sure.d.reasoner).toBe("rules");
    expect(await proCalls()).toBe(before);
    // 2 s SLA: confidence < 0.5 and ~1 s of slack, more than the 900 ms budget.
    const unsure = await route(11, { reasoning: undefined });
    expect(unsure.d.reasoner).toBe("nova-pro");
    expect(await proCalls()).toBe(before + 1);
  });

  it("discards a choice of a rejected target", async () => {
    await faults({
      toolInputOverride: {
        primary: "cloud:us-east-1",
        backups: [],
        confidence: 0.9,
        rationale: "x",
      },
    });
    const { d } = await route(15);
    expect(d.reasoner).toBe("rules");
    expect(d.rejected.some((r) => r.target === "cloud:us-east-1")).toBe(true);
    expect(reasoning(d)[0]?.detail).toMatch(/rejected; discarded/);
  });

  it("discards a choice of an unknown target", async () => {
    await faults({
      toolInputOverride: { primary: "site:nowhere", backups: [], confidence: 1, rationale: "x" },
    });
    const { d } = await route(16);
    expect(d.reasoner).toBe("rules");
    expect(reasoning(d)[0]?.detail).toMatch(/unknown target site:nowhere/);
  });

  it("discards answers that violate the schema or are not JSON objects", async () => {
    for (const [i, bad] of [{ primary: 42 }, "not json {", [1, 2]].entries()) {
      await faults({ toolInputOverride: bad });
      const { d } = await route(17, { task: { modality: "text", inputTokens: 100 + i } });
      expect(d.reasoner).toBe("rules");
      expect(reasoning(d)[0]?.detail).toMatch(/invalid \(answer violates the schema\)/);
    }
  });

  it("keeps the rules' decision on 429", async () => {
    await faults({ throttleRate: 1 });
    const { d } = await route(18);
    expect(d.reasoner).toBe("rules");
    expect(reasoning(d)[0]?.detail).toMatch(/throttled/);
  });

  it("keeps the rules' decision when Nova Pro times out (1500 ms)", async () => {
    await faults({ addedLatencyMs: 4_000 });
    const { d, ms } = await route(19);
    expect(d.reasoner).toBe("rules");
    expect(reasoning(d)[0]?.detail).toMatch(/timeout/);
    expect(ms).toBeLessThan(3_000);
  });

  it("never waits for Nova when the SLA slack is below its budget", async () => {
    await faults({ addedLatencyMs: 4_000 });
    const before = await proCalls();
    // A 1024 ms SLA: the cloud's predicted ~1005 ms leaves less than 900 ms.
    const { d, ms } = await route(10);
    expect(d.reasoner).toBe("rules");
    expect(reasoning(d)[0]?.detail).toMatch(/SLA slack .* < Nova Pro budget/);
    expect(ms).toBeLessThan(1_000);
    expect(await proCalls()).toBe(before);
  });

  it("does not call Nova when the request says off", async () => {
    const before = await proCalls();
    const off = await route(13, { reasoning: "off" });
    expect(off.d.reasoner).toBe("rules");
    expect(reasoning(off.d)).toEqual([]);
    expect(await proCalls()).toBe(before);
  });

  // Last: the breaker stays open for the rest of the file.
  it("keeps the rules' decision without a call while the nova:pro breaker is open", async () => {
    const breaker = env.SERVICE_BREAKER.getByName("nova:pro");
    for (let i = 0; i < 12; i++) await breaker.record("nova:pro", { ok: false, durationMs: 10 });
    expect((await breaker.status()).breaker).toBe("open");
    const before = await proCalls();
    const { d } = await route(12, { constraints: { latencySlaMs: 9_000, dataResidency: ["EU"] } });
    expect(d.reasoner).toBe("rules");
    expect(reasoning(d)[0]?.detail).toMatch(/breaker nova:pro open/);
    expect(await proCalls()).toBe(before);
    // The skipped call is metered as such.
    expect(await usage("pro", "breaker_open")).toBeGreaterThan(0);
  });
});

// Nova Micro (class) and Lite (complexity) as a second opinion on borderline requests: a text
// request of 8,000 + 1,024 tokens scores ~0.42 against the 0.45 simple/complex threshold. Each
// test uses its own SLA (a power of two), so one test's learned hint never answers another's.
// They run after the Pro tests: the nova:pro breaker is open, so Nova Pro stays out of it.
describe("Nova Micro and Lite on borderline requests", () => {
  const MICRO = "amazon.nova-micro-v1:0";
  const LITE = "amazon.nova-lite-v1:0";
  const OPINION = {
    classification: "complex",
    reason: "long context",
    complexity: 0.62,
    resources: { memoryGb: 20, cpuCores: 1, gpuUnits: 1, bandwidthMbps: 1 },
  };

  async function borderline(slaLog2: number, extra: Record<string, unknown> = {}) {
    return route(slaLog2, {
      task: { modality: "text", inputTokens: 8_000, maxOutputTokens: 1_024 },
      ...extra,
    });
  }

  const classified = (d: Routed) =>
    d.rationale.find((r) => r.factor === "classification")?.detail ?? "";

  it("on auto, answers from the rules at once and learns for the next alike request", {
    timeout: 20_000,
  }, async () => {
    await faults({ toolInputOverride: OPINION });
    const [micro, lite] = [await calls(MICRO), await calls(LITE)];
    const first = await borderline(15, { reasoning: "auto" });
    // Answered without Nova's view (which says complex): the calls run after the response.
    expect(first.d.classification).toBe("simple");
    expect(first.d.reasoner).toBe("rules");
    expect(reasoning(first.d).map((r) => r.detail)).toContain(
      "borderline class: Nova Micro and Lite asked after this answer; alike requests use their view",
    );
    // The learned view serves the next alike request.
    let next = first;
    for (let i = 0; i < 40 && next.d.classification === "simple"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      next = await borderline(15, {
        reasoning: "auto",
        task: { modality: "text", inputTokens: 7_900, maxOutputTokens: 1_000 },
      });
    }
    expect(next.d.classification).toBe("complex");
    expect(next.d.complexity).toBe(0.62);
    expect(classified(next.d)).toContain("from Nova Micro + Lite (cached)");
    expect(await calls(MICRO)).toBeGreaterThan(micro);
    expect(await calls(LITE)).toBeGreaterThan(lite);
  });

  it("on force with slack, asks before deciding and picks a model for the complex class", async () => {
    await faults({ toolInputOverride: OPINION });
    const rules = await borderline(16, { reasoning: "off" });
    expect(rules.d.classification).toBe("simple");
    const { d } = await borderline(16);
    expect(d.classification).toBe("complex");
    expect(classified(d)).toContain("(from Nova Micro + Lite):");
    expect(classified(d)).toContain("needs quality ≥ 3");
    expect(d.model).not.toBe(rules.d.model);
    // Both calls are metered under their roles.
    expect(await usage("micro", "ok")).toBeGreaterThan(0);
    expect(await usage("lite", "ok")).toBeGreaterThan(0);
  });

  it("keeps the rules' class when both answers violate their schemas", async () => {
    await faults({ toolInputOverride: { classification: "urgent", complexity: 7 } });
    const { d } = await borderline(17);
    expect(d.classification).toBe("simple");
    expect(classified(d)).not.toContain("Nova");
    expect(reasoning(d)[0]?.detail).toBe(
      "Nova Micro invalid (answer violates the schema); Nova Lite invalid (answer violates the schema); rules classify",
    );
  });

  it("uses the one valid answer when the other is malformed", async () => {
    await faults({ toolInputOverride: { classification: "complex", reason: "long" } });
    const { d } = await borderline(18);
    expect(d.classification).toBe("complex");
    expect(classified(d)).toContain("(from Nova Micro):");
  });

  it("keeps the rules' class on 429 and on a timeout", async () => {
    await faults({ throttleRate: 1 });
    const throttled = await borderline(19);
    expect(throttled.d.classification).toBe("simple");
    expect(reasoning(throttled.d)[0]?.detail).toMatch(
      /^Nova Micro throttled .*Nova Lite throttled/,
    );

    await faults({ throttleRate: 0, addedLatencyMs: 3_000 });
    const slow = await borderline(14);
    expect(slow.d.classification).toBe("simple");
    expect(reasoning(slow.d)[0]?.detail).toMatch(/^Nova Micro timeout \(400 ms\)/);
    expect(slow.ms).toBeLessThan(2_500);
  });

  it("never waits when the SLA slack is below the roles' budgets", async () => {
    await faults({ toolInputOverride: OPINION, addedLatencyMs: 3_000 });
    const [micro, lite] = [await calls(MICRO), await calls(LITE)];
    // The rules' pick (Nova Micro in the cloud) is predicted at ~5.9 s: 6 s leaves less than
    // Nova Lite's 400 ms budget, so the roles are asked after the answer (and time out there).
    const { d, ms } = await borderline(12, {
      constraints: { latencySlaMs: 6_000, dataResidency: ["EU"] },
    });
    expect(d.classification).toBe("simple");
    expect(reasoning(d)[0]?.detail).toMatch(/^borderline class: Nova Micro and Lite asked after/);
    expect(ms).toBeLessThan(1_500);
    // The background calls reach the stand-in while it is still slow (so they learn nothing).
    for (
      let i = 0;
      i < 40 && ((await calls(MICRO)) === micro || (await calls(LITE)) === lite);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await calls(MICRO)).toBeGreaterThan(micro);
    expect(await calls(LITE)).toBeGreaterThan(lite);
  });

  it("leaves requests alone that are not borderline, critical, or say off", async () => {
    await faults({ toolInputOverride: OPINION });
    const clear = await route(13);
    const critical = await borderline(13, {
      task: {
        modality: "text",
        inputTokens: 8_000,
        maxOutputTokens: 1_024,
        criticality: "critical",
      },
    });
    const off = await borderline(13, { reasoning: "off" });
    for (const { d } of [clear, critical, off]) {
      expect(classified(d)).not.toContain("Nova");
      expect(reasoning(d).some((r) => /Micro|Lite/.test(r.detail))).toBe(false);
    }
  });

  it("asks neither role while their breakers are open", async () => {
    await faults({ toolInputOverride: OPINION });
    for (const service of ["nova:micro", "nova:lite"]) {
      const breaker = env.SERVICE_BREAKER.getByName(service);
      for (let i = 0; i < 12; i++) await breaker.record(service, { ok: false, durationMs: 10 });
      expect((await breaker.status()).breaker).toBe("open");
    }
    const [micro, lite] = [await calls(MICRO), await calls(LITE)];
    const { d } = await borderline(13);
    expect(d.classification).toBe("simple");
    expect(reasoning(d).map((r) => r.detail)).toContain(
      "breaker nova:micro open; breaker nova:lite open; rules classify",
    );
    expect(await calls(MICRO)).toBe(micro);
    expect(await calls(LITE)).toBe(lite);
    expect(await usage("micro", "breaker_open")).toBeGreaterThan(0);
    expect(await usage("lite", "breaker_open")).toBeGreaterThan(0);
  });
});
