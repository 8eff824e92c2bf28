// The hot path's side of the monitor: hands decision and outcome events to the queue after the
// response (`ctx.waitUntil`), in `sendBatch` calls within the Queues limits (≤ 100 messages,
// ≤ 256 KB). Never throws into the request and never makes it wait: a failed send is logged;
// the request already has its answer. The events of an isolate's requests are gathered for
// EVENT_FLUSH_MS and sent together: one queue call per window instead of one per request
// (measured under `npm run bench:overhead`, a send per request cost most of /v1/route's CPU
// over its floor after the decision itself). The request that opens a window sends it and holds
// the send in its `waitUntil` (window-batch.ts).

import type { MonitorEvent } from "../../shared/events.ts";
import { WindowBatch, windowOf } from "../window-batch.ts";

export const EVENT_FLUSH_MS = 20;

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
