// The decision policy: weights, thresholds and physical constants the router agent uses.
// Operators override parts of it through wrangler vars; tests and benchmarks pass their own.

import type { Classification, Privacy, RetryPolicy } from "./types.ts";

export interface Policy {
  /** Weights of the score terms (lower score wins); they need not sum to 1. */
  weights: { latency: number; cost: number; privacy: number; reliability: number };
  /** How much the privacy term counts per privacy level. */
  privacyEmphasis: Record<Privacy, number>;
  /** Minimum catalog quality per classification when `model` is `auto`. */
  qualityByClass: Record<Classification, number>;
  /** Complexity at or above which a request is `complex` (or needs the top model when critical). */
  complexThreshold: number;
  hardThreshold: number;
  /**
   * Complexity this close to `complexThreshold` is borderline: the class could go either way,
   * and a learned second opinion (Nova Micro / Lite) may settle it.
   */
  hintBand: number;
  /** Nearest MEC sites evaluated per request (the spatial pre-filter). */
  maxSiteCandidates: number;
  maxBackups: number;
  /** RTT per km of great-circle distance: fibre at ~200 km/ms, ×1.5 for real routes. */
  rttMsPerKm: number;
  /** Carrier edge → cloud region overhead beyond distance (peering, load balancers). */
  cloudBaseRttMs: number;
  /** Distance assumed for every target when the caller's location is unknown. */
  unknownDistanceKm: number;
  /** A site is saturated at this queue depth or KV-cache use (llm-d's defaults: 5 and 0.8). */
  saturation: { queue: number; kvCache: number };
  /** Site data older than this counts as stale (confidence falls to 0 on freshness). */
  staleAfterMs: number;
  /**
   * Share of `max_tokens` an answer is expected to use until outcomes teach the fleet snapshot's
   * `answerShares` (answer-length.ts).
   */
  answerShare: number;
  /**
   * The score's latency term (`latencyUtility` in decide.ts): up to `slaComfort` × the SLA,
   * latency costs `comfortSlope` per SLA; beyond it, the term rises steeply to 1 at the SLA.
   */
  slaComfort: number;
  comfortSlope: number;
  /** Primary attempt timeout: prediction × factor, at least prediction + slack. */
  timeoutFactor: number;
  minTimeoutSlackMs: number;
  retry: RetryPolicy;
  device: { lowBatteryPct: number };
}

export const DEFAULT_POLICY: Policy = {
  weights: { latency: 0.45, cost: 0.32, privacy: 0.03, reliability: 0.2 },
  privacyEmphasis: { public: 0.5, sensitive: 1.5, strict: 2 },
  qualityByClass: { simple: 1, complex: 3, critical: 3 },
  complexThreshold: 0.45,
  hardThreshold: 0.7,
  hintBand: 0.08,
  maxSiteCandidates: 16,
  maxBackups: 2,
  rttMsPerKm: 0.015,
  cloudBaseRttMs: 35,
  unknownDistanceKm: 500,
  saturation: { queue: 5, kvCache: 0.8 },
  staleAfterMs: 10_000,
  // Apps size max_tokens for the longest answer they accept; half of it is a middle prior that
  // outcomes replace within tens of answers.
  answerShare: 0.5,
  slaComfort: 0.6,
  comfortSlope: 0.25,
  timeoutFactor: 1.5,
  minTimeoutSlackMs: 50,
  retry: { maxAttempts: 2, baseDelayMs: 25, maxDelayMs: 200 },
  device: { lowBatteryPct: 20 },
};
