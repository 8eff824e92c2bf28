// Publishing metric records to Kinesis with PutRecords: the pure part. Records are encoded once,
// cut into calls within Kinesis' limits, and sent by a loop that re-sends only the entries a call
// reports as failed (matched by index), backing off with full jitter between rounds.
//
// - A PutRecords call may partly fail: HTTP 200, `FailedRecordCount` > 0 and, per entry, either
//   `SequenceNumber` (stored) or `ErrorCode` (`ProvisionedThroughputExceededException`,
//   `InternalFailure`). Re-sending the whole call would duplicate the stored ones.
// - Throttling (per entry or for the whole call) waits on a larger base, as the AWS SDK's standard
//   retry mode does (500 ms instead of 100 ms).
// - Nothing is dropped: whatever is not stored when attempts run out, the breaker refuses or the
//   service rejects comes back in `remaining`, so the queue consumer can retry the message (and the
//   queue finally dead-letters it). Every record carries its `id` inside its data, so downstream
//   drops the duplicates that producer retries create.
//
// No I/O, clock or randomness inside: the caller passes `send`, `sleep` and `rand`.

import * as z from "zod/mini";
import { type BackoffConfig, backoffDelay, DEFAULT_BACKOFF } from "./retry.ts";

/** One aggregated metric record as the monitor produces it. */
export interface MetricRecord {
  /** Unique per record (e.g. `<site>:<window start>:<metric>`); downstream de-duplicates on it. */
  id: string;
  /** Per site: the site's records land on one shard, in order. */
  partitionKey: string;
  /** JSON-encoded as the record's data, with `id` added (it wins over a key of the same name). */
  data: Readonly<Record<string, unknown>>;
}

/** A record ready for PutRecords. */
export interface KinesisEntry {
  record: MetricRecord;
  /** Position in the records handed to `chunkRecords` / `publishRecords`. */
  index: number;
  /** UTF-8 JSON of the data, id included; base64-encoded only on the wire. */
  data: Uint8Array;
  /** What Kinesis counts against its limits: data bytes + UTF-8 bytes of the partition key. */
  size: number;
}

/** A record that can never be put (too large, bad key, unserializable data). */
export interface InvalidRecord {
  record: MetricRecord;
  index: number;
  reason: string;
}

export interface KinesisLimits {
  maxRecordsPerCall: number;
  /** Data + partition keys of all records in one call. */
  maxBytesPerCall: number;
  /** Data + partition key of one record. */
  maxBytesPerRecord: number;
  /** Partition key length; counted in UTF-16 units, never fewer than Kinesis' Unicode characters. */
  maxPartitionKeyLength: number;
}

/** PutRecords limits [Kinesis API reference]. */
export const KINESIS_LIMITS: KinesisLimits = {
  maxRecordsPerCall: 500,
  maxBytesPerCall: 5 * 1024 * 1024,
  maxBytesPerRecord: 1024 * 1024,
  maxPartitionKeyLength: 256,
};

const utf8 = new TextEncoder();

/** Encodes one record, or says why it can never be put. */
export function encodeRecord(
  record: MetricRecord,
  index: number,
  limits: KinesisLimits = KINESIS_LIMITS,
): KinesisEntry | InvalidRecord {
  const invalid = (reason: string): InvalidRecord => ({ record, index, reason });
  if (typeof record.id !== "string" || record.id.length === 0) return invalid("id is empty");
  const key = record.partitionKey;
  if (typeof key !== "string" || key.length === 0) return invalid("partition key is empty");
  if (key.length > limits.maxPartitionKeyLength) {
    return invalid(`partition key longer than ${limits.maxPartitionKeyLength} characters`);
  }
  let json: string;
  try {
    // Assigning `id` first and again last puts it first in the JSON and lets it win.
    json = JSON.stringify(Object.assign({ id: record.id }, record.data, { id: record.id }));
  } catch (err) {
    return invalid(`data is not JSON-serializable (${err instanceof Error ? err.message : err})`);
  }
  const data = utf8.encode(json);
  const size = data.byteLength + utf8.encode(key).byteLength;
  if (size > limits.maxBytesPerRecord) {
    return invalid(
      `record is ${size} bytes with its partition key, over ${limits.maxBytesPerRecord}`,
    );
  }
  return { record, index, data, size };
}

