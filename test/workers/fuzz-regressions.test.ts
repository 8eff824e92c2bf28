// What the fuzz suite (fuzz.test.ts) found, each pinned by the smallest request that showed it.

import { describe, expect, it } from "vitest";
import { ExecutionFailed } from "../../worker/execute/run-plan.ts";
import { call, DEVICE_KEY, expectError, site } from "./fixtures/fleet-api.ts";

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
