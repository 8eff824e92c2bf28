// Nova reasoning, pure parts: when the router calls Nova Pro, the decision cache and its TTL,
// the spend budget, the safety check on Nova's choice, and what the Converse request contains
// (features and candidates only — never the prompt).

import { describe, expect, it } from "vitest";
import { routeInputFromChat } from "../../shared/chat-routing.ts";
import type { ContextHint } from "../../shared/context.ts";
import { decide } from "../../shared/decide.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { normalizeRouteRequest } from "../../shared/route-request.ts";
import type { Decision, RouteRequest } from "../../shared/types.ts";
import {
  applyChoice,
  budgetAllows,
  CACHE_TTL_MS,
  type CachedChoice,
  cacheGet,
  cacheKey,
  cachePut,
  callCostUsd,
  checkChoice,
  type Expiring,
  gate,
  HINT_TTL_MS,
  hintKey,
  keepRules,
  latencyBudget,
  NO_SPEND,
  nextEwma,
  spend,
} from "../../worker/reasoning/policy.ts";
import {
  candidatesOf,
  converseInput,
  type Role,
  requestFeatures,
} from "../../worker/reasoning/request.ts";
import { makeFleet, makeRegion, makeRequest, NOW } from "./helpers/fleet-builders.ts";

const FLEET = makeFleet(
  [],
  [
    makeRegion({ id: "eu-central-1", country: "DE", location: { lat: 50.11, lon: 8.68 } }),
    makeRegion({ id: "eu-west-3", country: "FR", location: { lat: 48.86, lon: 2.35 } }),
    makeRegion({ id: "us-east-1", country: "US", location: { lat: 38.95, lon: -77.45 } }),
  ],
);

function decided(req: RouteRequest): Decision {
  const r = decide(req, FLEET, DEFAULT_POLICY, NOW);
  if (!r.ok) throw new Error(r.message);
  return r.decision;
}

const REQ = makeRequest({ constraints: { latencySlaMs: 20_000, dataResidency: ["EU"] } });
const D = decided(REQ);
const unsure = { ...D, confidence: 0.3 };

describe("gate: when Nova Pro is asked", () => {
  it("never when the operator or the request says off", () => {
    expect(gate("off", "force", unsure, 20_000, 900, 1500)).toEqual({ call: false });
    expect(gate("auto", "off", unsure, 20_000, 900, 1500)).toEqual({ call: false });
  });

  it("on auto only below the confidence threshold; force ignores confidence", () => {
    expect(gate("auto", "auto", { ...D, confidence: 0.5 }, 20_000, 900, 1500)).toEqual({
      call: false,
    });
    expect(gate("auto", "auto", unsure, 20_000, 900, 1500)).toEqual({ call: true, waitMs: 1500 });
    expect(gate("auto", "force", { ...D, confidence: 0.99 }, 20_000, 900, 1500).call).toBe(true);
  });

  it("never when the SLA slack is below the budget, and never waits past the slack", () => {
    const sla = D.predicted.latencyMs + 899;
    const g = gate("auto", "force", unsure, sla, 900, 1500);
    expect(g.call).toBe(false);
    expect(g.call ? "" : g.why).toMatch(/SLA slack 899 ms < Nova Pro budget 900 ms/);
    expect(gate("auto", "force", unsure, D.predicted.latencyMs + 1000, 900, 1500)).toEqual({
      call: true,
      waitMs: 1000,
    });
  });

  it("budgets the measured EWMA latency, never below the default", () => {
    expect(latencyBudget("pro", undefined)).toBe(900);
    expect(latencyBudget("pro", 300)).toBe(900);
    let e: number | undefined;
    for (let i = 0; i < 30; i++) e = nextEwma(e, 2000);
    expect(latencyBudget("pro", e)).toBeCloseTo(2000, 0);
    expect(nextEwma(1000, 2000)).toBe(1200);
  });
});

