// What a routing policy is in the simulator, mec-router's own policy — the real `decide()` from
// shared/ on a fleet snapshot built the way the worker builds it — and the oracle.

import {
  siteLoad as heldLoad,
  holding,
  type LeaseCheck,
  leaseFits,
} from "../../shared/admission.ts";
import {
  type AnswerLengthState,
  answerShares,
  observeAnswers,
} from "../../shared/answer-length.ts";
import {
  acquire,
  type Breaker,
  breakerView,
  DEFAULT_BREAKER_CONFIG,
  initialBreaker,
  observeProbe,
  record,
  trafficShare,
  trip,
  windowStats,
} from "../../shared/breaker.ts";
import { type CatalogModel, catalogModel } from "../../shared/catalog.ts";
import { type DecideResult, decide, type Prewarm } from "../../shared/decide.ts";
import { type PreparedFleet, prepareFleet } from "../../shared/fleet.ts";
import {
  type CacheState,
  DEFAULT_CACHE_POLICY,
  emptyCacheState,
  prewarmCandidates,
  reconcileResident,
  recordDemand,
  siteFootprints,
} from "../../shared/model-cache.ts";
import { DEFAULT_POLICY, type Policy } from "../../shared/policy.ts";
import { nextServiceMs } from "../../shared/queued-outcome.ts";
import { residencyAllows } from "../../shared/residency.ts";
import type { Modality, RegionView, RouteRequest, SiteView } from "../../shared/types.ts";
import { modelGroup } from "./baselines.ts";
import {
  evaluate,
  hash01,
  isDown,
  prewarm,
  type SimRequest,
  siteLoad,
  type TargetRef,
  type World,
} from "./world.ts";

export interface Step {
  target: TargetRef;
  model: CatalogModel;
  /** How long this attempt may take (to the first token for a first-token SLA). */
  timeoutMs: number;
}

export interface Plan {
  steps: Step[];
  /** The whole request gives up after this (mec-router's plan: the SLA); none for the others. */
  deadlineMs?: number;
}

/** An attempt's end, delivered to the policy in time order. */
export interface Feedback {
  at: number;
  /** The attempt that ended (its lease, for a policy that took one). */
  step: Step;
  target: TargetRef;
  /** The model and the request's modality and `max_tokens`, as an outcome event carries them. */
  model: string;
  modality: Modality;
  maxOutputTokens: number;
  ok: boolean;
  latencyMs: number;
  ttftMs: number;
  outputTokens: number;
}

/** The request a step belongs to, as a lease request carries it. */
export interface Admitting {
  req: RouteRequest;
  /** When the plan gives up (ms, simulated clock). */
  deadline: number;
}

export interface SimPolicy {
  name: string;
  /** The attempts to make, in order; none: the router refuses the request. */
  plan(r: SimRequest, t: number): Plan;
  /** May this step be sent now (a site's admission)? Default yes. */
  admit?(step: Step, t: number, request: Admitting): boolean;
  dispatched?(step: Step, t: number): void;
  observe?(f: Feedback): void;
}

// ---- hard constraints, as a request states them ------------------------------------------------

export type Violation = "privacy" | "residency" | "compliance";

/** Which of the request's rules sending it to `target` breaks, if any (the device breaks none). */
export function violation(req: RouteRequest, target: TargetRef): Violation | null {
  if (target.kind === "device") return null;
  const c = req.constraints;
  const where = target.kind === "site" ? target.site.view : target.region;
  if (c.privacy === "strict" && (target.kind === "cloud" || !target.site.view.trusted))
    return "privacy";
  if (!residencyAllows(c.dataResidency, where.country)) {
    return target.kind === "cloud" && c.privacy === "sensitive" ? "privacy" : "residency";
  }
  if (c.compliance.some((tag) => !where.certifications.includes(tag))) return "compliance";
  return null;
}

// ---- mec-router ---------------------------------------------------------------------------------

/** A site's KV cache use as its metrics would report it with `running` streams. */
function kvCacheUsage(site: World["sites"][number], running: number): number {
  return Math.min(1, (0.9 * running) / site.view.capacity.maxConcurrent);
}

