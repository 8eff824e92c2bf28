// The router agent: candidates → hard filters → predictions → multi-criteria score → plan.
// Pure and deterministic: the same request, fleet, policy and `now` give the same decision.

import { admissionLimit, isSaturated, queueAllowanceMs, SCHEDULING_PRIORITY } from "./admission.ts";
import { type AnswerShares, outputShare } from "./answer-length.ts";
import { CATALOG, type CatalogModel, catalogModel } from "./catalog.ts";
import {
  analyzeRequest,
  type ContextHint,
  contextRationale,
  type RequestContext,
} from "./context.ts";
import type { PreparedFleet } from "./fleet.ts";
import { distanceKm, nearest } from "./geo.ts";
import type { Policy } from "./policy.ts";
import { type Prediction, predictCloud, predictDevice, predictSite } from "./predict.ts";
import { residencyAllows } from "./residency.ts";
import {
  type ConfidenceLevel,
  type Criticality,
  type Decision,
  MAX_LATENCY_SLA_MS,
  type PlanStep,
  type RationaleItem,
  type RegionView,
  type Rejection,
  type RejectionReason,
  type RouteRequest,
  type SiteView,
  type Target,
  type Tier,
} from "./types.ts";

/**
 * A site whose cache agent should hear of this request: it serves a model the request could use
 * but does not hold it in GPU memory, and with it resident it would be the fastest option found
 * (faster than the decision's primary, or the only one meeting the SLA). Demand recorded there
 * lets the cache agent prewarm the model (model-cache.ts) even while requests go elsewhere or
 * are refused, so that a model resident nowhere does not stay cold.
 */
export interface Prewarm {
  siteId: string;
  model: string;
  /** Predicted latency under the request's target once the model is resident. */
  warmMs: number;
}

export type DecideResult =
  | { ok: true; decision: Decision; prewarm?: Prewarm }
  | {
      ok: false;
      /**
       * `overloaded`: sheddable work and every feasible target saturated; `unavailable`: some
       * target was refused only for a passing reason (breaker open, full, draining, unhealthy, a
       * queue, or a model not resident where it would fit: see `prewarm`), so the same request
       * may succeed later; `infeasible`: nothing could ever take it.
       */
      code: "infeasible" | "overloaded" | "unavailable";
      message: string;
      rejected: Rejection[];
      rationale: RationaleItem[];
      prewarm?: Prewarm;
    };

interface Candidate {
  key: string;
  tier: Tier;
  target: Target;
  faultDomain: string;
  model: CatalogModel;
  prediction: Prediction;
  /** Set once every candidate is known (the cost term is relative to the cheapest). */
  score: number;
  /** Privacy exposure × the request's privacy emphasis. */
  privacy: number;
  /** 0–1 penalty: errors, breaker probing, stale data, the device's battery or heat. */
  reliability: number;
  /** 0–1: how fresh the data behind the prediction is. */
  freshness: number;
  notes: string[];
}

/** Working state of one decision. */
interface Run {
  req: RouteRequest;
  ctx: RequestContext;
  policy: Policy;
  now: number;
  rejected: Rejection[];
  saturated: number;
  /** Targets rejected for the SLA only because of their queue: busy now, not infeasible. */
  queued: number;
  /** Learned answer lengths (answer-length.ts), and the share per model looked up so far. */
  shares: AnswerShares | undefined;
  shareOf: Map<string, number>;
  /** The fastest option that is slow only because its model is not resident. */
  cold: Prewarm | undefined;
  /**
   * Options expected to miss the SLA that break no rule, budget or queue allowance: the best
   * effort when no target is expected to meet it.
   */
  late: Candidate[];
}

const PRIVACY_EXPOSURE = { device: 0, trustedSite: 0.25, site: 0.5, cloud: 1 } as const;

/**
 * Decides where one request should run.
 * @param req a validated request with defaults applied
 * @param fleet the current fleet snapshot, indexed by `prepareFleet`
 * @param policy weights and thresholds
 * @param now epoch ms; the only clock the engine sees
 * @param hint a learned second opinion on the request's class and complexity (context.ts)
 */
