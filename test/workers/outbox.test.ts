// The Kinesis outbox (worker/monitor/outbox.ts) inside workerd: the consumer's D1 batch writes one
// rollup delta per key for the events it newly stored, drains publish them — to kinesalite, read
// back with the SDK from Node, or to the flaky Kinesis (scripts/kinesis-flaky.mjs) — and delete
// what Kinesis stored. Redeliveries add nothing, failures leave rows for the cron (and pause the
// consumer's drains a while), poison rows go to the dead table, and over random crashes and Kinesis faults every new event reaches Kinesis
// (at least once per record id; de-duplicated by id, the sums are exact).

import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import type { StreamContents } from "../../scripts/kinesalite-local.mjs";
import type { KinesisFlakyState } from "../../scripts/kinesis-flaky.mjs";
import type { MonitorEvent } from "../../shared/events.ts";
import type { MetricRecord } from "../../shared/kinesis-batch.ts";
import { type RollupDelta, rollupDeltaSchema } from "../../shared/kinesis-outbox.ts";
import worker from "../../worker/index.ts";
import { consumeMessages, DRAIN_PAUSE_MS, type DrainPause } from "../../worker/monitor/consumer.ts";
import {
  type KinesisGate,
  type PublishDeps,
  publishMetrics,
} from "../../worker/monitor/kinesis.ts";
import { CLAIM_MS, drainOutbox } from "../../worker/monitor/outbox.ts";
import { OUTBOX_CRON } from "../../worker/monitor/scheduled.ts";
import {
  arbCaseWith,
  DAY,
  decision,
  deliverUntilSettled,
  deps,
  distinct,
  expectedRollups,
  MINUTE,
  messages,
  NOW,
  outboxRollups,
  outcome,
  QUEUE,
  resetDb,
  runQueue,
  sumDeltas,
  T0,
  wrapDb,
} from "./helpers/monitor-harness.ts";

const READER = inject("kinesisReaderUrl");
const FLAKY = inject("kinesisFlakyUrl");
const STREAM = "mec-router-metrics";
const flakyEnv: Env = { ...env, KINESIS_ENDPOINT: FLAKY };
const NO_FAULTS = { entryFailureRate: 0, throttleRate: 0, errorRate: 0, resetRate: 0 };
/** The breaker is not under test where this gate is used: it always admits. */
const gate: KinesisGate = {
  acquire: async () => ({ admitted: true, probe: false }),
  record: async () => {},
};

async function flaky(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${FLAKY}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.ok).toBe(true);
  return res.json();
}
const flakyState = () => flaky("/__state") as Promise<KinesisFlakyState>;

/** Publishes to the flaky Kinesis without waiting between rounds. */
function flakyPublish(opts: PublishDeps = {}) {
  return (records: readonly MetricRecord[]) =>
    publishMetrics(flakyEnv, records, { gate, sleep: async () => {}, rand: () => 0.5, ...opts });
}

interface StreamRecord {
  id: string;
  partitionKey: string;
  delta: RollupDelta;
}

/** kinesalite's records about `model` (each test uses a model of its own), read with the SDK. */
async function kinesaliteRecords(model: string): Promise<StreamRecord[]> {
  const res = await fetch(`${READER}/streams/${STREAM}`);
  expect(res.status).toBe(200);
  const { shards } = (await res.json()) as StreamContents;
  return shards.flatMap((s) =>
    s.records.flatMap((r) => {
      const data = JSON.parse(r.data) as { id: string; model?: string };
      if (data.model !== model) return [];
      return [{ id: data.id, partitionKey: r.partitionKey, delta: rollupDeltaSchema.parse(data) }];
    }),
  );
}

/** A model name no other test publishes under, for events at one MEC site and in the cloud. */
function places() {
  const model = `test-${crypto.randomUUID()}`;
  return {
    model,
    site: { tier: "mec", target: "site:berlin-1", model } as const,
    cloud: { tier: "cloud", target: "cloud:eu-central-1", model } as const,
  };
}

