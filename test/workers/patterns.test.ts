// Pattern recognition and resource metrics inside workerd, on D1 with the real migrations:
// decisions with a daily peak for one model at one site, fed through the consumer over seven
// simulated days (event times), build the site's demand profile (insights.ts); the 5-minute cron
// (scheduled.ts) run shortly before the peak hour makes the site's agent load the model through
// the demo site's control API, and records one resource_metrics row per site and minute.
//
// The scheduled runs use `scheduledTime` as their clock; the site agent and the directory run on
// real time. The demo site is the shared one of global-setup.ts: this test only loads
// whisper-large-v3-turbo there (4 GB, fits beside the resident model, so nothing is evicted),
// which leaves the state site-agent.test.ts relies on unchanged.

import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import type { MonitorEvent } from "../../shared/events.ts";
import type { SiteRegistration } from "../../shared/fleet-schema.ts";
import worker from "../../worker/index.ts";
import { consumeMessages } from "../../worker/monitor/consumer.ts";
import { afterCommit, DEMAND_NAME } from "../../worker/monitor/insights.ts";
import { OUTBOX_CRON } from "../../worker/monitor/scheduled.ts";
import {
  DAY,
  decision,
  deps,
  MINUTE,
  messages,
  QUEUE,
  resetDb,
} from "./helpers/monitor-harness.ts";

const DEMO = inject("demoSiteUrl");
const HOUR = 60 * MINUTE;
const SITE = "patterns-1";
const TARGET = `site:${SITE}`;
const SMALL = "llama-3.2-3b";
const WHISPER = "whisper-large-v3-turbo";
/** The next full hour: the peak hour of every simulated day. */
const PEAK = Math.floor(Date.now() / HOUR) * HOUR + HOUR;
/** Ten minutes before it: inside the 30-minute prewarm horizon. */
const BEFORE_PEAK = PEAK - 10 * MINUTE;

function registration(): SiteRegistration {
  return {
    id: SITE,
    name: "Patterns site",
    location: { lat: 52.52, lon: 13.4 },
    country: "DE",
    trusted: true,
    certifications: ["gdpr"],
    endpoint: `${DEMO}/v1`,
    controlEndpoint: `${DEMO}/control`,
    capacity: { maxConcurrent: 4, maxQueue: 0, gpus: 1, gpuMemoryGb: 24 },
    cost: { gpuHourUsd: 1.5 },
    models: [{ model: SMALL }, { model: WHISPER }],
    residentModels: [SMALL],
  };
}

/** Day `d` (1 = yesterday): 12 requests for WHISPER in the peak hour, one at two other hours. */
function day(d: number): MonitorEvent[] {
  const peak = PEAK - d * DAY;
  const times = [
    ...Array.from({ length: 12 }, (_, i) => peak + i * 4 * MINUTE),
    peak - 6 * HOUR,
    peak + 5 * HOUR,
  ];
  return [
    ...times.map((time) => decision({ time, tier: "mec", target: TARGET, model: WHISPER })),
    // Not a site: no demand row.
    decision({ time: peak, tier: "cloud", target: "cloud:eu-central-1", model: "nova-lite" }),
  ];
}

/** Delivers one batch through the consumer with the insights stage, at simulated time `now`. */
async function deliver(bodies: readonly MonitorEvent[], now: number): Promise<void> {
  const batch = createMessageBatch(QUEUE, messages(bodies));
  await consumeMessages(
    batch.messages,
    deps({ now: () => now, insights: (events) => afterCommit(env, events, now) }),
  );
}

async function runCron(scheduledTime: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: OUTBOX_CRON, scheduledTime }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function demandRow() {
  return env.DB.prepare(
    "SELECT value, samples, version FROM learned_parameters WHERE scope = ? AND name = ?",
  )
    .bind(TARGET, DEMAND_NAME)
    .first<{ value: string; samples: number; version: number }>();
}

