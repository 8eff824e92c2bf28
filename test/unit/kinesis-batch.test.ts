// The Kinesis publisher's pure part: encoding and chunking within PutRecords' limits, failed
// entries by index, reading answers, and the publish loop — by example, and over 10⁴ randomized
// batches against the flaky Kinesis' own PutRecords logic (scripts/kinesis-flaky.mjs) through the
// wire body, with a reference model of which entries each round must send.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createKinesisFlaky, type KinesisFlaky } from "../../scripts/kinesis-flaky.mjs";
import {
  chunkRecords,
  encodeRecord,
  failedEntries,
  KINESIS_LIMITS,
  type KinesisEntry,
  type KinesisLimits,
  type MetricRecord,
  type PublishOptions,
  type PublishResult,
  publishRecords,
  putRecordsBody,
  readPutRecordsAnswer,
  type SendResult,
  THROTTLE_BACKOFF,
} from "../../shared/kinesis-batch.ts";
import { DEFAULT_BACKOFF } from "../../shared/retry.ts";

const MiB = 1024 * 1024;

function rec(i: number, extra: Record<string, unknown> = {}, site = `site-${i % 3}`): MetricRecord {
  return { id: `m-${i}`, partitionKey: site, data: { site, minute: i, p50: 12.5, ...extra } };
}

/** A record whose entry (data + key) is exactly `size` bytes. */
function sized(i: number, size: number, site = "s"): MetricRecord {
  const base = encodeRecord({ id: `m-${i}`, partitionKey: site, data: { pad: "" } }, 0);
  if ("reason" in base) throw new Error(base.reason);
  return { id: `m-${i}`, partitionKey: site, data: { pad: "x".repeat(size - base.size) } };
}

/** `send` backed by the flaky Kinesis' PutRecords logic, through the real wire body. */
function wireSend(flaky: KinesisFlaky): PublishOptions["send"] {
  return async (call) => {
    const answer = flaky.putRecords(JSON.parse(putRecordsBody("metrics", call)));
    if (answer.reset) throw new Error("socket hang up");
    return readPutRecordsAnswer(answer.status, JSON.stringify(answer.body));
  };
}

const ok = (n: number): SendResult => ({
  kind: "answered",
  output: {
    FailedRecordCount: 0,
    Records: Array.from({ length: n }, (_, i) => ({ SequenceNumber: `${i}`, ShardId: "s0" })),
  },
});

describe("encodeRecord", () => {
  it("puts the id first in the JSON data and lets it win over the data's own", () => {
    const e = encodeRecord({ id: "a", partitionKey: "site-1", data: { x: 1, id: "other" } }, 4);
    if ("reason" in e) throw new Error(e.reason);
    expect(new TextDecoder().decode(e.data)).toBe('{"id":"a","x":1}');
    expect(e.index).toBe(4);
    expect(e.size).toBe(e.data.byteLength + "site-1".length);
  });

  it("counts UTF-8 bytes of data and partition key", () => {
    const e = encodeRecord({ id: "é", partitionKey: "sité-😀", data: { v: "😀" } }, 0);
    if ("reason" in e) throw new Error(e.reason);
    expect(e.size).toBe(new TextEncoder().encode('{"id":"é","v":"😀"}sité-😀').byteLength);
  });

  it("refuses records that can never be put, with the reason", () => {
    const reason = (r: MetricRecord) => {
      const e = encodeRecord(r, 0);
      return "reason" in e ? e.reason : "valid";
    };
    expect(reason({ id: "", partitionKey: "s", data: {} })).toMatch(/id is empty/);
    expect(reason({ id: "a", partitionKey: "", data: {} })).toMatch(/partition key is empty/);
    expect(reason({ id: "a", partitionKey: "k".repeat(257), data: {} })).toMatch(/longer than 256/);
    expect(reason({ id: "a", partitionKey: "k".repeat(256), data: {} })).toBe("valid");
    expect(reason({ id: "a", partitionKey: "s", data: { n: 1n } })).toMatch(/JSON-serializable/);
    expect(reason(sized(1, MiB))).toBe("valid");
    expect(reason(sized(1, MiB + 1))).toMatch(/1048577 bytes .* over 1048576/);
  });
});

