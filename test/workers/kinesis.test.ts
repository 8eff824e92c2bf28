// The Kinesis publisher inside workerd: records put by the worker (aws4fetch, SigV4, the Kinesis
// JSON protocol) into kinesalite are read back with the real @aws-sdk/client-kinesis from Node
// (through the global setup's reader); partial failures, throttling and the breaker against the
// flaky Kinesis (scripts/kinesis-flaky.mjs), which answers the way Kinesis does.
// Tests that involve the "kinesis" breaker start from a fresh one.

import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import type { StreamContents } from "../../scripts/kinesalite-local.mjs";
import type { KinesisFlakyState, ScriptStep } from "../../scripts/kinesis-flaky.mjs";
import type { MetricRecord } from "../../shared/kinesis-batch.ts";
import { type KinesisGate, publishMetrics } from "../../worker/monitor/kinesis.ts";

const READER = inject("kinesisReaderUrl");
const FLAKY = inject("kinesisFlakyUrl");
const STREAM = "mec-router-metrics";
const flakyEnv: Env = { ...env, KINESIS_ENDPOINT: FLAKY };

/** Metric records of `sites` sites over consecutive minutes, site after site per minute. */
function metrics(prefix: string, count: number, sites = 8): MetricRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const site = `site-${String.fromCharCode(97 + (i % sites))}`;
    const minute = Math.floor(i / sites);
    return {
      id: `${prefix}-${i}`,
      partitionKey: site,
      data: { site, minute, requests: i % 17, p50Ms: 8 + (i % 5), p95Ms: 20 + (i % 7) },
    };
  });
}

async function readBack(): Promise<StreamContents> {
  const res = await fetch(`${READER}/streams/${STREAM}`);
  expect(res.status).toBe(200);
  return (await res.json()) as StreamContents;
}

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
const setFaults = (f: Record<string, unknown> & { script?: ScriptStep[] }) => flaky("/__faults", f);
const NO_FAULTS = { entryFailureRate: 0, throttleRate: 0, errorRate: 0, resetRate: 0 };

const breaker = () => env.SERVICE_BREAKER.getByName("kinesis");

/** A fresh, closed "kinesis" breaker: its state deleted, its instance evicted. */
async function resetBreaker(): Promise<void> {
  await runInDurableObject(breaker(), (_, state) => {
    state.storage.kv.delete("breaker");
  });
  await evictDurableObject(breaker());
  expect(await breaker().status()).toMatchObject({ breaker: "closed", errorRate: 0 });
}

describe("Kinesis publisher against kinesalite", () => {
  it("puts records that read back with the SDK complete, once, and in order per shard", async () => {
    const prefix = `kl-${crypto.randomUUID()}`;
    const records = metrics(prefix, 1_234);
    const result = await publishMetrics(env, records);
    expect(result).toEqual({ ok: true, stored: 1_234, calls: 3, attempts: 1, resent: 0 });

    const { shards } = await readBack();
    expect(shards).toHaveLength(2);
    const index = new Map(records.map((r, i) => [r.id, i]));
    const shardOfSite = new Map<string, string>();
    const seen: string[] = [];
    for (const shard of shards) {
      const mine = shard.records.filter((r) => r.data.includes(`"${prefix}-`));
      // In order per shard: the order the records were handed over.
      const positions = mine.map((r) => index.get((JSON.parse(r.data) as { id: string }).id) ?? -1);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      for (const r of mine) {
        const data = JSON.parse(r.data) as { id: string; site: string; minute: number };
        const sent = records[index.get(data.id) ?? -1];
        // The id travels inside the data, first; the partition key is the site.
        expect(r.data.startsWith(`{"id":"${data.id}"`)).toBe(true);
        expect(data).toEqual({ id: sent?.id, ...sent?.data });
        expect(r.partitionKey).toBe(data.site);
        // One site, one shard.
        expect(shardOfSite.get(r.partitionKey) ?? shard.shardId).toBe(shard.shardId);
        shardOfSite.set(r.partitionKey, shard.shardId);
        seen.push(data.id);
      }
    }
    // Complete, and each record once.
    expect(seen.sort()).toEqual(records.map((r) => r.id).sort());
    // The 8 sites spread over both shards.
    expect(new Set(shardOfSite.values()).size).toBe(2);
  });

  it("hands back a record over 1 MiB instead of sending it, and stores the rest", async () => {
    const prefix = `big-${crypto.randomUUID()}`;
    const records = metrics(prefix, 3);
    const big = { id: `${prefix}-big`, partitionKey: "site-a", data: { pad: "x".repeat(1 << 20) } };
    const result = await publishMetrics(env, records.toSpliced(1, 0, big));
    expect(result).toMatchObject({ ok: false, reason: "invalid", stored: 3, remaining: [big] });
    const { shards } = await readBack();
    const ids = shards.flatMap((s) =>
      s.records.map((r) => (JSON.parse(r.data) as { id: string }).id),
    );
    expect(ids.filter((id) => id.startsWith(prefix)).sort()).toEqual(
      records.map((r) => r.id).sort(),
    );
  });
});

