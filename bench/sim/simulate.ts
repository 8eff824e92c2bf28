// Runs one policy over one trace in one fresh world: requests in arrival order, each plan's
// attempts sent in turn (a refusal or a timeout moves to the next), outcomes fed back to the
// policy when they happen, and per-request results for the figures.

import type { Tier } from "../../shared/types.ts";
import { type Feedback, type SimPolicy, type Violation, violation } from "./policy.ts";
import { evaluate, POWER_W, type SimRequest } from "./world.ts";

export interface RequestResult {
  served: boolean;
  slaMet: boolean;
  /** Until the answer is complete, or until its first token for a first-token SLA; from arrival. */
  latencyMs: number;
  costUsd: number;
  attempts: number;
  /** Attempts after the first (refused, timed out, or a site that never answered). */
  failovers: number;
  tier: Tier | null;
  /** The worst rule broken by any attempt (data sent where the request forbids it). */
  violation: Violation | null;
  /** Served at a cost over the request's budget. */
  overBudget: boolean;
  /** Energy the phone spent: running the model, or its radio sending and waiting. */
  deviceEnergyJ: number;
  coldStart: boolean;
}

/** A binary min-heap of feedback by time. */
class FeedbackQueue {
  readonly #items: Feedback[] = [];
  push(f: Feedback): void {
    const a = this.#items;
    a.push(f);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Feedback).at <= f.at) break;
      a[i] = a[p] as Feedback;
      i = p;
    }
    a[i] = f;
  }
  popUntil(t: number, fn: (f: Feedback) => void): void {
    const a = this.#items;
    while (a.length > 0 && (a[0] as Feedback).at <= t) {
      const top = a[0] as Feedback;
      const last = a.pop() as Feedback;
      if (a.length > 0) {
        a[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < a.length && (a[l] as Feedback).at < (a[m] as Feedback).at) m = l;
          if (r < a.length && (a[r] as Feedback).at < (a[m] as Feedback).at) m = r;
          if (m === i) break;
          [a[i], a[m]] = [a[m] as Feedback, a[i] as Feedback];
          i = m;
        }
      }
      fn(top);
    }
  }
}

const SEVERITY: Record<Violation, number> = { privacy: 3, residency: 2, compliance: 1 };

export function simulate(
  trace: readonly SimRequest[],
  policy: SimPolicy,
  onProgress?: (done: number) => void,
): RequestResult[] {
  const feedback = new FeedbackQueue();
  const deliver = (f: Feedback) => policy.observe?.(f);
  const results: RequestResult[] = [];
  for (const r of trace) {
    feedback.popUntil(r.at, deliver);
    const { req } = r;
    const first = req.constraints.latencyTarget === "first_token";
    const { latencySlaMs: sla, maxCostUsd: budget } = req.constraints;
    const plan = policy.plan(r, r.at);
    const deadline =
      plan.deadlineMs === undefined ? Number.POSITIVE_INFINITY : r.at + plan.deadlineMs;
    let t = r.at;
    let attempts = 0;
    let uploadMs = 0;
    let computeMs = 0;
    let worst: Violation | null = null;
    let done: RequestResult | undefined;
    for (const step of plan.steps) {
      if (t >= deadline) break;
      if (policy.admit && !policy.admit(step, t, { req, deadline })) continue;
      attempts++;
      const v = violation(req, step.target);
      if (v && (!worst || SEVERITY[v] > SEVERITY[worst])) worst = v;
      policy.dispatched?.(step, t);
      const out = evaluate(r, step.target, step.model, t, true);
      const timeout = Math.min(step.timeoutMs, deadline - t);
      const measured = first ? out.ttftMs : out.latencyMs;
      uploadMs += Number.isFinite(out.uploadMs) ? out.uploadMs : 0;
      if (out.result === "ok" && measured <= timeout) {
        computeMs += out.deviceComputeMs;
        feedback.push({
          at: t + out.latencyMs,
          step,
          target: step.target,
          model: step.model.id,
          modality: req.task.modality,
          maxOutputTokens: req.task.maxOutputTokens,
          ok: true,
          latencyMs: out.latencyMs,
          ttftMs: out.ttftMs,
          outputTokens: r.outputTokens,
        });
        const latencyMs = t + measured - r.at;
        done = {
          served: true,
          slaMet: latencyMs <= sla,
          latencyMs,
          costUsd: out.costUsd,
          attempts,
          failovers: attempts - 1,
          tier: step.target.kind === "site" ? "mec" : step.target.kind,
          violation: null,
          overBudget: budget !== undefined && out.costUsd > budget,
          deviceEnergyJ: 0,
          coldStart: out.coldStartMs > 0,
        };
        t += out.latencyMs;
        break;
      }
      // Refused at once, or given up at the timeout: the next step starts then.
      const spent = out.result === "refused" ? out.latencyMs : timeout;
      feedback.push({
        at: t + spent,
        step,
        target: step.target,
        model: step.model.id,
        modality: req.task.modality,
        maxOutputTokens: req.task.maxOutputTokens,
        ok: false,
        latencyMs: spent,
        ttftMs: spent,
        outputTokens: 0,
      });
      t += spent;
    }
    const elapsedMs = Math.max(0, t - r.at);
    const radioMs = computeMs > 0 ? 0 : elapsedMs;
    const energy =
      (POWER_W.compute[req.device.class] * computeMs +
        POWER_W.transmit[req.network.type] * uploadMs +
        POWER_W.wait * Math.max(0, radioMs - uploadMs)) /
      1000;
    results.push(
      done
        ? { ...done, violation: worst, deviceEnergyJ: energy }
        : {
            served: false,
            slaMet: false,
            latencyMs: elapsedMs,
            costUsd: 0,
            attempts,
            failovers: Math.max(0, attempts - 1),
            tier: null,
            violation: worst,
            overBudget: false,
            deviceEnergyJ: energy,
            coldStart: false,
          },
    );
    if (onProgress && r.index % 1_000 === 0) onProgress(r.index);
  }
  return results;
}

