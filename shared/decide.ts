// The router agent: candidates → hard filters → predictions → multi-criteria score → plan.
// Pure and deterministic: the same request, fleet, policy and `now` give the same decision.

import { admissionLimit, isSaturated, queueAllowanceMs } from "./admission.ts";
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
import type {
  ConfidenceLevel,
  Decision,
  PlanStep,
  RationaleItem,
  RegionView,
  Rejection,
  RejectionReason,
  RouteRequest,
  SiteView,
  Target,
  Tier,
} from "./types.ts";

export type DecideResult =
  | { ok: true; decision: Decision }
  | {
      ok: false;
      /**
       * `overloaded`: sheddable work and every feasible target saturated; `unavailable`: some
       * target was refused only for a passing reason (breaker open, full, draining, unhealthy),
       * so the same request may succeed later; `infeasible`: nothing could ever take it.
       */
      code: "infeasible" | "overloaded" | "unavailable";
      message: string;
      rejected: Rejection[];
      rationale: RationaleItem[];
    };

interface Candidate {
  key: string;
  tier: Tier;
  target: Target;
  faultDomain: string;
  model: CatalogModel;
  prediction: Prediction;
  score: number;
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
  const run: Run = { req, ctx, policy, now, rejected: [], saturated: 0, queued: 0 };
  const candidates: Candidate[] = [];

  const device = evaluateDevice(run);
  if (device) candidates.push(device);

  const sites = fleet.data.sites;
  const nearby = req.location
    ? nearest(fleet.siteIndex, req.location, policy.maxSiteCandidates)
    : fleet.siteIndex.items
        .slice(0, policy.maxSiteCandidates)
        .map((item) => ({ item, km: policy.unknownDistanceKm }));
  for (const { item, km } of nearby) {
    const c = evaluateSite(run, item, km);
    if (c) candidates.push(c);
  }
  for (const region of fleet.data.regions) {
    const km = req.location ? distanceKm(req.location, region.location) : policy.unknownDistanceKm;
    const c = evaluateRegion(run, region, km);
    if (c) candidates.push(c);
  }

  // A site whose data is older than the staleness limit is a last resort: used only when every
  // fresh alternative was rejected, and then said so.
  const fresh = candidates.filter((c) => c.freshness > 0);
  let lastResort: RationaleItem | undefined;
  if (fresh.length > 0 && fresh.length < candidates.length) {
    for (const c of candidates) {
      if (c.freshness === 0) reject(run, c.key, "capacity", "stale: no recent heartbeat");
    }
    candidates.length = 0;
    candidates.push(...fresh);
  } else if (fresh.length === 0 && candidates.length > 0) {
    lastResort = {
      factor: "reliability",
      detail: "every target with fresh data was rejected; using a site whose data is stale",
    };
  }

  const scope: RationaleItem = {
    factor: "candidates",
    detail:
      `evaluated the device, ${nearby.length} nearest of ${sites.length} MEC sites` +
      `${req.location ? "" : " (location unknown)"} and ${fleet.data.regions.length} cloud regions`,
  };
  if (candidates.length === 0) {
    const shed = req.task.criticality === "sheddable" && run.saturated > 0;
    const blocked = run.rejected.some((r) => r.reason === "breaker" || r.reason === "capacity");
    const passing = blocked || run.queued > 0;
    return {
      ok: false,
      code: shed ? "overloaded" : passing ? "unavailable" : "infeasible",
      message: shed
        ? "every feasible target is saturated; sheddable request refused"
        : blocked
          ? "every target that could take this request is unavailable now (breaker open, full, draining or unhealthy)"
          : passing
            ? "every target that could take this request is too busy to meet its SLA now (queue wait)"
            : "no target satisfies the request's constraints",
      rejected: run.rejected,
      rationale: [contextRationale(req, ctx), scope],
    };
  }

  candidates.sort(byScore);
  const primary = candidates[0] as Candidate;
  const backups = pickBackups(candidates, policy.maxBackups);
  const next = candidates[1];
  const sla = req.constraints.latencySlaMs;
  const margin = next ? clamp01((next.score - primary.score) / 0.2) : 1;
  const primaryMs = slaLatency(req, primary.prediction);
  const slack = clamp01((sla - primaryMs) / sla);
  const confidence = round(0.45 * margin + 0.35 * slack + 0.2 * primary.freshness, 2);

  const primaryStep = step(run, primary);
  const firstBackup = backups[0];
  if (firstBackup) {
    // Leave the first backup its predicted time inside the SLA, when that still fits.
    const room = Math.floor(sla - slaLatency(req, firstBackup.prediction));
    if (room > primaryMs) primaryStep.timeoutMs = Math.min(primaryStep.timeoutMs, room);
  }
  const spare = sla - primaryMs;
  const retryFits = spare >= primaryMs + policy.retry.baseDelayMs;