/** The publisher's structured warnings, kept out of the test output. */
let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  vi.spyOn(console, "warn").mockImplementation((line: unknown) => void warnings.push(String(line)));
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("Kinesis publisher against the flaky Kinesis", () => {
  beforeEach(async () => {
    await flaky("/__reset", {});
    await setFaults(NO_FAULTS);
    await resetBreaker();
  });

  it("re-sends only the failed entries, matched by index, with full-jitter waits", async () => {
    await setFaults({
      script: [
        { failIndexes: [1, 3], errorCode: "ProvisionedThroughputExceededException" },
        "throttle",
        { failIndexes: [1], errorCode: "InternalFailure" },
      ],
    });
    const records = metrics("pf", 5);
    const sleeps: number[] = [];
    const result = await publishMetrics(flakyEnv, records, {
      sleep: async (ms) => void sleeps.push(ms),
      rand: () => 1,
    });
    const state = await flakyState();
    expect(state.calls.map((c) => [c.status, c.error ?? "", c.ids, c.failedIndexes])).toEqual([
      [200, "", ["pf-0", "pf-1", "pf-2", "pf-3", "pf-4"], [1, 3]],
      [400, "ProvisionedThroughputExceededException", ["pf-1", "pf-3"], []],
      [200, "", ["pf-1", "pf-3"], [1]],
      [200, "", ["pf-3"], []],
    ]);
    // rand = 1: the ceilings. Throttled rounds wait on 500 ms · 2ⁿ, the others on 100 ms · 2ⁿ.
    expect(sleeps).toEqual([500, 1_000, 400]);
    expect(state.stored.map((s) => s.id).sort()).toEqual(records.map((r) => r.id));
    expect(state.violations).toEqual([]);
    expect(result).toEqual({ ok: true, stored: 5, calls: 4, attempts: 4, resent: 5 });
  });

  it("backs off in real time when whole calls are throttled", async () => {
    await setFaults({ script: ["throttle", "throttle", "throttle"] });
    const result = await publishMetrics(flakyEnv, metrics("th", 3), {
      rand: () => 1,
      throttleBackoff: { baseMs: 40, capMs: 1_000 },
    });
    expect(result).toMatchObject({ ok: true, calls: 4, attempts: 4 });
    const at = (await flakyState()).calls.map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    // 40, 80, 160 ms (timers may fire a millisecond early).
    expect(gaps[0]).toBeGreaterThanOrEqual(39);
    expect(gaps[1]).toBeGreaterThanOrEqual(79);
    expect(gaps[2]).toBeGreaterThanOrEqual(159);
  });

  it("hands back what is not stored when attempts run out, for the queue to retry", async () => {
    await setFaults({ entryFailureRate: 1, internalFailureShare: 1 });
    const records = metrics("ex", 4);
    const result = await publishMetrics(flakyEnv, records, {
      sleep: async () => {},
      maxAttempts: 2,
    });
    expect(result).toMatchObject({
      ok: false,
      reason: "attempts_exhausted",
      remaining: records,
      stored: 0,
      calls: 2,
    });
    expect((await flakyState()).calls.map((c) => c.ids.length)).toEqual([4, 4]);
    expect(warnings.map((w) => JSON.parse(w))).toEqual([
      {
        event: "kinesis_publish_incomplete",
        reason: "attempts_exhausted",
        remaining: 4,
        invalid: [],
        error: "4 of 4 entries failed (InternalFailure)",
        calls: 2,
        attempts: 2,
      },
    ]);
  });

  it("over random batches and faults: nothing dropped, nothing stored twice, limits kept", async () => {
    // The breaker is not under test here: a gate that always admits.
    const gate: KinesisGate = {
      acquire: async () => ({ admitted: true, probe: false }),
      record: async () => {},
    };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1_100 }),
        fc.constantFrom(0, 0.1, 0.5),
        fc.constantFrom(0, 0.2),
        fc.constantFrom(0, 0.2),
        fc.integer(),
        async (count, entryFailureRate, throttleRate, errorRate, seed) => {
          await flaky("/__reset", {});
          await setFaults({ entryFailureRate, throttleRate, errorRate, resetRate: 0.05 });
          const records = metrics(`rp${seed}`, count, 5);
          const result = await publishMetrics(flakyEnv, records, {
            gate,
            sleep: async () => {},
            rand: () => 0.5,
          });
          const state = await flakyState();
          expect(state.violations).toEqual([]);
          // A record goes again only while it is not stored.
          const stored = new Set<string>();
          for (const call of state.calls) {
            for (const id of call.ids) expect(stored.has(id)).toBe(false);
            if (call.status !== 200) continue;
            const failed = new Set(call.failedIndexes);
            call.ids.forEach((id, i) => {
              if (!failed.has(i)) stored.add(id);
            });
          }
          expect(state.stored).toHaveLength(stored.size);
          const left = result.ok ? [] : result.remaining.map((r) => r.id);
          expect([...stored, ...left].sort()).toEqual(records.map((r) => r.id).sort());
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000);
});

describe("Kinesis breaker", () => {
  it("opens after 5 failed calls; then nothing is sent and everything is handed back", async () => {
    await flaky("/__reset", {});
    await resetBreaker();
    await setFaults({ ...NO_FAULTS, errorRate: 1 });
    const first = await publishMetrics(flakyEnv, metrics("br", 3), { sleep: async () => {} });
    expect(first).toMatchObject({ ok: false, reason: "attempts_exhausted", calls: 5 });
    const status = await breaker().status();
    expect(status).toMatchObject({ service: "kinesis", breaker: "open" });

    const records = metrics("br2", 3);
    const second = await publishMetrics(flakyEnv, records, { sleep: async () => {} });
    expect(second).toMatchObject({
      ok: false,
      reason: "breaker_open",
      remaining: records,
      calls: 0,
    });
    expect((await flakyState()).calls).toHaveLength(5);
  });
});
