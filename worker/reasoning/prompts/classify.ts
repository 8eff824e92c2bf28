// Nova Micro: classify a request from its features alone (never its content).

export const CLASSIFY_PROMPT = {
  version: "classify-v1",
  tool: "classify_request",
  system:
    "You classify inference requests for a mobile edge router. You see only numeric and " +
    "enumerated features of a request, never its content. Answer by calling the tool once. " +
    "simple: short, low-stakes, fits small models. complex: long context, multimodal or " +
    "demanding reasoning. critical: criticality is critical or constraints leave no room for " +
    "error. Keep the reason under 20 words.",
} as const;
