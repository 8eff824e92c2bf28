// Fleet descriptions (seed schema, registrations), the prepared snapshot, and data residency.

import { describe, expect, it } from "vitest";
import { catalogModel } from "../../shared/catalog.ts";
import { type PreparedFleet, prepareFleet } from "../../shared/fleet.ts";
import {
  fleetFromSeed,
  type SiteRegistration,
  seedFleetSchema,
  siteFromRegistration,
  siteRegistrationSchema,
  siteUrlAllowed,
} from "../../shared/fleet-schema.ts";
import { nearest } from "../../shared/geo.ts";
import { residencyAllows } from "../../shared/residency.ts";
import seedJson from "../../shared/seed/fleet.json" with { type: "json" };
import type { SiteView } from "../../shared/types.ts";
import { makeSite, NOW, seedFleet } from "./helpers/fleet-builders.ts";

const registration: SiteRegistration = {
  id: "munich-1",
  name: "Munich carrier edge",
  location: { lat: 48.137, lon: 11.575 },
  country: "DE",
  trusted: true,
  certifications: ["gdpr"],
  endpoint: "http://127.0.0.1:9109/v1",
  capacity: { maxConcurrent: 8, maxQueue: 16, gpus: 1, gpuMemoryGb: 24 },
  cost: { gpuHourUsd: 1.2 },
  models: [{ model: "llama-3.1-8b" }],
  residentModels: ["llama-3.1-8b"],
};

describe("seed fleet", () => {
  it("validates, and names only catalog models with a variant for their tier", () => {
    const seed = seedFleetSchema.parse(seedJson);
    expect(seed.sites.length).toBeGreaterThan(0);
    for (const site of seed.sites) {
      for (const { model } of site.models) expect(catalogModel(model)?.mec).toBeDefined();
    }
    for (const region of seed.regions) {
      for (const model of region.models) expect(catalogModel(model)?.cloud).toBeDefined();
    }
  });

  it("has unique site and region ids", () => {
    const { data } = seedFleet();
    expect(new Set(data.sites.map((s) => s.id)).size).toBe(data.sites.length);
    expect(new Set(data.regions.map((r) => r.id)).size).toBe(data.regions.length);
  });

  it("starts every region closed and error-free, stamped now", () => {
    const data = fleetFromSeed(seedFleetSchema.parse(seedJson), NOW);
    expect(data.generatedAt).toBe(NOW);
    for (const r of data.regions) expect(r).toMatchObject({ breaker: "closed", errorRate: 0 });
    for (const s of data.sites) expect(s.load.updatedAt).toBe(NOW);
  });
});

describe("siteFromRegistration", () => {
  it("makes an idle, healthy site with a closed breaker and its own fault domain", () => {
    const site = siteFromRegistration(registration, NOW);
    expect(site).toMatchObject({
      id: "munich-1",
      faultDomain: "munich-1",
      breaker: "closed",
      trafficShare: 1,
      errorRate: 0,
      draining: false,
      healthy: true,
    });
    expect(site.load).toEqual({
      waiting: 0,
      running: 0,
      kvCacheUsage: 0,
      gpuUtilization: 0,
      freeGpuMemoryGb: 24,
      residentModels: ["llama-3.1-8b"],
      updatedAt: NOW,
    });
    expect(site).not.toHaveProperty("residentModels");
  });

  it("keeps a shared fault domain when one is registered", () => {
    expect(
      siteFromRegistration({ ...registration, faultDomain: "muc-power-a" }, NOW).faultDomain,
    ).toBe("muc-power-a");
  });
});