export function decide(
  req: RouteRequest,
  fleet: PreparedFleet,
  policy: Policy,
  now: number,
  hint?: ContextHint,
): DecideResult {
  const ctx = analyzeRequest(req, policy, hint);
  const run: Run = {
    req,
    ctx,
    policy,
    now,
    rejected: [],
    saturated: 0,
    queued: 0,
    shares: fleet.data.answerShares,
    shareOf: new Map(),
    cold: undefined,
    late: [],
  };
  // Every feasible (target, model) option, grouped by target.
  const options: Candidate[] = [];

  evaluateDevice(run, options);

  const sites = fleet.data.sites;
  const nearby = req.location
    ? nearest(fleet.siteIndex, req.location, policy.maxSiteCandidates)
    : fleet.siteIndex.items
        .slice(0, policy.maxSiteCandidates)
        .map((item) => ({ item, km: policy.unknownDistanceKm }));
  for (const { item, km } of nearby) evaluateSite(run, item, km, options);
  for (const region of fleet.data.regions) {
    const km = req.location ? distanceKm(req.location, region.location) : policy.unknownDistanceKm;
    evaluateRegion(run, region, km, options);
  }

  // When no target is expected to meet the SLA, the request still gets the best effort its rules
  // allow: it goes where it is expected soonest (and may still make it: predictions are
  // expectations), rather than being refused with nothing.
  const lateOnly = options.length === 0 && run.late.length > 0;
  if (lateOnly) {
    const late = new Set(run.late.map((c) => c.key));
    run.rejected = run.rejected.filter(
      (r) => !((r.reason === "sla" || r.reason === "budget") && late.has(r.target)),
    );
  }
  // A site whose data is older than the staleness limit is a last resort: used only when every
  // fresh alternative was rejected, and then said so.
  let feasible = lateOnly ? run.late : options;
  let lastResort: RationaleItem | undefined;
  const fresh = feasible.filter((c) => c.freshness > 0);
  if (fresh.length > 0 && fresh.length < feasible.length) {
    let last = "";
    for (const c of feasible) {
      if (c.freshness > 0 || c.key === last) continue;
      last = c.key;
      reject(run, c.key, "capacity", "stale: no recent heartbeat");
    }
    feasible = fresh;
  } else if (fresh.length === 0 && feasible.length > 0) {
    lastResort = {
      factor: "reliability",
      detail: "every target with fresh data was rejected; using a site whose data is stale",
    };
  }
  const candidates = bestPerTarget(run, feasible);

  const scope: RationaleItem = {
    factor: "candidates",
    detail:
      `evaluated the device, ${nearby.length} nearest of ${sites.length} MEC sites` +
      `${req.location ? "" : " (location unknown)"} and ${fleet.data.regions.length} cloud regions`,
  };
  if (candidates.length === 0) {
    const shed = req.task.criticality === "sheddable" && run.saturated > 0;
    const blocked = run.rejected.some((r) => r.reason === "breaker" || r.reason === "capacity");
    const cold = run.cold;
    const passing = blocked || run.queued > 0 || cold !== undefined;
    const refused: DecideResult = {
      ok: false,
      code: shed ? "overloaded" : passing ? "unavailable" : "infeasible",
      message: shed
        ? "every feasible target is saturated; sheddable request refused"
        : blocked
          ? "every target that could take this request is unavailable now (breaker open, full, draining or unhealthy)"
          : run.queued > 0
            ? "every target that could take this request is too busy to meet its SLA now (queue wait)"
            : cold
              ? `no target meets the SLA until ${cold.model} is resident at site:${cold.siteId} (being asked for there)`
              : "no target satisfies the request's constraints",
      rejected: run.rejected,
      rationale: cold
        ? [contextRationale(req, ctx), scope, coldRationale(cold)]
        : [contextRationale(req, ctx), scope],
    };
    if (cold) refused.prewarm = cold;
    return refused;
  }

  candidates.sort(lateOnly ? bySpeed(req) : byScore);
  const primary = candidates[0] as Candidate;
  const next = candidates[1];
  const sla = req.constraints.latencySlaMs;
  const margin = next ? clamp01((next.score - primary.score) / 0.2) : 1;
  const primaryMs = slaLatency(req, primary.prediction);
  const primaryWorstMs = slaWorstLatency(req, primary.prediction);
  const bestEffort = primaryWorstMs > sla;
  // Best effort: a long answer, or one no target is expected to give in time, is let through late
  // rather than cut off at the SLA with nothing.
  const deadline = bestEffort ? Math.max(sla, attemptTimeout(policy, primaryWorstMs)) : sla;
  // What is left of the SLA once the primary has used its whole timeout (it hung).
  const afterTimeout = sla - Math.min(deadline, attemptTimeout(policy, primaryWorstMs));
  const inTime = (c: Candidate) => slaLatency(req, c.prediction) <= afterTimeout;
  const backups = pickBackups(candidates, policy.maxBackups, inTime);
  const slack = clamp01((sla - primaryMs) / sla);
  const confidence = round(0.45 * margin + 0.35 * slack + 0.2 * primary.freshness, 2);

  const spare = sla - primaryWorstMs;
  const retryFits = spare >= primaryWorstMs + policy.retry.baseDelayMs;
  // Cutting a slow primary short only pays when a retry or a backup can still make the SLA;
  // otherwise it keeps the whole deadline, so one slower than predicted still answers in time.
  const primaryTimeout = retryFits || backups.some(inTime) ? undefined : deadline;

  const cold = run.cold;
  const prewarm =
    cold &&
    cold.warmMs < primaryMs &&
    !(primary.target.kind === "site" && primary.target.siteId === cold.siteId)
      ? cold
      : undefined;
  const decision: Decision = {
    tier: primary.tier,
    target: primary.target,
    model: primary.model.id,
    classification: ctx.classification,
    complexity: ctx.complexity,
    confidence,
    confidenceLevel: confidenceLevel(confidence),
    predicted: {
      latencyMs: Math.ceil(primaryMs),
      worstLatencyMs: Math.ceil(primaryWorstMs),
      firstTokenMs: Math.ceil(primary.prediction.firstTokenMs),
      costUsd: roundCost(primary.prediction.costUsd),
    },
    bestEffort,
    resources: ctx.resources,
    plan: {
      primary: step(run, primary, deadline, primaryTimeout),
      backups: backups.map((b) => step(run, b, deadline)),
      timeoutMs: deadline,
      retry: {
        maxAttempts: retryFits ? policy.retry.maxAttempts : 1,
        baseDelayMs: policy.retry.baseDelayMs,
        maxDelayMs: Math.max(
          policy.retry.baseDelayMs,
          Math.min(policy.retry.maxDelayMs, Math.floor((sla - primaryMs) / 4)),
        ),
      },
    },
    rationale: rationale(run, candidates, next, scope),
    rejected: run.rejected,
    reasoner: "rules",
  };
  if (prewarm) decision.rationale.push(coldRationale(prewarm));
  if (lastResort) decision.rationale.push(lastResort);
  return prewarm ? { ok: true, decision, prewarm } : { ok: true, decision };
}