describe("decision cache", () => {
  const feasible = candidatesOf(D).map((c) => c.key);

  it("keys by buckets and the feasible set, not by ordering or small differences", () => {
    const k = cacheKey(REQ, D, feasible);
    expect(cacheKey(REQ, D, [...feasible].reverse())).toBe(k);
    const nearSla = makeRequest({ constraints: { latencySlaMs: 21_000, dataResidency: ["EU"] } });
    expect(cacheKey(nearSla, D, feasible)).toBe(k);
    const doubleSla = makeRequest({ constraints: { latencySlaMs: 40_000, dataResidency: ["EU"] } });
    expect(cacheKey(doubleSla, D, feasible)).not.toBe(k);
    expect(cacheKey(REQ, { ...D, complexity: D.complexity + 0.2 }, feasible)).not.toBe(k);
    expect(cacheKey(REQ, D, feasible.slice(1))).not.toBe(k);
    const strict = makeRequest({
      constraints: { latencySlaMs: 20_000, dataResidency: ["EU"], privacy: "sensitive" },
    });
    expect(cacheKey(strict, D, feasible)).not.toBe(k);
  });

  it("answers within the TTL and forgets after it", () => {
    const cache = new Map<string, CachedChoice>();
    cachePut(cache, "k", { primary: "cloud:eu-west-3", rationale: "cheaper" }, NOW);
    expect(cacheGet(cache, "k", NOW + CACHE_TTL_MS - 1)?.primary).toBe("cloud:eu-west-3");
    expect(cacheGet(cache, "k", NOW + CACHE_TTL_MS)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("is bounded", () => {
    const cache = new Map<string, CachedChoice>();
    for (let i = 0; i < 1_100; i++) cachePut(cache, `k${i}`, { primary: "x", rationale: "" }, NOW);
    expect(cache.size).toBe(1_000);
    expect(cache.has("k0")).toBe(false);
    expect(cache.has("k1099")).toBe(true);
  });
});

describe("spend budget", () => {
  const pro = { inputPer1kUsd: 0.0008, outputPer1kUsd: 0.0032 };

  it("prices a call at catalog prices", () => {
    expect(callCostUsd(pro, 1000, 250)).toBeCloseTo(0.0016, 8);
  });

  it("refuses once the minute's budget is spent and resets the next minute", () => {
    const minute = Math.floor(NOW / 60_000) * 60_000;
    let s = NO_SPEND;
    let calls = 0;
    while (budgetAllows(s, minute + calls, 0.0016, 0.05)) {
      s = spend(s, minute + calls, 0.0016, 1250);
      calls++;
    }
    expect(calls).toBe(31);
    expect(s.tokens).toBe(31 * 1250);
    expect(budgetAllows(s, minute + 59_999, 0.0016, 0.05)).toBe(false);
    expect(budgetAllows(s, minute + 60_000, 0.0016, 0.05)).toBe(true);
  });
});

describe("safety: Nova's choice", () => {
  const candidates = candidatesOf(D);

  it("is kept only among the feasible candidates", () => {
    expect(D.rejected.map((r) => r.target)).toContain("cloud:us-east-1");
    expect(checkChoice({ primary: "cloud:us-east-1" }, candidates, D)).toEqual({
      ok: false,
      why: "Nova Pro chose cloud:us-east-1, which the rules rejected",
    });
    expect(checkChoice({ primary: "site:ghost" }, candidates, D).ok).toBe(false);
    const other = candidates[1]?.key ?? "";
    expect(checkChoice({ primary: other }, candidates, D)).toEqual({ ok: true, primary: other });
  });

  it("reorders the plan: Nova's primary first, the rules' backups minus it", () => {
    const second = D.plan.backups[0];
    expect(second).toBeDefined();
    const key = candidates[1]?.key ?? "";
    const d = applyChoice(D, key, "r".repeat(500), false);
    expect(d.reasoner).toBe("nova-pro");
    expect(d.plan.primary).toBe(second);
    expect(d.target).toEqual(second?.target);
    expect(d.plan.backups).not.toContain(second);
    expect(d.plan.backups).toContain(D.plan.primary);
    const note = d.rationale.at(-1);
    expect(note?.factor).toBe("reasoning");
    expect(note?.detail.length).toBeLessThanOrEqual(200 + `Nova Pro chose ${key}: `.length);
    expect(applyChoice(D, key, "r", true).rationale.at(-1)?.detail).toMatch(/cached/);
  });

  it("keeps the rules' decision with the reason when discarded", () => {
    const d = keepRules(D, "Nova Pro timeout (1500 ms); rules decide");
    expect(d.reasoner).toBe("rules");
    expect(d.plan).toBe(D.plan);
    expect(d.rationale.at(-1)).toEqual({
      factor: "reasoning",
      detail: "Nova Pro timeout (1500 ms); rules decide",
    });
  });
});

describe("prompt privacy", () => {
  it("never puts chat content in the Converse request of any role", () => {
    const SECRET = "SECRET-7f3a-do-not-leak";
    const input = routeInputFromChat(
      {
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: `You know ${SECRET}.` },
          { role: "user", content: `My password is ${SECRET}` },
        ],
        max_tokens: 64,
      },
      { constraints: { latencySlaMs: 20_000, dataResidency: ["EU"] } },
    );
    const req = normalizeRouteRequest({ ...input, requestId: "req-1" }, { lat: 50.1, lon: 8.7 });
    const d = decided(req);
    const features = requestFeatures(req, d);
    for (const role of ["micro", "lite", "pro"] as Role[]) {
      const body = JSON.stringify(converseInput(role, "m", features, candidatesOf(d)));
      expect(body).not.toContain(SECRET);
      expect(body).not.toContain("password");
      expect(body).not.toContain("req-1");
      expect(body).toContain("inputTokens");
    }
  });
});

describe("context hints: signature and lifetime", () => {
  const border = makeRequest({ task: { inputTokens: 8_000, maxOutputTokens: 1_024 } });

  it("keys requests alike in shape together, and apart otherwise", () => {
    const k = hintKey(border);
    expect(hintKey({ ...border, task: { ...border.task, inputTokens: 7_000 } })).toBe(k);
    expect(hintKey({ ...border, task: { ...border.task, inputTokens: 16_000 } })).not.toBe(k);
    expect(hintKey({ ...border, task: { ...border.task, modality: "audio" } })).not.toBe(k);
    expect(
      hintKey({ ...border, constraints: { ...border.constraints, latencySlaMs: 40_000 } }),
    ).not.toBe(k);
    expect(hintKey({ ...border, constraints: { ...border.constraints, privacy: "strict" } })).toBe(
      k,
    );
  });

  it("keeps a hint for HINT_TTL_MS", () => {
    const cache = new Map<string, Expiring<ContextHint>>();
    cachePut(cache, "k", { classification: "complex", source: "Nova Micro" }, NOW, HINT_TTL_MS);
    expect(cacheGet(cache, "k", NOW + HINT_TTL_MS - 1)?.classification).toBe("complex");
    expect(cacheGet(cache, "k", NOW + HINT_TTL_MS)).toBeUndefined();
  });

  it("a hinted class changes the model decide() picks for an auto request", () => {
    const rules = decided(border);
    const hinted = decide(border, FLEET, DEFAULT_POLICY, NOW, {
      classification: "complex",
      source: "Nova Micro",
    });
    expect(hinted.ok).toBe(true);
    if (!hinted.ok) return;
    expect(rules.classification).toBe("simple");
    expect(hinted.decision.classification).toBe("complex");
    expect(hinted.decision.model).not.toBe(rules.model);
  });
});
