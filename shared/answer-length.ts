// How long answers really are: the share of `max_tokens` an answer uses, learned from outcomes
// per modality and per (modality, model). Apps set `max_tokens` for the longest answer they
// accept, and most answers stop well before it, so decoding `max_tokens` over-predicts latency
// and cost; the decision engine predicts the expected length from these shares and keeps
// `max_tokens` as the worst case.
//
// The monitor learns the state from successful outcomes (tokens out of the decision's
// `max_tokens`) and publishes `answerShares(state)` with the fleet snapshot; `outputShare` is what
// the hot path looks up. Each estimate is shrunk towards the one above it (model → modality →
// the policy's prior) with weight n / (n + priorWeight), as `correction` does in learning.ts.
// Pure: state in, new state out, never mutated.

import * as z from "zod/mini";
import type { Modality } from "./types.ts";

export interface AnswerLengthConfig {
  /** Weight of a new sample once a key has 1/α samples (before that, a plain mean). */
  alpha: number;
  /** Samples at which a learned share is trusted half. */
  priorWeight: number;
}

export const DEFAULT_ANSWER_LENGTH_CONFIG: AnswerLengthConfig = {
  // ≈ the last 100 answers: an app's mix of questions changes over hours, not seconds.
  alpha: 0.01,
  priorWeight: 20,
};

const stat = z.strictObject({
  n: z.int().check(z.gte(0)),
  mean: z.number().check(z.gte(0), z.lte(1)),
});

/** Keys at most: modalities × catalog models, with room to spare. */
const MAX_KEYS = 256;
const bounded = (r: object) => Object.keys(r).length <= MAX_KEYS;

/** Mean share of `max_tokens` used, by `answerShareKey`. */
export const answerLengthStateSchema = z
  .record(z.string().check(z.maxLength(80)), stat)
  .check(z.refine(bounded, "too many keys"));
export type AnswerLengthState = z.infer<typeof answerLengthStateSchema>;

/** Learned shares ready for the hot path, by `answerShareKey`; each in (0, 1]. */
export const answerSharesSchema = z
  .record(z.string().check(z.maxLength(80)), z.number().check(z.gt(0), z.lte(1)))
  .check(z.refine(bounded, "too many keys"));
export type AnswerShares = z.infer<typeof answerSharesSchema>;

/** `text` for a modality, `text|llama-3.1-8b` for one model of it. */
export function answerShareKey(modality: Modality, model?: string): string {
  return model === undefined ? modality : `${modality}|${model}`;
}

export interface AnswerObservation {
  modality: Modality;
  model: string;
  outputTokens: number;
  maxOutputTokens: number;
}

/** Learns from successful answers; an observation without a positive `max_tokens` is skipped. */
export function observeAnswers(
  state: AnswerLengthState,
  observations: Iterable<AnswerObservation>,
  cfg: AnswerLengthConfig = DEFAULT_ANSWER_LENGTH_CONFIG,
): AnswerLengthState {
  const next: AnswerLengthState = { ...state };
  for (const o of observations) {
    if (!(o.maxOutputTokens > 0 && o.outputTokens >= 0)) continue;
    const share = Math.min(1, o.outputTokens / o.maxOutputTokens);
    for (const key of [answerShareKey(o.modality), answerShareKey(o.modality, o.model)]) {
      const s = next[key] ?? { n: 0, mean: 0 };
      const n = s.n + 1;
      next[key] = { n, mean: s.mean + Math.max(cfg.alpha, 1 / n) * (share - s.mean) };
    }
  }
  return next;
}

/**
 * The shares the decision engine uses: per modality shrunk towards `prior`, per model shrunk
 * towards its modality's. At least `minShare`, so that one run of empty answers cannot make
 * every prediction optimistic to the point of nothing.
 */
export function answerShares(
  state: AnswerLengthState,
  prior: number,
  cfg: AnswerLengthConfig = DEFAULT_ANSWER_LENGTH_CONFIG,
  minShare = 0.05,
): AnswerShares {
  const out: AnswerShares = {};
  const shrink = (s: { n: number; mean: number }, towards: number) => {
    const w = s.n / (s.n + cfg.priorWeight);
    return Math.max(minShare, Math.min(1, w * s.mean + (1 - w) * towards));
  };
  const byModality = new Map<string, number>();
  for (const [key, s] of Object.entries(state)) {
    if (!key.includes("|")) byModality.set(key, shrink(s, prior));
  }
  for (const [key, s] of Object.entries(state)) {
    const modality = key.split("|")[0] as string;
    const parent = byModality.get(modality) ?? prior;
    out[key] = key.includes("|") ? shrink(s, parent) : parent;
  }
  return out;
}

/** The expected share of `max_tokens` for `model` on `modality`: learned, else `prior`. */
export function outputShare(
  shares: AnswerShares | undefined,
  modality: Modality,
  model: string,
  prior: number,
): number {
  if (!shares) return prior;
  return shares[answerShareKey(modality, model)] ?? shares[modality] ?? prior;
}