function reject(run: Run, target: string, reason: RejectionReason, detail: string): undefined {
  run.rejected.push({ target, reason, detail });
  return undefined;
}

/** Catalog models a tier could use for this request, by the `model` asked for or by quality. */
function eligible(ctx: RequestContext, req: RouteRequest, m: CatalogModel): boolean {
  if (!m.modalities.includes(req.task.modality)) return false;
  return ctx.requestedModel ? m.id === ctx.requestedModel.id : m.quality >= ctx.requiredQuality;
}

/** The expected share of `max_tokens` an answer from `model` uses (answer-length.ts). */
function shareFor(run: Run, model: CatalogModel): number {
  if (run.shares === undefined) return run.policy.answerShare;
  let share = run.shareOf.get(model.id);
  if (share === undefined) {
    share = outputShare(run.shares, run.req.task.modality, model.id, run.policy.answerShare);
    run.shareOf.set(model.id, share);
  }
  return share;
}

function evaluateDevice(run: Run, out: Candidate[]): void {
  const { req, ctx } = run;
  const key = "device";
  const installed: CatalogModel[] = [];
  for (const m of CATALOG) {
    if (m.device && req.device.models.includes(m.device.variant) && eligible(ctx, req, m)) {
      installed.push(m);
    }
  }
  if (installed.length === 0) {
    const what = ctx.requestedModel ? ctx.requestedModel.id : `quality ≥ ${ctx.requiredQuality}`;
    reject(run, key, "device", `no installed ${req.task.modality} model (${what})`);
    return;
  }
  if (ctx.device.blocked) {
    reject(run, key, "device", ctx.device.blocked);
    return;
  }
  const fits = installed.filter((m) => (m.device?.ramMb ?? 0) <= req.device.memoryFreeMb);
  if (fits.length === 0) {
    reject(run, key, "device", `needs more than ${req.device.memoryFreeMb} MB free RAM`);
    return;
  }
  const options = fits.map((model) => ({
    model,
    prediction: predictDevice(req, model, ctx.device, shareFor(run, model)),
  }));
  const privacy = PRIVACY_EXPOSURE.device * run.policy.privacyEmphasis[req.constraints.privacy];
  addFeasible(run, key, options, out, (model, prediction) => ({
    key,
    tier: "device",
    target: { kind: "device" },
    faultDomain: "device",
    model,
    prediction,
    score: 0,
    privacy,
    reliability: ctx.device.penalty,
    freshness: 1,
    notes: ctx.device.notes,
  }));
}