  const decision: Decision = {
    tier: primary.tier,
    target: primary.target,
    model: primary.model.id,
    classification: ctx.classification,
    complexity: ctx.complexity,
    confidence,
    confidenceLevel: confidenceLevel(confidence),
    predicted: {
      latencyMs: Math.round(primaryMs),
      firstTokenMs: Math.round(primary.prediction.firstTokenMs),
      costUsd: roundCost(primary.prediction.costUsd),
    },
    resources: ctx.resources,
    plan: {
      primary: primaryStep,
      backups: backups.map((b) => step(run, b)),
      timeoutMs: sla,
      retry: {
        maxAttempts: retryFits ? policy.retry.maxAttempts : 1,
        baseDelayMs: policy.retry.baseDelayMs,
        maxDelayMs: Math.max(
          policy.retry.baseDelayMs,
          Math.min(policy.retry.maxDelayMs, Math.floor(spare / 4)),
        ),
      },
    },
    rationale: lastResort
      ? [...rationale(run, primary, next, scope), lastResort]
      : rationale(run, primary, next, scope),
    rejected: run.rejected,
    reasoner: "rules",
  };
  return { ok: true, decision };
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

function evaluateDevice(run: Run): Candidate | undefined {
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
    return reject(run, key, "device", `no installed ${req.task.modality} model (${what})`);
  }
  if (ctx.device.blocked) return reject(run, key, "device", ctx.device.blocked);
  const fits = installed.filter((m) => (m.device?.ramMb ?? 0) <= req.device.memoryFreeMb);
  if (fits.length === 0) {
    return reject(run, key, "device", `needs more than ${req.device.memoryFreeMb} MB free RAM`);
  }
  const options = fits.map((model) => ({
    model,
    prediction: predictDevice(req, model, ctx.device),
  }));
  return pickModel(run, key, options, (model, prediction) => ({
    key,
    tier: "device",
    target: { kind: "device" },
    faultDomain: "device",
    model,
    prediction,
    score: score(run, prediction, PRIVACY_EXPOSURE.device, ctx.device.penalty),
    freshness: 1,
    notes: ctx.device.notes,
  }));
}

function evaluateSite(run: Run, site: SiteView, km: number): Candidate | undefined {
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
    options.push({ model, prediction: predictSite(req, site, model, km, policy) });
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
  return pickModel(run, key, options, (model, prediction) => ({
    key,
    tier: "mec",
    target: { kind: "site", siteId: site.id, endpoint: site.endpoint },
    faultDomain: `site:${site.faultDomain}`,
    model,
    prediction,
    score: score(run, prediction, exposure, clamp01(reliability)),
    freshness,
    notes: load.residentModels.includes(model.id)
      ? notes
      : [...notes, `cold start: ${model.id} not resident`],
  }));
}

function evaluateRegion(run: Run, region: RegionView, km: number): Candidate | undefined {
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
    options.push({ model, prediction: predictCloud(req, region, model, km, policy) });
  }
  if (options.length === 0) return reject(run, key, "modality", modalityDetail(ctx, req));
  const reliability = clamp01(region.errorRate + (region.breaker === "half_open" ? 0.5 : 0));
  return pickModel(run, key, options, (model, prediction) => ({
    key,
    tier: "cloud",
    target: { kind: "cloud", region: region.id, modelId: model.cloud?.modelId ?? model.id },
    faultDomain: key,
    model,
    prediction,
    score: score(run, prediction, PRIVACY_EXPOSURE.cloud, reliability),
    freshness: 1,
    notes: region.breaker === "half_open" ? ["breaker half-open (probing)"] : [],
  }));
}

/**
 * Among a target's model options, the best-scoring one within SLA and budget; otherwise a
 * rejection naming what failed (SLA before budget).
 */