/**
 * Cuts encoded entries into PutRecords calls, in order: each call holds at most
 * `maxRecordsPerCall` entries and `maxBytesPerCall` bytes. Entries must each be within
 * `maxBytesPerRecord` (≤ `maxBytesPerCall`), as `encodeRecord` guarantees.
 */
export function chunkEntries(
  entries: readonly KinesisEntry[],
  limits: KinesisLimits = KINESIS_LIMITS,
): KinesisEntry[][] {
  const calls: KinesisEntry[][] = [];
  let call: KinesisEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      call.length > 0 &&
      (call.length >= limits.maxRecordsPerCall || bytes + entry.size > limits.maxBytesPerCall)
    ) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(entry);
    bytes += entry.size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/**
 * Encodes records and cuts them into PutRecords calls within the limits (500 records, 5 MiB per
 * call, 1 MiB per record including its partition key), keeping their order. A record that can
 * never be put is returned in `invalid`, with the reason, instead of a call.
 */
export function chunkRecords(
  records: readonly MetricRecord[],
  limits: KinesisLimits = KINESIS_LIMITS,
): { calls: KinesisEntry[][]; invalid: InvalidRecord[] } {
  const entries: KinesisEntry[] = [];
  const invalid: InvalidRecord[] = [];
  records.forEach((record, index) => {
    const encoded = encodeRecord(record, index, limits);
    if ("reason" in encoded) invalid.push(encoded);
    else entries.push(encoded);
  });
  return { calls: chunkEntries(entries, limits), invalid };
}

/** One entry of a PutRecords answer: stored (`SequenceNumber`) or failed (`ErrorCode`). */
export const putRecordsResultEntrySchema = z.object({
  SequenceNumber: z.optional(z.nullable(z.string())),
  ShardId: z.optional(z.nullable(z.string())),
  ErrorCode: z.optional(z.nullable(z.string())),
  ErrorMessage: z.optional(z.nullable(z.string())),
});

/** The body of PutRecords' HTTP 200 answer (the Kinesis JSON protocol). */
export const putRecordsOutputSchema = z.object({
  FailedRecordCount: z.optional(z.int().check(z.gte(0))),
  Records: z.array(putRecordsResultEntrySchema),
  EncryptionType: z.optional(z.nullable(z.string())),
});
export type PutRecordsOutput = z.infer<typeof putRecordsOutputSchema>;

/** Per-entry and whole-call error codes that mean "slow down". */
export const THROTTLING_CODES: ReadonlySet<string> = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "LimitExceededException",
  "KMSThrottlingException",
]);

/**
 * The entries of a PutRecords call to send again: those whose answer, at the same index, carries
 * an `ErrorCode` or lacks a `SequenceNumber` (an answer shorter than the call counts as failed for
 * the missing indices, so a malformed answer never loses a record).
 */
export function failedEntries<T>(request: readonly T[], response: PutRecordsOutput): T[] {
  return request.filter((_, i) => {
    const r = response.Records[i];
    return r === undefined || Boolean(r.ErrorCode) || !r.SequenceNumber;
  });
}

/** What one PutRecords call came to, as the transport saw it. */
export type SendResult =
  /** HTTP 200: stored entries and failed ones, by index. */
  | { kind: "answered"; output: PutRecordsOutput }
  /** No usable answer: an HTTP error, a timeout, a dropped connection, a malformed body. */
  | {
      kind: "failed";
      /** Worth another attempt (throttling, 5xx, transport); false for the request's own faults. */
      retryable: boolean;
      throttled: boolean;
      /** Exception name (`ProvisionedThroughputExceededException`, `ServiceUnavailable`, …). */
      code: string;
      message: string;
      /** A `Retry-After` the service sent, in ms. */
      retryAfterMs?: number;
    }
  /** The breaker refused the call; nothing was sent. */
  | { kind: "refused" };