const SNAPSHOT_EVERY_MS = 1_000;
const HEARTBEAT_EVERY_MS = 2_000;
const PROBE_EVERY_MS = 5_000;

/**
 * mec-router as deployed: each second the isolate's snapshot is rebuilt from what the sites'
 * heartbeats last said (load, residency), the leases their agents held when they last published
 * (a second before: agents publish at most every second, isolates cache the fleet for one), and
 * their breakers, which outcomes, probes and staleness drive with the real state machine of
 * shared/breaker.ts; every request is decided by `decide()` from shared/decide.ts; a MEC step
 * takes a lease as SiteAgent.reserve grants it — the same admission (`leaseFits`, on the
 * agent's exact lease count and measured service times), then the breaker — and runs with the
 * plan's timeouts and deadline.
 */
export function mecRouter(
  world: World,
  /** Sees each decision as made (the miss diagnosis in bench/quality-misses.ts). */
  onDecide?: (r: SimRequest, result: DecideResult) => void,
  /** The decision policy (an operator's weights; the default otherwise). */
  policy: Policy = DEFAULT_POLICY,
): SimPolicy {
  const breakers = new Map<string, Breaker>(world.sites.map((s) => [s.view.id, initialBreaker()]));
  const sitesById = new Map(world.sites.map((s) => [s.view.id, s]));
  const regionsById = new Map(world.regions.map((r) => [r.id, r]));
  const cfg = DEFAULT_BREAKER_CONFIG;
  let fleet: PreparedFleet | undefined;
  let builtAt = Number.NEGATIVE_INFINITY;
  let probedAt = 0;
  // What the monitor learns from outcomes' token counts and publishes with the snapshot.
  let answers: AnswerLengthState = {};
  // Each site agent's cache agent: demand from leases and from decisions that wanted a model
  // there, residency from the site's metrics, prewarm after each probe (durable-objects/site-agent.ts).
  const caches = new Map<string, CacheState>(
    world.sites.map((s) => [s.view.id, emptyCacheState()]),
  );
  const demand = (siteId: string, model: string, t: number) => {
    const c = caches.get(siteId);
    if (c) caches.set(siteId, recordDemand(c, model, t, DEFAULT_CACHE_POLICY));
  };
  const rand = (t: number, salt: number) => hash01(world.seed, t, salt);
  // Each site agent's leases: the steps holding one, how many per site, and how many per site
  // the agents last published; service times measured from unqueued answers, by site and model.
  const leases = new Map<Step, { siteId: string; queued: boolean }>();
  const held = new Map<string, number>();
  let published = new Map<string, number>();
  const serviceMs = new Map<string, number>();

  const lastHeartbeat = (site: World["sites"][number], t: number): number => {
    const phase = site.heartbeatPhaseMs;
    let hb = Math.floor((t - phase) / HEARTBEAT_EVERY_MS) * HEARTBEAT_EVERY_MS + phase;
    // A site that is down sends none: the last one is from before the outage.
    for (const [from, to] of site.down) if (hb >= from && hb < to) hb = Math.max(0, from - 1);
    return Math.max(0, hb);
  };

  const prewarmAfterProbe = (s: World["sites"][number], t: number) => {
    const footprint = siteFootprints(s.view);
    const cache = reconcileResident(
      caches.get(s.view.id) as CacheState,
      [...s.state.resident.keys()],
      footprint,
      t,
    );
    caches.set(s.view.id, cache);
    const [first] = prewarmCandidates(
      cache,
      footprint,
      s.view.capacity.gpuMemoryGb,
      t,
      DEFAULT_CACHE_POLICY,
    );
    const model = first && catalogModel(first.model);
    if (model) prewarm(s, model, t);
  };

  const snapshot = (t: number): PreparedFleet => {
    // Health probes every 5 s: an answer counts for the breaker, silence against it.
    while (probedAt + PROBE_EVERY_MS <= t) {
      probedAt += PROBE_EVERY_MS;
      for (const s of world.sites) {
        const b = breakers.get(s.view.id) as Breaker;
        const up = !isDown(s, probedAt);
        breakers.set(s.view.id, observeProbe(b, up, probedAt, cfg, rand(probedAt, 1)));
        if (up) prewarmAfterProbe(s, t);
      }
    }
    const sites: SiteView[] = world.sites.map((s) => {
      const hb = lastHeartbeat(s, t);
      const healthy = t - hb < policy.staleAfterMs;
      let b = breakers.get(s.view.id) as Breaker;
      if (!healthy) {
        b = trip(b, t, cfg, rand(t, 2));
        breakers.set(s.view.id, b);
      }
      const cap = s.view.capacity;
      const reported = siteLoad(s, hb);
      const leased = published.get(s.view.id) ?? 0;
      // The agent's view: the requests it holds, and the cache and GPU use the site reported.
      const { running, waiting } = heldLoad(reported, leased, 0, cap.maxConcurrent);
      return {
        ...s.view,
        load: {
          running,
          waiting,
          kvCacheUsage: kvCacheUsage(s, reported.running),
          gpuUtilization: Math.min(1, reported.running / cap.maxConcurrent),
          freeGpuMemoryGb: cap.gpuMemoryGb,
          residentModels: [...s.state.resident.keys()].filter(
            (m) => (s.state.loadingUntil.get(m) ?? 0) <= hb,
          ),
          updatedAt: hb,
        },
        breaker: breakerView(b, t),
        trafficShare: trafficShare(b, t, cfg),
        errorRate: windowStats(b).failureRate,
        healthy,
      };
    });
    published = new Map(held);
    const regions: RegionView[] = world.regions.map((r) => ({
      ...r,
      breaker: "closed",
      errorRate: 0.002,
    }));
    return prepareFleet(
      {
        version: 1,
        generatedAt: t,
        sites,
        regions,
        answerShares: answerShares(answers, policy.answerShare),
      },
      fleet,
    );
  };

  return {
    name: "mec-router",
    plan(r, t) {
      if (!fleet || t - builtAt >= SNAPSHOT_EVERY_MS) {
        fleet = snapshot(t);
        builtAt = t;
      }
      const result = decide(r.req, fleet, policy, t);
      onDecide?.(r, result);
      const wanted: Prewarm | undefined = result.prewarm;
      if (wanted) demand(wanted.siteId, wanted.model, t);
      if (!result.ok) return { steps: [] };
      const d = result.decision;
      const steps: Step[] = [];
      for (const step of [d.plan.primary, ...d.plan.backups]) {
        const model = catalogModel(step.model) as CatalogModel;
        const tg = step.target;
        const target: TargetRef | undefined =
          tg.kind === "device"
            ? { kind: "device" }
            : tg.kind === "site"
              ? sitesById.get(tg.siteId) && {
                  kind: "site",
                  site: sitesById.get(tg.siteId) as World["sites"][number],
                }
              : regionsById.get(tg.region) && {
                  kind: "cloud",
                  region: regionsById.get(tg.region) as World["regions"][number],
                };
        if (target) steps.push({ target, model, timeoutMs: step.timeoutMs });
      }
      return { steps, deadlineMs: d.plan.timeoutMs };
    },
    admit(step, t, { req, deadline }) {
      if (step.target.kind !== "site") return true;
      const s = step.target.site;
      const id = s.view.id;
      // Asking for a lease counts as demand for its model there, granted or not.
      demand(id, step.model.id, t);
      const hb = lastHeartbeat(s, t);
      const fresh = t - hb <= policy.staleAfterMs;
      const reported = siteLoad(s, hb);
      const cap = s.view.capacity;
      const report = { ...reported, kvCacheUsage: kvCacheUsage(s, reported.running) };
      const check: LeaseCheck = {
        capacity: cap,
        ...holding(held.get(id) ?? 0, fresh ? report : undefined, cap.maxConcurrent),
        criticality: req.task.criticality,
        budgetMs: Math.max(0, deadline - t),
      };
      const measured = serviceMs.get(`${id} ${step.model.id}`);
      if (measured !== undefined) check.serviceMs = measured;
      if (!leaseFits(check, policy.saturation)) return false;
      const a = acquire(breakers.get(id) as Breaker, t, cfg);
      breakers.set(id, a.state);
      if (!a.admitted) return false;
      leases.set(step, { siteId: id, queued: check.busy >= cap.maxConcurrent });
      held.set(id, (held.get(id) ?? 0) + 1);
      return true;
    },
    observe(f) {
      if (f.ok) answers = observeAnswers(answers, [f]);
      if (f.target.kind !== "site") return;
      const id = f.target.site.view.id;
      const lease = leases.get(f.step);
      if (lease) {
        leases.delete(f.step);
        held.set(id, (held.get(id) ?? 1) - 1);
        const key = `${id} ${f.model}`;
        const next = f.ok && !lease.queued && nextServiceMs(serviceMs.get(key), f.latencyMs);
        if (next) serviceMs.set(key, next);
      }
      const b = breakers.get(id) as Breaker;
      const probe = b.phase === "half_open";
      breakers.set(
        id,
        record(b, { ok: f.ok, durationMs: f.ttftMs, probe }, f.at, cfg, rand(f.at, 3)),
      );
    },
  };
}