describe("chunkRecords", () => {
  it("cuts at 500 records and keeps the order", () => {
    const records = Array.from({ length: 1_001 }, (_, i) => rec(i));
    const { calls, invalid } = chunkRecords(records);
    expect(invalid).toEqual([]);
    expect(calls.map((c) => c.length)).toEqual([500, 500, 1]);
    expect(calls.flat().map((e) => e.record.id)).toEqual(records.map((r) => r.id));
  });

  it("cuts at 5 MiB per call; a 1 MiB record (key included) fits, one byte more does not", () => {
    const records = [...Array.from({ length: 6 }, (_, i) => sized(i, MiB)), sized(6, MiB + 1)];
    const { calls, invalid } = chunkRecords(records);
    expect(calls.map((c) => c.map((e) => e.record.id))).toEqual([
      ["m-0", "m-1", "m-2", "m-3", "m-4"],
      ["m-5"],
    ]);
    expect(calls[0]?.reduce((n, e) => n + e.size, 0)).toBe(5 * MiB);
    expect(invalid.map((i) => [i.index, i.record.id])).toEqual([[6, "m-6"]]);
  });

  it("never exceeds the limits and loses nothing, for random records", () => {
    const limits: KinesisLimits = {
      maxRecordsPerCall: 7,
      maxBytesPerCall: 400,
      maxBytesPerRecord: 120,
      maxPartitionKeyLength: 4,
    };
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ key: fc.string({ maxLength: 6 }), pad: fc.string({ maxLength: 110 }) }),
        ),
        (specs) => {
          const records = specs.map((s, i) => ({
            id: `r${i}`,
            partitionKey: s.key,
            data: { p: s.pad },
          }));
          const { calls, invalid } = chunkRecords(records, limits);
          for (const call of calls) {
            expect(call.length).toBeGreaterThan(0);
            expect(call.length).toBeLessThanOrEqual(limits.maxRecordsPerCall);
            expect(call.reduce((n, e) => n + e.size, 0)).toBeLessThanOrEqual(
              limits.maxBytesPerCall,
            );
            for (const e of call) expect(e.size).toBeLessThanOrEqual(limits.maxBytesPerRecord);
          }
          const ids = [...calls.flat(), ...invalid].sort((a, b) => a.index - b.index);
          expect(ids.map((e) => e.record.id)).toEqual(records.map((r) => r.id));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe("failedEntries", () => {
  it("picks the failed entries by index, whatever FailedRecordCount says", () => {
    const request = ["a", "b", "c", "d"];
    const out = {
      FailedRecordCount: 1,
      Records: [
        { SequenceNumber: "1", ShardId: "s" },
        { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded" },
        { SequenceNumber: "2", ShardId: "s" },
        { ErrorCode: "InternalFailure", ErrorMessage: "Internal service failure." },
      ],
    };
    expect(failedEntries(request, out)).toEqual(["b", "d"]);
  });

  it("counts an entry without an answer, or without a sequence number, as failed", () => {
    const out = { Records: [{ SequenceNumber: "1" }, { ShardId: "s" }] };
    expect(failedEntries(["a", "b", "c"], out)).toEqual(["b", "c"]);
    expect(
      failedEntries(["a"], { FailedRecordCount: 0, Records: [{ SequenceNumber: "1" }] }),
    ).toEqual([]);
  });
});

describe("readPutRecordsAnswer", () => {
  const read = (status: number, body: unknown) =>
    readPutRecordsAnswer(status, typeof body === "string" ? body : JSON.stringify(body));

  it("reads a 200 answer; a malformed 200 is a retryable failure", () => {
    expect(
      read(200, { FailedRecordCount: 0, Records: [{ SequenceNumber: "1", ShardId: "s" }] }),
    ).toEqual({
      kind: "answered",
      output: { FailedRecordCount: 0, Records: [{ SequenceNumber: "1", ShardId: "s" }] },
    });
    expect(read(200, "<html>")).toMatchObject({
      kind: "failed",
      retryable: true,
      code: "MalformedAnswer",
    });
    expect(read(200, { Records: "no" })).toMatchObject({ kind: "failed", retryable: true });
  });

  it("classifies whole-call errors: throttling and 5xx retry, the request's faults do not", () => {
    const pte = { __type: "ProvisionedThroughputExceededException", message: "Rate exceeded" };
    expect(read(400, pte)).toEqual({
      kind: "failed",
      retryable: true,
      throttled: true,
      code: "ProvisionedThroughputExceededException",
      message: "Rate exceeded",
    });
    expect(
      read(400, { __type: "com.amazonaws.kinesis.v20131202#LimitExceededException" }),
    ).toMatchObject({
      retryable: true,
      throttled: true,
      code: "LimitExceededException",
    });
    expect(read(500, { __type: "InternalFailure", message: "x" })).toMatchObject({
      retryable: true,
      throttled: false,
    });
    expect(read(503, "")).toMatchObject({ retryable: true, code: "HTTP 503" });
    expect(read(429, "")).toMatchObject({ retryable: true, throttled: true });
    expect(read(400, { __type: "ValidationException", message: "bad" })).toMatchObject({
      retryable: false,
      code: "ValidationException",
    });
    expect(read(400, { __type: "ResourceNotFoundException", Message: "no stream" })).toMatchObject({
      retryable: false,
      message: "no stream",
    });
    expect(readPutRecordsAnswer(503, "", 2_000)).toMatchObject({ retryAfterMs: 2_000 });
  });
});

describe("publishRecords", () => {
  /** A scripted `send` that logs the ids of every call. */
  function scripted(answers: ((call: KinesisEntry[]) => SendResult)[]) {
    const calls: string[][] = [];
    const sleeps: number[] = [];
    const options: PublishOptions = {
      send: async (call) => {
        calls.push(call.map((e) => e.record.id));
        const answer = answers.shift();
        return answer ? answer(call) : ok(call.length);
      },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      rand: () => 1,
    };
    return { calls, sleeps, options };
  }
  const partly =
    (failed: Record<number, string>) =>
    (call: KinesisEntry[]): SendResult => ({
      kind: "answered",
      output: {
        FailedRecordCount: Object.keys(failed).length,
        Records: call.map((_, i) =>
          failed[i] ? { ErrorCode: failed[i], ErrorMessage: "x" } : { SequenceNumber: `${i}` },
        ),
      },
    });
  const wholeCall =
    (code: string, retryable = true, throttled = false, retryAfterMs?: number) =>
    () =>
      ({
        kind: "failed",
        retryable,
        throttled,
        code,
        message: code,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }) satisfies SendResult;

  it("re-sends only the failed entries, matched by index, after a full-jitter wait", async () => {
    const records = Array.from({ length: 5 }, (_, i) => rec(i));
    const s = scripted([partly({ 1: "InternalFailure", 3: "InternalFailure" })]);
    const result = await publishRecords(records, s.options);
    expect(s.calls).toEqual([
      ["m-0", "m-1", "m-2", "m-3", "m-4"],
      ["m-1", "m-3"],
    ]);
    // rand = 1 gives the ceiling: base 100 ms for the first retry.
    expect(s.sleeps).toEqual([DEFAULT_BACKOFF.baseMs]);
    expect(result).toEqual({ ok: true, stored: 5, calls: 2, attempts: 2, resent: 2 });
  });

  it("backs off on the throttling base when entries or whole calls are throttled", async () => {
    const records = Array.from({ length: 3 }, (_, i) => rec(i));
    const s = scripted([
      partly({ 0: "ProvisionedThroughputExceededException" }),
      wholeCall("ProvisionedThroughputExceededException", true, true),
      wholeCall("ServiceUnavailable"),
    ]);
    const result = await publishRecords(records, s.options);
    expect(s.calls).toEqual([["m-0", "m-1", "m-2"], ["m-0"], ["m-0"], ["m-0"]]);
    expect(s.sleeps).toEqual([THROTTLE_BACKOFF.baseMs, THROTTLE_BACKOFF.baseMs * 2, 400]);
    expect(result).toMatchObject({ ok: true, stored: 3, calls: 4, attempts: 4, resent: 3 });
  });

  it("waits at least what Retry-After asks, up to the cap", async () => {
    const s = scripted([
      wholeCall("ServiceUnavailable", true, false, 3_000),
      wholeCall("X", true, false, 10 ** 9),
    ]);
    s.options.rand = () => 0;
    await publishRecords([rec(0)], s.options);
    expect(s.sleeps).toEqual([3_000, DEFAULT_BACKOFF.capMs]);
  });

  it("stops a round at a failed call: it and the calls after it wait for the next round", async () => {
    const records = Array.from({ length: 1_200 }, (_, i) => rec(i));
    const s = scripted([(call) => ok(call.length), wholeCall("InternalFailure")]);
    const result = await publishRecords(records, s.options);
    expect(s.calls.map((c) => c.length)).toEqual([500, 500, 500, 200]);
    expect(s.calls[2]).toEqual(s.calls[1]);
    expect(s.calls[3]).toEqual(records.slice(1_000).map((r) => r.id));
    expect(result).toMatchObject({ ok: true, stored: 1_200, attempts: 2, resent: 700 });
  });

  it("hands back every record not stored, in input order, when attempts run out", async () => {
    const records = Array.from({ length: 4 }, (_, i) => rec(i));
    const s = scripted([
      partly({ 0: "InternalFailure", 2: "InternalFailure" }),
      partly({ 1: "InternalFailure" }),
      partly({ 0: "InternalFailure" }),
    ]);
    s.options.maxAttempts = 3;
    const result = await publishRecords(records, s.options);
    expect(s.calls).toEqual([["m-0", "m-1", "m-2", "m-3"], ["m-0", "m-2"], ["m-2"]]);
    expect(s.sleeps).toHaveLength(2);
    expect(result).toMatchObject({
      ok: false,
      reason: "attempts_exhausted",
      remaining: [records[2]],
      invalid: [],
      stored: 3,
      attempts: 3,
    });
  });

  it("does not call when the breaker refuses, and keeps what is left", async () => {
    const records = Array.from({ length: 600 }, (_, i) => rec(i));
    const s = scripted([partly({ 7: "InternalFailure" }), () => ({ kind: "refused" })]);
    const result = await publishRecords(records, s.options);
    expect(s.calls.map((c) => c.length)).toEqual([500, 100]);
    expect(result).toMatchObject({ ok: false, reason: "breaker_open", stored: 499, calls: 1 });
    if (result.ok) throw new Error("unreachable");
    expect(result.remaining.map((r) => r.id)).toEqual([
      "m-7",
      ...records.slice(500).map((r) => r.id),
    ]);
  });

  it("ends at a call the service rejects, without retrying it in place", async () => {
    const s = scripted([wholeCall("ResourceNotFoundException", false)]);
    const result = await publishRecords([rec(0), rec(1)], s.options);
    expect(s.calls).toHaveLength(1);
    expect(s.sleeps).toEqual([]);
    expect(result).toMatchObject({
      ok: false,
      reason: "rejected",
      remaining: [rec(0), rec(1)],
      error: "ResourceNotFoundException: ResourceNotFoundException",
    });
  });

  it("treats a throwing send as a retryable transport failure", async () => {
    let n = 0;
    const result = await publishRecords([rec(0)], {
      send: async (call) => {
        if (n++ === 0) throw new TypeError("fetch failed");
        return ok(call.length);
      },
      sleep: async () => {},
      rand: () => 0.5,
    });
    expect(result).toMatchObject({ ok: true, calls: 2, attempts: 2 });
  });

  it("stores the valid records and hands back the invalid ones", async () => {
    const records = [rec(0), sized(1, MiB + 10), rec(2)];
    const s = scripted([]);
    const result = await publishRecords(records, s.options);
    expect(s.calls).toEqual([["m-0", "m-2"]]);
    expect(result).toMatchObject({
      ok: false,
      reason: "invalid",
      remaining: [records[1]],
      stored: 2,
    });
    if (result.ok) throw new Error("unreachable");
    expect(result.invalid.map((i) => i.index)).toEqual([1]);
  });

  it("makes no call for no records", async () => {
    const s = scripted([]);
    expect(await publishRecords([], s.options)).toEqual({
      ok: true,
      stored: 0,
      calls: 0,
      attempts: 0,
      resent: 0,
    });
    expect(s.calls).toEqual([]);
  });

  it("against the flaky Kinesis' logic: only the failed entries go again", async () => {
    const flaky = createKinesisFlaky({
      faults: {
        script: [
          { failIndexes: [0, 4, 9], errorCode: "ProvisionedThroughputExceededException" },
          "throttle",
          { failIndexes: [1], errorCode: "InternalFailure" },
        ],
      },
    });
    const records = Array.from({ length: 10 }, (_, i) => rec(i));
    const sleeps: number[] = [];
    const result = await publishRecords(records, {
      send: wireSend(flaky),
      sleep: async (ms) => void sleeps.push(ms),
      rand: () => 1,
    });
    expect(flaky.state.calls.map((c) => [c.status, c.ids, c.failedIndexes])).toEqual([
      [200, records.map((r) => r.id), [0, 4, 9]],
      [400, ["m-0", "m-4", "m-9"], []],
      [200, ["m-0", "m-4", "m-9"], [1]],
      [200, ["m-4"], []],
    ]);
    expect(sleeps).toEqual([500, 1_000, 400]);
    expect(flaky.state.stored.map((s) => s.id).sort()).toEqual(records.map((r) => r.id).sort());
    expect(result).toMatchObject({ ok: true, stored: 10, calls: 4, attempts: 4 });
  });
});

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Seeded PRNG for the jitter. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scaled-down limits, so byte limits are hit by small records; Kinesis' own for count runs. */
const SCALED: KinesisLimits = {
  maxRecordsPerCall: 25,
  maxBytesPerCall: 2_000,
  maxBytesPerRecord: 400,
  maxPartitionKeyLength: 12,
};

interface Batch {
  records: MetricRecord[];
  faults: {
    entryFailureRate: number;
    internalFailureShare: number;
    throttleRate: number;
    errorRate: number;
    resetRate: number;
  };
  /** Share of calls the breaker refuses. */
  refuseRate: number;
  maxAttempts: number;
  seed: number;
}

const batchArb: fc.Arbitrary<Batch & { scaled: boolean }> = fc
  .record({
    scaled: fc.boolean(),
    // Mostly small batches (scaled limits cut them into many calls); some past 500 records.
    count: fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: 0, max: 120 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 1_300 }) },
    ),
    padSize: fc.constantFrom(0, 1, 2),
    invalidRate: fc.constantFrom(0, 0, 0.02),
    faults: fc.record({
      entryFailureRate: fc.constantFrom(0, 0.05, 0.3, 0.9),
      internalFailureShare: fc.double({ min: 0, max: 1, noNaN: true }),
      throttleRate: fc.constantFrom(0, 0.1, 0.4),
      errorRate: fc.constantFrom(0, 0.1, 0.3),
      resetRate: fc.constantFrom(0, 0.05),
    }),
    refuseRate: fc.constantFrom(0, 0, 0.02),
    maxAttempts: fc.integer({ min: 1, max: 6 }),
    seed: fc.integer(),
  })
  .map((b) => {
    const rand = prng(b.seed ^ 0x9e3779b9);
    // One to four UTF-8 bytes per character, so bytes and characters differ.
    const chars = ["a", "é", "€", "😀"];
    // Characters, up to 4 bytes each: around the scaled 400-byte record limit, or well under 1 MiB.
    const maxPad = (b.scaled ? [8, 40, 100] : [8, 120, 420])[b.padSize] ?? 8;
    const records: MetricRecord[] = [];
    for (let i = 0; i < b.count; i++) {
      const invalid = rand() < b.invalidRate;
      const padLength = Math.floor(rand() * (invalid ? 500 : maxPad));
      const pad = (chars[Math.floor(rand() * 4)] ?? "a").repeat(padLength);
      const site = invalid && rand() < 0.5 ? "" : `site-${Math.floor(rand() * 9)}`;
      records.push({ id: `b${b.seed}-${i}`, partitionKey: site, data: { site, minute: i, pad } });
    }
    const { scaled, faults, refuseRate, maxAttempts, seed } = b;
    return { scaled, records, faults, refuseRate, maxAttempts, seed };
  });