function evaluateSite(run: Run, site: SiteView, km: number, out: Candidate[]): undefined {
  const { req, ctx, policy } = run;
  const key = `site:${site.id}`;
  const c = req.constraints;
  if (req.network.type === "offline") return reject(run, key, "network", "device is offline");
  if (c.privacy === "strict" && !site.trusted) {
    return reject(run, key, "privacy", "strict privacy needs a trusted site");
  }
  if (!residencyAllows(c.dataResidency, site.country)) {
    return reject(run, key, "residency", `${site.country} not in ${c.dataResidency.join(",")}`);
  }
  const missing = c.compliance.filter((t) => !site.certifications.includes(t));
  if (missing.length > 0) return reject(run, key, "compliance", `lacks ${missing.join(",")}`);
  if (site.breaker === "open") return reject(run, key, "breaker", "circuit breaker open");
  if (site.draining) return reject(run, key, "capacity", "draining");
  if (!site.healthy) return reject(run, key, "capacity", "unhealthy");
  const { load, capacity } = site;
  // Full as the site agent admits (shared/admission.ts): every run and queue slot taken, or, for
  // work that is not critical, all but the headroom kept for critical work.
  const slots = capacity.maxConcurrent + capacity.maxQueue;
  const busy = load.running + load.waiting;
  if (busy >= slots) return reject(run, key, "capacity", `full (${busy}/${slots})`);
  const limit = admissionLimit(capacity, req.task.criticality);
  if (busy >= limit) {
    const kept = slots - limit;
    return reject(run, key, "capacity", `full (${busy}/${slots}; ${kept} kept for critical work)`);
  }
  const options: { model: CatalogModel; prediction: Prediction }[] = [];
  for (const sm of site.models) {
    const model = catalogModel(sm.model);
    if (!model?.mec || !eligible(ctx, req, model)) continue;
    if (model.mec.gpuMemoryGb > capacity.gpuMemoryGb) continue;
    const share = shareFor(run, model);
    options.push({ model, prediction: predictSite(req, site, model, km, policy, share) });
  }
  if (options.length === 0) return reject(run, key, "modality", modalityDetail(ctx, req));
  // Only a site that could serve the request counts as saturated: `overloaded` means "try later".
  if (req.task.criticality === "sheddable" && isSaturated(load, policy.saturation)) {
    run.saturated++;
    return reject(
      run,
      key,
      "capacity",
      `saturated (queue ${load.waiting}, kv ${load.kvCacheUsage})`,
    );
  }
  const age = Math.max(0, run.now - load.updatedAt);
  const freshness = clamp01(1 - age / policy.staleAfterMs);
  let reliability = site.errorRate + (1 - site.trafficShare) * 0.5 + (1 - freshness) * 0.5;
  const notes: string[] = [];
  if (site.breaker === "half_open") {
    reliability += 0.5;
    notes.push("breaker half-open (probing)");
  }
  if (freshness < 0.5) notes.push(`site data ${Math.round(age / 1000)} s old`);
  const exposure = site.trusted ? PRIVACY_EXPOSURE.trustedSite : PRIVACY_EXPOSURE.site;
  const privacy = exposure * policy.privacyEmphasis[c.privacy];
  addFeasible(run, key, options, out, (model, prediction) => ({
    key,
    tier: "mec",
    target: siteTarget(site, req.task.criticality),
    faultDomain: `site:${site.faultDomain}`,
    model,
    prediction,
    score: 0,
    privacy,
    reliability: clamp01(reliability),
    freshness,
    notes: load.residentModels.includes(model.id)
      ? notes
      : [...notes, `cold start: ${model.id} not resident`],
  }));
}

