// Nova Pro, offline: propose score weights from the last hours' aggregates (never content).

export const REVIEW_PROMPT = {
  version: "review-v1",
  tool: "propose_weights",
  system:
    "You review a mobile edge inference router's recent performance offline. You see only " +
    "aggregates per tier and target (request counts, error rate, SLA attainment, mean latency, " +
    "cost) and the open anomalies by metric, never request content. The router scores targets " +
    "with weights for latency, cost, privacy and reliability. Propose weights, each from 0 to 1, " +
    "that would improve SLA attainment and reliability without needless cost; change little " +
    "when the data is thin or healthy, and say so with a low confidence. Answer by calling the " +
    "tool once; rationale under 60 words, about the aggregates only.",
} as const;