export interface PublishOptions {
  /** Sends one PutRecords call (≤ the limits); must not retry by itself. */
  send(entries: KinesisEntry[]): Promise<SendResult>;
  sleep(ms: number): Promise<void>;
  /** In [0, 1), for the jitter. */
  rand(): number;
  /** Rounds of sending (the first included). Default 5. */
  maxAttempts?: number;
  /** Backoff after failures. Default `DEFAULT_BACKOFF` (AWS: base 100 ms, cap 20 s). */
  backoff?: BackoffConfig;
  /** Backoff after a round with throttling. Default base 500 ms, cap 20 s (AWS SDK). */
  throttleBackoff?: BackoffConfig;
  limits?: KinesisLimits;
}

export type PublishFailure =
  /** Records were still failing after `maxAttempts` rounds. */
  | "attempts_exhausted"
  /** The breaker refused a call. */
  | "breaker_open"
  /** The service rejected a call for a reason retrying in place does not fix (a 4xx). */
  | "rejected"
  /** Every valid record was stored, but some records can never be put. */
  | "invalid";

export interface PublishStats {
  /** Records Kinesis stored. */
  stored: number;
  /** PutRecords calls made (refused ones not counted). */
  calls: number;
  /** Rounds of sending. */
  attempts: number;
  /** Entries sent again after failing. */
  resent: number;
}

export type PublishResult =
  | ({ ok: true } & PublishStats)
  | ({
      ok: false;
      reason: PublishFailure;
      /** Every record not stored, in input order (`invalid` ones included): nothing is dropped. */
      remaining: MetricRecord[];
      /** The records that can never be put, with the reason: a dead-letter candidate at once. */
      invalid: InvalidRecord[];
      /** The last failure seen, for logs. */
      error?: string;
    } & PublishStats);

/** AWS SDK standard retry mode's base for throttling errors. */
export const THROTTLE_BACKOFF: BackoffConfig = { baseMs: 500, capMs: 20_000 };

/**
 * Puts records with PutRecords until all are stored or attempts run out. Each round sends the
 * pending entries in calls within the limits, in order; an answered call's failed entries (by
 * index) stay pending, its stored ones never go again. A whole call that failed retryably
 * (throttled, 5xx, transport) stops the round: it and the calls after it stay pending. Between
 * rounds: full-jitter backoff (`backoffDelay`), on the throttling base if anything was throttled,
 * and at least a `Retry-After` the service sent (up to the cap). A refused or non-retryable call
 * ends the publish at once.
 * @returns `ok` when every record was stored; otherwise what is left, for the queue to retry.
 */
export async function publishRecords(
  records: readonly MetricRecord[],
  options: PublishOptions,
): Promise<PublishResult> {
  const limits = options.limits ?? KINESIS_LIMITS;
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 5));
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const throttleBackoff = options.throttleBackoff ?? THROTTLE_BACKOFF;
  const { calls: firstCalls, invalid } = chunkRecords(records, limits);
  const stats: PublishStats = { stored: 0, calls: 0, attempts: 0, resent: 0 };
  let pending = firstCalls.flat();
  let error: string | undefined;

  const fail = (reason: PublishFailure, left: KinesisEntry[]): PublishResult => {
    const remaining = [...left, ...invalid].sort((a, b) => a.index - b.index).map((e) => e.record);
    return { ok: false, reason, remaining, invalid, ...stats, ...(error ? { error } : {}) };
  };

  for (let attempt = 0; pending.length > 0; attempt++) {
    stats.attempts++;
    const calls = attempt === 0 ? firstCalls : chunkEntries(pending, limits);
    const retry: KinesisEntry[] = [];
    let throttled = false;
    let waitAtLeast = 0;
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c] ?? [];
      const result = await sendSafely(options, call);
      if (result.kind === "refused") {
        error = "circuit breaker open";
        return fail("breaker_open", [...retry, ...calls.slice(c).flat()]);
      }
      stats.calls++;
      if (attempt > 0) stats.resent += call.length;
      if (result.kind === "failed") {
        error = `${result.code}: ${result.message}`;
        if (!result.retryable) return fail("rejected", [...retry, ...calls.slice(c).flat()]);
        throttled ||= result.throttled;
        waitAtLeast = Math.max(waitAtLeast, result.retryAfterMs ?? 0);
        retry.push(...calls.slice(c).flat());
        break;
      }
      const failed = failedEntries(call, result.output);
      stats.stored += call.length - failed.length;
      if (failed.length > 0) {
        const codes = new Set(result.output.Records.map((r) => r.ErrorCode ?? ""));
        error = `${failed.length} of ${call.length} entries failed (${[...codes].filter(Boolean).join(", ") || "no answer"})`;
        throttled ||= [...codes].some((code) => THROTTLING_CODES.has(code));
        retry.push(...failed);
      }
    }
    pending = retry;
    if (pending.length === 0) break;
    if (attempt + 1 >= maxAttempts) return fail("attempts_exhausted", pending);
    const cfg = throttled ? throttleBackoff : backoff;
    const jittered = backoffDelay(attempt, cfg, options.rand());
    await options.sleep(Math.max(jittered, Math.min(waitAtLeast, cfg.capMs)));
  }
  return invalid.length > 0 ? fail("invalid", []) : { ok: true, ...stats };
}