const ended = (p: { tier: "mec" | "cloud"; target: string; model: string }) => ({
  ...p,
  finalTier: p.tier,
  finalTarget: p.target,
  finalModel: p.model,
});

async function outboxRows() {
  const { results } = await env.DB.prepare(
    "SELECT id, partition_key, attempts, claimed_until FROM kinesis_outbox ORDER BY id",
  ).all<{ id: string; partition_key: string; attempts: number; claimed_until: number | null }>();
  return results;
}

async function deadRows() {
  const { results } = await env.DB.prepare(
    "SELECT id, reason, attempts FROM kinesis_outbox_dead ORDER BY id",
  ).all<{ id: string; reason: string; attempts: number }>();
  return results;
}

let errors: string[] = [];
beforeEach(async () => {
  await resetDb();
  await flaky("/__reset", {});
  await flaky("/__faults", NO_FAULTS);
  errors = [];
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void errors.push(String(line)));
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("Kinesis outbox", () => {
  it("a queue batch's new events reach Kinesis as rollup deltas, and the outbox empties", async () => {
    const { model, site, cloud } = places();
    const events = [
      decision({ ...site, time: T0 + 1_000 }),
      decision({ ...site, time: T0 + 2_000 }),
      decision({ ...cloud, time: T0 + MINUTE + 5 }),
      outcome({ ...ended(site), time: T0 + 3_000, latencyMs: 200, ttftMs: 40, costUsd: 0.5 }),
      outcome({
        ...ended(site),
        time: T0 + 4_000,
        latencyMs: 900,
        ok: false,
        errorClass: "http_5xx",
        slaMet: false,
        costUsd: 0,
      }),
      outcome({ ...ended(cloud), time: T0 + 5_000, latencyMs: 1_500, slaMet: undefined }),
    ];
    // The entry module's queue handler: env's KINESIS_ENDPOINT is kinesalite.
    const result = await runQueue(events);
    expect(result.explicitAcks).toHaveLength(events.length);
    expect(result.retryMessages).toEqual([]);

    const records = await kinesaliteRecords(model);
    // One record per (minute, tier, target, model) of the delivery.
    expect(records).toHaveLength(3);
    expect(sumDeltas(records.map((r) => r.delta))).toEqual(expectedRollups(events));
    for (const r of records) {
      expect(r.partitionKey).toBe(r.delta.target);
      expect(r.id).toMatch(
        new RegExp(`^[0-9a-f-]{36}\\|${r.delta.minute}\\|${r.delta.tier}\\|${r.delta.target}\\|`),
      );
    }
    expect(records.find((r) => r.delta.tier === "mec")?.delta).toMatchObject({
      decisions: 2,
      outcomes: 2,
      errors: 1,
      slaMet: 1,
      slaKnown: 2,
      costUsd: 0.5,
      latencySumMs: 1_100,
      latencyMaxMs: 900,
      ttftSumMs: 40,
      ttftCount: 1,
    });
    expect(await outboxRows()).toEqual([]);
    expect(await deadRows()).toEqual([]);
  });

  it("a redelivered batch adds no outbox rows and puts nothing more", async () => {
    const { model, site } = places();
    const events = [decision({ ...site }), outcome({ ...ended(site) })];
    // The batch commits, but the reply is lost: the messages are retried. No drain yet.
    const first = createMessageBatch(QUEUE, messages(events));
    const lost = wrapDb({ at: 0, mode: "after", poison: 0 }, { step: 0 });
    await consumeMessages(first.messages, deps({ db: lost }));
    expect((await getQueueResult(first, createExecutionContext())).retryMessages).toHaveLength(2);
    const committed = await outboxRows();
    expect(committed).toHaveLength(1);
    expect(await outboxRollups()).toEqual(expectedRollups(events));

    // Redelivered twice: nothing new is stored, so nothing new goes into the outbox.
    for (const attempts of [2, 3]) {
      const again = createMessageBatch(QUEUE, messages(events, attempts));
      await consumeMessages(again.messages, deps());
      expect((await getQueueResult(again, createExecutionContext())).explicitAcks).toHaveLength(2);
      expect(await outboxRows()).toEqual(committed);
    }
    // Through the entry module (which drains): the one record goes out, once.
    await runQueue(events, 4);
    const records = await kinesaliteRecords(model);
    expect(records.map((r) => r.id)).toEqual(committed.map((r) => r.id));
    expect(sumDeltas(records.map((r) => r.delta))).toEqual(expectedRollups(events));
    expect(await outboxRows()).toEqual([]);
    await runQueue(events, 5);
    expect(await kinesaliteRecords(model)).toHaveLength(1);
  });

  it("while Kinesis fails everything the rows wait; the cron's drain publishes them", async () => {
    const { model, site, cloud } = places();
    const events = [
      decision({ ...site, time: T0 }),
      outcome({ ...ended(cloud), time: T0 + 2 * MINUTE, latencyMs: 70 }),
    ];
    await flaky("/__faults", { errorRate: 1 });
    const batch = createMessageBatch(QUEUE, messages(events));
    await consumeMessages(batch.messages, deps({ publish: flakyPublish({ maxAttempts: 3 }) }));
    // Acked all the same: D1 committed, the outbox holds the metrics.
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toEqual([]);
    const state = await flakyState();
    expect(state.calls.map((c) => c.status).every((s) => s >= 500)).toBe(true);
    expect(state.calls).toHaveLength(3);
    expect(state.stored).toEqual([]);
    // Released for the next drain, one failed publish counted.
    const waiting = await outboxRows();
    expect(waiting.map((r) => [r.attempts, r.claimed_until])).toEqual([
      [1, null],
      [1, null],
    ]);

    // The 5-minute cron: drains (to kinesalite, through the real breaker) and prunes nothing,
    // though at this time retention would prune the events.
    const ctx = createExecutionContext();
    const at = NOW + 40 * DAY;
    await worker.scheduled(
      createScheduledController({ cron: OUTBOX_CRON, scheduledTime: at }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const records = await kinesaliteRecords(model);
    expect(records.map((r) => r.id).sort()).toEqual(waiting.map((r) => r.id));
    expect(sumDeltas(records.map((r) => r.delta))).toEqual(expectedRollups(events));
    expect(await outboxRows()).toEqual([]);
    const raw = await env.DB.prepare("SELECT count(*) AS n FROM decisions").first<{ n: number }>();
    expect(raw?.n).toBe(1);
  });

  it("after a drain Kinesis took nothing from, drains pause for a while, then resume", async () => {
    const { site, cloud } = places();
    const pause: DrainPause = { until: 0 };
    const publish = flakyPublish({ maxAttempts: 1 });
    const delivered: MonitorEvent[] = [];
    const deliverAt = async (at: number) => {
      const events = [
        decision({ ...site, time: T0 }),
        outcome({ ...ended(cloud), time: T0 + MINUTE, latencyMs: 70 }),
      ];
      delivered.push(...events);
      const batch = createMessageBatch(QUEUE, messages(events));
      await consumeMessages(batch.messages, deps({ now: () => at, publish, drainPause: pause }));
      const result = await getQueueResult(batch, createExecutionContext());
      expect(result.explicitAcks).toHaveLength(2);
    };
    await flaky("/__faults", { errorRate: 1 });
    await deliverAt(NOW);
    expect((await flakyState()).calls).toHaveLength(1);
    expect(pause.until).toBe(NOW + DRAIN_PAUSE_MS);

    // Within the pause: stored and acked, not drained (nothing claimed, nothing sent).
    await deliverAt(NOW + DRAIN_PAUSE_MS - 1);
    expect((await flakyState()).calls).toHaveLength(1);
    const waiting = await outboxRows();
    expect(waiting.map((r) => r.attempts).sort()).toEqual([0, 0, 1, 1]);
    expect(waiting.every((r) => r.claimed_until === null)).toBe(true);

    // Kinesis is back and the pause is over: the next drain takes every waiting row.
    await flaky("/__faults", NO_FAULTS);
    await deliverAt(NOW + DRAIN_PAUSE_MS);
    expect(pause.until).toBe(0);
    expect(await outboxRows()).toEqual([]);
    const { stored } = await flakyState();
    const deltas = stored.map((r) => rollupDeltaSchema.parse(JSON.parse(r.data)));
    expect(sumDeltas(deltas)).toEqual(expectedRollups(delivered));
  });

  it("moves poison records to the dead table, logs them, never sends them again", async () => {
    const { site } = places();
    await consumeMessages(createMessageBatch(QUEUE, messages([decision(site)])).messages, deps());
    const [good] = await outboxRows();
    const base = await outboxDelta();
    const delta = (target: string) => JSON.stringify({ ...base, target });
    const insert = env.DB.prepare(
      "INSERT INTO kinesis_outbox (id, partition_key, data, created_at) VALUES (?, ?, ?, ?)",
    );
    await env.DB.batch([
      insert.bind("p-key", "k".repeat(300), delta("k".repeat(300)), NOW),
      insert.bind("p-big", "site:huge", delta("x".repeat(1 << 20)), NOW),
      insert.bind("p-json", "site:a", "{not json", NOW),
      insert.bind("p-shape", "site:a", JSON.stringify({ v: 1, kind: "rollup_delta" }), NOW),
    ]);
    const drained = await drainOutbox({ db: env.DB, publish: flakyPublish(), now: () => NOW });
    expect(drained).toEqual({ claimed: 5, stored: 1, dead: 4, pending: 0 });
    expect((await flakyState()).stored.map((s) => s.id)).toEqual([good?.id]);
    expect(await outboxRows()).toEqual([]);
    const dead = await deadRows();
    expect(dead.map((d) => d.id)).toEqual(["p-big", "p-json", "p-key", "p-shape"]);
    expect(dead.find((d) => d.id === "p-key")?.reason).toMatch(/partition key longer than 256/);
    expect(dead.find((d) => d.id === "p-big")?.reason).toMatch(/bytes with its partition key/);
    expect(dead.find((d) => d.id === "p-json")?.reason).toBe("data is not JSON");
    expect(dead.find((d) => d.id === "p-shape")?.reason).toMatch(/not a rollup delta/);
    const logged = errors.map((e) => JSON.parse(e) as { event: string; count?: number });
    expect(logged).toContainEqual(
      expect.objectContaining({ event: "kinesis_outbox_dead", count: 4 }),
    );
    // Never retried.
    expect(await drainOutbox({ db: env.DB, publish: flakyPublish(), now: () => NOW })).toEqual({
      claimed: 0,
      stored: 0,
      dead: 0,
      pending: 0,
    });
  });

  it("concurrent drains claim different rows", async () => {
    const events = Array.from({ length: 40 }, (_, i) =>
      decision({ time: T0 + i * MINUTE, ...places().site }),
    );
    await consumeMessages(createMessageBatch(QUEUE, messages(events)).messages, deps());
    expect(await outboxRows()).toHaveLength(40);
    const seen: string[][] = [];
    const publish = async (records: readonly MetricRecord[]) => {
      seen.push(records.map((r) => r.id));
      return flakyPublish()(records);
    };
    const drains = await Promise.all(
      [0, 1, 2, 3].map(() => drainOutbox({ db: env.DB, publish, now: () => NOW }, 15)),
    );
    expect(drains.reduce((n, d) => n + d.stored, 0)).toBe(40);
    const all = seen.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(40);
    expect((await flakyState()).stored).toHaveLength(40);
  });

  it("a drain that dies before settling sends its rows again after the claim, same ids", async () => {
    const { site } = places();
    await consumeMessages(
      createMessageBatch(QUEUE, messages([decision(site), outcome(ended(site))])).messages,
      deps(),
    );
    const rows = await outboxRows();
    const dying = wrapDb({ at: 0, mode: "before", poison: 0 }, { step: 0 });
    const publish = flakyPublish();
    await expect(drainOutbox({ db: dying, publish, now: () => NOW })).rejects.toThrow(
      "D1 unreachable",
    );
    // Stored in Kinesis, still in the outbox, claimed: the next drain leaves them alone …
    expect(await drainOutbox({ db: env.DB, publish, now: () => NOW + 1 })).toMatchObject({
      claimed: 0,
    });
    // … until the claim runs out.
    const later = await drainOutbox({ db: env.DB, publish, now: () => NOW + CLAIM_MS });
    expect(later).toEqual({ claimed: 1, stored: 1, dead: 0, pending: 0 });
    const stored = (await flakyState()).stored;
    expect(stored.map((s) => s.id)).toEqual([rows[0]?.id, rows[0]?.id]);
    expect(stored[0]?.data).toBe(stored[1]?.data);
    expect(await outboxRows()).toEqual([]);
  });
});

describe("crash, then redelivery, with Kinesis failing at random", () => {
  it("every new event reaches Kinesis, over 300 random crash points and fault mixes", async () => {
    let waited = 0;
    let duplicated = 0;
    await fc.assert(
      fc.asyncProperty(
        // Half the runs crash at the drain's D1 batch (the last step): after the put, before
        // the outbox knows.
        fc
          .tuple(arbCaseWith(1), fc.boolean())
          .map(([c, atDrain]) => (atDrain ? { ...c, plan: { ...c.plan, at: c.steps - 1 } } : c)),
        fc.record({
          entryFailureRate: fc.constantFrom(0, 0.3, 1),
          throttleRate: fc.constantFrom(0, 0.2),
          errorRate: fc.constantFrom(0, 0.3, 1),
          resetRate: fc.constantFrom(0, 0.1),
        }),
        fc.integer({ min: 1, max: 3 }),
        async ({ bodies, events, chunkSize, plan }, faults, maxAttempts) => {
          await resetDb();
          await flaky("/__reset", {});
          await flaky("/__faults", faults);
          const publish = flakyPublish({ maxAttempts });
          await deliverUntilSettled(bodies, chunkSize, plan, { publish });
          if ((await outboxRows()).length > 0) waited++;

          // Kinesis recovers; a later drain (claims of crashed drains have run out by then).
          await flaky("/__faults", NO_FAULTS);
          const drained = await drainOutbox(
            { db: env.DB, publish, now: () => NOW + CLAIM_MS },
            1_000,
          );
          expect(drained.pending).toBe(0);
          expect(await outboxRows()).toEqual([]);
          expect(await deadRows()).toEqual([]);

          const { stored, violations } = await flakyState();
          expect(violations).toEqual([]);
          // At least once per id; copies of an id carry the same data; de-duplicated, exact.
          const byId = new Map<string, string>();
          for (const s of stored) {
            const before = byId.get(s.id);
            if (before !== undefined) expect(s.data).toBe(before);
            byId.set(s.id, s.data);
          }
          if (byId.size < stored.length) duplicated++;
          const deltas = [...byId.values()].map((d) => rollupDeltaSchema.parse(JSON.parse(d)));
          expect(sumDeltas(deltas)).toEqual(expectedRollups(distinct(events)));
        },
      ),
      { numRuns: 300 },
    );
    // Kinesis failures left rows for a later drain in many runs; some drains died after the put.
    expect(waited).toBeGreaterThan(60);
    expect(duplicated).toBeGreaterThan(0);
  }, 120_000);
});

/** The data of the one row in the outbox, for building poison rows from. */
async function outboxDelta(): Promise<RollupDelta> {
  const row = await env.DB.prepare("SELECT data FROM kinesis_outbox LIMIT 1").first<{
    data: string;
  }>();
  return rollupDeltaSchema.parse(JSON.parse(row?.data ?? ""));
}
