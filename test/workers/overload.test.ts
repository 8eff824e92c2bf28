// Overload by criticality, inside workerd with real SiteAgents: at admission (the agent keeps
// headroom for critical work and turns sheddable work away from a saturated site) and over HTTP
// (sheddable: 503 overloaded; standard: queued within its SLA, else 503 at once; critical: still
// placed and given a lease while standard work is refused), the queue wait each class may
// accept at the measured service time, and a breaker that a long queue does not open.

import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SiteRegistration } from "../../shared/fleet-schema.ts";
import type { Criticality } from "../../shared/types.ts";
import {
  call,
  expectError,
  heartbeat,
  type RouteAnswer,
  register,
  site,
} from "./fixtures/fleet-api.ts";

const ZAGREB = { lat: 45.81, lon: 15.98 };
const LJUBLJANA = { lat: 46.06, lon: 14.51 };
const VALLETTA = { lat: 35.9, lon: 14.51 };
const CAPACITY = { maxConcurrent: 8, maxQueue: 32, gpus: 1, gpuMemoryGb: 24 };

function fresh(id: string, capacity: SiteRegistration["capacity"]) {
  const stub = env.SITE_AGENT.getByName(id);
  return { stub, reg: site(id, "MT", VALLETTA, { capacity }) };
}

describe("admission at the site agent", () => {
  it("keeps about 10 % of the slots for critical work under 60 concurrent standard reserves", async () => {
    const { stub, reg } = fresh("adm-1", { ...CAPACITY, maxConcurrent: 10, maxQueue: 10 });
    await stub.register(reg);
    const standard = await Promise.all(
      Array.from({ length: 60 }, () =>
        stub.reserve({ model: "llama-3.2-3b", criticality: "standard" }),
      ),
    );
    expect(standard.filter((r) => r.granted)).toHaveLength(18);
    expect(standard.filter((r) => !r.granted).every((r) => r.reason === "capacity")).toBe(true);
    const critical = await Promise.all(
      Array.from({ length: 5 }, () =>
        stub.reserve({ model: "llama-3.2-3b", criticality: "critical" }),
      ),
    );
    expect(critical.filter((r) => r.granted)).toHaveLength(2);
    expect((await stub.describe())?.leases).toBe(20);
  });

  it("turns sheddable work away once the queue reaches the saturation threshold", async () => {
    const { stub, reg } = fresh("adm-2", CAPACITY);
    await stub.register(reg);
    const lease = (criticality: "standard" | "sheddable") =>
      stub.reserve({ model: "llama-3.2-3b", criticality });
    // 8 run slots; 4 queued behind them is below the threshold (5).
    for (let i = 0; i < 12; i++) expect((await lease("standard")).granted).toBe(true);
    expect((await lease("sheddable")).granted).toBe(true);
    expect(await lease("sheddable")).toEqual({ granted: false, reason: "capacity" });
    expect((await lease("standard")).granted).toBe(true);
  });
});

