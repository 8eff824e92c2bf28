// The fleet API over HTTP inside workerd: registration, heartbeats, drain, removal, leases and
// outcomes, and what each does to `/v1/route`. Every site's endpoint is a 127.0.0.1 port where
// nothing listens, so each site's first alarm probe fails: assertions hold whether or not that
// one probe has happened yet (it counts as one failure; the breaker needs five in a row).
//
// Route scenarios keep to themselves through data residency: each uses sites of its own country,
// strict privacy (no cloud) and no on-device model, so only its own sites are feasible. Where two
// sites compete, only one has the model resident: the other's cold start (6 s of a 10 s SLA) puts
// it ≥ 0.27 behind in score, more than the reliability term (weight 0.2) can make up, so which
// site is primary does not depend on when a probe ran.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { SiteView } from "../../shared/types.ts";
import type { Lease } from "../../worker/routes/route.ts";
import {
  busyHeartbeat,
  call,
  DEAD_ENDPOINT,
  DEVICE_KEY,
  describeSite,
  expectError,
  expectInvalid,
  heartbeat,
  LARGE,
  listSites,
  OPERATOR_KEY,
  outcome,
  register,
  route,
  routeBody,
  SITE_KEY,
  SMALL,
  site,
  siteCount,
  siteOf,
  validHeartbeat,
} from "./fixtures/fleet-api.ts";

describe("PUT and GET /v1/sites: registration", () => {
  const OSLO = { lat: 59.91, lon: 10.75 };
  const reg = site("reg-a", "NO", OSLO, {
    models: [{ model: LARGE, tokensPerSec: 60 }, { model: SMALL }],
    residentModels: [LARGE],
    faultDomain: "oslo-dc1",
  });

  it("registers a site, then lists and describes it", async () => {
    const before = Date.now();
    const res = await call("PUT", "/v1/sites/reg-a", { body: reg });
    expect(res.status).toBe(200);
    const { site: view } = (await res.json()) as { site: SiteView };
    expect(view).toMatchObject({
      id: "reg-a",
      name: "Site reg-a",
      country: "NO",
      endpoint: DEAD_ENDPOINT,
      faultDomain: "oslo-dc1",
      breaker: "closed",
      trafficShare: 1,
      errorRate: 0,
      draining: false,
      healthy: true,
    });
    expect(view.load).toMatchObject({ waiting: 0, running: 0, residentModels: [LARGE] });
    expect(view.load.updatedAt).toBeGreaterThanOrEqual(before);
    expect(view).not.toHaveProperty("controlEndpoint");

    const list = await listSites();
    expect(list.version).toBeGreaterThan(0);
    expect(list.sites.filter((s) => s.id === "reg-a")).toEqual([
      expect.objectContaining({ id: "reg-a", name: "Site reg-a", draining: false }),
    ]);

    const detail = await describeSite("reg-a");
    expect(detail.registration).toEqual(reg);
    expect(detail.view).toMatchObject({ id: "reg-a", healthy: true, draining: false });
    expect(detail.breaker.phase).toBe("closed");
    expect(detail.cache.resident.map((r) => r.model)).toEqual([LARGE]);
    expect(detail.leases).toBe(0);
  });

  it("updates the registration on a second PUT (the id may be left out of the body)", async () => {
    const { id: _id, ...rest } = reg;
    const update = {
      ...rest,
      name: "Oslo, after the upgrade",
      capacity: { ...reg.capacity, maxConcurrent: 64, gpus: 4 },
    };
    const res = await call("PUT", "/v1/sites/reg-a", { body: update });
    expect(res.status).toBe(200);
    const { site: view } = (await res.json()) as { site: SiteView };
    expect(view.name).toBe("Oslo, after the upgrade");
    expect(view.capacity).toMatchObject({ maxConcurrent: 64, gpus: 4 });

    const detail = await describeSite("reg-a");
    expect(detail.registration).toEqual({ ...update, id: "reg-a" });
    expect(detail.cache.resident.map((r) => r.model)).toEqual([LARGE]);
    const listed = (await listSites()).sites.filter((s) => s.id === "reg-a");
    expect(listed).toEqual([expect.objectContaining({ name: "Oslo, after the upgrade" })]);
  });

  it("400 on the id when the body's id differs from the path's", async () => {
    const res = await call("PUT", "/v1/sites/reg-a", { body: { ...reg, id: "reg-b" } });
    expect(await expectInvalid(res)).toEqual(["id"]);
    await expectError(await call("GET", "/v1/sites/reg-b"), 404, "not_found");
    expect((await describeSite("reg-a")).registration.name).toBe("Oslo, after the upgrade");
  });

  it("400 on the id when the path's id is not a lower-case slug", async () => {
    for (const bad of ["Reg_A", "-reg", "a".repeat(64), "reg%20a"]) {
      const put = await call("PUT", `/v1/sites/${bad}`, { body: { ...reg, id: undefined } });
      expect(await expectInvalid(put)).toEqual(["id"]);
      expect(await expectInvalid(await call("GET", `/v1/sites/${bad}`))).toEqual(["id"]);
    }
  });
});

