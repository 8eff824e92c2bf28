// The decision-quality simulator (bench/sim/): its world on cases with known answers, each
// baseline and the oracle on small fleets where the right choice is plain, and determinism.

import { describe, expect, it } from "vitest";
import {
  Cooldowns,
  cloudOnly,
  latencyBased,
  leastBusy,
  modelGroup,
  nearestSite,
  randomShuffle,
  targetKey,
} from "../../bench/sim/baselines.ts";
import { fastestOracle, mecRouter, oracle, type Step, violation } from "../../bench/sim/policy.ts";
import { scenarios } from "../../bench/sim/scenarios.ts";
import { simulate, summarize } from "../../bench/sim/simulate.ts";
import { simWorkload } from "../../bench/sim/workload.ts";
import {
  evaluate,
  newSiteState,
  prewarm,
  type SimRegion,
  type SimRequest,
  type SimSite,
  siteLoad,
  type World,
} from "../../bench/sim/world.ts";
import { type CatalogModel, catalogModel } from "../../shared/catalog.ts";
import type { RouteRequest } from "../../shared/types.ts";
import { BERLIN, makeRequest, makeSite, type RequestOverrides } from "./helpers/fleet-builders.ts";

const SMALL = catalogModel("llama-3.2-3b") as CatalogModel;

function site(
  id: string,
  o: {
    at?: { lat: number; lon: number };
    slots?: number;
    queue?: number;
    resident?: string[];
    trusted?: boolean;
    loadTimeMs?: number;
  } = {},
): SimSite {
  const slots = o.slots ?? 4;
  const resident = o.resident ?? ["llama-3.2-3b"];
  return {
    view: makeSite({
      id,
      location: o.at ?? BERLIN,
      trusted: o.trusted ?? true,
      models: [{ model: "llama-3.2-3b", tokensPerSec: 100 }],
      capacity: { maxConcurrent: slots, maxQueue: o.queue ?? slots * 2, gpus: 1, gpuMemoryGb: 24 },
      load: { residentModels: resident },
    }),
    tokensPerSec: { "llama-3.2-3b": 100 },
    loadTimeMs: { "llama-3.2-3b": o.loadTimeMs ?? 6_000 },
    routeFactor: 1,
    down: [],
    heartbeatPhaseMs: 0,
    state: newSiteState(slots, resident),
  };
}

const FRANKFURT_REGION: SimRegion = {
  id: "eu-central-1",
  location: { lat: 50.11, lon: 8.68 },
  country: "DE",
  certifications: ["gdpr", "iso27001"],
  models: ["nova-micro", "nova-lite", "nova-pro"],
};
const VIRGINIA_REGION: SimRegion = {
  id: "us-east-1",
  location: { lat: 38.95, lon: -77.45 },
  country: "US",
  certifications: ["iso27001"],
  models: ["nova-micro", "nova-lite", "nova-pro"],
};

function world(sites: SimSite[], regions: SimRegion[] = [FRANKFURT_REGION]): World {
  return { sites, regions, seed: 1 };
}

let nextIndex = 0;
function request(o: RequestOverrides = {}, at = 0, outputTokens = 100): SimRequest {
  const req: RouteRequest = makeRequest({ task: { maxOutputTokens: 128 }, ...o });
  return { index: nextIndex++, at, req, outputTokens, user: 0 };
}

const stepKeys = (steps: Step[]) => steps.map((s) => targetKey(s.target));
/** What a feedback says about the request it answered. */
const ANSWER = { model: "llama-3.2-3b", modality: "text", maxOutputTokens: 128 } as const;

