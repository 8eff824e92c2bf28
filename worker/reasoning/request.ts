// What Nova is shown and what it must answer, per role: the request's features (numbers and
// enums only — never prompt or payload content), the rules' feasible candidates for Pro, one
// forced tool with a JSON Schema, and the zod schema its input is validated with. Pure.

import type { ConverseCommandInput } from "@aws-sdk/client-bedrock-runtime";
import * as z from "zod/mini";
import { networkClass } from "../../shared/context.ts";
import type { Decision, PlanStep, RouteRequest } from "../../shared/types.ts";
import { CLASSIFY_PROMPT } from "./prompts/classify.ts";
import { DECIDE_PROMPT } from "./prompts/decide.ts";
import { SCORE_PROMPT } from "./prompts/score.ts";

export type Role = "micro" | "lite" | "pro";

/** The only facts about a request that leave for Bedrock. */
export interface RequestFeatures {
  modality: string;
  criticality: string;
  inputTokens: number;
  maxOutputTokens: number;
  payloadKb: number;
  latencySlaMs: number;
  latencyTarget: string;
  maxCostUsd: number | null;
  privacy: string;
  dataResidency: string[];
  compliance: string[];
  rulesClassification: string;
  rulesComplexity: number;
  deviceClass: string;
  thermal: string;
  batteryPct: number;
  charging: boolean;
  networkType: string;
  networkClass: string;
}

export interface CandidateView {
  key: string;
  tier: string;
  model: string;
  predictedLatencyMs: number;
  predictedCostUsd: number;
}

export function requestFeatures(req: RouteRequest, decision: Decision): RequestFeatures {
  const { task, constraints: c, device, network } = req;
  return {
    modality: task.modality,
    criticality: task.criticality,
    inputTokens: task.inputTokens,
    maxOutputTokens: task.maxOutputTokens,
    payloadKb: Math.round(task.payloadBytes / 1024),
    latencySlaMs: c.latencySlaMs,
    latencyTarget: c.latencyTarget,
    maxCostUsd: c.maxCostUsd ?? null,
    privacy: c.privacy,
    dataResidency: [...c.dataResidency],
    compliance: [...c.compliance],
    rulesClassification: decision.classification,
    rulesComplexity: decision.complexity,
    deviceClass: device.class,
    thermal: device.thermal,
    batteryPct: Math.round(device.batteryPct),
    charging: device.charging,
    networkType: network.type,
    networkClass: networkClass(network),
  };
}

/** The key a plan step's target is known by in `rejected` and to Nova. */
export function targetKey(step: Pick<PlanStep, "target">): string {
  const t = step.target;
  return t.kind === "device"
    ? "device"
    : t.kind === "site"
      ? `site:${t.siteId}`
      : `cloud:${t.region}`;
}

/** The rules' feasible targets, in their order: primary, then backups. */
export function candidatesOf(decision: Decision): CandidateView[] {
  return [decision.plan.primary, ...decision.plan.backups].map((s) => ({
    key: targetKey(s),
    tier: s.tier,
    model: s.model,
    predictedLatencyMs: s.predictedLatencyMs,
    predictedCostUsd: s.predictedCostUsd,
  }));
}

export const classifyAnswerSchema = z.object({
  classification: z.enum(["simple", "complex", "critical"]),
  reason: z.string().check(z.maxLength(500)),
});
export const scoreAnswerSchema = z.object({
  complexity: z.number().check(z.gte(0), z.lte(1)),
  resources: z.object({
    memoryGb: z.number().check(z.gte(0)),
    cpuCores: z.number().check(z.gte(0)),
    gpuUnits: z.number().check(z.gte(0)),
    bandwidthMbps: z.number().check(z.gte(0)),
  }),
});
export const decideAnswerSchema = z.object({
  primary: z.string().check(z.minLength(1), z.maxLength(128)),
  backups: z.array(z.string().check(z.maxLength(128))).check(z.maxLength(8)),
  confidence: z.number().check(z.gte(0), z.lte(1)),
  rationale: z.string().check(z.maxLength(2000)),
});
export type ClassifyAnswer = z.infer<typeof classifyAnswerSchema>;
export type ScoreAnswer = z.infer<typeof scoreAnswerSchema>;
export type DecideAnswer = z.infer<typeof decideAnswerSchema>;

const MAX_TOKENS: Record<Role, number> = { micro: 120, lite: 160, pro: 256 };

/** A JSON value, as the SDK's `DocumentType` accepts it. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function toolSchema(role: Role, candidates: CandidateView[]): { [key: string]: Json } {
  const num = (minimum: number, maximum: number): Json => ({ type: "number", minimum, maximum });
  if (role === "micro") {
    return {
      type: "object",
      properties: {
        classification: { type: "string", enum: ["simple", "complex", "critical"] },
        reason: { type: "string", maxLength: 200 },
      },
      required: ["classification", "reason"],
    };
  }
  if (role === "lite") {
    return {
      type: "object",
      properties: {
        complexity: num(0, 1),
        resources: {
          type: "object",
          properties: {
            memoryGb: num(0, 1024),
            cpuCores: num(0, 256),
            gpuUnits: num(0, 64),
            bandwidthMbps: num(0, 100_000),
          },
          required: ["memoryGb", "cpuCores", "gpuUnits", "bandwidthMbps"],
        },
      },
      required: ["complexity", "resources"],
    };
  }
  const keys = candidates.map((c) => c.key);
  return {
    type: "object",
    properties: {
      primary: { type: "string", enum: keys },
      backups: { type: "array", items: { type: "string", enum: keys }, maxItems: 3 },
      confidence: num(0, 1),
      rationale: { type: "string", maxLength: 200 },
    },
    required: ["primary", "backups", "confidence", "rationale"],
  };
}

const PROMPTS = { micro: CLASSIFY_PROMPT, lite: SCORE_PROMPT, pro: DECIDE_PROMPT } as const;

export function promptVersion(role: Role): string {
  return PROMPTS[role].version;
}

/**
 * The Converse input for one role: the versioned system prompt, the features (and for Pro the
 * candidates) as JSON, and the role's tool forced. Nothing else about the request is included.
 */
export function converseInput(
  role: Role,
  modelId: string,
  features: RequestFeatures,
  candidates: CandidateView[] = [],
): ConverseCommandInput {
  const prompt = PROMPTS[role];
  const facts = role === "pro" ? { request: features, candidates } : { request: features };
  return {
    modelId,
    system: [{ text: prompt.system }],
    messages: [{ role: "user", content: [{ text: JSON.stringify(facts) }] }],
    inferenceConfig: { maxTokens: MAX_TOKENS[role], temperature: 0 },
    toolConfig: {
      tools: [
        {
          toolSpec: {
            name: prompt.tool,
            description: `Answer of ${prompt.version}`,
            inputSchema: { json: toolSchema(role, candidates) },
          },
        },
      ],
      toolChoice: { tool: { name: prompt.tool } },
    },
  };
}

/** Output tokens a role may use: the budget reserves this before a call. */
export function maxTokens(role: Role): number {
  return MAX_TOKENS[role];
}