function evaluateRegion(run: Run, region: RegionView, km: number, out: Candidate[]): undefined {
  const { req, ctx, policy } = run;
  const key = `cloud:${region.id}`;
  const c = req.constraints;
  if (req.network.type === "offline") return reject(run, key, "network", "device is offline");
  if (c.privacy === "strict")
    return reject(run, key, "privacy", "strict privacy never leaves for the cloud");
  if (!residencyAllows(c.dataResidency, region.country)) {
    const why = `${region.country} not in ${c.dataResidency.join(",")}`;
    return reject(run, key, c.privacy === "sensitive" ? "privacy" : "residency", why);
  }
  const missing = c.compliance.filter((t) => !region.certifications.includes(t));
  if (missing.length > 0) return reject(run, key, "compliance", `lacks ${missing.join(",")}`);
  if (region.breaker === "open") return reject(run, key, "breaker", "circuit breaker open");
  const options: { model: CatalogModel; prediction: Prediction }[] = [];
  for (const id of region.models) {
    const model = catalogModel(id);
    if (!model?.cloud || !eligible(ctx, req, model)) continue;
    const share = shareFor(run, model);
    options.push({ model, prediction: predictCloud(req, region, model, km, policy, share) });
  }
  if (options.length === 0) return reject(run, key, "modality", modalityDetail(ctx, req));
  const reliability = clamp01(region.errorRate + (region.breaker === "half_open" ? 0.5 : 0));
  const privacy = PRIVACY_EXPOSURE.cloud * policy.privacyEmphasis[c.privacy];
  addFeasible(run, key, options, out, (model, prediction) => ({
    key,
    tier: "cloud",
    target: { kind: "cloud", region: region.id, modelId: model.cloud?.modelId ?? model.id },
    faultDomain: key,
    model,
    prediction,
    score: 0,
    privacy,
    reliability,
    freshness: 1,
    notes: region.breaker === "half_open" ? ["breaker half-open (probing)"] : [],
  }));
}

/**
 * Adds a target's model options whose expected latency meets the SLA and whose worst-case cost
 * the budget covers; with none, records a rejection naming what failed (SLA before budget).
 */