describe("simulated world", () => {
  it("queues a request behind a full site's slots and refuses once the queue is full", () => {
    const s = site("a", { slots: 1, queue: 1 });
    const target = { kind: "site", site: s } as const;
    const first = evaluate(request(), target, SMALL, 0, true);
    const second = evaluate(request(), target, SMALL, 0, true);
    expect(first.result).toBe("ok");
    expect(first.queueMs).toBe(0);
    expect(second.result).toBe("ok");
    // It starts when the first one's slot frees.
    expect(second.queueMs).toBeGreaterThan(0);
    expect(siteLoad(s, 200)).toEqual({ running: 1, waiting: 1 });
    expect(evaluate(request(), target, SMALL, 200, true).result).toBe("refused");
  });

  it("charges a cold load once, its true load time, then serves from the resident model", () => {
    const s = site("a", { resident: [], loadTimeMs: 7_000 });
    const target = { kind: "site", site: s } as const;
    const cold = evaluate(request(), target, SMALL, 0, true);
    expect(cold.coldStartMs).toBe(7_000);
    expect(cold.latencyMs).toBeGreaterThan(7_000);
    const warm = evaluate(request(), target, SMALL, 20_000, true);
    expect(warm.coldStartMs).toBe(0);
  });

  it("does not change anything when only looking (the oracle's view)", () => {
    const s = site("a", { slots: 1, resident: [] });
    const target = { kind: "site", site: s } as const;
    const r = request();
    const look = evaluate(r, target, SMALL, 0, false);
    expect(s.state.slots).toHaveLength(0);
    expect(s.state.resident.size).toBe(0);
    expect(evaluate(r, target, SMALL, 0, false)).toEqual(look);
  });

  it("prewarms a model at a site's control API: resident after its true load time", () => {
    const s = site("a", { resident: [], loadTimeMs: 7_000 });
    prewarm(s, SMALL, 1_000);
    const target = { kind: "site", site: s } as const;
    // Asked at 5 s, it waits for the rest of the load (less the half RTT on the way there).
    const waiting = evaluate(request(), target, SMALL, 5_000, false).coldStartMs;
    expect(waiting).toBeGreaterThan(2_900);
    expect(waiting).toBeLessThanOrEqual(3_000);
    expect(evaluate(request(), target, SMALL, 8_000, false).coldStartMs).toBe(0);
    // Not while the site is down.
    const down = site("b", { resident: [] });
    down.down.push([0, 10_000]);
    prewarm(down, SMALL, 1_000);
    expect(down.state.resident.size).toBe(0);
  });

  it("never answers from a site during its outage", () => {
    const s = site("a");
    s.down.push([1_000, 2_000]);
    const target = { kind: "site", site: s } as const;
    expect(evaluate(request(), target, SMALL, 1_500, true).result).toBe("hang");
    expect(evaluate(request(), target, SMALL, 2_000, true).result).toBe("ok");
  });
});

