// The hot path's side of the monitor: hands decision and outcome events to the queue after the
// response (`ctx.waitUntil`), in `sendBatch` calls within the Queues limits (≤ 100 messages,
// ≤ 256 KB). Never throws into the request and never makes it wait: a failed send is logged;
// the request already has its answer. The events of an isolate's requests are gathered for
// EVENT_FLUSH_MS and sent together: one queue call per window instead of one per request
// (measured under `npm run bench:overhead`, a send per request cost most of /v1/route's CPU
// over its floor after the decision itself). The request that opens a window sends it and holds
// the send in its `waitUntil` (window-batch.ts).
//
// A message carries many events: a JSON array of the window's events, up to MAX_MESSAGE_BYTES.
// Queues bills every 64 KB of a message once per write, read and delete, and takes at most 5,000
// messages a second per queue: one message per event would cost three operations per event and
// cap the router at 2,500 chat requests a second (a decision and an outcome each). The consumer
// reads a message holding one event (no array) just as well.

import type { MonitorEvent } from "../../shared/events.ts";
import { WindowBatch, windowOf } from "../window-batch.ts";

export const EVENT_FLUSH_MS = 20;

export const MAX_BATCH_MESSAGES = 100;
/** Below the 256 KB `sendBatch` limit, leaving room for per-message overhead. */
export const MAX_BATCH_BYTES = 200 * 1024;
/** A message's events, as JSON: within one 64 KB billing unit (the queue's limit is 128 KB). */
export const MAX_MESSAGE_BYTES = 60 * 1024;
const PER_MESSAGE_OVERHEAD = 100;
const encoder = new TextEncoder();
// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, on purpose
const NOT_ASCII = /[^\x00-\x7f]/;

export interface BatchLimits {
  maxMessages: number;
  maxBytes: number;
  maxMessageBytes: number;
}

const LIMITS: BatchLimits = {
  maxMessages: MAX_BATCH_MESSAGES,
  maxBytes: MAX_BATCH_BYTES,
  maxMessageBytes: MAX_MESSAGE_BYTES,
};

/** The UTF-8 size of `text`: its length when it is ASCII, as events nearly always are. */
function utf8Bytes(text: string): number {
  return NOT_ASCII.test(text) ? encoder.encode(text).byteLength : text.length;
}

/**
 * Packs events, in order, into messages (each a JSON array within `maxMessageBytes`) and the
 * messages into `sendBatch` calls within `maxMessages` and `maxBytes`. An event too large for a
 * message of its own is dropped, and logged.
 */
export function planBatches(
  events: readonly MonitorEvent[],
  limits: BatchLimits = LIMITS,
): MonitorEvent[][][] {
  const calls: MonitorEvent[][][] = [];
  let call: MonitorEvent[][] = [];
  let callBytes = 0;
  let message: MonitorEvent[] = [];
  let messageBytes = 2; // the brackets
  const endMessage = () => {
    if (message.length === 0) return;
    const bytes = messageBytes + PER_MESSAGE_OVERHEAD;
    if (call.length >= limits.maxMessages || callBytes + bytes > limits.maxBytes) {
      calls.push(call);
      call = [];
      callBytes = 0;
    }
    call.push(message);
    callBytes += bytes;
    message = [];
    messageBytes = 2;
  };
  for (const body of events) {
    const size = utf8Bytes(JSON.stringify(body)) + 1; // and its comma
    if (size + 2 > limits.maxMessageBytes) {
      console.error(JSON.stringify({ event: "monitor_event_too_large", type: body.type, size }));
      continue;
    }
    if (messageBytes + size > limits.maxMessageBytes) endMessage();
    message.push(body);
    messageBytes += size;
  }
  endMessage();
  if (call.length > 0) calls.push(call);
  return calls;
}

let batch: { queue: Queue; events: WindowBatch<MonitorEvent> } | undefined;

/** Enqueues events after the response; never throws, never delays the request. */
export function sendEvents(
  env: Pick<Env, "EVENTS">,
  ctx: Pick<ExecutionContext, "waitUntil">,
  events: readonly MonitorEvent[],
): void {
  if (events.length === 0) return;
  try {
    const queue = env.EVENTS;
    if (batch?.queue !== queue) {
      batch = {
        queue,
        events: new WindowBatch((all) => send(queue, all), windowOf(EVENT_FLUSH_MS)),
      };
    }
    ctx.waitUntil(batch.events.add(...events));
  } catch (err) {
    logFailure(err, events.length);
  }
}

async function send(queue: Queue, events: readonly MonitorEvent[]): Promise<void> {
  try {
    const calls = planBatches(events);
    const results = await Promise.allSettled(
      calls.map((call) =>
        queue.sendBatch(call.map((body) => ({ body, contentType: "json" as const }))),
      ),
    );
    results.forEach((r, i) => {
      if (r.status === "rejected") logFailure(r.reason, calls[i]?.flat().length ?? 0);
    });
  } catch (err) {
    logFailure(err, events.length);
  }
}

function logFailure(err: unknown, count: number): void {
  console.error(
    JSON.stringify({
      event: "monitor_send_failed",
      events: count,
      message: err instanceof Error ? err.message : String(err),
    }),
  );
}
