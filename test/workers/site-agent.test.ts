// The site agent (durable-objects/site-agent.ts) inside workerd: admission under concurrency,
// lease reclaim by the alarm, state across eviction, staleness and probes, the breaker fed by
// outcomes, the cache agent against a real control API (and prewarming on demand for a model
// that is not resident), and the views pushed to the fleet
// directory; plus a cloud service breaker as the router sees it.
//
// Time: every agent runs on a test clock (`instance.now`) far in the future, so the alarms it
// schedules never fire on their own during the run; a test moves the clock and runs the alarm
// with `runDurableObjectAlarm`. The router compares site data with its own `Date.now()`, for
// which data stamped in the future is fresh, so no site here is dropped as stale by the router.
//
// Outbound HTTP goes to 127.0.0.1 only: the demo MEC site started by global-setup.ts, or a
// port where nothing listens (probes fail with "connection refused").

import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { SiteAgent } from "../../durable-objects/site-agent.ts";
import { DEFAULT_BREAKER_CONFIG } from "../../shared/breaker.ts";
import type { SiteRegistration } from "../../shared/fleet-schema.ts";
import type { Decision, Rejection } from "../../shared/types.ts";

const DEVICE_KEY = "dev-device-key";
const OPERATOR_KEY = "dev-operator-key";
/** Nothing listens here: probes and control calls fail fast. */
const DEAD_ENDPOINT = "http://127.0.0.1:9/v1";
const DEMO = inject("demoSiteUrl");
const SMALL = "llama-3.2-3b";
const LARGE = "llama-3.1-8b";
const WHISPER = "whisper-large-v3-turbo";
/** Served by no demo model: its control API answers 404 for it. */
const TINY = "llama-3.2-1b";
const BERLIN = { lat: 52.52, lon: 13.4 };
const T0 = Date.UTC(2100, 0, 1);
const STALE_MS = Number(env.SITE_STALE_AFTER_MS);
const PROBE_MS = Number(env.SITE_PROBE_INTERVAL_MS);
const P = DEFAULT_BREAKER_CONFIG.halfOpenProbes;
/** The OPEN wait of a first ejection; with `rand` 0.5 the ±20% jitter adds nothing. */
const FIRST_WAIT_MS = DEFAULT_BREAKER_CONFIG.baseEjectionMs;
const OPEN_REJECTION = { reason: "breaker", detail: "circuit breaker open" };
afterEach(() => vi.restoreAllMocks());
const ROUTE_BODY = {
  task: { modality: "text", maxOutputTokens: 32 },
  constraints: { latencySlaMs: 20_000 },
  location: BERLIN,
};

type AgentStub = DurableObjectStub<SiteAgent>;
interface Clock {
  t: number;
}

function registration(id: string, overrides: Partial<SiteRegistration> = {}): SiteRegistration {
  return {
    id,
    name: `Site ${id}`,
    location: BERLIN,
    country: "DE",
    trusted: true,
    certifications: ["gdpr"],
    endpoint: DEAD_ENDPOINT,
    capacity: { maxConcurrent: 16, maxQueue: 32, gpus: 1, gpuMemoryGb: 24 },
    cost: { gpuHourUsd: 1.5 },
    models: [{ model: SMALL }],
    residentModels: [SMALL],
    ...overrides,
  };
}

/** Puts the agent's instance on `clock` (again after every eviction) with jitter at its middle. */
async function useClock(stub: AgentStub, clock: Clock): Promise<void> {
  await runInDurableObject(stub, (instance: SiteAgent) => {
    instance.now = () => clock.t;
    instance.rand = () => 0.5;
  });
}

async function agent(id: string, clock: Clock): Promise<AgentStub> {
  const stub = env.SITE_AGENT.getByName(id);
  await useClock(stub, clock);
  return stub;
}