// ---- the oracle -------------------------------------------------------------------------------

/**
 * The oracle knows the true outcome of every option for this request at this moment — network,
 * queue, cold load, decode speed, answer length, outages — and takes, among the targets the
 * request's rules allow (its budget held to the true cost) and the models of its group (the device's installed models, every site,
 * every region), the cheapest whose true latency meets the SLA (on a tie the faster), else the
 * fastest. It decides request by request (it does not hold capacity back for requests yet to
 * come), never fails over, and is an upper bound for SLA attainment and a lower bound for cost
 * that no router can reach.
 */
export function oracle(world: World): SimPolicy {
  return clairvoyant(world, "oracle", (a, b, sla) => {
    const meets = a.ms <= sla;
    const bMeets = b.ms <= sla;
    return meets
      ? !bMeets || a.costUsd < b.costUsd || (a.costUsd === b.costUsd && a.ms < b.ms)
      : !bMeets && a.ms < b.ms;
  });
}

/**
 * The same clairvoyance, taking the fastest option whatever it costs: the lowest latency any
 * router could give each request (the bound for the mean latency compared with cloud-only).
 */
export function fastestOracle(world: World): SimPolicy {
  return clairvoyant(world, "oracle, fastest", (a, b) => a.ms < b.ms);
}

/** Options as the clairvoyant policies see them: the true latency and cost of each. */
interface Seen {
  ms: number;
  costUsd: number;
}

