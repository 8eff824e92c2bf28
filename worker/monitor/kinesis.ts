// Kinesis publisher: aggregated metric records into a stream with PutRecords (Kinesis JSON
// protocol, SigV4 by aws4fetch), re-sending only failed entries (shared/kinesis-batch.ts), behind
// the "kinesis" ServiceBreaker. `KINESIS_ENDPOINT` points it at kinesalite or a local stand-in.
//
// aws4fetch rather than @aws-sdk/client-kinesis: 7.5 KiB minified against 26 KiB more next to the
// Bedrock client already in the bundle (300 KiB on its own), and PutRecords is one signed JSON
// POST whose retries we do ourselves anyway.

import { AwsClient } from "aws4fetch";
import {
  type KinesisEntry,
  type MetricRecord,
  type PublishOptions,
  type PublishResult,
  publishRecords,
  putRecordsBody,
  readPutRecordsAnswer,
  type SendResult,
} from "../../shared/kinesis-batch.ts";
import { retryAfterMs } from "../../shared/retry.ts";
import { serviceBreakerStub } from "../fleet/site-stub.ts";

const SERVICE = "kinesis";
const TARGET = "Kinesis_20131202.PutRecords";

/** Asks the breaker before a call and reports how it went. */
export interface KinesisGate {
  acquire(): Promise<{ admitted: boolean; probe: boolean }>;
  record(outcome: { ok: boolean; durationMs: number; probe: boolean }): Promise<void>;
}

export interface PublishDeps {
  sleep?: (ms: number) => Promise<void>;
  rand?: () => number;
  now?: () => number;
  /** Default: the ServiceBreaker Durable Object named "kinesis". */
  gate?: KinesisGate;
  /** Per PutRecords call, ms. Default 10 s. */
  timeoutMs?: number;
  maxAttempts?: PublishOptions["maxAttempts"];
  backoff?: PublishOptions["backoff"];
  throttleBackoff?: PublishOptions["throttleBackoff"];
}

/** The "kinesis" ServiceBreaker Durable Object as a gate. */
export function breakerGate(env: Env): KinesisGate {
  const stub = serviceBreakerStub(env, SERVICE);
  return {
    acquire: () => stub.acquire(SERVICE),
    record: async (outcome) => {
      await stub.record(SERVICE, outcome);
    },
  };
}

/**
 * Puts metric records into `KINESIS_STREAM` (partition key per site, the record id inside each
 * record's data), within PutRecords' limits. Failed entries are re-sent alone with full-jitter
 * backoff; throttling backs off longer. Never throws for Kinesis' sake.
 *
 * A queue consumer calls `msg.retry()` on `{ ok: false }` (the queue redelivers, then
 * dead-letters: nothing is dropped); `remaining` says which records were not stored, and
 * `invalid` which never can be. Records stored before a retry are sent again on redelivery:
 * downstream drops duplicates by id.
 */
export async function publishMetrics(
  env: Env,
  records: readonly MetricRecord[],
  deps: PublishDeps = {},
): Promise<PublishResult> {
  const now = deps.now ?? Date.now;
  const gate = deps.gate ?? breakerGate(env);
  const region = env.KINESIS_REGION;
  const endpoint = env.KINESIS_ENDPOINT || `https://kinesis.${region}.amazonaws.com`;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const aws =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? new AwsClient({
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          service: "kinesis",
          region,
          // The publish loop retries, per entry; aws4fetch's own retries would re-send them all.
          retries: 0,
        })
      : undefined;

  async function send(entries: KinesisEntry[]): Promise<SendResult> {
    if (!aws) {
      const message = "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set";
      return { kind: "failed", retryable: false, throttled: false, code: "NoCredentials", message };
    }
    const admitted = await gate.acquire();
    if (!admitted.admitted) return { kind: "refused" };
    const started = now();
    const result = await call(aws, endpoint, env.KINESIS_STREAM, entries, timeoutMs, now);
    const ok = !failedService(result);
    await gate
      .record({ ok, durationMs: now() - started, probe: admitted.probe })
      .catch((err: unknown) => {
        console.warn(
          JSON.stringify({ event: "kinesis_breaker_record_failed", error: String(err) }),
        );
      });
    return result;
  }

  const result = await publishRecords(records, {
    send,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    rand: deps.rand ?? Math.random,
    ...(deps.maxAttempts === undefined ? {} : { maxAttempts: deps.maxAttempts }),
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    ...(deps.throttleBackoff ? { throttleBackoff: deps.throttleBackoff } : {}),
  });
  if (!result.ok) {
    console.warn(
      JSON.stringify({
        event: "kinesis_publish_incomplete",
        reason: result.reason,
        remaining: result.remaining.length,
        invalid: result.invalid.map((i) => ({ id: i.record.id, reason: i.reason })),
        error: result.error,
        calls: result.calls,
        attempts: result.attempts,
      }),
    );
  }
  return result;
}

/** One signed PutRecords call; transport failures become retryable results. */
async function call(
  aws: AwsClient,
  endpoint: string,
  stream: string,
  entries: KinesisEntry[],
  timeoutMs: number,
  now: () => number,
): Promise<SendResult> {
  try {
    const req = await aws.sign(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": TARGET },
      body: putRecordsBody(stream, entries),
    });
    const res = await fetch(req, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    return readPutRecordsAnswer(
      res.status,
      body,
      retryAfterMs(res.headers.get("retry-after"), now()),
    );
  } catch (err) {
    const name = err instanceof Error ? err.name : "Error";
    const code = name === "TimeoutError" || name === "AbortError" ? "Timeout" : "NetworkError";
    const message = err instanceof Error ? err.message : String(err);
    return { kind: "failed", retryable: true, throttled: false, code, message };
  }
}

/**
 * What the breaker counts against Kinesis: throttling, 5xx and transport failures, and answers
 * in which every entry failed. A partly failed call is Kinesis working (a hot shard); a 4xx is
 * the request's fault.
 */
function failedService(result: SendResult): boolean {
  if (result.kind === "refused") return false;
  if (result.kind === "failed") return result.retryable;
  const { Records } = result.output;
  return Records.length > 0 && Records.every((r) => Boolean(r.ErrorCode));
}