/**
 * Publishes one batch against the flaky Kinesis' logic and checks it against a reference model:
 * no call over a limit, waits within the cap, each round sends exactly the entries pending (in
 * order), and every record is either stored once or handed back.
 */
async function checkBatch(b: Batch, limits: KinesisLimits): Promise<void> {
  const flaky = createKinesisFlaky({ seed: b.seed, faults: b.faults, limits });
  const send = wireSend(flaky);
  const refuse = prng(b.seed);
  /** Calls made before each sleep: the rounds' boundaries. */
  const roundEnds: number[] = [];
  const sleeps: number[] = [];
  const result: PublishResult = await publishRecords(b.records, {
    send: (call) => (refuse() < b.refuseRate ? Promise.resolve({ kind: "refused" }) : send(call)),
    sleep: async (ms) => {
      sleeps.push(ms);
      roundEnds.push(flaky.state.calls.length);
    },
    rand: prng(b.seed + 1),
    maxAttempts: b.maxAttempts,
    limits,
  });

  // No call exceeded a limit (the stand-in checks and counts), the publisher's own view too.
  const over = flaky.state.calls.filter(
    (c) => c.ids.length > limits.maxRecordsPerCall || c.bytes > limits.maxBytesPerCall,
  );
  if (flaky.state.violations.length > 0 || over.length > 0) {
    throw new Error(`limits exceeded: ${flaky.state.violations.join("; ")}`);
  }
  // Waits are full jitter, within the cap; at most maxAttempts rounds.
  if (sleeps.some((ms) => !(ms >= 0 && ms <= THROTTLE_BACKOFF.capMs))) {
    throw new Error(`wait out of range: ${sleeps.join(", ")}`);
  }
  if (result.attempts > b.maxAttempts) throw new Error(`${result.attempts} attempts`);

  // Reference model: round by round, the entries pending are sent in order (a prefix, when
  // a failed call cut the round short); next round's are the failed entries of answered
  // calls, whole failed calls, and what was not sent.
  const invalidIds = new Set(
    b.records.flatMap((r, i) => ("reason" in encodeRecord(r, i, limits) ? [r.id] : [])),
  );
  let pending = b.records.map((r) => r.id).filter((id) => !invalidIds.has(id));
  const bounds = [0, ...roundEnds, flaky.state.calls.length];
  for (let r = 0; r + 1 < bounds.length; r++) {
    const round = flaky.state.calls.slice(bounds[r], bounds[r + 1]);
    const sent = round.flatMap((c) => c.ids);
    if (!sameIds(sent, pending.slice(0, sent.length))) {
      throw new Error(`round ${r} sent entries that were not pending, or out of order`);
    }
    const next = round.flatMap((c) =>
      c.status === 200 ? c.failedIndexes.map((i) => c.ids[i] ?? "") : c.ids,
    );
    pending = [...next, ...pending.slice(sent.length)];
  }
  const stored = flaky.state.stored.map((s) => s.id);
  const all = b.records.map((r) => r.id).sort();
  expect(new Set(stored).size).toBe(stored.length);
  expect(result.stored).toBe(stored.length);
  if (result.ok) {
    expect(pending).toEqual([]);
    expect(invalidIds.size).toBe(0);
    expect(sameIds(stored.sort(), all)).toBe(true);
  } else {
    // Nothing dropped: what was not stored comes back, in input order, invalid ones too.
    const remaining = result.remaining.map((r) => r.id);
    expect(
      sameIds(
        remaining.filter((id) => !invalidIds.has(id)),
        pending,
      ),
    ).toBe(true);
    expect(result.invalid.map((i) => i.record.id).sort()).toEqual([...invalidIds].sort());
    expect(sameIds([...stored, ...remaining].sort(), all)).toBe(true);
    const order = new Map(b.records.map((r, i) => [r.id, i]));
    const positions = remaining.map((id) => order.get(id) ?? -1);
    expect(positions.every((p, i) => i === 0 || p > (positions[i - 1] ?? -1))).toBe(true);
  }
}

