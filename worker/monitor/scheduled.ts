// The `scheduled` handler: every run drains the Kinesis outbox (the backstop for rows the
// consumer could not publish, e.g. while Kinesis was down and no events came since); the daily
// run also prunes raw history (retention.ts).
//
// wrangler.toml's crons: `OUTBOX_CRON` (every 5 minutes) only drains; any other trigger — the
// daily one, or one fired by hand — drains and prunes.

import { publishMetrics } from "./kinesis.ts";
import { drainOutboxPages, outboxBacklog } from "./outbox.ts";
import { runRetention } from "./retention.ts";

/** Must match the frequent cron in wrangler.toml. */
export const OUTBOX_CRON = "*/5 * * * *";
/** Pages of 500 records per run: 10,000 records, well inside a cron's time. */
const MAX_PAGES = 20;

export async function handleScheduled(
  controller: ScheduledController,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const failures: unknown[] = [];
  try {
    const now = Date.now;
    const drained = await drainOutboxPages(
      { db: env.DB, publish: (records) => publishMetrics(env, records), now },
      MAX_PAGES,
    );
    const backlog = await outboxBacklog(env.DB, now());
    console.log(JSON.stringify({ event: "kinesis_outbox_drain", ...drained, backlog }));
  } catch (err) {
    failures.push(err);
    console.error(JSON.stringify({ event: "kinesis_outbox_drain_failed", message: String(err) }));
  }
  if (controller.cron !== OUTBOX_CRON) {
    try {
      await runRetention(controller, env, ctx);
    } catch (err) {
      failures.push(err);
    }
  }
  // Both parts ran; the invocation still shows as failed.
  if (failures.length > 0) throw failures[0];
}
