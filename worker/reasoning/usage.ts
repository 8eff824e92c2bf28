// Where Nova usage events go. Every role call reports one through a `NovaUsageSink` (client.ts);
// so does a call the shell skipped because the role's breaker was open or the spend budget ran
// out (`reportSkip`). The events travel the monitor's queue like decisions and outcomes and end in
// `nova_usage_rollups` (worker/monitor/consumer.ts): per minute, role, model and outcome.

import { type NovaRole, type NovaUsageEvent, novaUsageEvent } from "../../shared/events.ts";
import { sendEvents } from "../monitor/producer.ts";

export type NovaUsageSink = (event: NovaUsageEvent) => void;

/** A sink that queues each event after the response (`ctx.waitUntil`), never delaying it. */
export function queueUsage(
  env: Pick<Env, "EVENTS">,
  ctx: Pick<ExecutionContext, "waitUntil">,
): NovaUsageSink {
  return (event) => sendEvents(env, ctx, [event]);
}

/** Records a call not made: no tokens, no cost, the reason as its outcome. */
export function reportSkip(
  usage: NovaUsageSink,
  role: NovaRole,
  model: string,
  outcome: "breaker_open" | "budget",
): void {
  try {
    usage(novaUsageEvent({ time: Date.now(), role, model, outcome, latencyMs: 0 }));
  } catch {
    // Metering never changes the answer.
  }
}