async function metricRows() {
  const { results } = await env.DB.prepare(
    `SELECT site_id, time, waiting, running, resident_models, breaker, healthy, draining
     FROM resource_metrics ORDER BY site_id, time`,
  ).all<Record<string, unknown>>();
  return results;
}

async function demoResident(): Promise<string[]> {
  const res = await fetch(`${DEMO}/control/models`);
  const body = (await res.json()) as { models: { model: string }[] };
  return body.models.map((m) => m.model);
}

function prewarmLogs(spy: { mock: { calls: unknown[][] } }): Record<string, unknown>[] {
  return spy.mock.calls
    .map(([line]) => {
      try {
        return JSON.parse(String(line)) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => l.event === "site_prewarm");
}

beforeEach(async () => {
  await resetDb();
  await env.DB.prepare("DELETE FROM learned_parameters").run();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("demand patterns and prewarm", () => {
  it("learns a daily peak, prewarms the model before it, and records resource metrics once per minute", async () => {
    // Seven simulated days, one batch each, delivered an hour after the day's last event.
    const days = new Map<number, MonitorEvent[]>();
    for (let d = 7; d >= 1; d--) {
      days.set(d, day(d));
      await deliver(days.get(d) ?? [], PEAK - d * DAY + 6 * HOUR);
    }
    const learned = await demandRow();
    expect(learned?.samples).toBe(7 * 14);
    expect(learned?.version).toBe(7);
    // A redelivered day is skipped (ids remembered): nothing is counted or written again.
    await deliver(days.get(3) ?? [], PEAK - DAY + 6 * HOUR);
    expect(await demandRow()).toEqual(learned);
    const { results: cloud } = await env.DB.prepare(
      "SELECT scope FROM learned_parameters WHERE name = ? AND scope NOT LIKE 'site:%'",
    )
      .bind(DEMAND_NAME)
      .all();
    expect(cloud).toEqual([]);
    // The cron would publish the consumer's rollup deltas to the shared kinesalite stream.
    await env.DB.prepare("DELETE FROM kinesis_outbox").run();

    const agent = env.SITE_AGENT.getByName(SITE);
    await agent.register(registration());
    const log = vi.spyOn(console, "log");
    const warn = vi.spyOn(console, "warn");

    // Three hours before the peak: no peak within the horizon, nothing loaded; metrics recorded.
    await runCron(PEAK - 3 * HOUR);
    expect(prewarmLogs(log)).toEqual([]);
    expect((await agent.describe())?.cache.resident.map((r) => r.model)).toEqual([SMALL]);

    // Ten minutes before it: the agent loads WHISPER at the demo site.
    await runCron(BEFORE_PEAK);
    expect(prewarmLogs(warn)).toEqual([]);
    expect(prewarmLogs(log)).toEqual([
      {
        event: "site_prewarm",
        site: SITE,
        model: WHISPER,
        peakAt: PEAK,
        expectedPerHour: 12,
        ok: true,
        loaded: true,
        evicted: [],
      },
    ]);
    expect(await demoResident()).toContain(WHISPER);
    expect((await agent.describe())?.cache.resident.map((r) => r.model)).toEqual([SMALL, WHISPER]);

    const mine = (await metricRows()).filter((r) => r.site_id === SITE);
    expect(mine).toEqual([
      {
        site_id: SITE,
        time: PEAK - 3 * HOUR,
        waiting: 0,
        running: 0,
        resident_models: 1,
        breaker: "closed",
        healthy: 1,
        draining: 0,
      },
      {
        site_id: SITE,
        time: BEFORE_PEAK,
        waiting: 0,
        running: 0,
        resident_models: 1,
        breaker: "closed",
        healthy: 1,
        draining: 0,
      },
    ]);

    // Again in the same minute: no new rows, and WHISPER, now resident, is not loaded again.
    const all = await metricRows();
    log.mockClear();
    await runCron(BEFORE_PEAK + 20_000);
    expect(await metricRows()).toEqual(all);
    expect(prewarmLogs(log)).toEqual([]);
  });
});
