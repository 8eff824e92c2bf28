// The hot path's side of the monitor: hands decision and outcome events to the queue after the
// response (`ctx.waitUntil`), in `sendBatch` calls within the Queues limits (≤ 100 messages,
// ≤ 256 KB). Never throws into the request and never makes it wait: a failed send is logged;
// the request already has its answer. Events are not gathered across requests: a queue send is
// I/O of the request that makes it, and workerd refuses to settle it for another request's
// `waitUntil` ("Cannot perform I/O on behalf of a different request").

import type { MonitorEvent } from "../../shared/events.ts";

export const MAX_BATCH_MESSAGES = 100;
/** Below the 256 KB `sendBatch` limit, leaving room for per-message overhead. */
export const MAX_BATCH_BYTES = 200 * 1024;
/** The queue's per-message limit is 128 KB; events are well under 1 KB. */
export const MAX_MESSAGE_BYTES = 100 * 1024;
const PER_MESSAGE_OVERHEAD = 100;
const encoder = new TextEncoder();

interface Sized {
  body: MonitorEvent;
  bytes: number;
}

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

/** Splits events into `sendBatch` calls within both limits; oversized events are dropped. */
export function planBatches(
  events: readonly MonitorEvent[],
  limits: BatchLimits = LIMITS,
): MonitorEvent[][] {
  const batches: MonitorEvent[][] = [];
  let current: Sized[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length > 0) batches.push(current.map((s) => s.body));
    current = [];
    bytes = 0;
  };
  for (const body of events) {
    const size = encoder.encode(JSON.stringify(body)).byteLength + PER_MESSAGE_OVERHEAD;
    if (size > limits.maxMessageBytes) {
      console.error(JSON.stringify({ event: "monitor_event_too_large", type: body.type, size }));
      continue;
    }
    if (current.length >= limits.maxMessages || bytes + size > limits.maxBytes) flush();
    current.push({ body, bytes: size });
    bytes += size;
  }
  flush();
  return batches;
}

/** Enqueues events after the response; never throws, never delays the request. */
export function sendEvents(
  env: Pick<Env, "EVENTS">,
  ctx: Pick<ExecutionContext, "waitUntil">,
  events: readonly MonitorEvent[],
): void {
  if (events.length === 0) return;
  try {
    ctx.waitUntil(send(env.EVENTS, events));
  } catch (err) {
    logFailure(err, events.length);
  }
}

async function send(queue: Queue, events: readonly MonitorEvent[]): Promise<void> {
  try {
    const batches = planBatches(events);
    const results = await Promise.allSettled(
      batches.map((batch) =>
        queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const }))),
      ),
    );
    results.forEach((r, i) => {
      if (r.status === "rejected") logFailure(r.reason, batches[i]?.length ?? 0);
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