function addFeasible(
  run: Run,
  key: string,
  options: { model: CatalogModel; prediction: Prediction }[],
  out: Candidate[],
  build: (model: CatalogModel, p: Prediction) => Candidate,
): void {
  const { latencySlaMs: sla, maxCostUsd } = run.req.constraints;
  let added = false;
  let fastest = Number.POSITIVE_INFINITY;
  let cheapestInSla = Number.POSITIVE_INFINITY;
  let queueBound = false;
  for (const { model, prediction } of options) {
    const ms = slaLatency(run.req, prediction);
    fastest = Math.min(fastest, ms);
    if (prediction.coldStartMs > 0) {
      const warmMs = ms - prediction.coldStartMs;
      if (warmMs <= sla && (!run.cold || warmMs < run.cold.warmMs)) {
        run.cold = { siteId: key.slice("site:".length), model: model.id, warmMs };
      }
    }
    const unqueued = ms - prediction.queueMs;
    // A budget is a hard rule: it must hold however long the answer runs.
    const affordable = maxCostUsd === undefined || prediction.worstCostUsd <= maxCostUsd;
    const queueOk = queueFits(run.req, prediction.queueMs, sla - unqueued);
    if (ms > sla || !queueOk) {
      // Too slow even unqueued: a best effort if nothing meets the SLA (when it answers within
      // the longest SLA a request may state), but never one that queues (with no slack left its
      // class has no queue allowance: shared/admission.ts), so a queue keeps it out for now.
      queueBound ||= unqueued <= sla || (affordable && !queueOk);
      if (ms > sla && ms <= MAX_LATENCY_SLA_MS && queueOk && affordable) {
        run.late.push(build(model, prediction));
      }
      continue;
    }
    cheapestInSla = Math.min(cheapestInSla, prediction.worstCostUsd);
    if (!affordable) continue;
    out.push(build(model, prediction));
    added = true;
  }
  if (added) return;
  if (cheapestInSla === Number.POSITIVE_INFINITY) {
    // Standard work queues only within its SLA: a target that would meet it but for its queue
    // is busy, and the refusal says "try later" (503), not "impossible" (422).
    if (queueBound) run.queued++;
    if (fastest <= sla) {
      const work = run.req.task.criticality;
      reject(run, key, "sla", `queue over the share of the SLA ${work} work may wait`);
      return;
    }
    const ms = Number.isFinite(fastest) ? `${Math.round(fastest)} ms` : "never (no uplink)";
    reject(run, key, "sla", `predicted ${ms} > SLA ${sla} ms`);
    return;
  }
  reject(run, key, "budget", `$${roundCost(cheapestInSla)} > budget $${maxCostUsd}`);
}

/** A site as a target; a priority site also gets the request's place in its queue. */
function siteTarget(site: SiteView, criticality: Criticality): Target {
  const target = { kind: "site" as const, siteId: site.id, endpoint: site.endpoint };
  return site.scheduling === "priority"
    ? { ...target, priority: SCHEDULING_PRIORITY[criticality] }
    : target;
}

/** Within the share of its slack that the request's class may spend queued (shared/admission.ts). */
function queueFits(req: RouteRequest, queueMs: number, slackMs: number): boolean {
  return queueMs <= 0 || queueMs <= queueAllowanceMs(req.task.criticality, slackMs);
}

/**
 * Scores every option (lower wins) and keeps each target's best, in the order found:
 *
 *   latency: `latencyUtility` of the expected latency / SLA, plus the risk that an answer
 *     longer than expected misses the SLA (0 when even `max_tokens` fits it);
 *   cost: the price above the cheapest option, in units of the cheapest paid option's price,
 *     as a share: extra / (extra + cheapest paid) — 0 for the cheapest, ½ for twice its price
 *     (or for the cheapest paid one beside a free device), → 1 for far pricier ones;
 *   privacy exposure and reliability as computed per target.
 */
function bestPerTarget(run: Run, options: Candidate[]): Candidate[] {
  const { req, policy } = run;
  const w = policy.weights;
  const sla = req.constraints.latencySlaMs;
  let minCost = Number.POSITIVE_INFINITY;
  let minPaid = Number.POSITIVE_INFINITY;
  for (const c of options) {
    const cost = c.prediction.costUsd;
    if (cost < minCost) minCost = cost;
    if (cost > 0 && cost < minPaid) minPaid = cost;
  }
  const best: Candidate[] = [];
  for (const c of options) {
    const p = c.prediction;
    const expected = slaLatency(req, p);
    const worst = slaWorstLatency(req, p);
    // The share of the answers, between the expected and the worst, that end past the SLA.
    const risk = worst <= sla ? 0 : expected >= sla ? 1 : (worst - sla) / (worst - expected);
    const extra = p.costUsd - minCost;
    const cost = extra > 0 ? extra / (extra + minPaid) : 0;
    c.score =
      w.latency * (latencyUtility(expected / sla, policy) + risk) +
      w.cost * cost +
      w.privacy * c.privacy +
      w.reliability * c.reliability;
    const last = best[best.length - 1];
    if (last && last.key === c.key) {
      if (c.score < last.score) best[best.length - 1] = c;
    } else best.push(c);
  }
  return best;
}

