// A router too busy to read an answer in time is not a sick site. Against a demo site that never
// answers: an attempt whose timer fired when due counts against the site's breaker; one whose
// timer could only fire seconds after it was due (the isolate was kept busy, as a saturated
// router's is) hands its lease back with no verdict, so the breaker's window stays empty.

import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { windowStats } from "../../shared/breaker.ts";
import type { GeoPoint } from "../../shared/types.ts";
import { call, expectError, register, SMALL, site } from "./fixtures/fleet-api.ts";

const HANG = inject("hangSiteUrl");
const MONACO = { lat: 43.73, lon: 7.42 };
const SAN_MARINO = { lat: 43.94, lon: 12.45 };
/** The request's SLA: its attempts time out within it. */
const SLA_MS = 2_000;

/** A strict-privacy chat request that only the site in `country` may serve. */
function chat(country: string, at: GeoPoint): Promise<Response> {
  return call("POST", "/v1/chat/completions", {
    key: "dev-device-key",
    body: {
      model: SMALL,
      messages: [{ role: "user", content: "ping" }],
      max_tokens: 8,
      mec: {
        location: at,
        constraints: { privacy: "strict", latencySlaMs: SLA_MS, dataResidency: [country] },
      },
    },
  });
}

/** Chat requests the site has left hanging so far. */
async function hangs(): Promise<number> {
  const res = await fetch(`${HANG}/control/stats`);
  return ((await res.json()) as { hangs: number }).hangs;
}

/** Iterations of `spin` per millisecond on this machine, measured across real timers. */
async function spinRate(): Promise<number> {
  const n = 20_000_000;
  await new Promise((r) => setTimeout(r, 1));
  const t0 = Date.now();
  spin(n);
  await new Promise((r) => setTimeout(r, 1));
  return n / Math.max(1, Date.now() - t0);
}

let sink = 0;
/** Keeps the isolate busy: no timer, no socket read can run meanwhile. */
function spin(iterations: number): void {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + i) % 1_000_003;
  sink += x;
}

async function breakerOf(id: string) {
  const detail = await env.SITE_AGENT.getByName(id).describe();
  if (!detail) throw new Error(`${id} is not registered`);
  return detail;
}

/** Until the site's leases are all released (release runs after the answer). */
async function leasesSettled(id: string): Promise<void> {
  for (let i = 0; i < 200 && (await breakerOf(id)).leases > 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  expect((await breakerOf(id)).leases).toBe(0);
}

describe("attempt timeouts", () => {
  it("count against the site when the router's timer fired on time", async () => {
    await register(site("busy-on-time", "MC", MONACO, { endpoint: `${HANG}/v1` }));
    await expectError(await chat("MC", MONACO), 504, "upstream_timeout");
    await leasesSettled("busy-on-time");
    expect(windowStats((await breakerOf("busy-on-time")).breaker).failures).toBeGreaterThan(0);
  });

  it("leave the site's breaker alone when the router's timer fired seconds late", async () => {
    await register(site("busy-late", "SM", SAN_MARINO, { endpoint: `${HANG}/v1` }));
    const perMs = await spinRate();
    const before = await hangs();
    const answer = chat("SM", SAN_MARINO);
    // Once the first attempt waits at the site, keep the isolate busy past the whole SLA and
    // then some: its timer fires only afterwards, seconds after it was due.
    for (let i = 0; i < 400 && (await hangs()) === before; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await hangs()).toBeGreaterThan(before);
    spin(perMs * (SLA_MS + 2_000));
    const res = await answer;
    await expectError(res, 504, "upstream_timeout");
    await leasesSettled("busy-late");
    const { breaker } = await breakerOf("busy-late");
    expect(windowStats(breaker)).toMatchObject({ failures: 0 });
    expect(breaker.phase).toBe("closed");
    expect(sink).not.toBeNaN();
  });
});