describe("a busy site is not a sick one", () => {
  const capacity = { ...CAPACITY, maxConcurrent: 2, maxQueue: 30 };
  const phase = async (stub: ReturnType<typeof fresh>["stub"]) =>
    (await stub.describe())?.breaker.phase;
  const leaseOf = async (stub: ReturnType<typeof fresh>["stub"], criticality: Criticality) => {
    const r = await stub.reserve({ model: "llama-3.2-3b", criticality });
    if (!r.granted) throw new Error(`expected a lease, got ${r.reason}`);
    return r.leaseId;
  };

  it("keeps the breaker closed when requests that waited in the queue time out", async () => {
    const { stub, reg } = fresh("busy-1", capacity);
    await stub.register(reg);
    const running = [await leaseOf(stub, "standard"), await leaseOf(stub, "standard")];
    const queued = [];
    for (let i = 0; i < 8; i++) queued.push(await leaseOf(stub, "standard"));
    for (const id of queued) {
      // An attempt retried while the lease is held reports its timeout, then the lease ends.
      await stub.reportOutcome({ ok: false, timedOut: true }, id);
      await stub.release(id, { ok: false, latencyMs: 10_000, timedOut: true });
    }
    expect(await phase(stub)).toBe("closed");
    // Those that started at once count: a hung site times them out as well.
    for (const id of running) await stub.release(id, { ok: false, timedOut: true });
    for (let i = 0; i < 3; i++) {
      await stub.release(await leaseOf(stub, "standard"), { ok: false, timedOut: true });
    }
    expect(await phase(stub)).toBe("open");
  });

  it("still counts a queued request that failed outright", async () => {
    const { stub, reg } = fresh("busy-2", capacity);
    await stub.register(reg);
    await leaseOf(stub, "standard");
    await leaseOf(stub, "standard");
    const queued = [];
    for (let i = 0; i < 5; i++) queued.push(await leaseOf(stub, "standard"));
    for (const id of queued) await stub.release(id, { ok: false, latencyMs: 30 });
    expect(await phase(stub)).toBe("open");
  });

  it("bounds standard work's queue to half its time left at the measured service time; critical work gets the rest", async () => {
    const { stub, reg } = fresh("busy-3", capacity);
    await stub.register(reg);
    const reserve = (criticality: Criticality) =>
      stub.reserve({ model: "llama-3.2-3b", criticality, budgetMs: 5_000 });
    // Before any answer there is no service time: slots alone decide.
    const first = await reserve("standard");
    if (!first.granted) throw new Error("expected a lease");
    // One answer that did not queue: 1 s per request, 2 at a time.
    await stub.release(first.leaseId, { ok: true, latencyMs: 1_000 });
    // Standard may wait (5 s − 1 s) / 2 = 2 s: 4 requests queued ahead, so 6 in all.
    const standard = [];
    for (let i = 0; i < 10; i++) standard.push(await reserve("standard"));
    expect(standard.map((r) => r.granted)).toEqual([
      ...Array(6).fill(true),
      ...Array(4).fill(false),
    ]);
    expect(standard.at(-1)).toEqual({ granted: false, reason: "capacity" });
    // Critical may wait the whole 4 s: 8 ahead, so 4 more.
    const critical = [];
    for (let i = 0; i < 6; i++) critical.push(await reserve("critical"));
    expect(critical.map((r) => r.granted)).toEqual([true, true, true, true, false, false]);
    // Without a time budget, slots alone decide, as before.
    expect((await stub.reserve({ model: "llama-3.2-3b", criticality: "standard" })).granted).toBe(
      true,
    );
  });

  it("at a priority site, lets critical work queue behind critical work only", async () => {
    const fcfs = fresh("busy-fcfs", capacity);
    const prio = fresh("busy-prio", capacity);
    await fcfs.stub.register(fcfs.reg);
    await prio.stub.register({ ...prio.reg, scheduling: "priority" });
    const sites = [
      { name: "fcfs", stub: fcfs.stub },
      { name: "priority", stub: prio.stub },
    ];
    const granted: Record<string, number> = {};
    for (const { name, stub } of sites) {
      const reserve = (criticality: Criticality) =>
        stub.reserve({ model: "llama-3.2-3b", criticality, budgetMs: 5_000 });
      const first = await reserve("standard");
      if (!first.granted) throw new Error("expected a lease");
      await stub.release(first.leaseId, { ok: true, latencyMs: 1_000 });
      // Six standard requests: two run, four wait (2 s of the 2 s standard work may wait).
      for (let i = 0; i < 6; i++) expect((await reserve("standard")).granted).toBe(true);
      let n = 0;
      while ((await reserve("critical")).granted) n++;
      granted[name] = n;
    }
    // In arrival order critical work waits behind the four standard: 4 more fit its 4 s. By
    // priority only the critical work queued ahead counts: 7 may wait, the first two of them
    // behind the standard ones still taken to be waiting.
    expect(granted).toEqual({ fcfs: 4, priority: 10 });
  });

  it("at a priority site, counts the critical work that would arrive while standard work waits", async () => {
    const fcfs = fresh("overtake-fcfs", capacity);
    const prio = fresh("overtake-prio", capacity);
    await fcfs.stub.register(fcfs.reg);
    await prio.stub.register({ ...prio.reg, scheduling: "priority" });
    const granted: Record<string, number> = {};
    for (const [name, stub] of [
      ["fcfs", fcfs.stub],
      ["priority", prio.stub],
    ] as const) {
      const reserve = (criticality: Criticality) =>
        stub.reserve({ model: "llama-3.2-3b", criticality, budgetMs: 5_000 });
      // Ten critical requests just now, each answered in 1 s without queueing: critical work
      // arrives at about 1/s, which at 1 s per request and 2 slots takes half the site's turns.
      for (let i = 0; i < 10; i++) {
        const r = await reserve("critical");
        if (!r.granted) throw new Error("expected a lease");
        await stub.release(r.leaseId, { ok: true, latencyMs: 1_000 });
      }
      let n = 0;
      while ((await reserve("standard")).granted) n++;
      granted[name] = n;
    }
    // Standard work may wait 2 s. In arrival order: 2 run and 4 wait (500 ms a turn). By priority
    // every turn critical work takes doubles the wait: 2 run and 2 wait.
    expect(granted).toEqual({ fcfs: 6, priority: 4 });
  });
});

