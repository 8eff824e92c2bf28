// The `scheduled` handler: every run drains the Kinesis outbox (the backstop for rows the
// consumer could not publish, e.g. while Kinesis was down and no events came since); the daily
// run also prunes raw history (retention.ts) and, with `REASONING` = "auto", asks Nova Pro for a
// policy weight proposal (review.ts).
//
// wrangler.toml's crons: `OUTBOX_CRON` (every 5 minutes) drains, records resource metrics and
// prewarms; any other trigger — the daily one, or one fired by hand — drains and prunes.
//
// Resource metrics: one `resource_metrics` row per site of the FleetDirectory snapshot, at the
// run's minute (`scheduledTime`), `ON CONFLICT DO NOTHING` on (site, minute), so a rerun in the
// same minute writes nothing more.
//
// Prewarm (the cache agent's pattern-driven half): for each site with a demand profile
// (insights.ts), the daily peaks starting within `PREWARM_HORIZON_MS` (shared/learning.ts
// `upcomingPeaks`) whose model the site serves but does not hold (residency from the snapshot)
// are loaded through the site's agent (`SiteAgent.ensureModel`), at most
// `MAX_PREWARM_PER_SITE` per site and run; healthy, undrained sites with a breaker not open only.
// Each attempt is logged as JSON (site, model, peak, result; never content).

import { upcomingPeaks } from "../../shared/learning.ts";
import { floorTo } from "../../shared/rollup.ts";
import type { SiteView } from "../../shared/types.ts";
import { directoryStub } from "../fleet/site-stub.ts";
import { queueUsage } from "../reasoning/usage.ts";
import { readDemandProfiles } from "./insights.ts";
import { publishMetrics } from "./kinesis.ts";
import { drainOutboxPages, outboxBacklog } from "./outbox.ts";
import { runRetention } from "./retention.ts";
import { runReview } from "./review.ts";

/** Must match the frequent cron in wrangler.toml. */
export const OUTBOX_CRON = "*/5 * * * *";
/** Pages of 500 records per run: 10,000 records, well inside a cron's time. */
const MAX_PAGES = 20;
/** Peaks starting within this long are prewarmed. */
export const PREWARM_HORIZON_MS = 30 * 60_000;
/** Loads asked per site and run. */
export const MAX_PREWARM_PER_SITE = 2;
const MINUTE_MS = 60_000;

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
  if (controller.cron === OUTBOX_CRON) {
    const at = Number.isFinite(controller.scheduledTime) ? controller.scheduledTime : Date.now();
    try {
      const { sites } = await directoryStub(env).snapshot();
      const [recorded, prewarmed] = await Promise.all([
        recordResourceMetrics(env.DB, sites, at),
        prewarm(env, sites, at),
      ]);
      console.log(
        JSON.stringify({ event: "site_patterns_run", sites: sites.length, recorded, prewarmed }),
      );
    } catch (err) {
      failures.push(err);
      console.error(JSON.stringify({ event: "site_patterns_failed", message: String(err) }));
    }
  }
  if (controller.cron !== OUTBOX_CRON) {
    try {
      await runRetention(controller, env, ctx);
    } catch (err) {
      failures.push(err);
    }
    // Offline review (review.ts): a proposal for operators, never applied here.
    if (env.REASONING === "auto") {
      try {
        const at = Number.isFinite(controller.scheduledTime)
          ? controller.scheduledTime
          : Date.now();
        await runReview(env, at, queueUsage(env, ctx));
      } catch (err) {
        failures.push(err);
        console.error(JSON.stringify({ event: "policy_review_failed", message: String(err) }));
      }
    }
  }
  // Both parts ran; the invocation still shows as failed.
  if (failures.length > 0) throw failures[0];
}

/** One `resource_metrics` row per site at `at`'s minute; returns the rows inserted. */
export async function recordResourceMetrics(
  db: D1Database,
  sites: readonly SiteView[],
  at: number,
): Promise<number> {
  if (sites.length === 0) return 0;
  const minute = floorTo(at, MINUTE_MS);
  const results = await db.batch(
    sites.map((s) =>
      db
        .prepare(
          `INSERT INTO resource_metrics (site_id, time, waiting, running, kv_cache_usage,
             gpu_utilization, free_gpu_memory_gb, resident_models, breaker, healthy, draining,
             error_rate)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, time) DO NOTHING`,
        )
        .bind(
          s.id,
          minute,
          s.load.waiting,
          s.load.running,
          s.load.kvCacheUsage,
          s.load.gpuUtilization,
          s.load.freeGpuMemoryGb,
          s.load.residentModels.length,
          s.breaker,
          s.healthy ? 1 : 0,
          s.draining ? 1 : 0,
          s.errorRate,
        ),
    ),
  );
  return results.reduce((n, r) => n + (r.meta.changes ?? 0), 0);
}

/** Loads models ahead of their sites' daily peaks; returns the loads that succeeded. */
export async function prewarm(env: Env, sites: readonly SiteView[], now: number): Promise<number> {
  const profiles = await readDemandProfiles(env.DB);
  const perSite = await Promise.all(
    sites.map(async (site) => {
      const profile = profiles.get(site.id);
      if (!profile || !site.healthy || site.draining || site.breaker === "open") return 0;
      const served = new Set(site.models.map((m) => m.model));
      const resident = new Set(site.load.residentModels);
      const wanted = new Map<string, { startsAt: number; expectedPerHour: number }>();
      for (const p of upcomingPeaks(profile, now, PREWARM_HORIZON_MS)) {
        if (served.has(p.model) && !resident.has(p.model) && !wanted.has(p.model)) {
          wanted.set(p.model, { startsAt: p.startsAt, expectedPerHour: p.expectedPerHour });
        }
      }
      let loaded = 0;
      for (const [model, peak] of [...wanted].slice(0, MAX_PREWARM_PER_SITE)) {
        const fields = {
          event: "site_prewarm",
          site: site.id,
          model,
          peakAt: peak.startsAt,
          expectedPerHour: peak.expectedPerHour,
        };
        try {
          const result = await env.SITE_AGENT.getByName(site.id).ensureModel(model);
          if (result.ok) {
            loaded++;
            console.log(
              JSON.stringify({
                ...fields,
                ok: true,
                loaded: result.loaded,
                evicted: result.evicted,
              }),
            );
          } else {
            console.warn(JSON.stringify({ ...fields, ok: false, reason: result.reason }));
          }
        } catch (err) {
          console.warn(JSON.stringify({ ...fields, ok: false, reason: String(err) }));
        }
      }
      return loaded;
    }),
  );
  return perSite.reduce((a, b) => a + b, 0);
}
