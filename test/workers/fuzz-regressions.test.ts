// What the fuzz suite (fuzz.test.ts) found, each pinned by the smallest request that showed it.

import { describe, expect, it } from "vitest";
import { ExecutionFailed } from "../../worker/execute/run-plan.ts";
import { call, DEVICE_KEY, expectError, expectInvalid, site } from "./fixtures/fleet-api.ts";

const TALLINN = { lat: 59.44, lon: 24.75 };

describe("fuzz findings", () => {
  it("a plan whose every target refuses answers 503 with Retry-After, like every other 503", async () => {
    const refused = new ExecutionFailed([
      { target: "site:a", tier: "mec", ok: false, errorClass: "denied", latencyMs: 0 },
    ]);
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("1");
    // Through the router: a site with one slot, held by a lease; a chat request for it is
    // refused at admission (or, once the fleet snapshot shows the lease, at the decision).
    const one = site("one-slot", "EE", TALLINN, {
      capacity: { maxConcurrent: 1, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
    });
    expect((await call("PUT", "/v1/sites/one-slot", { body: one })).status).toBe(200);
    const constraints = { privacy: "strict", latencySlaMs: 20_000, dataResidency: ["EE"] };
    const held = await call("POST", "/v1/route", {
      key: DEVICE_KEY,
      body: { task: { modality: "text" }, constraints, location: TALLINN, reserve: true },
    });
    expect(held.status).toBe(200);
    const res = await call("POST", "/v1/chat/completions", {
      key: DEVICE_KEY,
      body: {
        model: "llama-3.2-3b",
        messages: [{ role: "user", content: "ping" }],
        mec: { location: TALLINN, constraints },
      },
    });
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.clone().json()) as { error: { code: string } };
    expect(["unavailable", "overloaded"]).toContain(body.error.code);
    await expectError(res, 503, body.error.code);
  });
});

describe("fuzz findings: model names that are built-in object properties", () => {
  // A site registered with a model named "__proto__" answered 500: the view read the model's
  // measured speed from a record, got Object.prototype, and could not send it back.
  it("are refused wherever model names come in, never a 500", async () => {
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      const odd = site("proto-site", "EE", TALLINN, {
        models: [{ model: "llama-3.2-3b" }, { model: name }],
      });
      expect(await expectInvalid(await call("PUT", "/v1/sites/proto-site", { body: odd }))).toEqual(
        ["models.1.model"],
      );
      const resident = site("proto-site", "EE", TALLINN, { residentModels: [name] });
      expect(
        await expectInvalid(await call("PUT", "/v1/sites/proto-site", { body: resident })),
      ).toEqual(["residentModels.0"]);
    }
    expect(
      (await call("PUT", "/v1/sites/proto-site", { body: site("proto-site", "EE", TALLINN) }))
        .status,
    ).toBe(200);
    const heartbeat = {
      metrics: { "vllm:num_requests_waiting": 0, "vllm:num_requests_running": 0 },
      tokensPerSec: { constructor: 50 },
      residentModels: [{ model: "__proto__" }],
    };
    const hb = await call("POST", "/v1/sites/proto-site/heartbeat", {
      key: "dev-site-key",
      body: heartbeat,
    });
    expect((await expectInvalid(hb)).sort()).toEqual([
      "residentModels.0.model",
      "tokensPerSec.constructor",
    ]);
    const load = await call("POST", "/v1/sites/proto-site/models", {
      body: { model: "__proto__" },
    });
    expect(await expectInvalid(load)).toEqual(["model"]);
  });
});