describe("over HTTP", () => {
  // A saturated Croatian site (queue 6) and a Slovenian one all but full for standard work
  // (37 of 40 slots; 36 is the standard limit). Strict privacy and residency keep each request
  // to its country's site; the dead endpoint means no probe changes the load the heartbeats set.
  const sat = site("zg-sat", "HR", ZAGREB, { capacity: CAPACITY });
  const full = site("lj-full", "SI", LJUBLJANA, { capacity: CAPACITY });
  const load = (running: number, waiting: number) => ({
    metrics: {
      "vllm:num_requests_running": running,
      "vllm:num_requests_waiting": waiting,
      "vllm:kv_cache_usage_perc": 0.5,
    },
  });

  beforeAll(async () => {
    await register(sat, full);
  });
  // Fresh heartbeats with the same load before each test, so neither site goes stale.
  beforeEach(async () => {
    expect((await heartbeat("zg-sat", load(8, 6))).status).toBe(200);
    expect((await heartbeat("lj-full", load(8, 29))).status).toBe(200);
  });

  const body = (
    country: string,
    at: { lat: number; lon: number },
    criticality: string,
    latencySlaMs: number,
    reserve = false,
  ) => ({
    task: {
      modality: "text",
      model: "llama-3.2-3b",
      inputTokens: 200,
      maxOutputTokens: 64,
      criticality,
    },
    constraints: { latencySlaMs, privacy: "strict", dataResidency: [country] },
    location: at,
    reserve,
  });
  const route = (b: unknown) => call("POST", "/v1/route", { key: "dev-device-key", body: b });

  it("sheds sheddable work with 503 overloaded and Retry-After", async () => {
    const res = await route(body("HR", ZAGREB, "sheddable", 60_000));
    await expectError(res, 503, "overloaded");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("queues standard work within its SLA, and fails it fast with 503 when the queue would break it", async () => {
    const res = await route(body("HR", ZAGREB, "standard", 60_000));
    expect(res.status).toBe(200);
    const placed = (await res.json()) as RouteAnswer;
    expect(placed.target).toMatchObject({ kind: "site", siteId: "zg-sat" });
    const latency = placed.rationale.find((r) => r.factor === "latency")?.detail ?? "";
    const queueMs = Number(/queue (\d+)/.exec(latency)?.[1]);
    const predicted = placed.plan.primary.predictedLatencyMs;
    expect(queueMs).toBeGreaterThan(100);

    // An SLA the site meets without its queue but not with it: busy now, not impossible.
    const tight = Math.round(predicted - queueMs / 2);
    const refused = await route(body("HR", ZAGREB, "standard", tight));
    const err = await expectError(refused, 503, "unavailable");
    expect(err.error.message).toContain("queue");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("keeps serving critical work where standard work is refused", async () => {
    const standard = await route(body("SI", LJUBLJANA, "standard", 60_000));
    const err = await expectError(standard, 503, "unavailable");
    expect(JSON.stringify(err.error.details)).toContain("kept for critical work");

    const critical = await route(body("SI", LJUBLJANA, "critical", 60_000));
    expect(critical.status).toBe(200);
    expect(((await critical.json()) as RouteAnswer).target).toMatchObject({ siteId: "lj-full" });

    // The agent agrees when a lease is taken: critical granted, standard denied.
    const reserved = await route(body("SI", LJUBLJANA, "critical", 60_000, true));
    expect(reserved.status).toBe(200);
    expect(((await reserved.json()) as RouteAnswer).lease?.siteId).toBe("lj-full");
    const stub = env.SITE_AGENT.getByName("lj-full");
    expect(await stub.reserve({ model: "llama-3.2-3b", criticality: "standard" })).toEqual({
      granted: false,
      reason: "capacity",
    });
  });
});
