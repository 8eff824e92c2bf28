// Synthetic `/v1/route` requests for the decision benchmark: a mix of modalities, privacy levels,
// SLAs, devices and networks, from users near the fleet's sites (a few roaming or without a
// location). Each body goes through the real schema and defaults, as the worker does.

import { CATALOG } from "../shared/catalog.ts";
import { residencyAllows } from "../shared/residency.ts";
import {
  normalizeRouteRequest,
  type RouteRequestInput,
  routeRequestSchema,
} from "../shared/route-request.ts";
import type { FleetData, GeoPoint, Modality, RouteRequest } from "../shared/types.ts";
import { METROS } from "./metros.ts";
import { createRng, type Rng, weightedPicker } from "./random.ts";
import { jitter } from "./synthetic-fleet.ts";

type Task = RouteRequestInput["task"];
type Constraints = RouteRequestInput["constraints"];
type Device = NonNullable<RouteRequestInput["device"]>;
type Network = NonNullable<RouteRequestInput["network"]>;

const DEVICE_VARIANTS = CATALOG.flatMap((m) => (m.device ? [m.device.variant] : []));

function task(rng: Rng, modality: Modality): Task {
  const t: Task = { modality };
  const named = CATALOG.filter((m) => m.modalities.includes(modality));
  if (rng.chance(0.15)) t.model = rng.pick(named).id;
  switch (modality) {
    case "text":
      t.inputTokens = Math.min(100_000, Math.round(rng.logNormal(400, 1.1)));
      t.maxOutputTokens = rng.pick([64, 128, 256, 256, 512, 1024, 2048]);
      break;
    case "audio":
      t.inputTokens = Math.round(rng.range(150, 1_500));
      t.maxOutputTokens = rng.pick([128, 256, 448]);
      t.payloadBytes = t.inputTokens * 640; // ~16 kHz 16-bit mono, 50 tokens/s
      break;
    case "image":
      t.maxOutputTokens = rng.pick([64, 128, 256, 512]);
      if (rng.chance(0.5)) t.payloadBytes = Math.round(rng.logNormal(250_000, 0.7));
      break;
    case "video":
      t.maxOutputTokens = rng.pick([128, 256, 512]);
      t.payloadBytes = Math.round(rng.logNormal(5_000_000, 0.8));
      break;
    case "multimodal":
      t.maxOutputTokens = rng.pick([128, 256, 512]);
      break;
  }
  const c = rng.next();
  if (c < 0.08) t.criticality = "critical";
  else if (c < 0.23) t.criticality = "sheddable";
  else if (rng.chance(0.5)) t.criticality = "standard";
  return t;
}

function constraints(rng: Rng, t: Task, country: string): Constraints {
  const { modality } = t;
  const streamed = (modality === "text" || modality === "multimodal") && rng.chance(0.35);
  // Clients size a whole-response SLA to what they ask for (~50 tokens/s plus the upload),
  // some generously, some too tightly to be met.
  const uploadMs = ((t.payloadBytes ?? 0) * 8) / 10_000;
  const expectedMs = 400 + (t.maxOutputTokens ?? 256) * 20 + uploadMs;
  const slaMs = streamed
    ? rng.pick([300, 500, 800, 1_200, 2_000])
    : Math.min(
        60_000,
        Math.max(300, Math.round((expectedMs * rng.logNormal(1.6, 0.5)) / 100) * 100),
      );
  const c: Constraints = { latencySlaMs: slaMs };
  if (streamed) c.latencyTarget = "first_token";
  const p = rng.next();
  c.privacy = p < 0.1 ? "strict" : p < 0.35 ? "sensitive" : rng.chance(0.5) ? "public" : undefined;
  const zone = residencyAllows(["EU"], country) ? "EU" : country;
  if (c.privacy === "sensitive" && rng.chance(0.6)) c.dataResidency = [zone];
  else if (rng.chance(0.08)) c.dataResidency = rng.chance(0.5) ? [zone] : [country];
  const k = rng.next();
  if (k < 0.08) c.compliance = ["gdpr"];
  else if (k < 0.13) c.compliance = ["iso27001"];
  else if (k < 0.17) c.compliance = ["hipaa"];
  else if (k < 0.2) c.compliance = ["soc2", "iso27001"];
  if (rng.chance(0.2)) c.maxCostUsd = rng.pick([0.0002, 0.0005, 0.001, 0.005, 0.02]);
  return c;
}

function device(rng: Rng): Device {
  const cls = rng.pick(["low", "low", "mid", "mid", "mid", "high", "high"] as const);
  const th = rng.next();
  return {
    models: rng.chance(0.35) ? [] : rng.sample(DEVICE_VARIANTS, rng.int(1, DEVICE_VARIANTS.length)),
    batteryPct: rng.int(3, 100),
    charging: rng.chance(0.25),
    thermal: th < 0.75 ? "nominal" : th < 0.9 ? "fair" : th < 0.98 ? "serious" : "critical",
    memoryFreeMb: Math.round(rng.range(300, cls === "low" ? 1_500 : cls === "mid" ? 3_500 : 7_000)),
    class: cls,
  };
}

function network(rng: Rng): Network {
  const n = rng.next();
  const type =
    n < 0.35 ? "5g" : n < 0.6 ? "4g" : n < 0.88 ? "wifi" : n < 0.97 ? "unknown" : "offline";
  const net: Network = { type };
  if (type !== "offline" && type !== "unknown" && rng.chance(0.6)) {
    const base = { "5g": [20, 50], "4g": [45, 10], wifi: [15, 40] }[type];
    net.rttMs = Math.round(rng.logNormal(base[0] ?? 30, 0.4));
    net.uplinkMbps = Math.round(rng.logNormal(base[1] ?? 10, 0.6) * 10) / 10;
    net.downlinkMbps = Math.round(net.uplinkMbps * rng.range(3, 8) * 10) / 10;
  }
  return net;
}

/**
 * `count` normalized requests against `fleet`, the same for the same seed: 90 % of users near
 * one of its sites, 7 % near any metro (roaming, or where the fleet has no site), 3 % unlocated.
 */
export function syntheticRequests(fleet: FleetData, count: number, seed: number): RouteRequest[] {
  const rng = createRng(seed);
  const pickModality = weightedPicker<Modality>(rng, [
    ["text", 0.6],
    ["image", 0.15],
    ["audio", 0.12],
    ["multimodal", 0.08],
    ["video", 0.05],
  ]);
  const pickMetro = weightedPicker(
    rng,
    METROS.map((m) => [m, m.popM] as const),
  );
  const out: RouteRequest[] = [];
  for (let i = 0; i < count; i++) {
    const w = rng.next();
    let location: GeoPoint | undefined;
    let country: string;
    if (w < 0.9 && fleet.sites.length > 0) {
      const site = rng.pick(fleet.sites);
      location = jitter(rng, site.location, 25);
      country = site.country;
    } else {
      const metro = pickMetro();
      if (w < 0.97) location = jitter(rng, metro, 25);
      country = metro.country;
    }
    const modality = pickModality();
    const t = task(rng, modality);
    const input = routeRequestSchema.parse({
      requestId: `bench-${seed}-${i}`,
      task: t,
      constraints: constraints(rng, t, country),
      device: device(rng),
      network: network(rng),
      location,
    });
    out.push(normalizeRouteRequest(input));
  }
  return out;
}
