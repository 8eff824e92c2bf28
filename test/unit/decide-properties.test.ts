// Invariants of the router agent over random requests and random fleets (fast-check).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "../../shared/decide.ts";
import type { PreparedFleet } from "../../shared/fleet.ts";
import { prepareFleet } from "../../shared/fleet.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { residencyAllows } from "../../shared/residency.ts";
import type { Decision, RouteRequest, SiteView, Tier } from "../../shared/types.ts";
import { arbFleetData, arbRequest } from "./helpers/arbitraries.ts";
import { NOW, planSteps, rejections, targetKey } from "./helpers/fleet-builders.ts";

const RUNS = { numRuns: 2_000 };
const policy = DEFAULT_POLICY;
/** At most `maxSiteCandidates` sites, so every site in the fleet is evaluated. */
const smallFleet = arbFleetData(0, 10);

/** Where each evaluated target stands: tier, fault domain, country and certifications. */
interface TargetFacts {
  tier: Tier;
  faultDomain: string;
  country?: string;
  certifications?: string[];
  site?: SiteView;
}

function facts(fleet: PreparedFleet): Map<string, TargetFacts> {
  const map = new Map<string, TargetFacts>([["device", { tier: "device", faultDomain: "device" }]]);
  for (const s of fleet.data.sites) {
    map.set(`site:${s.id}`, {
      tier: "mec",
      faultDomain: `site:${s.faultDomain}`,
      country: s.country,
      certifications: s.certifications,
      site: s,
    });
  }
  for (const r of fleet.data.regions) {
    map.set(`cloud:${r.id}`, {
      tier: "cloud",
      faultDomain: `cloud:${r.id}`,
      country: r.country,
      certifications: r.certifications,
    });
  }
  return map;
}

function stepKeys(d: Decision): string[] {
  return planSteps(d.plan).map((s) => targetKey(s.target));
}

function isSaturated(site: SiteView): boolean {
  return (
    site.load.waiting >= policy.saturation.queue ||
    site.load.kvCacheUsage >= policy.saturation.kvCache
  );
}