describe("baselines", () => {
  it("least-busy sends to the deployment with the fewest requests in flight", () => {
    const a = site("a");
    const b = site("b");
    const policy = leastBusy(world([a, b], []));
    const toA: Step = { target: { kind: "site", site: a }, model: SMALL, timeoutMs: 1 };
    policy.dispatched?.(toA, 0);
    policy.dispatched?.(toA, 0);
    expect(stepKeys(policy.plan(request(), 0).steps)[0]).toBe("site:b");
    // Both of a's requests finish: a has none in flight, b still one.
    policy.dispatched?.({ ...toA, target: { kind: "site", site: b } }, 0);
    for (let i = 0; i < 2; i++) {
      policy.observe?.({
        ...ANSWER,
        at: 1,
        step: toA,
        target: toA.target,
        ok: true,
        latencyMs: 1,
        ttftMs: 1,
        outputTokens: 1,
      });
    }
    expect(stepKeys(policy.plan(request(), 2).steps)[0]).toBe("site:a");
  });

  it("latency-based tries an unexplored deployment first, then the lowest latency per token", () => {
    const a = site("a");
    const b = site("b");
    const policy = latencyBased(world([a, b], []));
    const seen = (s: SimSite, latencyMs: number) =>
      policy.observe?.({
        ...ANSWER,
        at: 0,
        step: { target: { kind: "site", site: s }, model: SMALL, timeoutMs: 1 },
        target: { kind: "site", site: s },
        ok: true,
        latencyMs,
        ttftMs: 1,
        outputTokens: 100,
      });
    seen(a, 2_000);
    expect(stepKeys(policy.plan(request(), 1).steps)[0]).toBe("site:b");
    seen(b, 5_000);
    expect(stepKeys(policy.plan(request(), 2).steps)).toEqual(["site:a", "site:b"]);
  });

  it("nearest-site takes the closest site that serves the model, cloud-only the closest region", () => {
    const near = site("near", { at: { lat: 52.5, lon: 13.4 } });
    const far = site("far", { at: { lat: 48.14, lon: 11.58 } });
    const w = world([far, near], [VIRGINIA_REGION, FRANKFURT_REGION]);
    expect(stepKeys(nearestSite(w).plan(request(), 0).steps)[0]).toBe("site:near");
    const cloud = cloudOnly(w).plan(request(), 0).steps;
    expect(stepKeys(cloud)).toEqual(["cloud:eu-central-1", "cloud:us-east-1"]);
    expect(cloud[0]?.model.id).toBe("nova-micro");
  });

  it("random is the same for the same request and reaches every deployment", () => {
    const sites = ["a", "b", "c", "d"].map((id) => site(id));
    const policy = randomShuffle(world(sites, []));
    const r = request();
    expect(stepKeys(policy.plan(r, 0).steps)).toEqual(stepKeys(policy.plan(r, 0).steps));
    const firsts = new Set<string>();
    for (let i = 0; i < 200; i++)
      firsts.add(stepKeys(policy.plan(request(), i).steps)[0] as string);
    expect(firsts).toEqual(new Set(["site:a", "site:b", "site:c", "site:d"]));
  });

  it("puts a deployment in cooldown for 5 s after 3 failures within a minute", () => {
    const c = new Cooldowns();
    c.failed("site:a", 0);
    c.failed("site:a", 10_000);
    expect(c.cooling("site:a", 10_001)).toBe(false);
    c.failed("site:a", 20_000);
    expect(c.cooling("site:a", 24_999)).toBe(true);
    expect(c.cooling("site:a", 25_000)).toBe(false);
    // Failures a minute apart never add up.
    const d = new Cooldowns();
    for (const at of [0, 61_000, 122_000]) d.failed("site:b", at);
    expect(d.cooling("site:b", 122_001)).toBe(false);
  });

  it("route only where the request's rules allow (tag-based routing)", () => {
    const untrusted = site("untrusted", { trusted: false });
    const trusted = site("trusted", { at: { lat: 48.14, lon: 11.58 } });
    const w = world([untrusted, trusted]);
    const strict = request({ constraints: { privacy: "strict" } });
    for (const make of [leastBusy, latencyBased, randomShuffle, nearestSite]) {
      expect(stepKeys(make(w).plan(strict, 0).steps)).toEqual(["site:trusted"]);
    }
    expect(cloudOnly(w).plan(strict, 0).steps).toEqual([]);
  });

  it("serve a request with the smallest model of its group", () => {
    expect(modelGroup(makeRequest())[0]?.id).toBe("llama-3.2-1b");
    expect(modelGroup(makeRequest({ task: { model: "qwen2.5-7b" } })).map((m) => m.id)).toEqual([
      "qwen2.5-7b",
    ]);
  });
});

describe("oracle", () => {
  const withDevice: RequestOverrides = {
    device: { models: ["llama-3.2-1b-q4", "llama-3.2-3b-q4"] },
  };

  it("takes the cheapest option that meets the SLA: the phone, when it is fast enough", () => {
    const w = world([site("a")]);
    const steps = oracle(w).plan(
      request({ ...withDevice, constraints: { latencySlaMs: 60_000 } }),
      0,
    ).steps;
    expect(stepKeys(steps)).toEqual(["device"]);
  });

  it("takes a paid target when the phone would miss the SLA, and the fastest when none meets it", () => {
    const w = world([site("a")]);
    const tight = request({ ...withDevice, constraints: { latencySlaMs: 2_000 } });
    // Nova Micro ($0.035 / $0.14 per 1M tokens) is cheaper than a slot on the site's GPU.
    const paid = oracle(w).plan(tight, 0).steps;
    expect(stepKeys(paid)).toEqual(["cloud:eu-central-1"]);
    expect(paid[0]?.model.id).toBe("nova-micro");
    expect(stepKeys(oracle(world([site("a")], [])).plan(tight, 0).steps)).toEqual(["site:a"]);
    const impossible = request({ ...withDevice, constraints: { latencySlaMs: 1 } });
    const options = [
      evaluate(impossible, { kind: "site", site: w.sites[0] as SimSite }, SMALL, 0, false)
        .latencyMs,
      evaluate(
        impossible,
        { kind: "cloud", region: FRANKFURT_REGION },
        catalogModel("nova-micro") as CatalogModel,
        0,
        false,
      ).latencyMs,
    ];
    const chosen = oracle(w).plan(impossible, 0).steps[0];
    expect(chosen).toBeDefined();
    const got = evaluate(
      impossible,
      (chosen as Step).target,
      (chosen as Step).model,
      0,
      false,
    ).latencyMs;
    expect(got).toBeLessThanOrEqual(Math.min(...options));
  });

  it("never breaks a rule and skips a site that is down", () => {
    const down = site("down");
    down.down.push([0, 10_000]);
    const untrusted = site("untrusted", { trusted: false });
    const w = world([down, untrusted]);
    expect(oracle(w).plan(request({ constraints: { privacy: "strict" } }), 0).steps).toEqual([]);
    const steps = oracle(w).plan(request(), 0).steps;
    expect(stepKeys(steps)).not.toContain("site:down");
  });
});