/** A `send` that throws counts as a retryable transport failure. */
async function sendSafely(options: PublishOptions, call: KinesisEntry[]): Promise<SendResult> {
  try {
    return await options.send(call);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { kind: "failed", retryable: true, throttled: false, code: "SendError", message };
  }
}

const BASE64 = utf8.encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const ascii = new TextDecoder();

/**
 * Base64 of bytes (RFC 4648, padded), written as ASCII bytes and decoded once: about 1 µs for a
 * small record and 3 ms for 1 MiB, where `btoa(String.fromCharCode(...))` takes 5 µs and 85 ms.
 */
export function toBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  const char = (sextet: number) => BASE64[sextet & 63] ?? 61;
  const whole = n - (n % 3);
  let o = 0;
  for (let i = 0; i < whole; i += 3) {
    const v = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out[o++] = char(v >> 18);
    out[o++] = char(v >> 12);
    out[o++] = char(v >> 6);
    out[o++] = char(v);
  }
  if (n % 3 > 0) {
    const v = ((bytes[whole] ?? 0) << 16) | ((bytes[whole + 1] ?? 0) << 8);
    out[o++] = char(v >> 18);
    out[o++] = char(v >> 12);
    out[o++] = n % 3 === 2 ? char(v >> 6) : 61;
    out[o++] = 61; // "="
  }
  return ascii.decode(out);
}

/** The JSON body of one PutRecords call (`Kinesis_20131202.PutRecords`, x-amz-json-1.1). */
export function putRecordsBody(streamName: string, entries: readonly KinesisEntry[]): string {
  return JSON.stringify({
    StreamName: streamName,
    Records: entries.map((e) => ({ Data: toBase64(e.data), PartitionKey: e.record.partitionKey })),
  });
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "InternalFailure",
  "InternalFailureException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
]);

/**
 * Reads one PutRecords HTTP answer (Kinesis JSON protocol). 200 with a well-formed body is
 * `answered`; anything else `failed`: throttled when the exception is a throttling one (or HTTP
 * 429), retryable then and on 5xx, 408 and the internal-failure exceptions; other 4xx are the
 * request's own fault. Exception names come from `__type` (`prefix#Name` is cut to `Name`).
 * A 200 whose body does not parse is retryable: the records are sent again, ids absorb duplicates.
 */
export function readPutRecordsAnswer(
  status: number,
  body: string,
  retryAfterMs?: number,
): SendResult {
  let json: unknown;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  const extra = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (status === 200) {
    const parsed = putRecordsOutputSchema.safeParse(json);
    if (parsed.success) return { kind: "answered", output: parsed.data };
    return {
      kind: "failed",
      retryable: true,
      throttled: false,
      code: "MalformedAnswer",
      message: "PutRecords answered 200 with a body that is not a PutRecords result",
      ...extra,
    };
  }
  const err = errorBodySchema.safeParse(json);
  const type = err.success ? (err.data.__type ?? "") : "";
  const code = type.slice(type.lastIndexOf("#") + 1) || `HTTP ${status}`;
  const message = (err.success ? (err.data.message ?? err.data.Message) : undefined) ?? "";
  const throttled = status === 429 || THROTTLING_CODES.has(code);
  const retryable = throttled || status >= 500 || status === 408 || RETRYABLE_CODES.has(code);
  return { kind: "failed", retryable, throttled, code, message, ...extra };
}

const errorBodySchema = z.object({
  __type: z.optional(z.string()),
  message: z.optional(z.string()),
  Message: z.optional(z.string()),
});
