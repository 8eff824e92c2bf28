// Types of kinesis-flaky.mjs for TypeScript importers (tests): the project does not type-check
// JavaScript, so this mirrors the module's JSDoc. Compare after a change with
//   npx tsc --ignoreConfig --allowJs --declaration --emitDeclarationOnly --outDir /tmp/dts \
//     --strict --module esnext --moduleResolution bundler --types node scripts/kinesis-flaky.mjs

/** One call's forced outcome: answered, throttled, failed, dropped, or answered with these failed. */
export type ScriptStep =
  | "ok"
  | "throttle"
  | "error"
  | "reset"
  | { failIndexes: number[]; errorCode?: string };

export interface Faults {
  /** Each entry of an answered call fails on its own with this probability (0–1). */
  entryFailureRate: number;
  /** Of the failed entries, the share with InternalFailure; the rest are throttled. Default 0.5. */
  internalFailureShare: number;
  /** Share of calls answered 400 ProvisionedThroughputExceededException (0–1). */
  throttleRate: number;
  /** Share of calls answered 500 InternalFailure or 503 ServiceUnavailable (0–1). */
  errorRate: number;
  /** Share of calls whose socket is destroyed unanswered (0–1; HTTP server only). */
  resetRate: number;
  /** Per-call outcomes used before any rate, oldest first; consumed one per call. */
  script: ScriptStep[];
}

export interface CallLogEntry {
  /** Epoch ms when the call arrived. */
  at: number;
  /** HTTP status answered; 0 when the socket was destroyed. */
  status: number;
  /** Exception of a call that failed as a whole, or "ConnectionReset". */
  error?: string;
  /** The `id` inside each record's JSON data, in request order ("" when there is none). */
  ids: string[];
  /** Indexes answered with an ErrorCode. */
  failedIndexes: number[];
  /** Data + partition keys, in bytes. */
  bytes: number;
}

export interface StoredRecord {
  id: string;
  partitionKey: string;
  shardId: string;
  sequenceNumber: string;
  /** The record's data as UTF-8. */
  data: string;
}

/** Live: read it any time; do not write it. */
export interface KinesisFlakyState {
  faults: Faults;
  /** Every PutRecords call that got past the request checks, oldest first. */
  calls: CallLogEntry[];
  /** Stored records in arrival order. */
  stored: StoredRecord[];
  /** One message per call that broke a PutRecords limit. */
  violations: string[];
}

export interface KinesisFlakyOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1; only loopback addresses are accepted. */
  host?: string;
  /** Seeds the PRNG that draws each call's and entry's fate. Default 1. */
  seed?: number;
  /** Shards the partition keys' MD5 is mapped onto. Default 2. */
  shards?: number;
  /** Accepted stream names; default any. */
  streams?: string[];
  /** Limits checked; default Kinesis' (`LIMITS`). Tests may scale them down. */
  limits?: Partial<typeof LIMITS>;
  faults?: Partial<Faults>;
}

/** What PutRecords answers: an HTTP status and JSON body, or a dropped connection. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  reset?: boolean;
}

export interface KinesisFlaky {
  /** Answers one JSON-parsed PutRecords body the way Kinesis would (faults applied). */
  putRecords(body: unknown): Answer;
  state: KinesisFlakyState;
  /** Merges a fault patch (throws TypeError on a bad field) and returns the faults now. */
  setFaults(patch: Partial<Faults>): Faults;
  /** Clears calls, stored records, violations and the script; restarts the PRNG. */
  reset(): void;
}

export interface KinesisFlakyServer extends KinesisFlaky {
  port: number;
  /** Base URL for the publisher's endpoint, e.g. `http://127.0.0.1:4568`. */
  url: string;
  /** Resolves when the server is closed. Idempotent. */
  close(): Promise<void>;
}

export const LIMITS: Readonly<{
  maxRecordsPerCall: number;
  maxBytesPerCall: number;
  maxBytesPerRecord: number;
  maxPartitionKeyLength: number;
}>;

/** PutRecords' logic without sockets. */
export function createKinesisFlaky(options?: KinesisFlakyOptions): KinesisFlaky;

/** Starts the flaky Kinesis on loopback and resolves once it listens. */
export function startKinesisFlaky(options?: KinesisFlakyOptions): Promise<KinesisFlakyServer>;