describe("decide over random requests and fleets", () => {
  it("never sends a strict request to the cloud or an untrusted site, primary or backup", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (r, data) => {
        const fleet = prepareFleet(data);
        const req: RouteRequest = { ...r, constraints: { ...r.constraints, privacy: "strict" } };
        const result = decide(req, fleet, policy, NOW);
        if (!result.ok) return;
        const known = facts(fleet);
        for (const step of planSteps(result.decision.plan)) {
          expect(step.tier).not.toBe("cloud");
          if (step.target.kind === "site") {
            expect(known.get(targetKey(step.target))?.site?.trusted).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it("keeps every site and region chosen inside the residency and with every compliance tag", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (req, data) => {
        const fleet = prepareFleet(data);
        const result = decide(req, fleet, policy, NOW);
        if (!result.ok) return;
        const known = facts(fleet);
        const { dataResidency, compliance } = req.constraints;
        for (const key of stepKeys(result.decision)) {
          const target = known.get(key);
          expect(target).toBeDefined();
          if (!target || target.tier === "device") continue;
          expect(residencyAllows(dataResidency, target.country ?? "")).toBe(true);
          for (const tag of compliance) expect(target.certifications).toContain(tag);
        }
      }),
      RUNS,
    );
  });

  it("places an offline request on the device or nowhere", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (r, data) => {
        const fleet = prepareFleet(data);
        const req: RouteRequest = { ...r, network: { ...r.network, type: "offline" } };
        const result = decide(req, fleet, policy, NOW);
        if (result.ok) {
          expect(planSteps(result.decision.plan).map((s) => s.tier)).toEqual(["device"]);
        } else {
          expect(result.code).toBe("infeasible");
          const remote = result.rejected.filter((x) => x.target !== "device");
          expect(remote.every((x) => x.reason === "network")).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("never lists the primary or a backup among the rejected, and rejects or keeps each target once", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (req, data) => {
        const fleet = prepareFleet(data);
        const result = decide(req, fleet, policy, NOW);
        const rejected = result.ok ? result.decision.rejected : result.rejected;
        const rejectedKeys = rejected.map((x) => x.target);
        expect(new Set(rejectedKeys).size).toBe(rejectedKeys.length);
        if (!result.ok) {
          // Nothing was feasible: every evaluated target says why.
          expect(rejectedKeys.length).toBe(facts(fleet).size);
          return;
        }
        for (const key of stepKeys(result.decision)) expect(rejectedKeys).not.toContain(key);
      }),
      RUNS,
    );
  });

  it("spreads backups over fault domains and onto another tier when one is feasible", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (req, data) => {
        const fleet = prepareFleet(data);
        const result = decide(req, fleet, policy, NOW);
        if (!result.ok) return;
        const d = result.decision;
        const known = facts(fleet);
        const domainOf = (key: string) => known.get(key)?.faultDomain;
        const keys = stepKeys(d);
        const domains = keys.map(domainOf);
        expect(new Set(domains).size).toBe(keys.length);

        // Every evaluated target that was not rejected was a candidate.
        const rejected = new Set(d.rejected.map((x) => x.target));
        const candidates = [...known.keys()].filter((k) => !rejected.has(k));
        const primaryDomain = domainOf(keys[0] ?? "");
        const otherDomains = new Set(candidates.map(domainOf).filter((fd) => fd !== primaryDomain));
        expect(d.plan.backups.length).toBe(Math.min(policy.maxBackups, otherDomains.size));
        if (candidates.some((k) => known.get(k)?.tier !== d.tier)) {
          expect(d.plan.backups.some((b) => b.tier !== d.tier)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("keeps every step's expected latency within the SLA (or takes the soonest first) and its cost within the budget, and the timeouts within the deadline", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (req, data) => {
        const fleet = prepareFleet(data);
        const result = decide(req, fleet, policy, NOW);
        if (!result.ok) return;
        const d = result.decision;
        const { latencySlaMs: sla, maxCostUsd } = req.constraints;
        expect(d.tier).toBe(d.plan.primary.tier);
        expect(d.target).toEqual(d.plan.primary.target);
        expect(d.model).toBe(d.plan.primary.model);
        // Best effort exactly when the primary's worst case misses the SLA; only then may the
        // plan run past it.
        expect(d.bestEffort).toBe(d.predicted.worstLatencyMs > sla);
        if (d.bestEffort) expect(d.plan.timeoutMs).toBeGreaterThanOrEqual(sla);
        else expect(d.plan.timeoutMs).toBe(sla);
        expect(d.plan.primary.timeoutMs).toBeGreaterThanOrEqual(d.plan.primary.predictedLatencyMs);
        // A plan meets the SLA by every step, or, when no target is expected to (a best
        // effort), takes the one expected soonest first.
        const late = d.plan.primary.predictedLatencyMs > sla;
        if (late) expect(d.bestEffort).toBe(true);
        for (const s of planSteps(d.plan)) {
          if (late)
            expect(s.predictedLatencyMs).toBeGreaterThanOrEqual(d.plan.primary.predictedLatencyMs);
          else expect(s.predictedLatencyMs).toBeLessThanOrEqual(sla);
          expect(s.worstLatencyMs).toBeGreaterThanOrEqual(s.predictedLatencyMs);
          expect(s.timeoutMs).toBeLessThanOrEqual(d.plan.timeoutMs);
          // Costs are reported to 3 significant digits, so allow that rounding.
          if (maxCostUsd !== undefined) {
            expect(s.predictedCostUsd).toBeLessThanOrEqual(maxCostUsd * 1.005);
          }
        }
        expect(d.confidence).toBeGreaterThanOrEqual(0);
        expect(d.confidence).toBeLessThanOrEqual(1);
        const level = d.confidence > 0.8 ? "high" : d.confidence >= 0.5 ? "medium" : "low";
        expect(d.confidenceLevel).toBe(level);
      }),
      RUNS,
    );
  });

  it("sheds a sheddable request only when every candidate is a saturated site", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (r, data) => {
        const fleet = prepareFleet(data);
        const as = (criticality: "standard" | "sheddable"): RouteRequest => ({
          ...r,
          task: { ...r.task, criticality },
        });
        const standard = decide(as("standard"), fleet, policy, NOW);
        const sheddable = decide(as("sheddable"), fleet, policy, NOW);
        const known = facts(fleet);
        const saturatedSite = (key: string) => {
          const site = known.get(key)?.site;
          return site !== undefined && isSaturated(site);
        };
        if (sheddable.ok) {
          // Never placed on a saturated site, primary or backup.
          expect(stepKeys(sheddable.decision).filter(saturatedSite)).toEqual([]);
          return;
        }
        if (sheddable.code === "infeasible" || sheddable.code === "unavailable") {
          expect(standard.ok).toBe(false);
          return;
        }
        expect(sheddable.code).toBe("overloaded");
        expect(sheddable.rejected.some((x) => x.detail.startsWith("saturated"))).toBe(true);
        if (standard.ok) expect(stepKeys(standard.decision).every(saturatedSite)).toBe(true);
        // Some saturated site could have served it (it got past the model check unsaturated).
        const verdicts = new Map(rejections(standard).map((x) => [x.target, x.reason]));
        const servable = [...known.keys()].filter(
          (k) => saturatedSite(k) && ["sla", "budget", undefined].includes(verdicts.get(k)),
        );
        expect(servable).not.toEqual([]);
      }),
      RUNS,
    );
  });

  it("is deterministic and leaves its inputs untouched", () => {
    fc.assert(
      fc.property(arbRequest, smallFleet, (req, data) => {
        const fleet = prepareFleet(data);
        const reqCopy = structuredClone(req);
        const dataCopy = structuredClone(fleet.data);
        const first = decide(req, fleet, policy, NOW);
        expect(decide(req, fleet, policy, NOW)).toEqual(first);
        expect(req).toEqual(reqCopy);
        expect(fleet.data).toEqual(dataCopy);
        // A fresh copy of the same fleet in another order decides the same.
        const shuffled = prepareFleet({ ...dataCopy, sites: [...dataCopy.sites].reverse() });
        expect(decide(reqCopy, shuffled, policy, NOW)).toEqual(first);
      }),
      RUNS,
    );
  });

  it("holds the hard rules on fleets large enough for the spatial index", () => {
    fc.assert(
      fc.property(arbRequest, arbFleetData(65, 120), (req, data) => {
        const fleet = prepareFleet(data);
        const result = decide(req, fleet, policy, NOW);
        if (!result.ok) return;
        const known = facts(fleet);
        const d = result.decision;
        const { privacy, dataResidency, compliance } = req.constraints;
        const rejected = new Set(d.rejected.map((x) => x.target));
        for (const key of stepKeys(d)) {
          const target = known.get(key);
          expect(rejected.has(key)).toBe(false);
          if (!target || target.tier === "device") continue;
          if (privacy === "strict") expect(target.site?.trusted).toBe(true);
          expect(residencyAllows(dataResidency, target.country ?? "")).toBe(true);
          for (const tag of compliance) expect(target.certifications).toContain(tag);
        }
        // Only the nearest `maxSiteCandidates` sites are looked at.
        const siteVerdicts = d.rejected.filter((x) => x.target.startsWith("site:")).length;
        expect(siteVerdicts).toBeLessThanOrEqual(policy.maxSiteCandidates);
      }),
      { numRuns: 300 },
    );
  });
});
