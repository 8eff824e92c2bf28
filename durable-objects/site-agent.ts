// SiteAgent: one Durable Object per MEC site. It is the seed's resource agent (registration,
// capacity, live load, health), cache agent (residency, load / evict / prewarm / idle cleanup)
// and the site's circuit breaker. The logic is pure (shared/breaker.ts, shared/model-cache.ts);
// this class loads state, applies it, persists before answering, calls the site, and schedules
// its alarm. Every check-and-set runs without an `await` in between, so concurrent calls cannot
// interleave inside it; after an `await fetch()` state is re-read, never assumed.

import { DurableObject } from "cloudflare:workers";
import * as z from "zod/mini";
import {
  type ArrivalMeter,
  holding,
  type LeaseCheck,
  leaseFits,
  meterArrival,
  meterRate,
  overtakeRate,
  siteLoad,
  waitingAhead,
  waitingByClass,
} from "../shared/admission.ts";
import { PLATFORM_TENANT } from "../shared/api-key.ts";
import { readTextWithin } from "../shared/bounded-read.ts";
import {
  acquire,
  type Breaker,
  breakerStateSchema,
  breakerView,
  DEFAULT_BREAKER_CONFIG,
  initialBreaker,
  nextWakeAt,
  observeProbe,
  record,
  releaseProbe,
  tick,
  trafficShare,
  trip,
  windowStats,
} from "../shared/breaker.ts";
import {
  type SiteRegistration,
  siteRegistrationSchema,
  siteUrlAllowed,
} from "../shared/fleet-schema.ts";
import { type LiveReport, reportFromPrometheus } from "../shared/heartbeat.ts";
import {
  applyLoaded,
  applyUnloaded,
  type CacheState,
  cacheStateSchema,
  DEFAULT_CACHE_POLICY,
  emptyCacheState,
  idleToUnload,
  markUsed,
  nextCleanupAt,
  planLoad,
  prewarmCandidates,
  reconcileResident,
  recordDemand,
  siteFootprints,
} from "../shared/model-cache.ts";
import { DEFAULT_POLICY } from "../shared/policy.ts";
import { breakerResult, nextServiceMs, type SiteOutcome } from "../shared/queued-outcome.ts";
import { CRITICALITIES, type Criticality, type SiteView } from "../shared/types.ts";

/** Timing knobs; wrangler vars override them (see `siteTimingFrom`). */
export interface SiteTiming {
  /** Health probe period (`GET /health`, `/metrics`). */
  probeIntervalMs: number;
  /** A heartbeat older than this marks the site unhealthy and trips its breaker. */
  staleAfterMs: number;
  /** A lease not released by then is reclaimed. */
  leaseTtlMs: number;
  /** Load-only changes reach the fleet directory at most this often. */
  pushIntervalMs: number;
  probeTimeoutMs: number;
}

const MAX_METRICS_BYTES = 1024 * 1024;

export const DEFAULT_SITE_TIMING: SiteTiming = {
  probeIntervalMs: 5_000,
  staleAfterMs: 10_000,
  leaseTtlMs: 120_000,
  pushIntervalMs: 1_000,
  probeTimeoutMs: 2_000,
};

export function siteTimingFrom(env: Env): SiteTiming {
  const n = (raw: string | undefined, fallback: number) => {
    const v = Number(raw);
    return raw && Number.isFinite(v) && v > 0 ? v : fallback;
  };
  return {
    probeIntervalMs: n(env.SITE_PROBE_INTERVAL_MS, DEFAULT_SITE_TIMING.probeIntervalMs),
    staleAfterMs: n(env.SITE_STALE_AFTER_MS, DEFAULT_SITE_TIMING.staleAfterMs),
    leaseTtlMs: n(env.SITE_LEASE_TTL_MS, DEFAULT_SITE_TIMING.leaseTtlMs),
    pushIntervalMs: DEFAULT_SITE_TIMING.pushIntervalMs,
    probeTimeoutMs: DEFAULT_SITE_TIMING.probeTimeoutMs,
  };
}

const liveSchema = z.object({
  waiting: z.number(),
  running: z.number(),
  kvCacheUsage: z.number(),
  gpuUtilization: z.number(),
  freeGpuMemoryGb: z.optional(z.number()),
  tokensPerSec: z.record(z.string(), z.number()),
  /** Last heartbeat or successful metrics probe; 0 = never. */
  updatedAt: z.number(),
});
type Live = z.infer<typeof liveSchema>;

const statusSchema = z.object({
  healthy: z.boolean(),
  draining: z.boolean(),
  lastProbeAt: z.number(),
  lastProbeOk: z.boolean(),
  nextProbeAt: z.number(),
  seq: z.number(),
  /** Registered `priority`, but the site refused a priority (it runs fcfs): until re-registered. */
  priorityRefused: z.optional(z.boolean()),
});
type Status = z.infer<typeof statusSchema>;

const leaseSchema = z.object({
  model: z.string(),
  expiresAt: z.number(),
  probe: z.boolean(),
  /** Whose lease it is: only that tenant may release it. Absent on leases from before tenants. */
  tenant: z.optional(z.string()),
  /** Granted beyond the run slots: it waited in the site's queue (shared/queued-outcome.ts). */
  queued: z.optional(z.boolean()),
  /** The request's class: a priority site serves its queue by it. */
  criticality: z.optional(z.enum(CRITICALITIES)),
});
type Lease = z.infer<typeof leaseSchema>;

