// Learned answer lengths (shared/answer-length.ts): shares of max_tokens per modality and model,
// shrunk towards their parent while samples are few, and looked up with fallbacks.

import { describe, expect, it } from "vitest";
import {
  type AnswerObservation,
  answerLengthStateSchema,
  answerShares,
  answerSharesSchema,
  observeAnswers,
  outputShare,
} from "../../shared/answer-length.ts";

function answers(n: number, share: number, o: Partial<AnswerObservation> = {}) {
  return Array.from({ length: n }, () => ({
    modality: "text" as const,
    model: "llama-3.1-8b",
    outputTokens: share * 200,
    maxOutputTokens: 200,
    ...o,
  }));
}

describe("observeAnswers", () => {
  it("keeps the mean share per modality and per (modality, model), and never mutates", () => {
    const before = {};
    const s = observeAnswers(before, [
      ...answers(1, 0.2),
      ...answers(1, 0.6),
      ...answers(2, 1, { model: "nova-micro" }),
    ]);
    expect(before).toEqual({});
    expect(s["text|llama-3.1-8b"]).toEqual({ n: 2, mean: expect.closeTo(0.4, 9) });
    expect(s["text|nova-micro"]).toEqual({ n: 2, mean: 1 });
    expect(s.text).toEqual({ n: 4, mean: expect.closeTo(0.7, 9) });
    expect(answerLengthStateSchema.safeParse(s).success).toBe(true);
  });

  it("caps a share at 1 and skips answers without a positive max_tokens", () => {
    const s = observeAnswers({}, [
      ...answers(1, 0, { outputTokens: 500, maxOutputTokens: 100 }),
      ...answers(1, 0, { maxOutputTokens: 0 }),
    ]);
    expect(s.text).toEqual({ n: 1, mean: 1 });
  });

  it("follows a change with an exponential weight once it has many samples", () => {
    let s = observeAnswers({}, answers(500, 0.8));
    s = observeAnswers(s, answers(100, 0.3));
    // 100 samples at α = 0.01 move the mean 1 − 0.99^100 ≈ 63 % of the way.
    expect(s.text?.mean).toBeCloseTo(0.3 + 0.5 * 0.99 ** 100, 6);
  });
});

describe("answerShares", () => {
  it("shrinks a modality towards the prior and a model towards its modality, by samples", () => {
    const s = observeAnswers({}, [
      ...answers(20, 0.9),
      ...answers(60, 0.3, { model: "nova-micro" }),
    ]);
    const shares = answerShares(s, 0.5);
    // The modality: 80 samples of mean 0.45, weight 80 / (80 + 20).
    const text = 0.8 * 0.45 + 0.2 * 0.5;
    expect(shares.text).toBeCloseTo(text, 9);
    expect(shares["text|llama-3.1-8b"]).toBeCloseTo(0.5 * 0.9 + 0.5 * text, 9);
    expect(shares["text|nova-micro"]).toBeCloseTo(0.75 * 0.3 + 0.25 * text, 9);
    expect(answerSharesSchema.safeParse(shares).success).toBe(true);
  });

  it("never goes below the floor, however short the answers", () => {
    const shares = answerShares(observeAnswers({}, answers(1_000, 0)), 0.5);
    expect(shares.text).toBe(0.05);
  });
});

describe("outputShare", () => {
  const shares = { text: 0.4, "text|nova-micro": 0.2 };

  it("takes the model's share, else the modality's, else the prior", () => {
    expect(outputShare(shares, "text", "nova-micro", 0.5)).toBe(0.2);
    expect(outputShare(shares, "text", "llama-3.1-8b", 0.5)).toBe(0.4);
    expect(outputShare(shares, "image", "nova-lite", 0.5)).toBe(0.5);
    expect(outputShare(undefined, "text", "nova-micro", 0.5)).toBe(0.5);
  });
});
