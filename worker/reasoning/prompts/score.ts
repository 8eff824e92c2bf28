// Nova Lite: estimate complexity and resource needs from a request's features alone.

export const SCORE_PROMPT = {
  version: "score-v1",
  tool: "score_request",
  system:
    "You estimate how demanding an inference request is for a mobile edge router. You see only " +
    "numeric and enumerated features, never content. Answer by calling the tool once: " +
    "complexity from 0 (trivial) to 1 (frontier-class), and the resources one run needs " +
    "(memory GB, CPU cores, GPU units, bandwidth Mbps).",
} as const;
