// The `review` role: what Nova Pro is shown offline (an aggregate summary of the last hours, per
// tier/target and open anomalies by metric — no request features, no content) and what it must
// answer (proposed score weights, a rationale, a confidence). Pure.

import type { ConverseCommandInput } from "@aws-sdk/client-bedrock-runtime";
import * as z from "zod/mini";
import { REVIEW_PROMPT } from "./prompts/review.ts";

/** The review runs on Nova Pro's model id (`NOVA_PRO_MODEL`). */
export const REVIEW_ROLE_MODEL = "pro" as const;
export const REVIEW_MAX_TOKENS = 400;
export const REVIEW_PROMPT_VERSION = REVIEW_PROMPT.version;

/** One tier/target's aggregates over the window. */
export interface ReviewTargetSummary {
  tier: string;
  target: string;
  decisions: number;
  outcomes: number;
  /** errors / outcomes; null without outcomes. */
  errorRate: number | null;
  /** slaMet / slaKnown; null when no outcome's SLA was known. */
  slaAttainment: number | null;
  /** Mean latency of the outcomes, ms; null without outcomes. */
  meanLatencyMs: number | null;
  costUsd: number;
}

/** Everything the review shows Nova: aggregates only. */
export interface ReviewSummary {
  windowStart: number;
  windowEnd: number;
  targets: ReviewTargetSummary[];
  /** Open (unresolved) anomalies in the window, counted by metric. */
  openAnomalies: Record<string, number>;
}

const unit = z.number().check(z.gte(0), z.lte(1));

export const reviewAnswerSchema = z.object({
  weights: z.object({ latency: unit, cost: unit, privacy: unit, reliability: unit }),
  rationale: z.string().check(z.maxLength(500)),
  confidence: unit,
});
export type ReviewAnswer = z.infer<typeof reviewAnswerSchema>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function toolSchema(): { [key: string]: Json } {
  const num: Json = { type: "number", minimum: 0, maximum: 1 };
  return {
    type: "object",
    properties: {
      weights: {
        type: "object",
        properties: { latency: num, cost: num, privacy: num, reliability: num },
        required: ["latency", "cost", "privacy", "reliability"],
      },
      rationale: { type: "string", maxLength: 500 },
      confidence: num,
    },
    required: ["weights", "rationale", "confidence"],
  };
}

/** The Converse input: the versioned prompt, the summary as JSON, the tool forced. */
export function reviewConverseInput(modelId: string, summary: ReviewSummary): ConverseCommandInput {
  return {
    modelId,
    system: [{ text: REVIEW_PROMPT.system }],
    messages: [{ role: "user", content: [{ text: JSON.stringify({ summary }) }] }],
    inferenceConfig: { maxTokens: REVIEW_MAX_TOKENS, temperature: 0 },
    toolConfig: {
      tools: [
        {
          toolSpec: {
            name: REVIEW_PROMPT.tool,
            description: `Answer of ${REVIEW_PROMPT.version}`,
            inputSchema: { json: toolSchema() },
          },
        },
      ],
      toolChoice: { tool: { name: REVIEW_PROMPT.tool } },
    },
  };
}
