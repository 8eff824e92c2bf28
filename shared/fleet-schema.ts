// Schemas for fleet descriptions: a MEC site's registration and a cloud region. Used for the seed
// file today and for the fleet API's bodies.

import * as z from "zod/mini";
import { notBuiltinProperty } from "./model-id.ts";
import type { FleetData, RegionView, SiteView } from "./types.ts";

const id = z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "expected a lower-case slug"));
const country = z.string().check(z.regex(/^[A-Z]{2}$/, "expected an ISO 3166-1 alpha-2 code"));
const tags = z
  .array(z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]{0,31}$/)))
  .check(z.maxLength(32));
const location = z.strictObject({
  lat: z.number().check(z.gte(-90), z.lte(90)),
  lon: z.number().check(z.gte(-180), z.lte(180)),
});
const modelId = z.string().check(z.minLength(1), z.maxLength(64), notBuiltinProperty);
/**
 * A site's API base: an absolute http(s) URL without credentials, query or fragment. Only the
 * operator names one (the fleet API); whether plain http is allowed depends on the deployment
 * (`siteUrlAllowed`).
 */
const siteUrl = z.url({ protocol: /^https?$/ }).check(
  z.maxLength(2048),
  // Checks run even when the URL check failed: only judge what parses.
  z.refine((u) => {
    const url = URL.parse(u);
    return !url || (!url.username && !url.password && !url.search && !url.hash);
  }, "expected a URL without credentials, query or fragment"),
);
/** Positive and below `max`: no figure of a real site comes near these bounds. */
const positive = (max: number) => z.number().check(z.gt(0), z.lte(max));

export const siteRegistrationSchema = z.strictObject({
  id,
  name: z.string().check(z.minLength(1), z.maxLength(120)),
  location,
  country,
  trusted: z.boolean(),
  certifications: tags,
  /** OpenAI-compatible base URL (`…/v1`); `/health` and `/metrics` are probed at its root. */
  endpoint: siteUrl,
  /** Model control API base (`POST {controlEndpoint}/models/load|unload`); optional. */
  controlEndpoint: z.optional(siteUrl),
  faultDomain: z.optional(id),
  /**
   * How the site orders its queue (shared/types.ts `Scheduling`); absent = `fcfs`. Only a
   * `priority` site is sent a request's `priority`: vLLM refuses one under `fcfs`.
   */
  scheduling: z.optional(z.enum(["fcfs", "priority"])),
  capacity: z.strictObject({
    maxConcurrent: z.int().check(z.gte(1), z.lte(100_000)),
    maxQueue: z.int().check(z.gte(0), z.lte(1_000_000)),
    gpus: z.int().check(z.gte(1), z.lte(4096)),
    gpuMemoryGb: positive(1_000_000),
  }),
  cost: z.strictObject({ gpuHourUsd: z.number().check(z.gte(0), z.lte(10_000)) }),
  models: z
    .array(
      z.strictObject({
        model: modelId,
        tokensPerSec: z.optional(positive(1_000_000)),
        loadTimeMs: z.optional(z.int().check(z.gte(0), z.lte(3_600_000))),
      }),
    )
    .check(z.minLength(1), z.maxLength(64)),
  residentModels: z._default(z.array(modelId).check(z.maxLength(64)), []),
});
export type SiteRegistration = z.infer<typeof siteRegistrationSchema>;

/**
 * Whether the router may call a site at `url`: https always; plain http only where the
 * deployment allows it (`ALLOW_HTTP_SITES`, local development and tests).
 */
export function siteUrlAllowed(url: string, allowHttp: boolean): boolean {
  if (allowHttp) return true;
  try {
    return new URL(url).protocol === "https:";
  } catch {
    return false;
  }
}

export const regionSchema = z.strictObject({
  id: z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "expected an AWS region id")),
  location,
  country,
  certifications: tags,
  models: z.array(modelId).check(z.minLength(1)),
});

const unit = z.number().check(z.gte(0), z.lte(1));

/** A site as the fleet snapshot carries it (validated when read back from storage). */
export const siteViewSchema = z.object({
  id,
  name: z.string(),
  location,
  country,
  trusted: z.boolean(),
  certifications: z.array(z.string()),
  endpoint: z.string(),
  faultDomain: z.string(),
  capacity: z.object({
    maxConcurrent: z.number(),
    maxQueue: z.number(),
    gpus: z.number(),
    gpuMemoryGb: z.number(),
  }),
  cost: z.object({ gpuHourUsd: z.number() }),
  models: z.array(
    z.object({
      model: z.string(),
      tokensPerSec: z.optional(z.number()),
      loadTimeMs: z.optional(z.number()),
    }),
  ),
  load: z.object({
    waiting: z.number(),
    running: z.number(),
    kvCacheUsage: unit,
    gpuUtilization: unit,
    freeGpuMemoryGb: z.number(),
    residentModels: z.array(z.string()),
    updatedAt: z.number(),
    waitingByClass: z.optional(
      z.object({ critical: z.number(), standard: z.number(), sheddable: z.number() }),
    ),
  }),
  scheduling: z.optional(z.enum(["fcfs", "priority"])),
  breaker: z.enum(["closed", "open", "half_open"]),
  trafficShare: unit,
  errorRate: unit,
  draining: z.boolean(),
  healthy: z.boolean(),
});

/** Live state a seed may give a site (a demo scenario, a test); heartbeats replace it. */
const seedLoadSchema = z.strictObject({
  waiting: z._default(z.int().check(z.gte(0)), 0),
  running: z._default(z.int().check(z.gte(0)), 0),
  kvCacheUsage: z._default(z.number().check(z.gte(0), z.lte(1)), 0),
  gpuUtilization: z._default(z.number().check(z.gte(0), z.lte(1)), 0),
});

export const seedFleetSchema = z.strictObject({
  sites: z.array(z.extend(siteRegistrationSchema, { load: z.optional(seedLoadSchema) })),
  regions: z.array(regionSchema),
});
export type SeedFleet = z.infer<typeof seedFleetSchema>;

/** A registered site with no live data yet: idle, closed breaker, healthy as of `now`. */
export function siteFromRegistration(reg: SiteRegistration, now: number): SiteView {
  const { residentModels, faultDomain, controlEndpoint: _control, ...rest } = reg;
  return {
    ...rest,
    faultDomain: faultDomain ?? reg.id,
    load: {
      waiting: 0,
      running: 0,
      kvCacheUsage: 0,
      gpuUtilization: 0,
      freeGpuMemoryGb: reg.capacity.gpuMemoryGb,
      residentModels,
      updatedAt: now,
    },
    breaker: "closed",
    trafficShare: 1,
    errorRate: 0,
    draining: false,
    healthy: true,
  };
}

export function fleetFromSeed(seed: SeedFleet, now: number): FleetData {
  const regions: RegionView[] = seed.regions.map((r) => ({
    ...r,
    breaker: "closed",
    errorRate: 0,
  }));
  return {
    version: 1,
    generatedAt: now,
    sites: seed.sites.map(({ load, ...reg }) => {
      const site = siteFromRegistration(reg, now);
      return load ? { ...site, load: { ...site.load, ...load } } : site;
    }),
    regions,
  };
}