describe("siteRegistrationSchema", () => {
  const { residentModels: _, ...body } = registration;

  it("defaults the resident models to none", () => {
    expect(siteRegistrationSchema.parse(body).residentModels).toEqual([]);
  });

  it.each([
    ["an unknown key", { ...body, gpuType: "L4" }, ""],
    ["an id that is not a slug", { ...body, id: "Munich 1" }, "id"],
    ["a country that is not ISO alpha-2", { ...body, country: "DEU" }, "country"],
    ["a site with no models", { ...body, models: [] }, "models"],
    ["a non-HTTP endpoint", { ...body, endpoint: "ftp://edge/v1" }, "endpoint"],
    ["an endpoint with credentials", { ...body, endpoint: "https://u:p@edge/v1" }, "endpoint"],
    ["an endpoint with a query", { ...body, endpoint: "https://edge/v1?x=1" }, "endpoint"],
    [
      "a control endpoint with a fragment",
      { ...body, controlEndpoint: "https://e/#a" },
      "controlEndpoint",
    ],
    ["a 3 KB endpoint", { ...body, endpoint: `https://edge/${"v".repeat(3000)}` }, "endpoint"],
    [
      "an unbounded GPU memory figure",
      { ...body, capacity: { ...body.capacity, gpuMemoryGb: 1e300 } },
      "capacity.gpuMemoryGb",
    ],
    [
      "zero concurrency",
      { ...body, capacity: { ...body.capacity, maxConcurrent: 0 } },
      "capacity.maxConcurrent",
    ],
  ])("rejects %s", (_, bad, path) => {
    const result = siteRegistrationSchema.safeParse(bad);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

describe("siteUrlAllowed", () => {
  it("allows https always and plain http only where the deployment allows it", () => {
    expect(siteUrlAllowed("https://edge.example/v1", false)).toBe(true);
    expect(siteUrlAllowed("HTTPS://edge.example/v1", false)).toBe(true);
    expect(siteUrlAllowed("http://edge.example/v1", false)).toBe(false);
    expect(siteUrlAllowed("http://127.0.0.1:9101/v1", true)).toBe(true);
    expect(siteUrlAllowed("not a url", false)).toBe(false);
  });
});

describe("prepareFleet", () => {
  it("indexes the sites in id order without reordering the snapshot", () => {
    const sites = [makeSite({ id: "c" }), makeSite({ id: "a" }), makeSite({ id: "b" })];
    const fleet = prepareFleet({ version: 1, generatedAt: NOW, sites, regions: [] });
    expect(fleet.siteIndex.items.map((s) => s.id)).toEqual(["a", "b", "c"]);
    expect(fleet.data.sites.map((s) => s.id)).toEqual(["c", "a", "b"]);
  });

  // 300 sites on a grid over Europe, listed in no particular id order.
  const grid = Array.from({ length: 300 }, (_, i) =>
    makeSite({
      id: `site-${(i * 7919) % 300}`,
      location: { lat: 36 + (i % 20) * 1.3, lon: -9 + Math.floor(i / 20) * 2.5 },
    }),
  );
  const probes = Array.from({ length: 50 }, (_, i) => ({
    lat: 35 + ((i * 37) % 30),
    lon: -10 + ((i * 53) % 40),
  }));
  const at = (sites: SiteView[]) => ({ version: 2, generatedAt: NOW, sites, regions: [] });
  /** The 5 nearest of every probe: ids and distances. */
  const answers = (fleet: PreparedFleet) =>
    probes.map((p) => nearest(fleet.siteIndex, p, 5).map((n) => `${n.item.id} ${n.km}`));

  it("keeps the tree when only the sites' state changed, over the new snapshot's sites", () => {
    const before = prepareFleet(at(grid));
    const next = grid.map((s) => ({ ...s, load: { ...s.load, running: 3 }, errorRate: 0.2 }));
    const after = prepareFleet(at(next), before);
    expect(after.siteIndex.xyz).toBe(before.siteIndex.xyz);
    expect(after.siteIndex.order).toBe(before.siteIndex.order);
    // The new views are what decisions read, in id order, exactly as a fresh build has them.
    const fresh = prepareFleet(at(next));
    expect(after.siteIndex.items).toEqual(fresh.siteIndex.items);
    expect(after.siteIndex.items.every((s, k) => s === fresh.siteIndex.items[k])).toBe(true);
    expect(answers(after)).toEqual(answers(fresh));
  });

  it.each([
    [
      "a site moved",
      (s: SiteView[]) => s.map((x, i) => (i === 17 ? { ...x, location: { lat: 60, lon: 25 } } : x)),
    ],
    [
      "a site came",
      (s: SiteView[]) => [...s, makeSite({ id: "new", location: { lat: 48, lon: 2 } })],
    ],
    ["a site went", (s: SiteView[]) => s.slice(1)],
    ["the sites were listed in another order", (s: SiteView[]) => [...s].reverse()],
    [
      "a site was replaced by another at the same place",
      (s: SiteView[]) => s.map((x, i) => (i === 5 ? { ...x, id: "other" } : x)),
    ],
  ])("builds the tree anew when %s, and finds what a fresh build finds", (_, change) => {
    const before = prepareFleet(at(grid));
    const next = change(grid);
    const after = prepareFleet(at(next), before);
    expect(after.siteIndex.xyz).not.toBe(before.siteIndex.xyz);
    expect(answers(after)).toEqual(answers(prepareFleet(at(next))));
  });
});

describe("residencyAllows", () => {
  it.each([
    [[], "US", true],
    [["DE"], "DE", true],
    [["DE"], "FR", false],
    [["EU"], "FR", true],
    [["EU"], "NO", false],
    [["EEA"], "NO", true],
    [["EU"], "CH", false],
    [["EU"], "GB", false],
    [["US", "EU"], "PL", true],
  ])("allows %j to hold data in %s: %s", (allowed, country, expected) => {
    expect(residencyAllows(allowed, country)).toBe(expected);
  });
});