function pickModel(
  run: Run,
  key: string,
  options: { model: CatalogModel; prediction: Prediction }[],
  build: (model: CatalogModel, p: Prediction) => Candidate,
): Candidate | undefined {
  const { latencySlaMs: sla, maxCostUsd } = run.req.constraints;
  let best: Candidate | undefined;
  let fastest = Number.POSITIVE_INFINITY;
  let cheapestInSla = Number.POSITIVE_INFINITY;
  let queueBound = false;
  for (const { model, prediction } of options) {
    const ms = slaLatency(run.req, prediction);
    fastest = Math.min(fastest, ms);
    const unqueued = ms - prediction.queueMs;
    if (ms > sla || !queueFits(run.req, prediction.queueMs, sla - unqueued)) {
      queueBound ||= unqueued <= sla;
      continue;
    }
    cheapestInSla = Math.min(cheapestInSla, prediction.costUsd);
    if (maxCostUsd !== undefined && prediction.costUsd > maxCostUsd) continue;
    const c = build(model, prediction);
    if (!best || c.score < best.score) best = c;
  }
  if (best) return best;
  if (cheapestInSla === Number.POSITIVE_INFINITY) {
    // Standard work queues only within its SLA: a target that would meet it but for its queue
    // is busy, and the refusal says "try later" (503), not "impossible" (422).
    if (queueBound) run.queued++;
    if (fastest <= sla) {
      const work = run.req.task.criticality;
      return reject(run, key, "sla", `queue over the share of the SLA ${work} work may wait`);
    }
    const ms = Number.isFinite(fastest) ? `${Math.round(fastest)} ms` : "never (no uplink)";
    return reject(run, key, "sla", `predicted ${ms} > SLA ${sla} ms`);
  }
  return reject(run, key, "budget", `$${roundCost(cheapestInSla)} > budget $${maxCostUsd}`);
}

/** Within the share of its slack that the request's class may spend queued (shared/admission.ts). */
function queueFits(req: RouteRequest, queueMs: number, slackMs: number): boolean {
  return queueMs <= 0 || queueMs <= queueAllowanceMs(req.task.criticality, slackMs);
}

function score(run: Run, p: Prediction, exposure: number, reliability: number): number {
  const { req, policy } = run;
  const w = policy.weights;
  const budget = req.constraints.maxCostUsd ?? policy.referenceCostUsd;
  const costTerm = budget > 0 ? Math.min(1, p.costUsd / budget) : p.costUsd > 0 ? 1 : 0;
  const privacy = exposure * policy.privacyEmphasis[req.constraints.privacy];
  return (
    w.latency * (slaLatency(req, p) / req.constraints.latencySlaMs) +
    w.cost * costTerm +
    w.privacy * privacy +
    w.reliability * reliability
  );
}

function byScore(a: Candidate, b: Candidate): number {
  return a.score - b.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Backups in fault domains other than the primary's and each other's: the best such candidate,
 * then the best one on another tier (a regional outage takes whole tiers), then by score.
 */
function pickBackups(ranked: Candidate[], max: number): Candidate[] {
  const primary = ranked[0] as Candidate;
  const chosen: Candidate[] = [];
  const domains = new Set([primary.faultDomain]);
  const take = (c: Candidate | undefined) => {
    if (!c || chosen.length >= max) return;
    chosen.push(c);
    domains.add(c.faultDomain);
  };
  const rest = ranked.slice(1);
  take(rest.find((c) => !domains.has(c.faultDomain)));
  if (!chosen.some((c) => c.tier !== primary.tier)) {
    take(rest.find((c) => c.tier !== primary.tier && !domains.has(c.faultDomain)));
  }
  for (const c of rest) {
    if (chosen.length >= max) break;
    if (!domains.has(c.faultDomain)) take(c);
  }
  return chosen.sort(byScore);
}

/** The predicted latency the SLA is about: to the last token, or to the first. */
function slaLatency(req: RouteRequest, p: Prediction): number {
  return req.constraints.latencyTarget === "first_token" ? p.firstTokenMs : p.latencyMs;
}

function step(run: Run, c: Candidate): PlanStep {
  const { req, policy } = run;
  const sla = req.constraints.latencySlaMs;
  const p = slaLatency(req, c.prediction);
  const timeout = Math.ceil(Math.max(p * policy.timeoutFactor, p + policy.minTimeoutSlackMs));
  return {
    tier: c.tier,
    target: c.target,
    model: c.model.id,
    predictedLatencyMs: Math.round(p),
    predictedCostUsd: roundCost(c.prediction.costUsd),
    timeoutMs: Math.min(sla, timeout),
  };
}

function rationale(
  run: Run,
  primary: Candidate,
  next: Candidate | undefined,
  scope: RationaleItem,
): RationaleItem[] {
  const { req, ctx } = run;
  const p = primary.prediction;
  const sla = req.constraints.latencySlaMs;
  const target = req.constraints.latencyTarget === "first_token" ? "first token" : "complete";
  const items: RationaleItem[] = [contextRationale(req, ctx)];
  items.push({
    factor: "latency",
    detail:
      `${primary.key} predicted ${Math.round(slaLatency(req, p))} ms (${target}) of ${sla} ms ` +
      `SLA (network ` +
      `${Math.round(p.rttMs)}, upload ${Math.round(p.uploadMs)}, queue ${Math.round(p.queueMs)}, ` +
      `cold start ${Math.round(p.coldStartMs)}, compute ${Math.round(p.computeMs)})`,
  });
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