export interface ReserveRequest {
  model: string;
  ttlMs?: number;
  /**
   * The request's class (shared/admission.ts): work that is not critical leaves headroom for
   * critical work, and sheddable work is refused at a saturated site. Without one, every slot.
   */
  criticality?: Criticality;
  /** The caller's tenant, kept with the lease. */
  tenant?: string;
  /**
   * Time left until the request's deadline. Work that is not critical is refused when the site's
   * queue, at its measured service time, would take more than its share of that
   * (shared/admission.ts); without it, or before a service time is measured, slots alone decide.
   */
  budgetMs?: number;
}

export type ReserveResult =
  | {
      granted: true;
      leaseId: string;
      expiresAt: number;
      probe: boolean;
      /** Granted beyond the run slots: the request will wait in the site's queue. */
      queued: boolean;
    }
  | {
      granted: false;
      reason: "unknown_site" | "draining" | "unhealthy" | "breaker" | "capacity" | "model";
    };

export interface LeaseOutcome extends SiteOutcome {
  /** The whole call. */
  latencyMs?: number;
  /** Time to first token; only this is judged slow by the breaker (a long answer is not slow). */
  ttftMs?: number;
}

/** What a `releaseMany` call did, and what the site holds after it. */
export interface ReleasedMany {
  released: number;
  /** Requests wait beyond the site's run slots. */
  queueing: boolean;
}

/** One lease of a `releaseMany` call, with how its request went. */
export interface ReleasedLease {
  leaseId: string;
  outcome?: LeaseOutcome;
  /**
   * The lease is not released: the worker handed it on to another request of its own, of this
   * class, that needs it for `ttlMs` (worker/fleet/releases.ts). The agent applies the outcome,
   * counts the new request's demand and arrival, and keeps the lease for it.
   */
  handedOn?: { criticality?: Criticality; ttlMs: number };
}

export interface SiteDetail {
  registration: SiteRegistration;
  view: SiteView;
  breaker: Breaker;
  cache: CacheState;
  leases: number;
  lastProbeAt: number;
  lastProbeOk: boolean;
  /** Registered `priority`, it refused a priority: treated as fcfs until registered again. */
  priorityRefused?: boolean;
}

export type EnsureModelResult =
  | { ok: true; resident: true; loaded: boolean; evicted: string[] }
  | { ok: false; reason: string };

/** A control call (load, unload) to the site: a cold load of a large model takes a while. */
const CONTROL_TIMEOUT_MS = 60_000;
/** A load holds the control API for its calls (an unload or two and the load) and some slack. */
const LOAD_HOLD_MARGIN_MS = 60_000;
const EXPECTED_TTL_MS = 2_000;
/** A bound on one `expect` call, so a bad count cannot fill the agent's memory. */
const MAX_EXPECTED_PER_CALL = 10_000;
/** A bound on one `releaseMany` call (the worker sends far fewer). */
const MAX_RELEASES_PER_CALL = 1_000;

export class SiteAgent extends DurableObject<Env> {
  /** The clock; tests replace it (inside `runInDurableObject`) to drive time. */
  now: () => number = () => Date.now();
  /** Jitter source for the breaker. */
  rand: () => number = Math.random;
  timing: SiteTiming;

  #reg: SiteRegistration | undefined;
  #live: Live = emptyLive();
  #status: Status = initialStatus();
  #breaker: Breaker = initialBreaker();
  /** The breaker phase last stored, to log its transitions. */
  #storedPhase: Breaker["phase"] = "closed";
  #cache: CacheState = emptyCacheState();
  #leases = new Map<string, Lease>();
  /**
   * Per model, the measured time of a request that did not queue (shared/queued-outcome.ts).
   * Kept in memory: after an eviction slots alone decide until the next few answers.
   */
  #serviceMs = new Map<string, number>();
  /** Leases granted lately, by class (in memory: a rate of the last seconds needs no storage). */
  #arrivals: Partial<Record<Criticality, ArrivalMeter>> = {};
  /** Decide-only answers pointing here recently (soft, in memory): expiry times. */
  #expected: number[] = [];
  #lastPushAt = 0;
  /** Until when the model load in progress holds the site's control API (0: none runs). */
  #loadingUntil = 0;
  /** A throttled change not yet pushed. */
  #dirty = false;
  /** The alarm handler is running (see #schedule). */
  #alarmRunning = false;
  /** The alarm as this instance last set or read it (null: none; undefined: not known yet). */
  #alarmAt: number | null | undefined;
  #pushedSignature = "";

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timing = siteTimingFrom(env);
    ctx.blockConcurrencyWhile(async () => this.#load());
  }

