// The monitor learns how long answers are (shared/answer-length.ts): for each successful outcome
// whose decision is stored, the share of the decision's `max_tokens` its answer used, per
// modality and per (modality, model). One state row (scope `fleet`, name `answer-length`),
// written check-and-set, remembers the ids of the last `RECENT_IDS` outcomes it learned from, so
// a redelivered chunk is learned once. When it changed, the shares the decision engine uses go
// to the fleet directory, whose snapshot carries them to every isolate within seconds.

import * as z from "zod/mini";
import {
  type AnswerObservation,
  answerLengthStateSchema,
  answerShares,
  observeAnswers,
} from "../../shared/answer-length.ts";
import { catalogModel } from "../../shared/catalog.ts";
import type { OutcomeEvent } from "../../shared/events.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import { MODALITIES, type Modality } from "../../shared/types.ts";
import { compareAndSet, type Stored } from "./learned-parameters.ts";

export const ANSWERS_SCOPE = "fleet";
export const ANSWERS_NAME = "answer-length";
export const ANSWERS_CELL = { scope: ANSWERS_SCOPE, name: ANSWERS_NAME };
/** Outcome ids the state remembers, to skip redelivered ones. */
const RECENT_IDS = 512;

const rowSchema = z.strictObject({
  v: z.literal(1),
  state: answerLengthStateSchema,
  /** Ids of the latest outcomes learned, oldest first. */
  recent: z.array(z.string()),
});
type Row = z.infer<typeof rowSchema>;

export interface AnswerLengthEnv {
  DB: D1Database;
  FLEET_DIRECTORY: Env["FLEET_DIRECTORY"];
}

/** Whether an outcome can teach answer lengths (if its decision is stored, of a modality). */
export function learnsAnswerFrom(
  o: OutcomeEvent,
): o is OutcomeEvent & { tokens: NonNullable<OutcomeEvent["tokens"]> } {
  // Only catalog models: the state's keys stay few.
  return o.ok && o.tokens !== undefined && catalogModel(o.finalModel) !== undefined;
}

/**
 * Learns from the chunk's successful outcomes with token counts and a stored decision; returns
 * 1 when the state changed and its shares went to the fleet directory, else 0.
 * @param preread the state cell as the caller read it in its own batch (undefined: read here)
 */
export async function learnAnswerLengths(
  env: AnswerLengthEnv,
  outcomes: readonly OutcomeEvent[],
  decisions: ReadonlyMap<string, { modality: string; maxOutputTokens: number }>,
  now: number,
  preread?: { stored: Stored | undefined },
): Promise<number> {
  const observations: { id: string; obs: AnswerObservation }[] = [];
  for (const o of outcomes) {
    const d = decisions.get(o.decisionId);
    if (!learnsAnswerFrom(o) || !d || !isModality(d.modality)) continue;
    observations.push({
      id: o.id,
      obs: {
        modality: d.modality,
        model: o.finalModel,
        outputTokens: o.tokens.output,
        maxOutputTokens: d.maxOutputTokens,
      },
    });
  }
  if (observations.length === 0) return 0;
  let learned: Row | undefined;
  const cell = ANSWERS_CELL;
  const cas = { now, preread: preread && [preread.stored] };
  const written = await compareAndSet(env.DB, [cell], cas, (_c, stored) => {
    const parsed = rowSchema.safeParse(stored);
    if (stored !== undefined && !parsed.success) {
      console.warn(JSON.stringify({ event: "insights_state_reset", ...cell }));
    }
    const prev = parsed.success ? parsed.data : undefined;
    const seen = new Set(prev?.recent);
    const fresh = observations.filter(({ id }) => {
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (fresh.length === 0) return undefined;
    const state = observeAnswers(
      prev?.state ?? {},
      fresh.map((f) => f.obs),
    );
    const recent = [...(prev?.recent ?? []), ...fresh.map((f) => f.id)].slice(-RECENT_IDS);
    learned = { v: 1, state, recent };
    const samples = Object.values(state).reduce((n, s) => Math.max(n, s.n), 0);
    return { json: JSON.stringify(learned), samples };
  });
  if (written.length === 0 || !learned) return 0;
  const shares = answerShares(learned.state, DEFAULT_POLICY.answerShare);
  return (await env.FLEET_DIRECTORY.getByName("global").setAnswerShares(shares)) ? 1 : 0;
}

function isModality(m: string): m is Modality {
  return (MODALITIES as readonly string[]).includes(m);
}
