// The simulated mobile workload: phones in the fleet's metros asking for text, image, audio and
// video inference, arriving as a Poisson process whose rate follows a day's demand curve
// (compressed into the run: night, morning rise, evening peak, night). Each request body goes
// through the real `/v1/route` schema and defaults, as the worker does.

import { CATALOG } from "../../shared/catalog.ts";
import {
  normalizeRouteRequest,
  type RouteRequestInput,
  routeRequestSchema,
} from "../../shared/route-request.ts";
import type { DeviceClass, GeoPoint, Modality, NetworkType } from "../../shared/types.ts";
import { createRng, type Rng, weightedPicker } from "../random.ts";
import { jitter } from "../synthetic-fleet.ts";
import { SIM_METROS, type SimMetro } from "./fleet.ts";
import type { SimRequest } from "./world.ts";

export interface WorkloadSpec {
  durationMs: number;
  /** Arrivals per second at the day's peak (all metros). */
  peakPerSec: number;
  users: number;
  /** Shares of strict and sensitive requests; the rest are public. */
  privacy: { strict: number; sensitive: number };
  /** One metro's demand multiplied over a window (fractions of the run). */
  flashCrowd?: { metro: string; from: number; to: number; factor: number };
  /** From `from` (fraction of the run), `share` of text requests name `model`. */
  newModel?: { model: string; from: number; share: number };
  /** Share of users travelling between two metros over the run (handovers, 4G on the road). */
  movers?: number;
}

interface User {
  home: GeoPoint;
  metro: SimMetro;
  /** A traveller's destination; the position moves from home to there over the run. */
  to?: SimMetro;
  class: DeviceClass;
  models: string[];
  network: NetworkType;
}

const DEVICE_VARIANTS = CATALOG.flatMap((m) => (m.device ? [m.device.variant] : []));
const NETWORK_FIGURES: Record<"5g" | "4g" | "wifi", [number, number]> = {
  "5g": [20, 50],
  "4g": [45, 10],
  wifi: [15, 40],
};

/** Demand over a compressed day: low at the ends, highest two thirds in. */
export function diurnal(fraction: number): number {
  const hour = 24 * fraction;
  const morning = Math.exp(-((hour - 9) ** 2) / 8);
  const evening = Math.exp(-((hour - 20) ** 2) / 10);
  return Math.min(1, 0.15 + 0.55 * morning + 0.85 * evening);
}

function makeUsers(rng: Rng, spec: WorkloadSpec): User[] {
  const pickMetro = weightedPicker(
    rng,
    SIM_METROS.map((m) => [m, m.popM] as const),
  );
  const users: User[] = [];
  for (let i = 0; i < spec.users; i++) {
    const metro = pickMetro();
    const cls = rng.pick(["low", "mid", "mid", "high", "high"] as const);
    const user: User = {
      metro,
      home: jitter(rng, metro, 12),
      class: cls,
      models: rng.chance(0.35)
        ? []
        : rng.sample(DEVICE_VARIANTS, rng.int(1, DEVICE_VARIANTS.length)),
      network: rng.pick(["5g", "5g", "4g", "wifi", "wifi", "unknown"] as const),
    };
    if (spec.movers && rng.chance(spec.movers)) {
      user.to = rng.pick(SIM_METROS.filter((m) => m !== metro));
    }
    users.push(user);
  }
  return users;
}

function position(u: User, fraction: number): GeoPoint {
  if (!u.to) return u.home;
  return {
    lat: u.home.lat + (u.to.lat - u.home.lat) * fraction,
    lon: u.home.lon + (u.to.lon - u.home.lon) * fraction,
  };
}

function task(rng: Rng, modality: Modality): RouteRequestInput["task"] {
  const t: RouteRequestInput["task"] = { modality };
  switch (modality) {
    case "text":
      t.inputTokens = Math.min(32_000, Math.round(rng.logNormal(350, 1)));
      t.maxOutputTokens = rng.pick([64, 128, 256, 256, 512, 1024]);
      break;
    case "audio":
      t.inputTokens = Math.round(rng.range(150, 1_500));
      t.maxOutputTokens = rng.pick([128, 256, 448]);
      t.payloadBytes = t.inputTokens * 640;
      break;
    case "image":
      t.maxOutputTokens = rng.pick([64, 128, 256, 512]);
      t.payloadBytes = Math.round(rng.logNormal(250_000, 0.6));
      break;
    case "video":
      t.maxOutputTokens = rng.pick([128, 256, 512]);
      t.payloadBytes = Math.round(rng.logNormal(4_000_000, 0.6));
      break;
    case "multimodal":
      t.maxOutputTokens = rng.pick([128, 256, 512]);
      break;
  }
  const c = rng.next();
  t.criticality = c < 0.08 ? "critical" : c < 0.2 ? "sheddable" : "standard";
  return t;
}