  #load(): void {
    const kv = this.ctx.storage.kv;
    const reg = siteRegistrationSchema.safeParse(kv.get("reg"));
    this.#reg = reg.success ? reg.data : undefined;
    const live = liveSchema.safeParse(kv.get("live"));
    if (live.success) this.#live = live.data;
    const status = statusSchema.safeParse(kv.get("status"));
    if (status.success) this.#status = status.data;
    const breaker = breakerStateSchema.safeParse(kv.get("breaker"));
    if (breaker.success) this.#breaker = breaker.data;
    this.#storedPhase = this.#breaker.phase;
    const cache = cacheStateSchema.safeParse(kv.get("cache"));
    if (cache.success) this.#cache = cache.data;
    for (const [key, value] of kv.list({ prefix: "lease:" })) {
      const lease = leaseSchema.safeParse(value);
      if (lease.success) this.#leases.set(key.slice(6), lease.data);
      else kv.delete(key);
    }
  }

  // ---- registration -------------------------------------------------------------------------

  /** Registers the site or updates its registration; keeps live state, breaker and leases. */
  async register(input: SiteRegistration): Promise<SiteView> {
    const reg = siteRegistrationSchema.parse(input);
    const now = this.now();
    const first = this.#reg === undefined;
    this.#reg = reg;
    const footprint = siteFootprints(reg);
    const kv = this.ctx.storage.kv;
    if (first) {
      // Registration counts as a sign of life; heartbeats or probes must follow within the limit.
      this.#cache = reconcileResident(this.#cache, reg.residentModels, footprint, now);
      this.#status = { ...this.#status, nextProbeAt: now };
      this.#live = { ...this.#live, updatedAt: now };
      kv.put("live", this.#live);
    }
    // A new registration is the operator's word on the scheduling again.
    const { priorityRefused: _, ...status } = this.#status;
    this.#status = status;
    kv.put("reg", reg);
    kv.put("cache", this.#cache);
    kv.put("status", this.#status);
    return this.#publish(now, true);
  }

  /**
   * The site answered a request's `priority` with vLLM's "priority scheduling is not enabled":
   * it is registered `priority` but runs fcfs. Until it is registered again, it is treated (and
   * shown) as fcfs, so the router stops sending priorities it would refuse.
   */
  async refusePriority(): Promise<boolean> {
    if (this.#reg?.scheduling !== "priority" || this.#status.priorityRefused) return false;
    this.#status = { ...this.#status, priorityRefused: true };
    this.ctx.storage.kv.put("status", this.#status);
    console.warn(JSON.stringify({ event: "site_priority_refused", siteId: this.#reg.id }));
    await this.#publish(this.now(), true);
    return true;
  }

  /** The scheduling the site really runs: its registration's, unless it refused a priority. */
  #scheduling(): SiteRegistration["scheduling"] {
    return this.#status.priorityRefused ? "fcfs" : this.#reg?.scheduling;
  }

  /** Drain (`true`: no new work, in-flight work finishes) or put back into service (`false`). */
  async drain(draining = true): Promise<SiteView | undefined> {
    if (!this.#reg) return undefined;
    this.#status = { ...this.#status, draining };
    this.ctx.storage.kv.put("status", this.#status);
    return this.#push(this.now(), true);
  }

  /** Forgets the site: storage, alarm, and its entry in the fleet directory. */
  async remove(): Promise<boolean> {
    const existed = this.#reg !== undefined;
    const id = this.#reg?.id;
    this.#reg = undefined;
    this.#leases.clear();
    await this.ctx.storage.deleteAlarm();
    this.#alarmAt = null;
    await this.ctx.storage.deleteAll();
    this.#live = emptyLive();
    this.#status = initialStatus();
    this.#breaker = initialBreaker();
    this.#storedPhase = "closed";
    this.#cache = emptyCacheState();
    if (id) await this.#directory().removeSite(id);
    return existed;
  }

  describe(): SiteDetail | undefined {
    if (!this.#reg) return undefined;
    return {
      registration: this.#reg,
      view: this.#view(this.now()),
      breaker: this.#breaker,
      cache: this.#cache,
      leases: this.#leases.size,
      lastProbeAt: this.#status.lastProbeAt,
      lastProbeOk: this.#status.lastProbeOk,
      ...(this.#status.priorityRefused ? { priorityRefused: true } : {}),
    };
  }

  // ---- live state ---------------------------------------------------------------------------

  /** Applies a heartbeat (or a parsed metrics scrape): load, residency, health. */
  async heartbeat(report: LiveReport): Promise<SiteView | undefined> {
    if (!this.#reg) return undefined;
    const now = this.now();
    this.#applyReport(report, now);
    this.#breaker = observeProbe(this.#breaker, true, now, DEFAULT_BREAKER_CONFIG, this.rand());
    this.#status = { ...this.#status, healthy: true };
    this.#persistLive();
    return this.#publish(now);
  }

  #applyReport(report: LiveReport, now: number): void {
    const reg = this.#reg;
    if (!reg) return;
    this.#live = {
      waiting: report.waiting,
      running: report.running,
      kvCacheUsage: report.kvCacheUsage ?? this.#live.kvCacheUsage,
      gpuUtilization: report.gpuUtilization ?? this.#live.gpuUtilization,
      freeGpuMemoryGb: report.freeGpuMemoryGb ?? this.#live.freeGpuMemoryGb,
      tokensPerSec: { ...this.#live.tokensPerSec, ...servedOnly(reg, report.tokensPerSec) },
      updatedAt: now,
    };
    if (report.residentModels) {
      const footprint = siteFootprints(reg);
      const reported = report.residentModels.map((m) => m.model).filter((m) => footprint(m));
      this.#cache = reconcileResident(this.#cache, reported, footprint, now);
      for (const m of report.residentModels) {
        if (m.lastUsedAt !== undefined && reported.includes(m.model)) {
          this.#cache = markUsed(this.#cache, m.model, Math.min(now, m.lastUsedAt));
        }
      }
    }
  }

  /**
   * Merges decode speeds the monitor learned from outcomes into the live rates (as a heartbeat's
   * measured `tokensPerSec` would), for registered models only; the view carries them to the
   * router. Returns whether anything was taken.
   */
  async learn(model: string, learned: { tokensPerSec: number }): Promise<boolean> {
    const reg = this.#reg;
    const rate = learned.tokensPerSec;
    if (!reg || !(rate > 0 && Number.isFinite(rate))) return false;
    const rates = servedOnly(reg, { [model]: rate });
    if (rates[model] === undefined) return false;
    this.#live = { ...this.#live, tokensPerSec: { ...this.#live.tokensPerSec, ...rates } };
    this.ctx.storage.kv.put("live", this.#live);
    await this.#publish(this.now());
    return true;
  }

  #persistLive(): void {
    const kv = this.ctx.storage.kv;
    kv.put("live", this.#live);
    kv.put("status", this.#status);
    this.#storeBreaker();
    kv.put("cache", this.#cache);
  }

  /**
   * Stores the breaker; a change of phase is logged for operators (which site, from and to, how
   * many ejections, until when).
   */
  #storeBreaker(): void {
    const b = this.#breaker;
    this.ctx.storage.kv.put("breaker", b);
    if (b.phase === this.#storedPhase) return;
    const from = this.#storedPhase;
    this.#storedPhase = b.phase;
    (b.phase === "open" ? console.warn : console.log)(
      JSON.stringify({
        event: "site_breaker",
        siteId: this.#reg?.id,
        from,
        to: b.phase,
        ejections: b.ejections,
        ...(b.phase === "open" ? { openUntil: b.openUntil } : {}),
      }),
    );
  }

  /**
   * What admission and outcomes may change: the breaker, and the cache agent's demand and use,
   * each written only when it changed (their pure transitions return the same state otherwise).
   * Live state and status are not theirs to change.
   */
  #persistAdmission(before: { breaker: Breaker; cache: CacheState }): void {
    const kv = this.ctx.storage.kv;
    if (this.#breaker !== before.breaker) this.#storeBreaker();
    if (this.#cache !== before.cache) kv.put("cache", this.#cache);
  }

  /**
   * Decide-only answers pointed here (`requests` of them for `model`, summed by the isolate that
   * gave them): count them as expected load for a moment, and as demand.
   */
  async expect(model: string, requests = 1): Promise<void> {
    if (!this.#reg) return;
    const now = this.now();
    const n = Math.max(1, Math.min(MAX_EXPECTED_PER_CALL, Math.floor(requests) || 1));
    this.#expected = this.#expected.filter((t) => t > now);
    for (let i = 0; i < n; i++) this.#expected.push(now + EXPECTED_TTL_MS);
    this.#cache = recordDemand(this.#cache, model, now, DEFAULT_CACHE_POLICY, n);
    this.ctx.storage.kv.put("cache", this.#cache);
    await this.#publish(now);
  }

  /**
   * Requests that could have used `model` here, had it been resident, but went elsewhere or were
   * refused (`Prewarm` in shared/decide.ts; summed by the isolate): demand for the cache agent,
   * which the alarm may answer by prewarming the model. Not load: they do not come here.
   */
  async want(model: string, requests = 1): Promise<void> {
    const reg = this.#reg;
    if (!reg || !siteFootprints(reg)(model)) return;
    const n = Math.max(1, Math.min(MAX_EXPECTED_PER_CALL, Math.floor(requests) || 1));
    this.#cache = recordDemand(this.#cache, model, this.now(), DEFAULT_CACHE_POLICY, n);
    this.ctx.storage.kv.put("cache", this.#cache);
  }

  // ---- admission ----------------------------------------------------------------------------

  /**
   * Takes a slot if the site is healthy, not draining, its breaker admits and capacity remains.
   * Atomic: no `await` between the checks and the write.
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const reg = this.#reg;
    if (!reg) return { granted: false, reason: "unknown_site" };
    const now = this.now();
    if (this.#status.draining) return { granted: false, reason: "draining" };
    if (!this.#status.healthy) return { granted: false, reason: "unhealthy" };
    if (!reg.models.some((m) => m.model === request.model))
      return { granted: false, reason: "model" };
    const before = { breaker: this.#breaker, cache: this.#cache };
    this.#cache = recordDemand(this.#cache, request.model, now, DEFAULT_CACHE_POLICY);
    const check = this.#leaseCheck(request, reg, now);
    if (!leaseFits(check, DEFAULT_POLICY.saturation)) {
      this.ctx.storage.kv.put("cache", this.#cache);
      return { granted: false, reason: "capacity" };
    }
    const gate = acquire(this.#breaker, now, DEFAULT_BREAKER_CONFIG);
    this.#breaker = gate.state;
    if (!gate.admitted) {
      this.#persistAdmission(before);
      return { granted: false, reason: "breaker" };
    }
    const leaseId = `${reg.id}.${crypto.randomUUID()}`;
    const ttl = Math.min(request.ttlMs ?? this.timing.leaseTtlMs, this.timing.leaseTtlMs);
    const lease: Lease = { model: request.model, expiresAt: now + ttl, probe: gate.probe };
    if (request.tenant !== undefined) lease.tenant = request.tenant;
    if (request.criticality !== undefined) lease.criticality = request.criticality;
    if (check.busy >= reg.capacity.maxConcurrent) lease.queued = true;
    this.#hold(leaseId, lease, now);
    this.#persistAdmission(before);
    await this.#publish(now);
    const { expiresAt, queued = false } = lease;
    return { granted: true, leaseId, expiresAt, probe: gate.probe, queued };
  }

  /** Keeps `lease` for a request just admitted, counted as an arrival of its class. */
  #hold(leaseId: string, lease: Lease, now: number): void {
    const klass = lease.criticality ?? "critical";
    this.#arrivals[klass] = meterArrival(this.#arrivals[klass], now);
    this.#leases.set(leaseId, lease);
    this.ctx.storage.kv.put(`lease:${leaseId}`, lease);
  }

  /**
   * What admission weighs (shared/admission.ts): the requests the site holds, by its leases or
   * its last fresh report; at a priority site only the queued work of the request's class or
   * above is ahead of it, and the more urgent work arriving meanwhile (at the rate of its recent
   * leases) goes ahead of it too.
   */
  #leaseCheck(request: ReserveRequest, reg: SiteRegistration, now: number): LeaseCheck {
    const held = this.#held(reg, now);
    const { busy, waiting } = held;
    const criticality = request.criticality ?? "critical";
    const check: LeaseCheck = { capacity: reg.capacity, ...held, criticality };
    const serviceMs = this.#serviceMs.get(request.model);
    if (request.budgetMs === undefined || serviceMs === undefined) return check;
    check.budgetMs = request.budgetMs;
    check.serviceMs = serviceMs;
    const scheduling = this.#scheduling();
    if (scheduling === "priority") {
      const load = { waiting, waitingByClass: this.#waitingByClass(waiting, busy) };
      check.behind = waiting - waitingAhead(load, scheduling, criticality);
      check.overtakePerMs = overtakeRate(scheduling, criticality, (c) =>
        meterRate(this.#arrivals[c], now),
      );
    }
    return check;
  }

  /** At a priority site, the `waiting` of `held` requests by class (shared/admission.ts). */
  #waitingByClass(waiting: number, held: number): Record<Criticality, number> | undefined {
    if (this.#scheduling() !== "priority") return undefined;
    const leased: Record<Criticality, number> = { critical: 0, standard: 0, sheddable: 0 };
    for (const lease of this.#leases.values()) {
      if (lease.criticality) leased[lease.criticality] += 1;
    }
    return waitingByClass(waiting, held, leased);
  }

  /**
   * Frees a lease and feeds its outcome to the breaker and the cache agent. Idempotent: a lease
   * released twice (or already reclaimed) changes nothing the second time. With `tenant`, only a
   * lease of that tenant is released; another tenant's looks like an unknown one.
   */
  async release(
    leaseId: string,
    outcome?: LeaseOutcome,
    tenant?: string,
  ): Promise<{ released: boolean }> {
    const now = this.now();
    const before = { breaker: this.#breaker, cache: this.#cache };
    if (!this.#free(leaseId, outcome, tenant, now)) return { released: false };
    this.#persistAdmission(before);
    await this.#publish(now);
    return { released: true };
  }

  /**
   * `release` for many leases at once (an isolate's releases of a moment, in order), with one
   * write of the state they changed and one publish; a lease `handedOn` stays taken for its new
   * request. Returns how many were released, and whether requests now wait in the site's queue
   * (the worker then stops handing leases on: a freed slot goes to the work already waiting).
   */
  async releaseMany(leases: readonly ReleasedLease[]): Promise<ReleasedMany> {
    const now = this.now();
    const before = { breaker: this.#breaker, cache: this.#cache };
    let released = 0;
    let changed = false;
    for (const { leaseId, outcome, handedOn } of leases.slice(0, MAX_RELEASES_PER_CALL)) {
      if (handedOn) {
        changed = this.#handOn(leaseId, outcome, handedOn, now) || changed;
      } else if (this.#free(leaseId, outcome, undefined, now)) {
        released++;
        changed = true;
      }
    }
    if (changed) {
      this.#persistAdmission(before);
      await this.#publish(now);
    }
    return { released, queueing: this.#queueing(now) };
  }

  /** Whether requests wait at the site beyond its run slots, by its leases or fresh report. */
  #queueing(now: number): boolean {
    return this.#reg !== undefined && this.#held(this.#reg, now).waiting > 0;
  }

  /** The requests the site holds: its leases, or its last report while fresh if that says more. */
  #held(reg: SiteRegistration, now: number) {
    const live = this.#live;
    const fresh = now - live.updatedAt <= this.timing.staleAfterMs;
    return holding(this.#leases.size, fresh ? live : undefined, reg.capacity.maxConcurrent);
  }

  /** Drops the lease and applies its outcome; false when there is no such lease (of `tenant`). */
  #free(
    leaseId: string,
    outcome: LeaseOutcome | undefined,
    tenant: string | undefined,
    now: number,
  ) {
    const lease = this.#leases.get(leaseId);
    if (!lease) return false;
    if (tenant !== undefined && (lease.tenant ?? PLATFORM_TENANT) !== tenant) return false;
    this.#leases.delete(leaseId);
    this.ctx.storage.kv.delete(`lease:${leaseId}`);
    this.#settle(lease, outcome, now);
    return true;
  }

  /**
   * Applies the outcome of the request that held the lease and keeps the lease for the request
   * it went to, as a `reserve` of that request would have counted it (demand, arrival), for at
   * least `ttlMs` more. False when there is no such lease (released, reclaimed, or the site was
   * registered anew): the new request then runs on no lease, as one whose lease expired.
   */
  #handOn(
    leaseId: string,
    outcome: LeaseOutcome | undefined,
    to: NonNullable<ReleasedLease["handedOn"]>,
    now: number,
  ): boolean {
    const lease = this.#leases.get(leaseId);
    if (!lease) return false;
    this.#settle(lease, outcome, now);
    const ttl = Math.min(to.ttlMs, this.timing.leaseTtlMs);
    const next: Lease = {
      model: lease.model,
      expiresAt: Math.max(lease.expiresAt, now + ttl),
      probe: false,
    };
    if (lease.tenant !== undefined) next.tenant = lease.tenant;
    if (to.criticality !== undefined) next.criticality = to.criticality;
    this.#cache = recordDemand(this.#cache, lease.model, now, DEFAULT_CACHE_POLICY);
    this.#hold(leaseId, next, now);
    return true;
  }

  /** What the request that held `lease` tells the breaker, the cache agent and service times. */
  #settle(lease: Lease, outcome: LeaseOutcome | undefined, now: number): void {
    const judged = outcome && breakerResult(outcome, lease.queued === true);
    if (outcome?.ok) {
      this.#cache = markUsed(this.#cache, lease.model, now);
      const measured = lease.queued
        ? undefined
        : nextServiceMs(this.#serviceMs.get(lease.model), outcome.latencyMs ?? 0);
      if (measured !== undefined) this.#serviceMs.set(lease.model, measured);
    }
    if (judged) {
      const result = { ...judged, probe: lease.probe };
      this.#breaker = record(this.#breaker, result, now, DEFAULT_BREAKER_CONFIG, this.rand());
    } else if (lease.probe) {
      this.#breaker = releaseProbe(this.#breaker);
    }
  }

  /** An outcome reported without a lease (e.g. a device that called the site directly). */
  async reportOutcome(outcome: LeaseOutcome, leaseId?: string): Promise<boolean> {
    if (!this.#reg) return false;
    const now = this.now();
    const queued = leaseId !== undefined && this.#leases.get(leaseId)?.queued === true;
    const result = breakerResult(outcome, queued);
    if (!result) return true;
    const before = { breaker: this.#breaker, cache: this.#cache };
    this.#breaker = record(this.#breaker, result, now, DEFAULT_BREAKER_CONFIG, this.rand());
    this.#persistAdmission(before);
    await this.#publish(now);
    return true;
  }

  // ---- cache agent --------------------------------------------------------------------------

  /**
   * Makes `model` resident, evicting the least valuable models first, through the control API.
   * One load at a time, so two loads cannot both count on the same free memory while they wait on
   * the site; a second one is refused at once ("in progress") rather than queued. Queueing it
   * behind the first would make it wait on I/O another request started — the alarm's prewarm, an
   * operator's call — and when that request is cancelled (an alarm replaced by a new one, a client
   * gone), its I/O never settles and every load queued behind it would hang. The hold expires by
   * itself after the control call's own timeout, for the same reason.
   */
  async ensureModel(model: string): Promise<EnsureModelResult> {
    const now = this.now();
    if (now < this.#loadingUntil) {
      const reg = this.#reg;
      const footprint = reg && siteFootprints(reg)(model);
      const plan =
        reg && footprint
          ? planLoad(this.#cache, footprint, reg.capacity.gpuMemoryGb, now, DEFAULT_CACHE_POLICY)
          : undefined;
      if (plan?.kind === "resident")
        return { ok: true, resident: true, loaded: false, evicted: [] };
      return { ok: false, reason: "another model load is in progress at this site; try again" };
    }
    const until = now + CONTROL_TIMEOUT_MS + LOAD_HOLD_MARGIN_MS;
    this.#loadingUntil = until;
    try {
      return await this.#ensureModel(model);
    } finally {
      if (this.#loadingUntil === until) this.#loadingUntil = 0;
    }
  }

  async #ensureModel(model: string): Promise<EnsureModelResult> {
    const reg = this.#reg;
    if (!reg) return { ok: false, reason: "unknown site" };
    const footprint = siteFootprints(reg)(model);
    if (!footprint) return { ok: false, reason: `${reg.id} does not serve ${model}` };
    const now = this.now();
    const plan = planLoad(
      this.#cache,
      footprint,
      reg.capacity.gpuMemoryGb,
      now,
      DEFAULT_CACHE_POLICY,
    );
    if (plan.kind === "resident") return { ok: true, resident: true, loaded: false, evicted: [] };
    if (plan.kind === "impossible") return { ok: false, reason: plan.detail };
    for (const victim of plan.evict) {
      const res = await this.#control("unload", victim);
      if (this.#reg !== reg) return { ok: false, reason: "site removed" };
      if (!res.ok) return { ok: false, reason: `unload ${victim}: ${res.reason}` };
      this.#cache = applyUnloaded(this.#cache, victim);
      this.ctx.storage.kv.put("cache", this.#cache);
    }
    const res = await this.#control("load", model);
    if (this.#reg !== reg) return { ok: false, reason: "site removed" };
    if (!res.ok) return { ok: false, reason: `load ${model}: ${res.reason}` };
    this.#cache = applyLoaded(this.#cache, footprint, this.now());
    this.ctx.storage.kv.put("cache", this.#cache);
    await this.#push(this.now(), true);
    return { ok: true, resident: true, loaded: true, evicted: plan.evict };
  }

  async #control(
    action: "load" | "unload",
    model: string,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const base = this.#reg?.controlEndpoint;
    if (!base) return { ok: false, reason: "site has no control endpoint" };
    if (!this.#mayCall(base)) return { ok: false, reason: "control endpoint is not https" };
    try {
      const res = await fetch(`${base.replace(/\/$/, "")}/models/${action}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model }),
        signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
      });
      await res.body?.cancel();
      return res.ok ? { ok: true } : { ok: false, reason: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : "unreachable" };
    }
  }

  // ---- alarm --------------------------------------------------------------------------------

  /**
   * Reclaims expired leases, moves the breaker on, probes the site when due, notices silence,
   * cleans up idle models and prewarms wanted ones. Safe to replay: every step is keyed on
   * stored deadlines, so a second run at the same time changes nothing.
   */
  override async alarm(): Promise<void> {
    this.#alarmRunning = true;
    this.#alarmAt = null;
    try {
      await this.#runAlarm();
    } finally {
      this.#alarmRunning = false;
      if (this.#reg) await this.#schedule(this.now());
    }
  }

  async #runAlarm(): Promise<void> {
    const reg = this.#reg;
    if (!reg) return;
    let now = this.now();
    for (const [id, lease] of this.#leases) {
      if (lease.expiresAt > now) continue;
      this.#leases.delete(id);
      this.ctx.storage.kv.delete(`lease:${id}`);
      if (lease.probe) this.#breaker = releaseProbe(this.#breaker);
    }
    this.#breaker = tick(this.#breaker, now, DEFAULT_BREAKER_CONFIG);
    this.#persistLive();

    if (now >= this.#status.nextProbeAt) {
      this.#status = { ...this.#status, nextProbeAt: now + this.timing.probeIntervalMs };
      this.ctx.storage.kv.put("status", this.#status);
      const probe = await this.#probe(reg.endpoint);
      if (this.#reg !== reg) return; // removed or re-registered meanwhile
      now = this.now();
      this.#status = { ...this.#status, lastProbeAt: now, lastProbeOk: probe.ok };
      if (probe.report) this.#applyReport(probe.report, now);
      this.#breaker = observeProbe(
        this.#breaker,
        probe.ok,
        now,
        DEFAULT_BREAKER_CONFIG,
        this.rand(),
      );
      if (probe.ok && probe.report) this.#status = { ...this.#status, healthy: true };
      this.#persistLive();
    }

    const silentFor = now - this.#live.updatedAt;
    if (this.#status.healthy && silentFor > this.timing.staleAfterMs) {
      // Gone quiet: out of rotation, breaker open, until probes or heartbeats bring it back
      // through HALF_OPEN.
      this.#status = { ...this.#status, healthy: false };
      this.#breaker = trip(this.#breaker, now, DEFAULT_BREAKER_CONFIG, this.rand());
      this.#persistLive();
    }

    await this.#cleanupAndPrewarm(reg, now);
    if (this.#reg) await this.#publish(this.now());
  }

  async #cleanupAndPrewarm(reg: SiteRegistration, now: number): Promise<void> {
    if (!reg.controlEndpoint || !this.#status.healthy) return;
    for (const model of idleToUnload(this.#cache, now, DEFAULT_CACHE_POLICY)) {
      const res = await this.#control("unload", model);
      if (this.#reg !== reg) return;
      if (res.ok) this.#cache = applyUnloaded(this.#cache, model);
    }
    const plans = prewarmCandidates(
      this.#cache,
      siteFootprints(reg),
      reg.capacity.gpuMemoryGb,
      now,
      DEFAULT_CACHE_POLICY,
    );
    const first = plans[0];
    if (first) await this.ensureModel(first.model);
    if (this.#reg === reg) this.ctx.storage.kv.put("cache", this.#cache);
  }

  /** A registration made while plain http was allowed is not called once it no longer is. */
  #mayCall(url: string): boolean {
    return siteUrlAllowed(url, this.env.ALLOW_HTTP_SITES === "true");
  }

  async #probe(endpoint: string): Promise<{ ok: boolean; report?: LiveReport }> {
    if (!this.#mayCall(endpoint)) return { ok: false };
    const root = endpoint.replace(/\/v1\/?$/, "").replace(/\/$/, "");
    const timeout = this.timing.probeTimeoutMs;
    try {
      const health = await fetch(`${root}/health`, { signal: AbortSignal.timeout(timeout) });
      await health.body?.cancel();
      if (!health.ok) return { ok: false };
      const metrics = await fetch(`${root}/metrics`, { signal: AbortSignal.timeout(timeout) });
      if (!metrics.ok) {
        await metrics.body?.cancel();
        return { ok: true };
      }
      // vLLM's whole exposition is a few KiB; a larger one is not read.
      const report = reportFromPrometheus(await readTextWithin(metrics, MAX_METRICS_BYTES));
      return report ? { ok: true, report } : { ok: true };
    } catch {
      return { ok: false };
    }
  }

  /** Pushes the view (or marks it dirty) and then sets the alarm accordingly. */
  async #publish(now: number, force = false): Promise<SiteView> {
    const view = await this.#push(now, force);
    await this.#schedule(now);
    return view;
  }

  /** The alarm fires at the earliest of: next probe, a lease expiry, the breaker's wake-up, cleanup. */
  async #schedule(now: number): Promise<void> {
    // While the alarm runs, setting one would cancel it mid-way (its probe or model load left
    // unsettled); the alarm schedules the next one itself when it ends.
    if (!this.#reg || this.#alarmRunning) return;
    const times = [this.#status.nextProbeAt];
    for (const lease of this.#leases.values()) times.push(lease.expiresAt);
    const wake = nextWakeAt(this.#breaker);
    if (wake !== null) times.push(wake);
    const cleanup = nextCleanupAt(this.#cache, DEFAULT_CACHE_POLICY);
    if (cleanup !== undefined) times.push(cleanup);
    if (this.#status.healthy) times.push(this.#live.updatedAt + this.timing.staleAfterMs + 1);
    if (this.#dirty) times.push(this.#lastPushAt + this.timing.pushIntervalMs);
    const at = Math.max(now + 10, Math.min(...times));
    // Read from storage once per instance; after that this instance is the only one setting it.
    const current = this.#alarmAt === undefined ? await this.ctx.storage.getAlarm() : this.#alarmAt;
    if (current === null || current > at || current < now) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmAt = at;
    } else {
      this.#alarmAt = current;
    }
  }

  // ---- the snapshot the router reads --------------------------------------------------------

  #view(now: number): SiteView {
    const reg = this.#reg as SiteRegistration;
    this.#expected = this.#expected.filter((t) => t > now);
    const { residentModels: _declared, faultDomain, controlEndpoint: _control, ...rest } = reg;
    const live = this.#live;
    const tps = live.tokensPerSec;
    const load = siteLoad(
      live,
      this.#leases.size,
      this.#expected.length,
      reg.capacity.maxConcurrent,
    );
    const byClass = this.#waitingByClass(load.waiting, load.running + load.waiting);
    const scheduling = this.#scheduling();
    return {
      ...rest,
      ...(scheduling === undefined ? {} : { scheduling }),
      faultDomain: faultDomain ?? reg.id,
      models: reg.models.map((m) => {
        const measured = tps[m.model];
        return measured === undefined ? m : { ...m, tokensPerSec: measured };
      }),
      load: {
        ...load,
        ...(byClass ? { waitingByClass: byClass } : {}),
        kvCacheUsage: live.kvCacheUsage,
        gpuUtilization: live.gpuUtilization,
        freeGpuMemoryGb: live.freeGpuMemoryGb ?? reg.capacity.gpuMemoryGb,
        residentModels: this.#cache.resident.map((r) => r.model),
        updatedAt: live.updatedAt,
      },
      breaker: breakerView(this.#breaker, now),
      trafficShare: trafficShare(this.#breaker, now, DEFAULT_BREAKER_CONFIG),
      errorRate: errorRate(this.#breaker),
      draining: this.#status.draining,
      healthy: this.#status.healthy,
    };
  }

  /**
   * Sends the view to the fleet directory: at once when something routing depends on changed
   * (breaker, health, drain, residency, registration), otherwise at most every `pushIntervalMs`.
   */
  async #push(now: number, force = false): Promise<SiteView> {
    const view = this.#view(now);
    const { queue, kvCache } = DEFAULT_POLICY.saturation;
    const saturated = view.load.waiting >= queue || view.load.kvCacheUsage >= kvCache;
    const signature = [
      view.breaker,
      view.healthy,
      view.draining,
      saturated,
      view.load.residentModels.join(","),
    ].join("|");
    const significant = force || signature !== this.#pushedSignature;
    if (!significant && now - this.#lastPushAt < this.timing.pushIntervalMs) {
      // Throttled: the alarm flushes it (see #schedule).
      this.#dirty = true;
      return view;
    }
    this.#dirty = false;
    this.#status = { ...this.#status, seq: this.#status.seq + 1 };
    this.ctx.storage.kv.put("status", this.#status);
    this.#lastPushAt = now;
    this.#pushedSignature = signature;
    await this.#directory().upsertSite(view, this.#status.seq);
    return view;
  }

  #directory() {
    return this.env.FLEET_DIRECTORY.getByName("global");
  }
}

/** Failures over the window, counted against at least the breaker's minimum calls, so one
 * failed probe of a new site reads as 10 %, not 100 %. */
function errorRate(b: Breaker): number {
  const { failures, calls } = windowStats(b);
  return failures / Math.max(calls, DEFAULT_BREAKER_CONFIG.minimumCalls);
}

/** Measured rates for the models the site is registered for; nothing else is kept. */
function servedOnly(
  reg: SiteRegistration,
  rates: Record<string, number> | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of reg.models) {
    const rate = rates?.[m.model];
    if (rate !== undefined) out[m.model] = rate;
  }
  return out;
}

function emptyLive(): Live {
  return {
    waiting: 0,
    running: 0,
    kvCacheUsage: 0,
    gpuUtilization: 0,
    tokensPerSec: {},
    updatedAt: 0,
  };
}

function initialStatus(): Status {
  return {
    healthy: true,
    draining: false,
    lastProbeAt: 0,
    lastProbeOk: false,
    nextProbeAt: 0,
    seq: 0,
  };
}