describe("fleet API: bad input", () => {
  const AMSTERDAM = { lat: 52.37, lon: 4.9 };
  const valid = site("input-a", "NL", AMSTERDAM);

  it("PUT: 400 with the paths of missing fields, wrong types and unknown keys", async () => {
    const missing = await expectInvalid(await call("PUT", "/v1/sites/input-a", { body: {} }));
    expect(missing).toEqual(
      expect.arrayContaining([
        "name",
        "location",
        "country",
        "trusted",
        "certifications",
        "endpoint",
        "capacity",
        "cost",
        "models",
      ]),
    );
    expect(missing).not.toContain("id");
    expect(missing).not.toContain("residentModels");

    const wrongTypes = {
      ...valid,
      trusted: "yes",
      location: { lat: "52.37", lon: 4.9 },
      models: [{ model: SMALL, tokensPerSec: "fast" }],
    };
    expect(
      await expectInvalid(await call("PUT", "/v1/sites/input-a", { body: wrongTypes })),
    ).toEqual(expect.arrayContaining(["trusted", "location.lat", "models.0.tokensPerSec"]));

    const unknownKeys = { ...valid, colour: "blue", capacity: { ...valid.capacity, turbo: true } };
    const paths = await expectInvalid(
      await call("PUT", "/v1/sites/input-a", { body: unknownKeys }),
    );
    expect(paths).toEqual(expect.arrayContaining(["(body)", "capacity"]));
  });

  it("PUT: 400 for a bad endpoint URL and for negative or zero capacity", async () => {
    for (const endpoint of ["not a url", "ftp://127.0.0.1/v1", "127.0.0.1:9/v1"]) {
      const res = await call("PUT", "/v1/sites/input-a", { body: { ...valid, endpoint } });
      expect(await expectInvalid(res)).toEqual(["endpoint"]);
    }
    const res = await call("PUT", "/v1/sites/input-a", {
      body: { ...valid, controlEndpoint: "javascript:alert(1)" },
    });
    expect(await expectInvalid(res)).toEqual(["controlEndpoint"]);

    const negative = {
      ...valid,
      capacity: { maxConcurrent: -1, maxQueue: -5, gpus: 0, gpuMemoryGb: -24 },
      cost: { gpuHourUsd: -1 },
    };
    expect(await expectInvalid(await call("PUT", "/v1/sites/input-a", { body: negative }))).toEqual(
      expect.arrayContaining([
        "capacity.maxConcurrent",
        "capacity.maxQueue",
        "capacity.gpus",
        "capacity.gpuMemoryGb",
        "cost.gpuHourUsd",
      ]),
    );
    // None of the rejected bodies registered anything.
    await expectError(await call("GET", "/v1/sites/input-a"), 404, "not_found");
  });

  it("heartbeat: 400 for wrong metric types, unknown keys, and kv cache use above 1", async () => {
    await register(valid);
    expect(await expectInvalid(await heartbeat("input-a", {}))).toEqual(["metrics"]);

    const wrongTypes = {
      metrics: { "vllm:num_requests_waiting": "3", "vllm:num_requests_running": null },
      gpuUtilization: "high",
    };
    expect(await expectInvalid(await heartbeat("input-a", wrongTypes))).toEqual(
      expect.arrayContaining([
        "metrics.vllm:num_requests_waiting",
        "metrics.vllm:num_requests_running",
        "gpuUtilization",
      ]),
    );

    const unknownKeys = {
      metrics: { ...validHeartbeat.metrics, "vllm:num_preemptions_total": 3 },
      load: {},
    };
    expect(await expectInvalid(await heartbeat("input-a", unknownKeys))).toEqual(
      expect.arrayContaining(["metrics", "(body)"]),
    );

    const overfull = {
      metrics: { ...validHeartbeat.metrics, "vllm:kv_cache_usage_perc": 1.2 },
      residentModels: [{ model: "" }],
    };
    expect(await expectInvalid(await heartbeat("input-a", overfull))).toEqual(
      expect.arrayContaining(["metrics.vllm:kv_cache_usage_perc", "residentModels.0.model"]),
    );
    const negative = { metrics: { ...validHeartbeat.metrics, "vllm:num_requests_waiting": -1 } };
    expect(await expectInvalid(await heartbeat("input-a", negative))).toEqual([
      "metrics.vllm:num_requests_waiting",
    ]);

    // The rejected heartbeats left the site as registered.
    expect((await describeSite("input-a")).view.load).toMatchObject({ waiting: 0, running: 0 });
  });

  it("POST /v1/sites/:id/models: 400 with field paths", async () => {
    const models = (body: unknown) => call("POST", "/v1/sites/input-a/models", { body });
    expect(await expectInvalid(await models({}))).toEqual(["model"]);
    expect(await expectInvalid(await models({ model: "" }))).toEqual(["model"]);
    expect(await expectInvalid(await models({ model: 7 }))).toEqual(["model"]);
    expect(await expectInvalid(await models({ model: SMALL, pin: true }))).toEqual(["(body)"]);
  });

  it("400 for malformed JSON, 415 for another media type, 413 over 64 KiB", async () => {
    const endpoints: { method: string; path: string; key: string }[] = [
      { method: "PUT", path: "/v1/sites/input-a", key: OPERATOR_KEY },
      { method: "POST", path: "/v1/sites/input-a/heartbeat", key: SITE_KEY },
      { method: "POST", path: "/v1/sites/input-a/models", key: OPERATOR_KEY },
      { method: "POST", path: "/v1/outcomes", key: DEVICE_KEY },
    ];
    const big = JSON.stringify({ pad: "x".repeat(64 * 1024) });
    for (const { method, path, key } of endpoints) {
      const malformed = await expectError(
        await call(method, path, { key, body: '{"metrics": {' }),
        400,
        "invalid_request",
      );
      expect(malformed.error.message).toMatch(/JSON/);
      const form = await call(method, path, {
        key,
        body: "model=llama",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      await expectError(form, 415, "unsupported_media_type");
      const tooBig = await expectError(
        await call(method, path, { key, body: big }),
        413,
        "payload_too_large",
      );
      expect(tooBig.error.details).toEqual({ limitBytes: 64 * 1024 });
    }
    // None of it reached the site.
    const detail = await describeSite("input-a");
    expect(detail.registration).toEqual(valid);
    expect(detail.view.load.running).toBe(0);
  });
});

describe("fleet API: keys and roles", () => {
  const VIENNA = { lat: 48.21, lon: 16.37 };
  const reg = site("auth-a", "AT", VIENNA);
  const endpoints: { method: string; path: string; body?: unknown; key: string }[] = [
    { method: "PUT", path: "/v1/sites/auth-a", body: reg, key: OPERATOR_KEY },
    { method: "GET", path: "/v1/sites", key: OPERATOR_KEY },
    { method: "GET", path: "/v1/sites/auth-a", key: OPERATOR_KEY },
    { method: "POST", path: "/v1/sites/auth-a/heartbeat", body: validHeartbeat, key: SITE_KEY },
    { method: "POST", path: "/v1/sites/auth-a/drain", key: OPERATOR_KEY },
    { method: "POST", path: "/v1/sites/auth-a/models", body: { model: SMALL }, key: OPERATOR_KEY },
    { method: "DELETE", path: "/v1/sites/auth-a", key: OPERATOR_KEY },
  ];

  it("401 without a key, with a wrong key or with another scheme", async () => {
    await register(reg);
    for (const { method, path, body } of endpoints) {
      const missing = await call(method, path, { key: null, body });
      await expectError(missing, 401, "unauthorized");
      expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
      await expectError(
        await call(method, path, { key: "dev-operator-kez", body }),
        401,
        "unauthorized",
      );
      const basic = await call(method, path, {
        key: null,
        body,
        headers: { authorization: `Basic ${btoa(`x:${OPERATOR_KEY}`)}` },
      });
      await expectError(basic, 401, "unauthorized");
    }
  });

  it("403 for a key of the wrong role", async () => {
    const wrong: { method: string; path: string; body?: unknown; key: string }[] = [
      { method: "PUT", path: "/v1/sites/auth-a", body: { ...reg, name: "x" }, key: DEVICE_KEY },
      { method: "PUT", path: "/v1/sites/auth-a", body: { ...reg, name: "x" }, key: SITE_KEY },
      { method: "GET", path: "/v1/sites", key: SITE_KEY },
      { method: "GET", path: "/v1/sites", key: DEVICE_KEY },
      { method: "GET", path: "/v1/sites/auth-a", key: SITE_KEY },
      {
        method: "POST",
        path: "/v1/sites/auth-a/heartbeat",
        body: busyHeartbeat(),
        key: OPERATOR_KEY,
      },
      {
        method: "POST",
        path: "/v1/sites/auth-a/heartbeat",
        body: busyHeartbeat(),
        key: DEVICE_KEY,
      },
      { method: "POST", path: "/v1/sites/auth-a/drain", key: SITE_KEY },
      { method: "POST", path: "/v1/sites/auth-a/drain", key: DEVICE_KEY },
      { method: "DELETE", path: "/v1/sites/auth-a", key: SITE_KEY },
      { method: "DELETE", path: "/v1/sites/auth-a", key: DEVICE_KEY },
      { method: "POST", path: "/v1/sites/auth-a/models", body: { model: SMALL }, key: SITE_KEY },
      {
        method: "POST",
        path: "/v1/outcomes",
        body: { siteId: "auth-a", ok: false },
        key: SITE_KEY,
      },
    ];
    for (const { method, path, body, key } of wrong) {
      const res = await expectError(await call(method, path, { key, body }), 403, "forbidden");
      expect(res.error.message).toMatch(/key cannot call this endpoint/);
    }
    // Nothing they asked for happened.
    const detail = await describeSite("auth-a");
    expect(detail.registration.name).toBe("Site auth-a");
    expect(detail.view).toMatchObject({ draining: false, load: { waiting: 0, running: 0 } });
    expect(detail.breaker.consecutiveFailures).toBeLessThanOrEqual(1); // at most the one probe
  });

  it("the right role gets through on each endpoint", async () => {
    for (const { method, path, body, key } of endpoints) {
      const res = await call(method, path, { key, body });
      expect([200, 204]).toContain(res.status);
    }
  });
});

describe("fleet API: unknown sites", () => {
  it("404 for GET, heartbeat, drain, DELETE and models of a site never registered", async () => {
    const cases: { method: string; path: string; body?: unknown; key: string }[] = [
      { method: "GET", path: "/v1/sites/nowhere", key: OPERATOR_KEY },
      { method: "POST", path: "/v1/sites/nowhere/heartbeat", body: validHeartbeat, key: SITE_KEY },
      { method: "POST", path: "/v1/sites/nowhere/drain", key: OPERATOR_KEY },
      { method: "DELETE", path: "/v1/sites/nowhere", key: OPERATOR_KEY },
      {
        method: "POST",
        path: "/v1/sites/nowhere/models",
        body: { model: SMALL },
        key: OPERATOR_KEY,
      },
    ];
    for (const { method, path, body, key } of cases) {
      const res = await expectError(await call(method, path, { key, body }), 404, "not_found");
      expect(res.error.message).toContain('"nowhere"');
    }
    // Asking about it did not register it.
    expect((await listSites()).sites.map((s) => s.id)).not.toContain("nowhere");
    await expectError(await call("GET", "/v1/sites/nowhere"), 404, "not_found");
  });
});

describe("POST /v1/sites/:id/heartbeat", () => {
  const ROTTERDAM = { lat: 51.92, lon: 4.48 };
  const reg = site("hb-a", "BE", ROTTERDAM, {
    models: [{ model: LARGE }, { model: SMALL }],
    residentModels: [LARGE, SMALL],
  });

  it("updates the load GET shows and reconciles the resident models", async () => {
    await register(reg);
    const before = Date.now();
    const res = await heartbeat("hb-a", {
      ...busyHeartbeat(),
      gpuUtilization: 0.8,
      freeGpuMemoryGb: 12.5,
      // The site unloaded the 8B; it reports a model it is not registered for, which is ignored.
      residentModels: [{ model: SMALL, sizeGb: 7 }, { model: "mystery-70b" }],
      tokensPerSec: { [SMALL]: 150 },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, healthy: true, breaker: "closed" });

    const detail = await describeSite("hb-a");
    expect(detail.view.load).toMatchObject({
      waiting: 7,
      running: 3,
      kvCacheUsage: 0.91,
      gpuUtilization: 0.8,
      freeGpuMemoryGb: 12.5,
      residentModels: [SMALL],
    });
    expect(detail.view.load.updatedAt).toBeGreaterThanOrEqual(before);
    expect(detail.cache.resident.map((r) => r.model)).toEqual([SMALL]);
    expect(detail.view.models).toEqual([{ model: LARGE }, { model: SMALL, tokensPerSec: 150 }]);
    // Saturation and residency changed, so the fleet directory has it at once.
    const listed = (await listSites()).sites.find((s) => s.id === "hb-a");
    expect(listed?.load).toMatchObject({ waiting: 7, running: 3, residentModels: [SMALL] });
  });

  it("keeps what a later heartbeat leaves out, and brings a reloaded model back", async () => {
    const res = await heartbeat("hb-a", {
      metrics: { "vllm:num_requests_waiting": 0, "vllm:num_requests_running": 2 },
      residentModels: [{ model: SMALL }, { model: LARGE }],
    });
    expect(res.status).toBe(200);
    const detail = await describeSite("hb-a");
    expect(detail.view.load).toMatchObject({
      waiting: 0,
      running: 2,
      kvCacheUsage: 0.91,
      gpuUtilization: 0.8,
      freeGpuMemoryGb: 12.5,
    });
    expect(detail.cache.resident.map((r) => r.model).sort()).toEqual([LARGE, SMALL]);
  });

  it("POST /v1/sites/:id/models answers for a resident model and refuses one the site lacks", async () => {
    const res = await call("POST", "/v1/sites/hb-a/models", { body: { model: SMALL } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, resident: true, loaded: false, evicted: [] });
    const other = await call("POST", "/v1/sites/hb-a/models", { body: { model: "qwen2.5-7b" } });
    const body = await expectError(other, 409, "model_not_loaded");
    expect(body.error.message).toBe("hb-a does not serve qwen2.5-7b");
  });
});

describe("POST /v1/sites/:id/drain", () => {
  it("takes the site out of reservations and decisions once the snapshot refreshes", async () => {
    const LISBON = { lat: 38.72, lon: -9.14 };
    await register(
      site("pt-a", "PT", LISBON),
      site("pt-b", "PT", { lat: 41.15, lon: -8.61 }, { residentModels: [] }),
    );
    const first = await route(routeBody("PT", LISBON));
    expect(siteOf(first)).toBe("pt-a");
    expect(first.plan.backups.map(siteOf)).toContain("pt-b");

    const res = await call("POST", "/v1/sites/pt-a/drain");
    expect(res.status).toBe(200);
    const { site: view } = (await res.json()) as { site: SiteView };
    expect(view).toMatchObject({ id: "pt-a", draining: true });

    // The drain invalidated this isolate's snapshot, so the engine itself rejects the site.
    const reserved = await route(routeBody("PT", LISBON, true));
    expect(siteOf(reserved)).toBe("pt-b");
    expect(reserved.lease?.siteId).toBe("pt-b");
    expect(reserved.rejected).toContainEqual({
      target: "site:pt-a",
      reason: "capacity",
      detail: "draining",
    });
    expect(await outcome({ leaseId: reserved.lease?.id, ok: true })).toEqual({
      accepted: true,
      released: true,
    });

    const decided = await route(routeBody("PT", LISBON));
    expect(siteOf(decided)).toBe("pt-b");
    expect(decided).not.toHaveProperty("lease");
    expect([decided.plan.primary, ...decided.plan.backups].map(siteOf)).not.toContain("pt-a");

    expect((await describeSite("pt-a")).view.draining).toBe(true);
    const listed = (await listSites()).sites.find((s) => s.id === "pt-a");
    expect(listed?.draining).toBe(true);
  });

  it("a drain another isolate served: the stale snapshot picks the site, the reservation is denied and the plan moves on", async () => {
    const ATHENS = { lat: 37.98, lon: 23.73 };
    await register(
      site("gr-a", "GR", ATHENS),
      site("gr-b", "GR", { lat: 40.64, lon: 22.94 }, { residentModels: [] }),
    );
    const first = await route(routeBody("GR", ATHENS));
    expect(siteOf(first)).toBe("gr-a");

    // Straight to the Durable Object, as another isolate's drain would: this isolate's cached
    // snapshot (younger than MAX_STALE_MS) still shows gr-a open for business.
    expect(await env.SITE_AGENT.getByName("gr-a").drain()).toMatchObject({ draining: true });

    const reserved = await route(routeBody("GR", ATHENS, true));
    expect(siteOf(reserved)).toBe("gr-b");
    expect(reserved.tier).toBe("mec");
    expect(reserved.lease).toMatchObject({ siteId: "gr-b" });
    expect(siteOf(reserved.plan.primary)).toBe("gr-b");
    expect(reserved.rationale).toContainEqual({
      factor: "reservation",
      detail: "site:gr-a denied (draining); moved to the next target in the plan",
    });
    expect((await describeSite("gr-a")).leases).toBe(0);
    expect((await describeSite("gr-b")).leases).toBe(1);
    await outcome({ leaseId: reserved.lease?.id, ok: true });
  });
});

describe("DELETE /v1/sites/:id", () => {
  it("204, then 404, and the site is gone from the list and from routing", async () => {
    const MADRID = { lat: 40.42, lon: -3.7 };
    await register(
      site("es-a", "ES", MADRID),
      site("es-b", "ES", { lat: 41.39, lon: 2.17 }, { residentModels: [] }),
    );
    const before = await route(routeBody("ES", MADRID));
    expect(siteOf(before)).toBe("es-a");
    const sitesBefore = siteCount(before);

    const res = await call("DELETE", "/v1/sites/es-a");
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    await expectError(await call("GET", "/v1/sites/es-a"), 404, "not_found");
    await expectError(await call("DELETE", "/v1/sites/es-a"), 404, "not_found");
    await expectError(await heartbeat("es-a", validHeartbeat), 404, "not_found");
    const ids = (await listSites()).sites.map((s) => s.id);
    expect(ids).not.toContain("es-a");
    expect(ids).toContain("es-b");

    const after = await route(routeBody("ES", MADRID, true));
    expect(siteOf(after)).toBe("es-b");
    expect(after.lease?.siteId).toBe("es-b");
    expect(after.rejected.map((r) => r.target)).not.toContain("site:es-a");
    expect(siteCount(after)).toBe(sitesBefore - 1);
    await outcome({ leaseId: after.lease?.id, ok: true });
  });
});

describe("reservations and POST /v1/outcomes", () => {
  const ROME = { lat: 41.9, lon: 12.5 };

  it("reserve: true answers with a lease; an outcome releases it once", async () => {
    await register(site("it-a", "IT", ROME));
    const decided = await route(routeBody("IT", ROME));
    expect(decided).not.toHaveProperty("lease");

    const before = Date.now();
    const d = await route(routeBody("IT", ROME, true));
    expect(d.tier).toBe("mec");
    expect(siteOf(d)).toBe("it-a");
    const lease = d.lease as Lease;
    expect(Object.keys(lease).sort()).toEqual(["expiresAt", "id", "siteId"]);
    expect(lease.id).toMatch(/^it-a\.[0-9a-f-]{36}$/);
    expect(lease.siteId).toBe("it-a");
    expect(lease.expiresAt).toBeGreaterThan(before);
    expect(lease.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    expect((await describeSite("it-a")).leases).toBe(1);

    const body = { leaseId: lease.id, decisionId: d.decisionId, ok: true, latencyMs: 420 };
    expect(await outcome(body)).toEqual({ accepted: true, released: true });
    expect(await outcome(body, OPERATOR_KEY)).toEqual({ accepted: true, released: false });
    const detail = await describeSite("it-a");
    expect(detail.leases).toBe(0);
    expect(detail.breaker.phase).toBe("closed");
  });

  it("an outcome about a decision only, or a lease nobody holds, is accepted and frees nothing", async () => {
    expect(await outcome({ decisionId: crypto.randomUUID(), ok: true })).toEqual({
      accepted: true,
      released: false,
    });
    const stranger = `it-a.${crypto.randomUUID()}`;
    expect(await outcome({ leaseId: stranger, ok: false, errorClass: "timeout" })).toEqual({
      accepted: true,
      released: false,
    });
    expect((await describeSite("it-a")).breaker.phase).toBe("closed");
  });

  it("400 with field paths for invalid outcome bodies", async () => {
    const post = (body: unknown) => call("POST", "/v1/outcomes", { key: DEVICE_KEY, body });
    expect(await expectInvalid(await post({}))).toEqual(["ok"]);
    expect(await expectInvalid(await post({ siteId: "it-a", ok: "yes" }))).toEqual(["ok"]);
    expect(await expectInvalid(await post({ ok: true }))).toEqual(["leaseId"]);
    expect(await expectInvalid(await post({ leaseId: "it-a", ok: true }))).toEqual(["leaseId"]);
    expect(await expectInvalid(await post({ decisionId: "not-a-uuid", ok: true }))).toEqual([
      "decisionId",
    ]);
    expect(await expectInvalid(await post({ siteId: "It A", ok: true }))).toEqual(["siteId"]);
    expect(await expectInvalid(await post({ siteId: "it-a", ok: true, latencyMs: -1 }))).toEqual([
      "latencyMs",
    ]);
    expect(
      await expectInvalid(await post({ siteId: "it-a", ok: false, errorClass: "meltdown" })),
    ).toEqual(["errorClass"]);
    expect(await expectInvalid(await post({ siteId: "it-a", ok: true, retry: 1 }))).toEqual([
      "(body)",
    ]);
    // A model name is a catalog id or nothing: free text never reaches history.
    const named = { decisionId: "6f1c2b0e-4a53-4f0e-9a51-3d2f1c7b8e90", ok: true };
    expect(await expectInvalid(await post({ ...named, model: "my-secret-note" }))).toEqual([
      "model",
    ]);
    expect((await post({ ...named, model: "llama-3.2-1b" })).status).toBe(202);
  });
});

describe("circuit breaker through /v1/outcomes", () => {
  it("a device's timeout of a request that waited in the site's queue leaves the breaker closed", async () => {
    const VALLETTA = { lat: 35.9, lon: 14.51 };
    await register(
      site("mt-a", "MT", VALLETTA, {
        capacity: { maxConcurrent: 2, maxQueue: 30, gpus: 1, gpuMemoryGb: 24 },
      }),
    );
    const leases: Lease[] = [];
    for (let i = 0; i < 7; i++) {
      const d = await route(routeBody("MT", VALLETTA, true));
      expect(siteOf(d)).toBe("mt-a");
      leases.push(d.lease as Lease);
    }
    // Two ran at once; five were granted beyond the run slots and waited. Their timeouts
    // (five in a row would open the breaker) say the queue was long.
    for (const lease of leases.slice(2)) {
      const res = await outcome({ leaseId: lease.id, ok: false, errorClass: "timeout" });
      expect(res).toEqual({ accepted: true, released: true });
    }
    const after = (await describeSite("mt-a")).breaker;
    expect(after.phase).toBe("closed");
    expect(after.consecutiveFailures).toBe(0);
    // A request that ran at once and timed out still counts against the site.
    for (const lease of leases.slice(0, 2)) {
      await outcome({ leaseId: lease.id, ok: false, errorClass: "timeout" });
    }
    const detail = await describeSite("mt-a");
    expect(detail.leases).toBe(0);
    expect(detail.breaker.consecutiveFailures).toBe(2);
  });

  it("consecutive upstream failures reported for a site open its breaker before the next request is routed there", async () => {
    const HELSINKI = { lat: 60.17, lon: 24.94 };
    await register(
      site("fi-a", "FI", HELSINKI),
      site("fi-b", "FI", { lat: 61.5, lon: 23.76 }, { residentModels: [] }),
    );
    const leases: Lease[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await route(routeBody("FI", HELSINKI, true));
      expect(siteOf(d)).toBe("fi-a");
      leases.push(d.lease as Lease);
    }
    expect(leases.map((l) => l.siteId)).toEqual(Array(5).fill("fi-a"));
    expect((await describeSite("fi-a")).leases).toBe(5);

    for (const lease of leases) {
      const res = await outcome({ leaseId: lease.id, ok: false, errorClass: "http_5xx" });
      expect(res).toEqual({ accepted: true, released: true });
    }

    const detail = await describeSite("fi-a");
    expect(detail.breaker.phase).toBe("open");
    expect(detail.breaker.openUntil).toBeGreaterThan(Date.now());
    expect(detail.view).toMatchObject({ breaker: "open", trafficShare: 0 });
    expect(detail.leases).toBe(0);

    const next = await route(routeBody("FI", HELSINKI));
    expect(siteOf(next)).toBe("fi-b");
    expect(next.rejected).toContainEqual({
      target: "site:fi-a",
      reason: "breaker",
      detail: "circuit breaker open",
    });
    const reserved = await route(routeBody("FI", HELSINKI, true));
    expect(reserved.lease?.siteId).toBe("fi-b");
    await outcome({ leaseId: reserved.lease?.id, ok: true });
    expect((await listSites()).sites.find((s) => s.id === "fi-a")?.breaker).toBe("open");
  });

  it("failures reported by siteId, without a lease, open it too; a lone site is then unavailable (503)", async () => {
    const STOCKHOLM = { lat: 59.33, lon: 18.07 };
    await register(site("se-a", "SE", STOCKHOLM));
    expect(siteOf(await route(routeBody("SE", STOCKHOLM)))).toBe("se-a");

    for (let i = 0; i < 5; i++) {
      const res = await outcome({ siteId: "se-a", ok: false, errorClass: "connect" });
      expect(res).toEqual({ accepted: true, released: false });
    }
    expect((await describeSite("se-a")).view.breaker).toBe("open");

    const res = await call("POST", "/v1/route", {
      key: DEVICE_KEY,
      body: routeBody("SE", STOCKHOLM, true),
    });
    const body = await expectError(res, 503, "unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
    const { rejected } = body.error.details as { rejected: { target: string; reason: string }[] };
    expect(rejected).toContainEqual(
      expect.objectContaining({ target: "site:se-a", reason: "breaker" }),
    );
  });
});