function clairvoyant(
  world: World,
  name: string,
  better: (a: Seen, b: Seen, sla: number) => boolean,
): SimPolicy {
  return {
    name,
    plan(r, t) {
      const req = r.req;
      const group = modelGroup(req);
      const options: { target: TargetRef; model: CatalogModel }[] = [];
      const d = req.device;
      if (d.thermal !== "critical") {
        for (const m of group) {
          if (m.device && d.models.includes(m.device.variant) && m.device.ramMb <= d.memoryFreeMb) {
            options.push({ target: { kind: "device" }, model: m });
          }
        }
      }
      for (const site of world.sites) {
        const target: TargetRef = { kind: "site", site };
        if (violation(req, target)) continue;
        for (const m of group) {
          if (m.mec && site.view.models.some((x) => x.model === m.id))
            options.push({ target, model: m });
        }
      }
      for (const region of world.regions) {
        const target: TargetRef = { kind: "cloud", region };
        if (violation(req, target)) continue;
        for (const m of group)
          if (m.cloud && region.models.includes(m.id)) options.push({ target, model: m });
      }
      const { latencySlaMs: sla, maxCostUsd: budget } = req.constraints;
      const first = req.constraints.latencyTarget === "first_token";
      let best: ({ o: (typeof options)[number] } & Seen) | undefined;
      for (const o of options) {
        const out = evaluate(r, o.target, o.model, t, false);
        // The budget is one of the request's rules: its true cost must fit it.
        if (out.result !== "ok" || (budget !== undefined && out.costUsd > budget)) continue;
        const seen = { o, ms: first ? out.ttftMs : out.latencyMs, costUsd: out.costUsd };
        if (!best || better(seen, best, sla)) best = seen;
      }
      if (!best) return { steps: [] };
      return { steps: [{ ...best.o, timeoutMs: Number.POSITIVE_INFINITY }] };
    },
  };
}
