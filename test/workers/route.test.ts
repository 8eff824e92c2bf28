import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import fleet from "./fixtures/fleet.json";

const DEVICE_KEY = "dev-device-key";
const OPERATOR_KEY = "dev-operator-key";
const SITE_KEY = "dev-site-key";
const BERLIN = { lat: 52.52, lon: 13.4 };

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

function post(body: unknown, init: { key?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json", ...init.headers };
  const key = init.key === undefined ? DEVICE_KEY : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  return exports.default.fetch("http://router.test/v1/route", {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
  return body;
}

// The fleet for this file: one idle trusted site, one saturated one (load from a heartbeat).
beforeAll(async () => {
  for (const { load, ...site } of fleet.sites) {
    const res = await exports.default.fetch(`http://router.test/v1/sites/${site.id}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_KEY}` },
      body: JSON.stringify(site),
    });
    expect(res.status).toBe(200);
    if (!load) continue;
    const hb = await exports.default.fetch(`http://router.test/v1/sites/${site.id}/heartbeat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${SITE_KEY}` },
      body: JSON.stringify({
        metrics: {
          "vllm:num_requests_waiting": load.waiting,
          "vllm:num_requests_running": load.running,
          "vllm:kv_cache_usage_perc": load.kvCacheUsage,
        },
        gpuUtilization: load.gpuUtilization,
      }),
    });
    expect(hb.status).toBe(200);
  }
});

describe("POST /v1/route: a decision per tier", () => {
  it("places a strict-privacy text request at the trusted MEC site", async () => {
    const res = await post({
      requestId: "req-mec.1",
      task: { modality: "text", inputTokens: 200, maxOutputTokens: 64 },
      constraints: { latencySlaMs: 5000, privacy: "strict" },
      location: BERLIN,
    });
    expect(res.status).toBe(200);
    const d = (await res.json()) as Record<string, unknown> & {
      target: { kind: string; siteId?: string };
      plan: { primary: { tier: string }; backups: { tier: string }[] };
      rejected: { target: string; reason: string }[];
    };
    expect(d.requestId).toBe("req-mec.1");
    expect(d.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("x-mec-decision-id")).toBe(d.decisionId);
    expect(d.tier).toBe("mec");
    expect(d.target).toMatchObject({ kind: "site", siteId: "berlin-a" });
    expect(d.reasoner).toBe("rules");
    expect(d.plan.primary.tier).toBe("mec");
    expect(d.rejected).toContainEqual(
      expect.objectContaining({ target: "cloud:eu-central-1", reason: "privacy" }),
    );
    for (const key of ["classification", "complexity", "confidence", "confidenceLevel"]) {
      expect(d).toHaveProperty(key);
    }
  });

  it("keeps an offline phone on the device", async () => {
    const res = await post({
      task: { modality: "text", inputTokens: 100, maxOutputTokens: 32 },
      constraints: { latencySlaMs: 10_000 },
      device: { models: ["llama-3.2-1b-q4"], memoryFreeMb: 4000 },
      network: { type: "offline" },
    });
    expect(res.status).toBe(200);
    const d = (await res.json()) as { tier: string; target: unknown; model: string };
    expect(d.tier).toBe("device");
    expect(d.target).toEqual({ kind: "device" });
    expect(d.model).toBe("llama-3.2-1b");
  });

  it("sends video, which no site serves, to the cloud", async () => {
    const res = await post(
      {
        task: { modality: "video", maxOutputTokens: 128 },
        constraints: { latencySlaMs: 20_000, dataResidency: ["EU"] },
        network: { type: "5g" },
        location: BERLIN,
      },
      { key: OPERATOR_KEY },
    );
    expect(res.status).toBe(200);
    const d = (await res.json()) as { tier: string; target: { kind: string; region: string } };
    expect(d.tier).toBe("cloud");
    expect(d.target).toMatchObject({ kind: "cloud", region: "eu-central-1" });
  });
});