/** Moves the clock to `t` and runs the alarm, which must be scheduled. */
async function alarmAt(stub: AgentStub, clock: Clock, t: number): Promise<void> {
  clock.t = t;
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

function scheduledAlarm(stub: AgentStub): Promise<number | null> {
  return runInDurableObject(stub, (_, state) => state.storage.getAlarm());
}

async function detail(stub: AgentStub) {
  const d = await stub.describe();
  if (!d) throw new Error("site not registered");
  return d;
}

function storedLeases(stub: AgentStub): Promise<number> {
  return runInDurableObject(
    stub,
    (_, state) => [...state.storage.kv.list({ prefix: "lease:" })].length,
  );
}

function directory() {
  return env.FLEET_DIRECTORY.getByName("global");
}

async function directoryView(id: string) {
  const view = (await directory().snapshot()).sites.find((s) => s.id === id);
  if (!view) throw new Error(`${id} is not in the directory`);
  return view;
}

function call(method: string, path: string, key: string, body?: unknown): Promise<Response> {
  return exports.default.fetch(`http://router.test${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Registers (or updates) a site through the fleet API, which also drops the fleet cache. */
async function putSite(reg: SiteRegistration): Promise<void> {
  expect((await call("PUT", `/v1/sites/${reg.id}`, OPERATOR_KEY, reg)).status).toBe(200);
}

/**
 * What `/v1/route` rejects for the standard Berlin text request, as of the agents' last pushes.
 * The router's isolate caches the fleet (1 s fresh, then served stale while it refreshes), and
 * writes made through Durable Object stubs do not reach it. A failed outcome reported against
 * a decision only makes the router re-read the fleet (worker/routes/outcomes.ts), so it is sent
 * first instead of waiting on the wall clock.
 */
async function routeRejections(): Promise<Rejection[]> {
  const outcome = { decisionId: crypto.randomUUID(), ok: false };
  expect((await call("POST", "/v1/outcomes", DEVICE_KEY, outcome)).status).toBe(202);
  const res = await call("POST", "/v1/route", DEVICE_KEY, ROUTE_BODY);
  expect(res.status).toBe(200);
  return ((await res.json()) as Decision).rejected;
}

async function siteRejections(id: string): Promise<Omit<Rejection, "target">[]> {
  return (await routeRejections())
    .filter((r) => r.target === `site:${id}`)
    .map(({ reason, detail }) => ({ reason, detail }));
}

describe("admission", () => {
  it("grants exactly the capacity to 500 concurrent reserves and denies the rest for capacity", async () => {
    const stub = await agent("conc-1", { t: T0 });
    await stub.register(
      registration("conc-1", {
        capacity: { maxConcurrent: 50, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 500 }, () => stub.reserve({ model: SMALL })),
    );
    const leaseIds = results.flatMap((r) => (r.granted ? [r.leaseId] : []));
    const denials = results.flatMap((r) => (r.granted ? [] : [r.reason]));
    expect(leaseIds).toHaveLength(50);
    expect(new Set(leaseIds).size).toBe(50);
    expect(denials).toEqual(Array(450).fill("capacity"));
    expect((await detail(stub)).leases).toBe(50);
    expect(await storedLeases(stub)).toBe(50);
  });

  it("reclaims expired leases in the alarm, frees their capacity, and replays idempotently", async () => {
    const clock = { t: T0 };
    const stub = await agent("reclaim-1", clock);
    await stub.register(
      registration("reclaim-1", {
        capacity: { maxConcurrent: 3, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
      }),
    );
    const short = [
      await stub.reserve({ model: SMALL, ttlMs: 1_000 }),
      await stub.reserve({ model: SMALL, ttlMs: 1_000 }),
    ];
    const long = await stub.reserve({ model: SMALL });
    expect(short.map((r) => r.granted && r.expiresAt)).toEqual([T0 + 1_000, T0 + 1_000]);
    expect(long).toMatchObject({ granted: true, expiresAt: T0 + Number(env.SITE_LEASE_TTL_MS) });
    expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "capacity" });

    // Before expiry the alarm (here also the first probe, which fails: nothing listens) keeps
    // them all and schedules itself for the expiry.
    await alarmAt(stub, clock, T0 + 500);
    expect((await detail(stub)).leases).toBe(3);
    expect(await scheduledAlarm(stub)).toBe(T0 + 1_000);

    await alarmAt(stub, clock, T0 + 1_000);
    const before = await detail(stub);
    expect(before.leases).toBe(1);
    expect(await storedLeases(stub)).toBe(1);
    const viewBefore = await directoryView("reclaim-1");
    expect(viewBefore.load.running).toBe(1);

    // A replayed alarm (same time) finds nothing due and changes nothing: no second reclaim, no
    // second failed probe in the breaker's window.
    await runInDurableObject(stub, (instance: SiteAgent) => instance.alarm());
    expect(await detail(stub)).toEqual(before);
    expect(await storedLeases(stub)).toBe(1);
    expect(await directoryView("reclaim-1")).toEqual(viewBefore);

    // Releasing a reclaimed lease is a no-op; the freed slots are granted again.
    const first = short[0];
    if (!first?.granted) throw new Error("expected a lease");
    expect(await stub.release(first.leaseId, { ok: true })).toEqual({ released: false });
    expect((await stub.reserve({ model: SMALL })).granted).toBe(true);
    expect((await stub.reserve({ model: SMALL })).granted).toBe(true);
    expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "capacity" });
  });
});

describe("queues by class at a priority site", () => {
  it("keeps each lease's class and publishes the queue by class; an fcfs site does not", async () => {
    const capacity = { maxConcurrent: 2, maxQueue: 10, gpus: 1, gpuMemoryGb: 24 };
    const stub = await agent("prio-1", { t: T0 });
    await stub.register(registration("prio-1", { capacity, scheduling: "priority" }));
    const fcfs = await agent("fcfs-1", { t: T0 });
    await fcfs.register(registration("fcfs-1", { capacity }));
    for (const criticality of [
      "standard",
      "critical",
      "sheddable",
      "standard",
      "critical",
    ] as const) {
      expect((await stub.reserve({ model: SMALL, criticality })).granted).toBe(true);
      expect((await fcfs.reserve({ model: SMALL, criticality })).granted).toBe(true);
    }
    // Five held at two run slots: the three waiting are taken to be the least urgent.
    const byClass = { critical: 0, standard: 2, sheddable: 1 };
    expect((await detail(stub)).view.load).toMatchObject({ running: 2, waiting: 3 });
    expect((await detail(stub)).view.load.waitingByClass).toEqual(byClass);
    expect((await detail(stub)).view.scheduling).toBe("priority");
    // The fleet directory keeps it in the snapshot (pushes are throttled: its figures may lag).
    expect((await directoryView("prio-1")).load).toHaveProperty("waitingByClass");
    expect((await detail(fcfs)).view.load).not.toHaveProperty("waitingByClass");
    // The classes survive an eviction with the leases.
    await evictDurableObject(stub);
    await useClock(stub, { t: T0 });
    expect((await detail(stub)).view.load.waitingByClass).toEqual(byClass);
  });
});

describe("expected load from decide-only answers", () => {
  it("counts an isolate's summed expectations as load for 2 s and as demand", async () => {
    const clock = { t: T0 };
    const stub = await agent("expect-1", clock);
    await stub.register(registration("expect-1"));
    await stub.expect(SMALL, 3);
    await stub.expect(SMALL);
    const d = await detail(stub);
    expect(d.view.load.running).toBe(4);
    expect(d.cache.demand[SMALL]?.count).toBeCloseTo(4, 5);
    clock.t = T0 + 2_001;
    expect((await detail(stub)).view.load.running).toBe(0);
  });
});

describe("durability", () => {
  it("keeps breaker, leases and residency across eviction", async () => {
    const clock = { t: T0 };
    let stub = await agent("evict-1", clock);
    await stub.register(
      registration("evict-1", {
        models: [{ model: SMALL }, { model: LARGE }],
        capacity: { maxConcurrent: 10, maxQueue: 0, gpus: 2, gpuMemoryGb: 48 },
      }),
    );
    clock.t = T0 + 1_000;
    await stub.heartbeat({
      waiting: 0,
      running: 1,
      residentModels: [{ model: SMALL }, { model: LARGE }],
      tokensPerSec: { [LARGE]: 61 },
    });
    const leases = await Promise.all(
      Array.from({ length: 8 }, () => stub.reserve({ model: LARGE })),
    );
    const ids = leases.flatMap((r) => (r.granted ? [r.leaseId] : []));
    expect(ids).toHaveLength(8);
    clock.t = T0 + 2_000;
    for (const id of ids.slice(0, 5)) {
      expect(await stub.release(id, { ok: false })).toEqual({ released: true });
    }
    // Admitted before the breaker opened: its success leaves the breaker alone and marks the
    // model used, which must be stored too.
    clock.t = T0 + 2_500;
    expect(await stub.release(ids[7] as string, { ok: true, latencyMs: 300 })).toEqual({
      released: true,
    });

    const before = await detail(stub);
    expect(before.breaker.phase).toBe("open");
    expect(before.breaker.openUntil).toBe(T0 + 2_000 + FIRST_WAIT_MS);
    expect(before.leases).toBe(2);
    expect(before.cache.resident.map((r) => r.model)).toEqual([SMALL, LARGE]);
    expect(before.cache.resident.find((r) => r.model === LARGE)?.lastUsedAt).toBe(T0 + 2_500);

    const alarm = await scheduledAlarm(stub);
    expect(alarm).not.toBeNull();

    await evictDurableObject(stub);
    stub = env.SITE_AGENT.getByName("evict-1");
    await useClock(stub, clock);
    expect(await detail(stub)).toEqual(before);
    expect(await scheduledAlarm(stub)).toBe(alarm);

    // And it acts on that state: the breaker still refuses, the surviving leases still release.
    expect(await stub.reserve({ model: LARGE })).toEqual({ granted: false, reason: "breaker" });
    expect(await stub.release(ids[5] as string, { ok: true })).toEqual({ released: true });
    expect(await stub.release(ids[0] as string, { ok: true })).toEqual({ released: false });
    expect((await detail(stub)).leases).toBe(1);
  });
});

describe("health", () => {
  it("a heartbeat-silent site turns unhealthy at the staleness limit, its breaker trips, and probes bring it back through HALF_OPEN to CLOSED", async () => {
    const id = "stale-1";
    const clock = { t: T0 };
    // Each change of the breaker's phase is logged for operators.
    const transitions: unknown[] = [];
    const record = (line: unknown) => {
      const e = JSON.parse(String(line)) as { event?: string };
      if (e.event === "site_breaker") transitions.push(e);
    };
    vi.spyOn(console, "log").mockImplementation(record);
    vi.spyOn(console, "warn").mockImplementation(record);
    const stub = await agent(id, clock);
    await putSite(registration(id));
    expect(await siteRejections(id)).toEqual([]);

    // No heartbeat after registration, and the probes at +0, +5 s, +10 s find nothing listening.
    for (const dt of [0, PROBE_MS, 2 * PROBE_MS]) await alarmAt(stub, clock, T0 + dt);
    let d = await detail(stub);
    expect(d.view.healthy).toBe(true);
    expect(d.lastProbeOk).toBe(false);
    expect(d.breaker).toMatchObject({ phase: "closed", consecutiveFailures: 3 });
    // The next alarm is the staleness deadline: just past the limit since the last sign of life
    // (the registration at T0), though never sooner than 10 ms after the alarm that set it
    // (the probe at +10 s): +10.010 s.
    const trippedAt = await scheduledAlarm(stub);
    expect(trippedAt).toBe(Math.max(T0 + STALE_MS + 1, T0 + 2 * PROBE_MS + 10));
    if (trippedAt === null) throw new Error("no alarm scheduled");
    const openUntil = trippedAt + FIRST_WAIT_MS;
    await alarmAt(stub, clock, trippedAt);
    d = await detail(stub);
    expect(d.view.healthy).toBe(false);
    expect(d.breaker).toMatchObject({ phase: "open", ejections: 1, openUntil });
    expect(await directoryView(id)).toMatchObject({ healthy: false, breaker: "open" });
    // The router checks the breaker before health, so that is the reason it names.
    expect(await siteRejections(id)).toEqual([OPEN_REJECTION]);
    expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "unhealthy" });

    // The site answers again (its endpoint now points at the demo site). Probes bring health
    // back at once, but the OPEN breaker ignores them until its wait is over.
    await putSite(registration(id, { endpoint: `${DEMO}/v1` }));
    for (let t = T0 + 3 * PROBE_MS; t < openUntil; t += PROBE_MS) {
      await alarmAt(stub, clock, t);
      d = await detail(stub);
      expect(d.lastProbeOk).toBe(true);
      expect(d.view.healthy).toBe(true);
      expect(d.view.load.updatedAt).toBe(t);
      expect(d.breaker.phase).toBe("open");
    }
    expect(await siteRejections(id)).toEqual([OPEN_REJECTION]);
    expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "breaker" });

    // After the wait, each successful probe is one of the P probe successes.
    const firstProbe = T0 + Math.ceil((openUntil - T0) / PROBE_MS) * PROBE_MS;
    const seen: [string, number][] = [];
    for (let k = 0; k < P; k++) {
      await alarmAt(stub, clock, firstProbe + k * PROBE_MS);
      const { breaker } = await detail(stub);
      seen.push([breaker.phase, breaker.probeOk]);
      if (k === 0) {
        expect((await directoryView(id)).breaker).toBe("half_open");
        expect(await siteRejections(id)).toEqual([]);
      }
    }
    expect(seen).toEqual([
      ["half_open", 1],
      ["half_open", 2],
      ["closed", 0],
    ]);
    expect(transitions).toEqual([
      { event: "site_breaker", siteId: id, from: "closed", to: "open", ejections: 1, openUntil },
      { event: "site_breaker", siteId: id, from: "open", to: "half_open", ejections: 1 },
      { event: "site_breaker", siteId: id, from: "half_open", to: "closed", ejections: 1 },
    ]);
    const view = await directoryView(id);
    expect(view).toMatchObject({ breaker: "closed", healthy: true });
    expect(view.trafficShare).toBe(DEFAULT_BREAKER_CONFIG.slowStartMinShare);
    expect(await siteRejections(id)).toEqual([]);
    expect((await stub.reserve({ model: SMALL })).granted).toBe(true);
  });

  it("heartbeats that resume count as probe successes once the breaker's wait is over", async () => {
    const id = "stale-2";
    const clock = { t: T0 };
    const stub = await agent(id, clock);
    await stub.register(registration(id));
    await alarmAt(stub, clock, T0 + STALE_MS + 1);
    const openUntil = T0 + STALE_MS + 1 + FIRST_WAIT_MS;
    expect((await detail(stub)).view).toMatchObject({ healthy: false, breaker: "open" });

    const beat = { waiting: 0, running: 2 };
    clock.t = T0 + 20_000;
    expect(await stub.heartbeat(beat)).toMatchObject({ healthy: true, breaker: "open" });
    const seen: string[] = [];
    for (let k = 0; k < P; k++) {
      clock.t = openUntil + k * 1_000;
      seen.push((await stub.heartbeat(beat))?.breaker ?? "unknown");
    }
    expect(seen).toEqual(["half_open", "half_open", "closed"]);
    expect(await directoryView(id)).toMatchObject({ healthy: true, breaker: "closed" });
  });
});

describe("breaker fed by outcomes", () => {
  it("opens after 5 failed releases, admits at most P probes after the wait, closes after P successes", async () => {
    const clock = { t: T0 };
    const stub = await agent("breaker-1", clock);
    await stub.register(
      registration("breaker-1", {
        capacity: { maxConcurrent: 100, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
      }),
    );
    const failing = await Promise.all(
      Array.from({ length: 5 }, () => stub.reserve({ model: SMALL })),
    );
    clock.t = T0 + 1_000;
    const phases: string[] = [];
    for (const r of failing) {
      if (!r.granted) throw new Error("expected a lease");
      await stub.release(r.leaseId, { ok: false, latencyMs: 40 });
      phases.push((await detail(stub)).breaker.phase);
    }
    expect(phases).toEqual(["closed", "closed", "closed", "closed", "open"]);
    const openUntil = T0 + 1_000 + FIRST_WAIT_MS;
    expect((await detail(stub)).breaker.openUntil).toBe(openUntil);
    expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "breaker" });
    expect((await directoryView("breaker-1")).breaker).toBe("open");

    clock.t = openUntil - 1;
    expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "breaker" });

    clock.t = openUntil;
    const burst = await Promise.all(
      Array.from({ length: 60 }, () => stub.reserve({ model: SMALL })),
    );
    const probes = burst.flatMap((r) => (r.granted ? [r] : []));
    expect(probes).toHaveLength(P);
    expect(probes.every((r) => r.probe)).toBe(true);
    expect(burst.flatMap((r) => (r.granted ? [] : [r.reason]))).toEqual(
      Array(60 - P).fill("breaker"),
    );
    expect((await detail(stub)).breaker).toMatchObject({ phase: "half_open", probeOk: 0 });
    expect((await detail(stub)).breaker.probes).toHaveLength(P);

    clock.t = openUntil + 500;
    const after: [string, number][] = [];
    for (const probe of probes) {
      await stub.release(probe.leaseId, { ok: true, latencyMs: 300 });
      const { breaker } = await detail(stub);
      after.push([breaker.phase, breaker.probeOk]);
    }
    expect(after).toEqual([
      ["half_open", 1],
      ["half_open", 2],
      ["closed", 0],
    ]);
    expect(await stub.reserve({ model: SMALL })).toMatchObject({ granted: true, probe: false });
    expect((await directoryView("breaker-1")).breaker).toBe("closed");
  });
});

describe("releases in one call", () => {
  it("releaseMany ends like releasing one by one in order, skips unknown and repeated leases, and keeps it across eviction", async () => {
    const clock = { t: T0 };
    const capacity = { maxConcurrent: 8, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 };
    const leased = async (id: string) => {
      const stub = await agent(id, clock);
      await stub.register(registration(id, { capacity }));
      const granted = await Promise.all(
        Array.from({ length: 8 }, () => stub.reserve({ model: SMALL })),
      );
      return { stub, ids: granted.flatMap((r) => (r.granted ? [r.leaseId] : [])) };
    };
    const one = await leased("release-one");
    let many = await leased("release-many");
    for (const { stub } of [one, many]) {
      expect(await stub.reserve({ model: SMALL })).toEqual({ granted: false, reason: "capacity" });
    }
    const outcomes = [
      { ok: true, latencyMs: 200 },
      ...Array.from({ length: 5 }, () => ({ ok: false, latencyMs: 40 })),
    ];
    clock.t = T0 + 1_000;
    for (const [i, outcome] of outcomes.entries()) {
      await one.stub.release(one.ids[i] as string, outcome);
    }
    const released = await many.stub.releaseMany([
      ...outcomes.map((outcome, i) => ({ leaseId: many.ids[i] as string, outcome })),
      { leaseId: many.ids[0] as string, outcome: { ok: true } },
      { leaseId: "release-many.unknown", outcome: { ok: false } },
    ]);
    expect(released).toEqual({ released: 6, queueing: false });

    const [a, b] = [await detail(one.stub), await detail(many.stub)];
    expect(b.leases).toBe(2);
    expect(b.breaker).toEqual(a.breaker);
    expect(b.breaker.phase).toBe("open");
    expect(b.cache).toEqual(a.cache);
    expect(await storedLeases(many.stub)).toBe(2);
    expect((await directoryView("release-many")).breaker).toBe("open");

    await evictDurableObject(many.stub);
    many = { ...many, stub: env.SITE_AGENT.getByName("release-many") };
    await useClock(many.stub, clock);
    expect(await detail(many.stub)).toEqual(b);
    expect(await many.stub.releaseMany([{ leaseId: many.ids[0] as string }])).toEqual({
      released: 0,
      queueing: false,
    });
  });
});

describe("a lease handed on", () => {
  it("stays taken for the request it went to, as a release and a new reserve would leave the agent, and lasts its new time", async () => {
    const clock = { t: T0 };
    const capacity = { maxConcurrent: 1, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 };
    const leased = async (id: string) => {
      const stub = await agent(id, clock);
      await stub.register(registration(id, { capacity }));
      const first = await stub.reserve({ model: SMALL, ttlMs: 1_000, criticality: "critical" });
      expect(first).toMatchObject({ granted: true, queued: false, expiresAt: T0 + 1_000 });
      return { stub, leaseId: first.granted ? first.leaseId : "" };
    };
    clock.t = T0;
    const again = await leased("hand-back");
    const handed = await leased("hand-on");
    const outcome = { ok: true, latencyMs: 200 };
    clock.t = T0 + 500;
    await again.stub.release(again.leaseId, outcome);
    const next = await again.stub.reserve({ model: SMALL, ttlMs: 2_000, criticality: "standard" });
    expect(next).toMatchObject({ granted: true, expiresAt: T0 + 2_500 });
    const handedOn = { criticality: "standard" as const, ttlMs: 2_000 };
    expect(await handed.stub.releaseMany([{ leaseId: handed.leaseId, outcome, handedOn }])).toEqual(
      { released: 0, queueing: false },
    );

    const [a, b] = [await detail(again.stub), await detail(handed.stub)];
    expect(b.leases).toBe(1);
    expect(b.breaker).toEqual(a.breaker);
    expect(b.cache).toEqual(a.cache);
    // Still full, and the lease now lasts the new request's time, with its class.
    expect(await handed.stub.reserve({ model: SMALL })).toEqual({
      granted: false,
      reason: "capacity",
    });
    const stored = await runInDurableObject(handed.stub, (_, state) =>
      state.storage.kv.get(`lease:${handed.leaseId}`),
    );
    expect(stored).toEqual({
      model: SMALL,
      expiresAt: T0 + 2_500,
      probe: false,
      criticality: "standard",
    });

    // Its new holder releases it like any other; a hand-on of a lease gone changes nothing.
    expect(await handed.stub.releaseMany([{ leaseId: handed.leaseId, outcome }])).toEqual({
      released: 1,
      queueing: false,
    });
    expect((await detail(handed.stub)).leases).toBe(0);
    expect(await handed.stub.releaseMany([{ leaseId: handed.leaseId, handedOn }])).toEqual({
      released: 0,
      queueing: false,
    });
    expect((await detail(handed.stub)).leases).toBe(0);
    expect(await storedLeases(handed.stub)).toBe(0);
  });
});

describe("a release batch's answer", () => {
  it("says whether requests wait beyond the run slots, so the worker stops handing leases on", async () => {
    const clock = { t: T0 };
    const stub = await agent("queueing-1", clock);
    await stub.register(
      registration("queueing-1", {
        capacity: { maxConcurrent: 1, maxQueue: 2, gpus: 1, gpuMemoryGb: 24 },
      }),
    );
    const running = await stub.reserve({ model: SMALL });
    const waiting = await stub.reserve({ model: SMALL });
    expect(running).toMatchObject({ granted: true, queued: false });
    expect(waiting).toMatchObject({ granted: true, queued: true });
    const id = (r: typeof running) => (r.granted ? r.leaseId : "");
    const handedOn = { ttlMs: 30_000 };
    expect(await stub.releaseMany([{ leaseId: id(running), handedOn }])).toEqual({
      released: 0,
      queueing: true,
    });
    expect(await stub.releaseMany([{ leaseId: id(waiting), outcome: { ok: true } }])).toEqual({
      released: 1,
      queueing: false,
    });
  });
});

describe("cache agent against the demo site's control API", () => {
  interface ControlModels {
    models: { model: string }[];
    freeGpuMemoryGb: number;
  }
  async function demoResident(): Promise<ControlModels> {
    const res = await fetch(`${DEMO}/control/models`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ControlModels;
    return { ...body, models: body.models.map(({ model }) => ({ model })) };
  }

  it("loads a model at the site, reports a refused load, and evicts when memory is short", async () => {
    const id = "cache-1";
    const clock = { t: T0 };
    const stub = await agent(id, clock);
    await stub.register(
      registration(id, {
        endpoint: `${DEMO}/v1`,
        controlEndpoint: `${DEMO}/control`,
        models: [{ model: SMALL }, { model: LARGE }, { model: WHISPER }, { model: TINY }],
        residentModels: [SMALL],
        capacity: { maxConcurrent: 4, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
      }),
    );

    // 7 + 4 GB fit in 24 GB less 2 GB headroom: a plain load.
    expect(await stub.ensureModel(WHISPER)).toEqual({
      ok: true,
      resident: true,
      loaded: true,
      evicted: [],
    });
    expect((await demoResident()).models).toContainEqual({ model: WHISPER });
    expect((await detail(stub)).cache.resident.map((r) => r.model)).toEqual([SMALL, WHISPER]);
    expect((await directoryView(id)).load.residentModels).toEqual([SMALL, WHISPER]);
    expect(await stub.ensureModel(WHISPER)).toMatchObject({ ok: true, loaded: false });

    // A model the site refuses (the demo does not serve it: 404) stays out of the record.
    expect(await stub.ensureModel(TINY)).toEqual({
      ok: false,
      reason: `load ${TINY}: HTTP 404`,
    });
    expect((await detail(stub)).cache.resident.map((r) => r.model)).toEqual([SMALL, WHISPER]);

    // Past the minimum residency, 16 GB more needs 5 GB freed: the 7 GB model goes (the 4 GB
    // one alone would not do). The demo site has 48 GB and never evicts by itself, so the 7 GB
    // model's absence there is the agent's unload call.
    clock.t = T0 + 3 * 60_000;
    expect(await stub.ensureModel(LARGE)).toEqual({
      ok: true,
      resident: true,
      loaded: true,
      evicted: [SMALL],
    });
    const site = await demoResident();
    expect(site.models.map((m) => m.model).sort()).toEqual([LARGE, WHISPER].sort());
    expect(site.freeGpuMemoryGb).toBe(48 - 16 - 4);
    expect((await detail(stub)).cache.resident.map((r) => r.model)).toEqual([WHISPER, LARGE]);
  });
});

describe("demand for a model that is not resident", () => {
  it("records demand without load, and the alarm prewarms the model once demand is enough", async () => {
    const id = "want-1";
    const clock = { t: T0 };
    const stub = await agent(id, clock);
    await stub.register(
      registration(id, {
        endpoint: `${DEMO}/v1`,
        controlEndpoint: `${DEMO}/control`,
        models: [{ model: WHISPER }, { model: SMALL }],
        residentModels: [SMALL],
      }),
    );
    // Below the prewarm threshold (1 request/min): 5 asks decay to ~0.35/min.
    await stub.want(WHISPER, 5);
    // A model the site does not serve is ignored.
    await stub.want(LARGE, 100);
    let d = await detail(stub);
    expect(d.view.load.running).toBe(0);
    expect(d.cache.demand[WHISPER]?.count).toBeCloseTo(5, 5);
    expect(d.cache.demand[LARGE]).toBeUndefined();
    await alarmAt(stub, clock, T0 + PROBE_MS);
    expect((await detail(stub)).cache.resident.map((r) => r.model)).toEqual([SMALL]);
    // 15 more: ~1.4/min, so the next alarm loads it through the control API.
    await stub.want(WHISPER, 15);
    await alarmAt(stub, clock, T0 + 2 * PROBE_MS);
    d = await detail(stub);
    expect(d.cache.resident.map((r) => r.model)).toEqual([SMALL, WHISPER]);
    expect(d.view.load.residentModels).toContain(WHISPER);
  });
});

describe("fleet directory", () => {
  it("receives the agent's views on register and heartbeat, throttled, and ignores stale pushes", async () => {
    const id = "dir-1";
    const clock = { t: T0 };
    const stub = await agent(id, clock);
    await stub.register(registration(id));
    expect(await directoryView(id)).toMatchObject({
      healthy: true,
      breaker: "closed",
      load: { running: 0, waiting: 0, residentModels: [SMALL], updatedAt: T0 },
    });

    clock.t = T0 + 2_000;
    await stub.heartbeat({ waiting: 2, running: 7, kvCacheUsage: 0.3, gpuUtilization: 0.6 });
    expect((await directoryView(id)).load).toMatchObject({
      waiting: 2,
      running: 7,
      kvCacheUsage: 0.3,
      gpuUtilization: 0.6,
      updatedAt: T0 + 2_000,
    });

    // A load-only change within a second of the last push waits for the alarm.
    clock.t = T0 + 2_100;
    await stub.heartbeat({ waiting: 1, running: 9 });
    expect((await directoryView(id)).load.running).toBe(7);
    await alarmAt(stub, clock, T0 + 3_100);
    expect((await directoryView(id)).load).toMatchObject({ running: 9, updatedAt: T0 + 2_100 });

    const seq = await runInDurableObject(
      stub,
      (_, state) => state.storage.kv.get<{ seq: number }>("status")?.seq ?? 0,
    );
    // Pushes so far: registration, the first heartbeat, the alarm's flush.
    expect(seq).toBe(3);
    const current = await directoryView(id);
    const late = { ...current, load: { ...current.load, running: 0, waiting: 0 } };
    expect(await directory().upsertSite(late, seq)).toBe(false);
    expect(await directory().upsertSite(late, seq - 1)).toBe(false);
    expect(await directoryView(id)).toEqual(current);
  });

  it("keeps the learned answer lengths it is given, across eviction, and refuses invalid ones", async () => {
    const before = (await directory().snapshot()).version;
    expect(await directory().setAnswerShares({ text: 1.5 })).toBe(false);
    expect(await directory().setAnswerShares({ text: 0.4, "text|llama-3.1-8b": 0.3 })).toBe(true);
    await evictDurableObject(directory());
    const snap = await directory().snapshot();
    expect(snap.answerShares).toEqual({ text: 0.4, "text|llama-3.1-8b": 0.3 });
    expect(snap.version).toBe(before + 1);
  });
});

describe("cloud service breaker", () => {
  it("opens after 5 failures, shows open in the directory, and /v1/route rejects the region", async () => {
    const service = "bedrock:eu-central-1";
    const stub = env.SERVICE_BREAKER.getByName(service);
    await runInDurableObject(stub, (instance) => {
      instance.now = () => T0;
      instance.rand = () => 0.5;
    });
    expect((await routeRejections()).filter((r) => r.target === "cloud:eu-central-1")).toEqual([]);
    const states: string[] = [];
    for (let i = 0; i < 5; i++) {
      states.push((await stub.record(service, { ok: false, durationMs: 900 })).breaker);
    }
    expect(states).toEqual(["closed", "closed", "closed", "closed", "open"]);
    const snap = await directory().snapshot();
    expect(snap.services).toContainEqual(
      expect.objectContaining({ service, breaker: "open", updatedAt: T0 }),
    );
    expect((await routeRejections()).filter((r) => r.target === "cloud:eu-central-1")).toEqual([
      { target: "cloud:eu-central-1", reason: "breaker", detail: "circuit breaker open" },
    ]);
    expect(await stub.acquire(service)).toEqual({ admitted: false, probe: false });
  });
});