/** Few records of 64 KiB to 1 MiB: Kinesis' own byte limits, at their real size. */
const largeBatchArb = fc
  .record({
    sizes: fc.array(fc.integer({ min: 64 * 1024, max: MiB + 16 }), { maxLength: 14 }),
    entryFailureRate: fc.constantFrom(0, 0.3),
    throttleRate: fc.constantFrom(0, 0.3),
    seed: fc.integer(),
  })
  .map(
    (b): Batch => ({
      faults: {
        entryFailureRate: b.entryFailureRate,
        internalFailureShare: 0.5,
        throttleRate: b.throttleRate,
        errorRate: 0,
        resetRate: 0,
      },
      refuseRate: 0,
      maxAttempts: 4,
      seed: b.seed,
      records: b.sizes.map((size, i) => ({
        id: `L${b.seed}-${i}`,
        partitionKey: `site-${i % 3}`,
        data: { pad: "x".repeat(size) },
      })),
    }),
  );

describe("publishRecords against the flaky Kinesis, randomized", () => {
  it("over 10⁴ batches: drops nothing, re-sends only what failed, never exceeds a limit", async () => {
    await fc.assert(
      fc.asyncProperty(batchArb, (b) => checkBatch(b, b.scaled ? SCALED : KINESIS_LIMITS)),
      { numRuns: 10_000 },
    );
  }, 120_000);

  it("with records up to 1 MiB: calls stay within 5 MiB and 500 records", async () => {
    await fc.assert(
      fc.asyncProperty(largeBatchArb, (b) => checkBatch(b, KINESIS_LIMITS)),
      { numRuns: 20 },
    );
  }, 60_000);
});