describe("fastest oracle", () => {
  it("takes the option with the lowest true latency, whatever it costs, within the rules", () => {
    // With a loose SLA the cheapest oracle stays on the free phone; the fastest does not.
    const w = world([site("a")]);
    const loose = request({
      device: { models: ["llama-3.2-1b-q4"] },
      constraints: { latencySlaMs: 60_000 },
    });
    expect(stepKeys(oracle(w).plan(loose, 0).steps)).toEqual(["device"]);
    const chosen = fastestOracle(w).plan(loose, 0).steps[0] as Step;
    const ms = (target: Step["target"], model: CatalogModel) =>
      evaluate(loose, target, model, 0, false).latencyMs;
    const candidates = [
      ms({ kind: "device" }, catalogModel("llama-3.2-1b") as CatalogModel),
      ms({ kind: "site", site: w.sites[0] as SimSite }, SMALL),
      ms({ kind: "cloud", region: FRANKFURT_REGION }, catalogModel("nova-micro") as CatalogModel),
    ];
    expect(targetKey(chosen.target)).not.toBe("device");
    expect(ms(chosen.target, chosen.model)).toBeLessThanOrEqual(Math.min(...candidates));
    const strict = request({ constraints: { privacy: "strict" } });
    expect(stepKeys(fastestOracle(w).plan(strict, 0).steps)).not.toContain("cloud:eu-central-1");
  });
});

describe("mec-router in the simulator", () => {
  it("plans with the real decision engine and never sends strict requests to the cloud", () => {
    const w = world([site("a"), site("b", { trusted: false })]);
    const policy = mecRouter(w);
    const strict = request({ constraints: { privacy: "strict" } });
    const steps = policy.plan(strict, 0).steps;
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) expect(violation(strict.req, s.target)).toBeNull();
    expect(stepKeys(steps)[0]).toBe("site:a");
  });

  it("takes a lease as the site's agent grants it: on its exact count, released by the outcome", () => {
    // One run slot and one queue slot: standard work leaves the last to critical work.
    const a = site("a", { slots: 1, queue: 1 });
    const policy = mecRouter(world([a], []));
    const r = request();
    const step: Step = { target: { kind: "site", site: a }, model: SMALL, timeoutMs: 1_000 };
    const asking = { req: r.req, deadline: 2_000 };
    expect(policy.admit?.({ ...step }, 0, asking)).toBe(true);
    // The heartbeat says the site is idle; the agent knows of the lease it just granted.
    expect(policy.admit?.({ ...step }, 1, asking)).toBe(false);
    const critical = request({ task: { criticality: "critical" } });
    const urgent = { ...step };
    expect(policy.admit?.(urgent, 1, { req: critical.req, deadline: 2_000 })).toBe(true);
    expect(policy.admit?.({ ...step }, 1, { req: critical.req, deadline: 2_000 })).toBe(false);
    // The critical request's answer frees its slot.
    policy.observe?.({
      ...ANSWER,
      at: 2,
      step: urgent,
      target: step.target,
      ok: true,
      latencyMs: 1,
      ttftMs: 1,
      outputTokens: 1,
    });
    expect(policy.admit?.({ ...step }, 3, { req: critical.req, deadline: 2_000 })).toBe(true);
  });
});