describe("POST /v1/route: errors", () => {
  it("400 with field paths for a schema miss", async () => {
    const res = await post({ task: { modality: "hologram" }, constraints: {}, extra: 1 });
    const body = await expectError(res, 400, "invalid_request");
    const paths = (body.error.details as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(["task.modality", "constraints.latencySlaMs", "(body)"]),
    );
  });

  it("400 for malformed JSON and for an unknown model", async () => {
    await expectError(await post("{not json"), 400, "invalid_request");
    const res = await post({
      task: { modality: "text", model: "gpt-17" },
      constraints: { latencySlaMs: 900 },
    });
    const body = await expectError(res, 400, "invalid_request");
    expect(body.error.details).toEqual([expect.objectContaining({ path: "task.model" })]);
  });

  it("401 without a key or with a wrong one, 403 for a site key", async () => {
    const valid = { task: { modality: "text" }, constraints: { latencySlaMs: 900 } };
    const missing = await post(valid, { key: null });
    await expectError(missing, 401, "unauthorized");
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectError(await post(valid, { key: "dev-device-kez" }), 401, "unauthorized");
    await expectError(await post(valid, { key: SITE_KEY }), 403, "forbidden");
  });

  it("413 before parsing, whether or not the size is declared", async () => {
    const big = JSON.stringify({ pad: "x".repeat(70 * 1024) });
    await expectError(await post(big), 413, "payload_too_large");
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 70; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
        controller.close();
      },
    });
    const res = await exports.default.fetch("http://router.test/v1/route", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEVICE_KEY}` },
      body: chunked,
    });
    await expectError(res, 413, "payload_too_large");
  });

  it("415 for a body that is not JSON", async () => {
    const res = await post("modality=text", { headers: { "content-type": "text/plain" } });
    await expectError(res, 415, "unsupported_media_type");
  });

  it("422 with every candidate's rejection when nothing is feasible", async () => {
    const res = await post({
      task: { modality: "video" },
      constraints: { latencySlaMs: 20_000, privacy: "strict" },
      location: BERLIN,
    });
    const body = await expectError(res, 422, "infeasible");
    const rejected = (body.error.details as { rejected: { target: string; reason: string }[] })
      .rejected;
    expect(rejected.map((r) => r.target).sort()).toEqual([
      "cloud:eu-central-1",
      "cloud:eu-west-3",
      "cloud:us-east-1",
      "device",
      "site:berlin-a",
      "site:munich-b",
    ]);
    expect(rejected.find((r) => r.target === "cloud:eu-central-1")?.reason).toBe("privacy");
    expect(rejected.find((r) => r.target === "site:berlin-a")?.reason).toBe("modality");
  });

  it("503 overloaded for a sheddable request when every feasible target is saturated", async () => {
    const body = {
      task: { modality: "text", criticality: "sheddable", maxOutputTokens: 32 },
      constraints: { latencySlaMs: 20_000, privacy: "strict", compliance: ["hipaa"] },
      location: BERLIN,
    };
    const res = await post(body);
    await expectError(res, 503, "overloaded");
    expect(res.headers.get("retry-after")).toBe("1");
    // The same request, standard instead of sheddable, queues at the saturated site.
    const standard = await post({ ...body, task: { ...body.task, criticality: "standard" } });
    expect(standard.status).toBe(200);
    expect(((await standard.json()) as { target: { siteId: string } }).target.siteId).toBe(
      "munich-b",
    );
  });

  it("404 with the error shape for an unknown route", async () => {
    const res = await exports.default.fetch("http://router.test/v1/nothing");
    await expectError(res, 404, "not_found");
  });
});

describe("GET /v1/catalog and /healthz", () => {
  it("lists the catalog for any valid key", async () => {
    const res = await exports.default.fetch("http://router.test/v1/catalog", {
      headers: { authorization: `Bearer ${SITE_KEY}` },
    });
    expect(res.status).toBe(200);
    const { models } = (await res.json()) as { models: { id: string }[] };
    expect(models.map((m) => m.id)).toEqual(
      expect.arrayContaining(["llama-3.2-1b", "llama-3.1-8b", "nova-micro", "nova-pro"]),
    );
    const anon = await exports.default.fetch("http://router.test/v1/catalog");
    expect(anon.status).toBe(401);
  });
});

describe("POST /v1/route: a model resident nowhere near", () => {
  it("a best effort past the SLA while it is cold, and the site that serves it hears of the demand", async () => {
    // A Berlin site serving Qwen2.5 7B without it loaded: 11 s of cold load miss a 5 s SLA, and
    // no other target serves it: the request goes there late rather than being refused.
    const res = await exports.default.fetch("http://router.test/v1/sites/cold-c", {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR_KEY}` },
      body: JSON.stringify({
        ...fleet.sites[0],
        load: undefined,
        id: "cold-c",
        name: "Berlin C (Qwen not loaded)",
        models: [{ model: "qwen2.5-7b" }],
        residentModels: [],
      }),
    });
    expect(res.status).toBe(200);
    const late = await post({
      task: { modality: "text", model: "qwen2.5-7b", maxOutputTokens: 64 },
      constraints: { latencySlaMs: 5_000 },
      location: BERLIN,
    });
    expect(late.status).toBe(200);
    const decision = (await late.json()) as {
      target: { siteId?: string };
      bestEffort: boolean;
      predicted: { latencyMs: number };
      plan: { timeoutMs: number };
      rationale: { factor: string; detail: string }[];
    };
    expect(decision.target.siteId).toBe("cold-c");
    expect(decision.bestEffort).toBe(true);
    expect(decision.predicted.latencyMs).toBeGreaterThan(5_000);
    expect(decision.plan.timeoutMs).toBeGreaterThan(decision.predicted.latencyMs);
    expect(decision.rationale).toContainEqual({
      factor: "sla",
      detail:
        "best effort: no target is expected to meet the 5000 ms SLA; site:cold-c is expected soonest",
    });
    // The expected request counts as demand at the site's cache agent after the answer
    // (batched per isolate).
    const agent = env.SITE_AGENT.getByName("cold-c");
    let demand = 0;
    for (let i = 0; i < 40 && demand === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      demand = (await agent.describe())?.cache.demand["qwen2.5-7b"]?.count ?? 0;
    }
    expect(demand).toBeGreaterThan(0.99);
  });
});
