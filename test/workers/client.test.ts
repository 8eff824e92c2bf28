// The typed client (client/) against the worker: its fetch is the worker's own, so each call
// crosses the real routes, Durable Objects and D1. Its types are checked by tsc in `npm test`.

import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { createClient } from "../../client/index.ts";

const BASE = "http://router.test";
const fetch = (input: string, init: RequestInit) => exports.default.fetch(input, init);
const operator = createClient({ baseUrl: BASE, apiKey: "dev-operator-key", fetch });
const device = createClient({ baseUrl: `${BASE}/`, apiKey: "dev-device-key", fetch });
const SITE = {
  name: "Client test site",
  location: { lat: 50.11, lon: 8.68 },
  country: "DE",
  trusted: true,
  certifications: ["gdpr"],
  endpoint: `${inject("demoSiteUrl")}/v1`,
  capacity: { maxConcurrent: 8, maxQueue: 16, gpus: 1, gpuMemoryGb: 24 },
  cost: { gpuHourUsd: 1 },
  models: [{ model: "llama-3.2-3b" }],
  residentModels: ["llama-3.2-3b"],
};

describe("typed client", () => {
  it("registers a site and routes to it, typed end to end", async () => {
    const put = await operator.putSite({ params: { id: "client-fra" }, body: SITE });
    expect(put.ok && put.data.site.id).toBe("client-fra");

    const res = await device.route({
      body: {
        task: { modality: "text", inputTokens: 100, maxOutputTokens: 32 },
        constraints: { latencySlaMs: 5000, privacy: "strict", dataResidency: ["DE"] },
        location: { lat: 50.1, lon: 8.7 },
      },
    });
    if (!res.ok) throw new Error(`${res.status} ${res.error.code}: ${res.error.message}`);
    expect(res.status).toBe(200);
    expect(res.data.tier).toBe("mec");
    expect(res.data.target).toMatchObject({ kind: "site", siteId: "client-fra" });
    expect(res.response.headers.get("x-mec-decision-id")).toBe(res.data.decisionId);

    const site = await operator.getSite({ params: { id: "client-fra" } });
    expect(site.ok && site.data.registration.endpoint).toBe(SITE.endpoint);
    const fleet = await operator.listSites();
    expect(fleet.ok && fleet.data.sites.some((s) => s.id === "client-fra")).toBe(true);
  });

  it("answers errors as data: status, code, message and field paths", async () => {
    const missing = await operator.getSite({ params: { id: "client-nowhere" } });
    expect(missing).toMatchObject({ ok: false, status: 404, error: { code: "not_found" } });

    const bad = await device.route({
      // @ts-expect-error the type refuses an unknown modality, as the server does
      body: { task: { modality: "smell" }, constraints: { latencySlaMs: 100 } },
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe("invalid_request");
      expect(bad.error.details).toEqual([{ path: "task.modality", message: expect.any(String) }]);
    }

    const forbidden = await device.listSites();
    expect(forbidden).toMatchObject({ ok: false, status: 403, error: { code: "forbidden" } });
  });

  it("sends query parameters and takes no key where none is needed", async () => {
    const anomalies = await operator.listAnomalies({
      query: { target: "site:client-fra", limit: "5" },
    });
    expect(anomalies.ok && anomalies.data.anomalies).toEqual([]);
    const badQuery = await operator.listAnomalies({ query: { limit: "0" } });
    expect(badQuery.ok ? [] : badQuery.error.details).toEqual([
      { path: "limit", message: expect.any(String) },
    ]);
    const summary = await operator.analyticsSummary({ query: { from: Date.now() - 3_600_000 } });
    expect(summary.ok && summary.data.window.points).toBeGreaterThan(0);
    const health = await createClient({ baseUrl: BASE, fetch }).health();
    expect(health).toMatchObject({ ok: true, data: { ok: true } });
    const removed = await operator.deleteSite({ params: { id: "client-fra" } });
    expect(removed).toMatchObject({ ok: true, status: 204, data: null });
  });
});