/**
 * What latency costs in the score, for latency as a share `x` of the SLA: a gentle slope while
 * well within it (being faster than needed is worth little), then steep up to 1 at the SLA,
 * where a prediction's error turns into a miss. Continuous and increasing.
 */
export function latencyUtility(x: number, policy: Policy): number {
  const { slaComfort: knee, comfortSlope: slope } = policy;
  if (x <= knee) return slope * x;
  return slope * knee + ((x - knee) * (1 - slope * knee)) / (1 - knee);
}

function byScore(a: Candidate, b: Candidate): number {
  return a.score - b.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Expected soonest first (a best effort), then by score. */
function bySpeed(req: RouteRequest): (a: Candidate, b: Candidate) => number {
  return (a, b) => slaLatency(req, a.prediction) - slaLatency(req, b.prediction) || byScore(a, b);
}

/**
 * Up to `max` backups in fault domains other than the primary's and each other's, one on another
 * tier when one is feasible (a regional outage takes whole tiers). A backup runs once the attempt
 * before it failed, at worst after a whole timeout: those that can still make the SLA then
 * (`inTime`) come first, by score, ahead of those that cannot.
 */
function pickBackups(
  ranked: Candidate[],
  max: number,
  inTime: (c: Candidate) => boolean,
): Candidate[] {
  const primary = ranked[0] as Candidate;
  const chosen: Candidate[] = [];
  const domains = new Set([primary.faultDomain]);
  const take = (c: Candidate | undefined) => {
    if (!c || chosen.length >= max) return;
    chosen.push(c);
    domains.add(c.faultDomain);
  };
  const fits = new Set(ranked.slice(1).filter(inTime));
  const rest = [...fits, ...ranked.slice(1).filter((c) => !fits.has(c))];
  take(rest.find((c) => !domains.has(c.faultDomain)));
  if (!chosen.some((c) => c.tier !== primary.tier)) {
    take(rest.find((c) => c.tier !== primary.tier && !domains.has(c.faultDomain)));
  }
  for (const c of rest) {
    if (chosen.length >= max) break;
    if (!domains.has(c.faultDomain)) take(c);
  }
  return chosen.sort((a, b) => Number(fits.has(b)) - Number(fits.has(a)) || byScore(a, b));
}

/** The predicted latency the SLA is about: to the last token, or to the first. */
function slaLatency(req: RouteRequest, p: Prediction): number {
  return req.constraints.latencyTarget === "first_token" ? p.firstTokenMs : p.latencyMs;
}

/** The same when the answer runs to `max_tokens`. */
function slaWorstLatency(req: RouteRequest, p: Prediction): number {
  return req.constraints.latencyTarget === "first_token" ? p.firstTokenMs : p.worstLatencyMs;
}

/**
 * A healthy attempt may run to its worst case: its timeout, `timeoutFactor` × that, only catches
 * a failing one. It is not cut short to leave a backup room in the SLA: a healthy attempt killed
 * a little past its prediction loses more requests than the backup then saves.
 */
function attemptTimeout(policy: Policy, worstMs: number): number {
  return Math.ceil(Math.max(worstMs * policy.timeoutFactor, worstMs + policy.minTimeoutSlackMs));
}

function step(run: Run, c: Candidate, deadline: number, timeoutMs?: number): PlanStep {
  const { req, policy } = run;
  const p = slaLatency(req, c.prediction);
  const worst = slaWorstLatency(req, c.prediction);
  return {
    tier: c.tier,
    target: c.target,
    model: c.model.id,
    predictedLatencyMs: Math.ceil(p),
    worstLatencyMs: Math.ceil(worst),
    predictedCostUsd: roundCost(c.prediction.costUsd),
    timeoutMs: timeoutMs ?? Math.min(deadline, attemptTimeout(policy, worst)),
  };
}

function rationale(
  run: Run,
  candidates: Candidate[],
  next: Candidate | undefined,
  scope: RationaleItem,
): RationaleItem[] {
  const primary = candidates[0] as Candidate;
  const { req, ctx } = run;
  const p = primary.prediction;
  const sla = req.constraints.latencySlaMs;
  const target = req.constraints.latencyTarget === "first_token" ? "first token" : "complete";
  const items: RationaleItem[] = [contextRationale(req, ctx)];
  const max = req.task.maxOutputTokens;
  const answer =
    target === "complete" ? `, an answer of ~${Math.round(p.outputTokens)} of ${max} tokens` : "";
  items.push({
    factor: "latency",
    detail:
      `${primary.key} predicted ${Math.ceil(slaLatency(req, p))} ms (${target}) of ${sla} ms ` +
      `SLA (network ` +
      `${Math.round(p.rttMs)}, upload ${Math.round(p.uploadMs)}, queue ${Math.round(p.queueMs)}, ` +
      `cold start ${Math.round(p.coldStartMs)}, compute ${Math.round(p.computeMs)}${answer})`,
  });
  const worst = slaWorstLatency(req, p);
  if (slaLatency(req, p) > sla) {
    items.push({
      factor: "sla",
      detail:
        `best effort: no target is expected to meet the ${sla} ms SLA; ${primary.key} is ` +
        "expected soonest",
    });
  } else if (worst > sla) {
    const safe = candidates.find((c) => slaWorstLatency(req, c.prediction) <= sla);
    items.push({
      factor: "sla",
      detail:
        `best effort: the expected answer fits the SLA, one of all ${max} tokens would take ` +
        `${Math.ceil(worst)} ms; ` +
        (safe
          ? `${safe.key} would fit even then but scored ${round(safe.score, 3)}`
          : "no target fits the SLA in that worst case"),
    });
  }
  const budget = req.constraints.maxCostUsd;
  items.push({
    factor: "cost",
    detail: `$${roundCost(p.costUsd)}${budget === undefined ? "" : ` within budget $${budget}`}`,
  });
  items.push({ factor: "model", detail: `${primary.model.id} (quality ${primary.model.quality})` });
  if (req.constraints.privacy !== "public") {
    const rule =
      req.constraints.privacy === "strict"
        ? "strict: device or trusted MEC sites only, never the cloud"
        : "sensitive: cloud only inside the data residency given";
    items.push({ factor: "privacy", detail: rule });
  }
  for (const note of primary.notes) items.push({ factor: "reliability", detail: note });
  items.push({
    factor: "margin",
    detail: next
      ? `next best ${next.key} scored ${round(next.score, 3)} vs ${round(primary.score, 3)}`
      : "only feasible target",
  });
  items.push(scope);
  return items;
}

function coldRationale(cold: Prewarm): RationaleItem {
  return {
    factor: "cache",
    detail:
      `site:${cold.siteId} would answer in ~${Math.round(cold.warmMs)} ms with ${cold.model} ` +
      "resident; its cache agent is told of the demand",
  };
}

function modalityDetail(ctx: RequestContext, req: RouteRequest): string {
  return ctx.requestedModel
    ? `does not serve ${ctx.requestedModel.id} for ${req.task.modality}`
    : `no ${req.task.modality} model of quality ≥ ${ctx.requiredQuality}`;
}

function confidenceLevel(c: number): ConfidenceLevel {
  return c > 0.8 ? "high" : c >= 0.5 ? "medium" : "low";
}

function clamp01(x: number): number {
  return Math.max(0, Math.min(1, x));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Costs are tiny: keep 3 significant digits. */
function roundCost(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(3));
}