export interface Summary {
  requests: number;
  served: number;
  slaAttainment: number;
  slaMisses: number;
  /** Misses by kind: refused by the router (no attempt), every attempt failed, answered late. */
  misses: { refused: number; failed: number; late: number };
  meanLatencyMs: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  costUsd: number;
  costPer1kUsd: number;
  failovers: number;
  violations: { privacy: number; residency: number; compliance: number; total: number };
  /** Requests served at a cost over their budget (a budget is a rule too; not in `total`). */
  overBudget: number;
  deviceEnergyJPerRequest: number;
  tiers: { device: number; mec: number; cloud: number };
  coldStarts: number;
}

export function summarize(results: readonly RequestResult[]): Summary {
  const served = results.filter((r) => r.served);
  const lat = Float64Array.from(served.map((r) => r.latencyMs)).sort();
  const q = (p: number) =>
    lat.length
      ? (lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] as number)
      : Number.NaN;
  const met = results.filter((r) => r.slaMet).length;
  const cost = results.reduce((s, r) => s + r.costUsd, 0);
  const v = { privacy: 0, residency: 0, compliance: 0, total: 0 };
  let overBudget = 0;
  for (const r of results) {
    if (r.overBudget) overBudget++;
    if (r.violation) {
      v[r.violation]++;
      v.total++;
    }
  }
  const tiers = { device: 0, mec: 0, cloud: 0 };
  for (const r of served) if (r.tier) tiers[r.tier]++;
  const n = results.length;
  return {
    requests: n,
    served: served.length,
    slaAttainment: n ? met / n : 0,
    slaMisses: n - met,
    misses: {
      refused: results.filter((r) => !r.served && r.attempts === 0).length,
      failed: results.filter((r) => !r.served && r.attempts > 0).length,
      late: results.filter((r) => r.served && !r.slaMet).length,
    },
    meanLatencyMs: served.length
      ? served.reduce((s, r) => s + r.latencyMs, 0) / served.length
      : Number.NaN,
    p50LatencyMs: q(0.5),
    p99LatencyMs: q(0.99),
    costUsd: cost,
    costPer1kUsd: n ? (1000 * cost) / n : 0,
    failovers: results.reduce((s, r) => s + r.failovers, 0),
    violations: v,
    overBudget,
    deviceEnergyJPerRequest: n ? results.reduce((s, r) => s + r.deviceEnergyJ, 0) / n : 0,
    tiers,
    coldStarts: results.filter((r) => r.coldStart).length,
  };
}