function constraints(
  rng: Rng,
  spec: WorkloadSpec,
  t: RouteRequestInput["task"],
  country: string,
): RouteRequestInput["constraints"] {
  const streamed = (t.modality === "text" || t.modality === "multimodal") && rng.chance(0.4);
  // Apps size a whole-answer SLA to what they ask for (~50 tokens/s plus the upload).
  const upload = ((t.payloadBytes ?? 0) * 8) / 10_000;
  const expected = 400 + (t.maxOutputTokens ?? 256) * 20 + upload;
  const latencySlaMs = streamed
    ? rng.pick([600, 800, 1_000, 1_500, 2_000])
    : Math.min(
        60_000,
        Math.max(500, Math.round((expected * rng.logNormal(1.3, 0.35)) / 100) * 100),
      );
  const c: RouteRequestInput["constraints"] = { latencySlaMs };
  if (streamed) c.latencyTarget = "first_token";
  const p = rng.next();
  const eu = country !== "US";
  if (p < spec.privacy.strict) c.privacy = "strict";
  else if (p < spec.privacy.strict + spec.privacy.sensitive) {
    c.privacy = "sensitive";
    if (rng.chance(0.6)) c.dataResidency = [eu ? "EU" : country];
  } else if (rng.chance(0.05)) c.dataResidency = [country];
  if (rng.chance(0.08)) c.compliance = ["gdpr"];
  if (rng.chance(0.1)) c.maxCostUsd = rng.pick([0.0005, 0.002, 0.01]);
  return c;
}

function network(rng: Rng, u: User, moving: boolean): NonNullable<RouteRequestInput["network"]> {
  // On the road a phone is on 4G or 5G, with worse and more variable links.
  const type = moving ? rng.pick(["4g", "5g"] as const) : u.network;
  if (type === "unknown") return { type };
  const [rtt, up] = NETWORK_FIGURES[type as "5g" | "4g" | "wifi"];
  return {
    type,
    rttMs: Math.round(rng.logNormal(rtt * (moving ? 1.6 : 1), 0.35)),
    uplinkMbps: Math.round(rng.logNormal(up / (moving ? 2 : 1), 0.5) * 10) / 10,
  };
}

/** The trace: requests in arrival order, the same for the same seed and spec. */
export function simWorkload(spec: WorkloadSpec, seed: number): SimRequest[] {
  const rng = createRng(seed);
  const users = makeUsers(rng, spec);
  const pickModality = weightedPicker<Modality>(rng, [
    ["text", 0.62],
    ["image", 0.14],
    ["audio", 0.12],
    ["multimodal", 0.07],
    ["video", 0.05],
  ]);
  const flash = spec.flashCrowd;
  const crowd = flash ? users.filter((u) => u.metro.slug === flash.metro) : [];
  const maxRate = spec.peakPerSec * (1 + (flash ? flash.factor * 0.15 : 0));
  const out: SimRequest[] = [];
  let t = 0;
  for (;;) {
    t += (-Math.log(1 - rng.next()) / maxRate) * 1000;
    if (t >= spec.durationMs) break;
    const f = t / spec.durationMs;
    const inFlash = flash !== undefined && f >= flash.from && f < flash.to && crowd.length > 0;
    // The crowd's metro usually holds ~15 % of demand; a flash crowd adds `factor` times that.
    const flashRate = inFlash ? spec.peakPerSec * 0.15 * flash.factor : 0;
    const rate = spec.peakPerSec * diurnal(f) + flashRate;
    if (rng.next() * maxRate > rate) continue;
    const fromCrowd = inFlash && rng.next() * rate < flashRate;
    const userIndex = fromCrowd ? users.indexOf(rng.pick(crowd)) : rng.int(0, users.length - 1);
    const u = users[userIndex] as User;
    const modality = pickModality();
    const tk = task(rng, modality);
    if (spec.newModel && f >= spec.newModel.from && modality === "text") {
      if (rng.chance(spec.newModel.share)) tk.model = spec.newModel.model;
    }
    const moving = u.to !== undefined;
    const thermal = rng.next();
    const input = routeRequestSchema.parse({
      requestId: `sim-${seed}-${out.length}`,
      task: tk,
      constraints: constraints(rng, spec, tk, u.metro.country),
      device: {
        models: u.models,
        batteryPct: rng.int(5, 100),
        charging: rng.chance(0.2),
        thermal:
          thermal < 0.8
            ? "nominal"
            : thermal < 0.93
              ? "fair"
              : thermal < 0.99
                ? "serious"
                : "critical",
        memoryFreeMb: Math.round(rng.range(800, u.class === "low" ? 2_000 : 6_000)),
        class: u.class,
      },
      network: network(rng, u, moving),
      location: jitter(rng, position(u, f), moving ? 2 : 3),
    });
    const req = normalizeRouteRequest(input);
    out.push({
      index: out.length,
      at: t,
      req,
      // Answers stop before the limit most of the time.
      outputTokens: Math.max(1, Math.round(req.task.maxOutputTokens * rng.range(0.25, 1))),
      user: userIndex,
    });
  }
  return out;
}
