// Types of bedrock-standin.mjs for TypeScript importers (tests, benchmarks): the project does not
// type-check JavaScript, so this mirrors the module's JSDoc. Compare after a change with
//   npx tsc --ignoreConfig --allowJs --declaration --emitDeclarationOnly --outDir /tmp/dts \
//     --strict --module esnext --moduleResolution bundler --types node scripts/bedrock-standin.mjs

/** The exception members of ConverseStream's event union, as sent in `:exception-type`. */
export type StreamExceptionType =
  | "internalServerException"
  | "modelStreamErrorException"
  | "throttlingException"
  | "serviceUnavailableException"
  | "validationException";

export interface Faults {
  /** Share of requests answered 500 InternalServerException / 503 ServiceUnavailableException (0–1). */
  errorRate: number;
  /** Share of requests answered 429 ThrottlingException (0–1). */
  throttleRate: number;
  /** Share of requests whose socket is destroyed unanswered (0–1). */
  resetRate: number;
  /** Share of requests answered 200 with a malformed answer (0–1; after throttle and error). */
  garbageRate: number;
  /** Wall-clock delay before every answer (not scaled by `timeScale`). */
  addedLatencyMs: number;
  /** Streams stop after N tokens and hang until the client leaves; Converse hangs; null = off. */
  stallAfterTokens: number | null;
  /** Streams send this exception frame after N tokens (after the last if N ≥ their length); null = off. */
  midStreamError: { afterTokens: number; type: StreamExceptionType } | null;
  /** Every socket destroyed, in-flight answers cut; `/__faults` still answers. */
  dark: boolean;
  /** Any JSON value answered as the forced tool's input instead of a schema-valid one; null = off. */
  toolInputOverride: unknown;
}

/** A fault patch: `midStreamError.type` defaults to "modelStreamErrorException". */
export type FaultsPatch = Partial<Omit<Faults, "midStreamError">> & {
  midStreamError?: { afterTokens: number; type?: StreamExceptionType } | null;
};

export interface BedrockStandinOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1; only loopback addresses are accepted. */
  host?: string;
  /** Multiplies time to first token and decode pacing. Default 1. */
  timeScale?: number;
  /** Seeds the PRNG that decides which requests a fault rate hits. Default 1. */
  seed?: number;
  /** Decode rate at timeScale 1. Default 150. */
  tokensPerSec?: number;
  /** Time to first token at timeScale 1. Default 300. */
  ttftMs?: number;
  faults?: FaultsPatch;
  /** Sees every Converse(Stream) request body as it arrived (tests of what reached the cloud). */
  onRequest?: (operation: Operation, modelId: string, body: Buffer) => void;
}

export type Operation = "Converse" | "ConverseStream" | "Unknown";

export interface CallLogEntry {
  /** Epoch ms when the request arrived. */
  at: number;
  operation: Operation;
  /** Model id from the path, decoded (e.g. `eu.amazon.nova-lite-v1:0`); "" for unknown routes. */
  modelId: string;
  /** HTTP status answered; 0 while a stream is open or when none was (reset, dark). */
  status: number;
  /** Exception answered (HTTP or in-stream, e.g. "ThrottlingException", "modelStreamErrorException"), or "ConnectionReset". */
  error?: string;
}

/** Live: read it any time; do not write it. No prompt or answer content is kept. */
export interface BedrockStandinState {
  faults: Faults;
  /** Requests received per model id (as sent) and operation, whatever their outcome. */
  counts: Record<string, { Converse: number; ConverseStream: number }>;
  /** Every request but `/__faults`, oldest first (the last 10,000). */
  calls: CallLogEntry[];
  /** Requests being answered now. */
  readonly inFlight: number;
  /** Estimated prompt tokens of answered requests; tokens generated (streamed ones as sent). */
  tokens: { inputTokens: number; outputTokens: number };
}

export interface BedrockStandin {
  port: number;
  /** Base URL for the SDK's `endpoint`, e.g. `http://127.0.0.1:9200`. */
  url: string;
  /** Cuts open answers, resolves when the server is closed. Idempotent. */
  close(): Promise<void>;
  state: BedrockStandinState;
  /** Merges a fault patch (throws TypeError on a bad field) and returns the faults now. */
  setFaults(f: FaultsPatch): Faults;
}

/** Starts a Bedrock Converse stand-in and resolves once it listens. */
export function startBedrockStandin(options?: BedrockStandinOptions): Promise<BedrockStandin>;
