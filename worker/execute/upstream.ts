// What the plan runner needs from a tier: one call, complete or streamed, that either answers or
// fails with an `UpstreamError` saying how (status, transport failure, Retry-After).

import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
} from "../../shared/openai.ts";
import type { PlanStep } from "../../shared/types.ts";

export type TransportFailure = "timeout" | "connect" | "reset" | "aborted";

export class UpstreamError extends Error {
  readonly status: number | undefined;
  readonly failure: TransportFailure | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    opts: { status?: number; failure?: TransportFailure; retryAfterMs?: number },
  ) {
    super(message);
    this.name = "UpstreamError";
    this.status = opts.status;
    this.failure = opts.failure;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** A stream whose first chunk has arrived (so the attempt counts as started). */
export interface StartedStream {
  first: ChatCompletionChunk;
  rest: AsyncIterator<ChatCompletionChunk>;
  /** Stops the upstream (failover, client gone). */
  cancel(): Promise<void>;
}

/**
 * The client's OpenAI request without routing hints; each tier puts in its own model id and
 * translates it as it needs.
 */
export type UpstreamRequest = Omit<ChatCompletionRequest, "mec">;

export interface TierClient {
  complete(step: PlanStep, req: UpstreamRequest, signal: AbortSignal): Promise<ChatCompletion>;
  stream(step: PlanStep, req: UpstreamRequest, signal: AbortSignal): Promise<StartedStream>;
}

/** Maps what `fetch` or the SDK threw to a transport failure, when the signal says why. */
export function transportFailure(err: unknown, signal: AbortSignal): TransportFailure {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof DOMException && reason.name === "TimeoutError" ? "timeout" : "aborted";
  }
  const text = err instanceof Error ? `${err.name} ${err.message}` : String(err);
  if (/timeout|timed out/i.test(text)) return "timeout";
  if (/reset|closed|lost|EPIPE|socket hang up|terminated/i.test(text)) return "reset";
  return "connect";
}