describe("mec-router's learning loops in the simulator", () => {
  it("learns the answer length from outcomes and publishes it with the next snapshot", () => {
    const w = world([site("a")], []);
    let predicted = 0;
    const policy = mecRouter(w, (_, d) => {
      predicted = d.ok ? d.decision.predicted.latencyMs : Number.NaN;
    });
    // 512 tokens at 100/s: half of them (the prior) miss a 2 s SLA, an eighth would not.
    const req = (at: number) =>
      request(
        {
          task: { model: "llama-3.2-3b", maxOutputTokens: 512 },
          constraints: { latencySlaMs: 2_000 },
        },
        at,
      );
    const late = () => predicted > 2_000;
    // Expected late: only a best effort, with a deadline past the SLA.
    expect(policy.plan(req(0), 0).deadlineMs).toBeGreaterThan(2_000);
    expect(late()).toBe(true);
    for (let i = 0; i < 200; i++) {
      policy.observe?.({
        ...ANSWER,
        maxOutputTokens: 512,
        at: 10 + i,
        step: { target: { kind: "site", site: w.sites[0] as SimSite }, model: SMALL, timeoutMs: 1 },
        target: { kind: "site", site: w.sites[0] as SimSite },
        ok: true,
        latencyMs: 1,
        ttftMs: 1,
        outputTokens: 64,
      });
    }
    // Still the old snapshot within the second; the next one carries what was learned.
    policy.plan(req(500), 500);
    expect(late()).toBe(true);
    expect(stepKeys(policy.plan(req(1_500), 1_500).steps)).toEqual(["site:a"]);
    expect(late()).toBe(false);
  });

  it("prewarms a model asked for at a site where it is not resident, from demand alone", () => {
    // Qwen2.5 7B served next door but resident nowhere near: 11 s to load, so every request goes
    // to a warm copy in Madrid, and each tells the cold site's cache agent of the demand.
    const qwenSite = (id: string, at: { lat: number; lon: number }, resident: string[]) => {
      const s = site(id, { at, resident });
      s.view = {
        ...s.view,
        models: [{ model: "qwen2.5-7b", tokensPerSec: 58 }],
        load: { ...s.view.load, residentModels: resident },
      };
      s.loadTimeMs = { "qwen2.5-7b": 11_000 };
      s.tokensPerSec = { "qwen2.5-7b": 58 };
      return s;
    };
    const s = qwenSite("a", BERLIN, []);
    const policy = mecRouter(
      world([s, qwenSite("far", { lat: 40.42, lon: -3.7 }, ["qwen2.5-7b"])], []),
    );
    const qwen = (at: number) =>
      request(
        {
          task: { model: "qwen2.5-7b", maxOutputTokens: 64 },
          constraints: { latencySlaMs: 5_000 },
        },
        at,
      );
    let t = 0;
    for (; t < 20_000; t += 500)
      expect(stepKeys(policy.plan(qwen(t), t).steps)[0]).toBe("site:far");
    // The demand (40 requests in 20 s) crossed the prewarm threshold: loaded after a probe.
    expect(s.state.resident.has("qwen2.5-7b")).toBe(true);
    let near = false;
    for (; t < 60_000 && !near; t += 500)
      near = stepKeys(policy.plan(qwen(t), t).steps)[0] === "site:a";
    expect(near).toBe(true);
  });
});

describe("determinism", () => {
  const spec = {
    ...(scenarios(0.02)[2]?.spec as NonNullable<ReturnType<typeof scenarios>[number]>["spec"]),
  };

  it("makes the same trace for a seed and another for another seed", () => {
    const a = simWorkload(spec, 7);
    expect(a.length).toBeGreaterThan(50);
    expect(simWorkload(spec, 7)).toEqual(a);
    expect(simWorkload(spec, 8)).not.toEqual(a);
  });

  it("gives the same figures for the same seed", () => {
    const s = scenarios(0.02)[2];
    if (!s) throw new Error("no site-failure scenario");
    const trace = simWorkload(s.spec, 3);
    for (const make of [mecRouter, leastBusy, latencyBased, oracle]) {
      const run = () => {
        const w = s.world(3);
        return summarize(simulate(trace, make(w)));
      };
      const once = run();
      expect(once.requests).toBe(trace.length);
      expect(once.served).toBeGreaterThan(0);
      expect(run()).toEqual(once);
    }
  });
});
