// The Kinesis outbox's pure part (shared/kinesis-outbox.ts): which claimed rows are sent and
// which are dead on arrival, and how a publish result settles each sent row — by example, and as
// a property: every row ends up in exactly one of stored, pending and dead.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MetricRecord, PublishResult } from "../../shared/kinesis-batch.ts";
import {
  type OutboxRow,
  planOutbox,
  type RollupDelta,
  settleOutbox,
} from "../../shared/kinesis-outbox.ts";

const delta = (o: Partial<RollupDelta> = {}): RollupDelta => ({
  v: 1,
  kind: "rollup_delta",
  minute: 1_800_000_000_000,
  periodMs: 60_000,
  tier: "mec",
  target: "site:berlin-1",
  model: "llama-3.1-8b",
  decisions: 2,
  outcomes: 1,
  errors: 0,
  slaMet: 1,
  slaKnown: 1,
  costUsd: 0.25,
  latencySumMs: 250,
  latencyMaxMs: 250,
  ttftSumMs: 0,
  ttftCount: 0,
  ...o,
});

const row = (id: string, o: Partial<OutboxRow> = {}): OutboxRow => ({
  id,
  partitionKey: "site:berlin-1",
  data: JSON.stringify(delta()),
  ...o,
});

const stats = { stored: 0, calls: 1, attempts: 1, resent: 0 };

describe("planOutbox", () => {
  it("sends valid rows in order, with their data parsed", () => {
    const rows = [row("a"), row("b", { data: JSON.stringify(delta({ tier: "cloud" })) })];
    expect(planOutbox(rows)).toEqual({
      records: [
        { id: "a", partitionKey: "site:berlin-1", data: delta() },
        { id: "b", partitionKey: "site:berlin-1", data: delta({ tier: "cloud" }) },
      ],
      dead: [],
    });
  });

  it("declares dead what Kinesis could never take or a reader could not read", () => {
    const rows = [
      row("json", { data: "{oops" }),
      row("shape", { data: JSON.stringify({ ...delta(), decisions: -1 }) }),
      row("version", { data: JSON.stringify({ ...delta(), v: 2 }) }),
      row("ok"),
      row("key", { partitionKey: "" }),
      row("long", { partitionKey: "k".repeat(257) }),
      row("big", { data: JSON.stringify(delta({ model: "m".repeat(1024 * 1024) })) }),
    ];
    const { records, dead } = planOutbox(rows);
    expect(records.map((r) => r.id)).toEqual(["ok"]);
    expect(dead).toEqual([
      { id: "json", reason: "data is not JSON" },
      { id: "shape", reason: "data is not a rollup delta (decisions)" },
      { id: "version", reason: "data is not a rollup delta (v)" },
      { id: "key", reason: "partition key is empty" },
      { id: "long", reason: "partition key longer than 256 characters" },
      { id: "big", reason: expect.stringMatching(/^record is \d+ bytes with its partition key/) },
    ]);
  });
});

describe("settleOutbox", () => {
  const records: MetricRecord[] = ["a", "b", "c", "d"].map((id) => ({
    id,
    partitionKey: "p",
    data: {},
  }));

  it("deletes everything after a complete publish", () => {
    expect(settleOutbox(records, { ok: true, ...stats, stored: 4 })).toEqual({
      stored: ["a", "b", "c", "d"],
      pending: [],
      dead: [],
    });
  });

  it("keeps what was not stored, and buries what never can be", () => {
    const [a, , c, d] = records as [MetricRecord, MetricRecord, MetricRecord, MetricRecord];
    const result: PublishResult = {
      ok: false,
      reason: "attempts_exhausted",
      remaining: [a, c, d],
      invalid: [{ record: d, index: 3, reason: "too big" }],
      ...stats,
      stored: 1,
    };
    expect(settleOutbox(records, result)).toEqual({
      stored: ["b"],
      pending: ["a", "c"],
      dead: [{ id: "d", reason: "too big" }],
    });
  });

  it("puts every record in exactly one of stored, pending and dead", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.boolean()), { maxLength: 40 }),
        fc.constantFrom(
          "attempts_exhausted",
          "breaker_open",
          "rejected",
          "invalid",
        ) as fc.Arbitrary<"attempts_exhausted" | "breaker_open" | "rejected" | "invalid">,
        (fates, reason) => {
          const recs = fates.map((_, i) => ({ id: `r${i}`, partitionKey: "p", data: {} }));
          const remaining = recs.filter((_, i) => fates[i]?.[0]);
          const invalid = recs.flatMap((record, index) =>
            fates[index]?.[0] && fates[index]?.[1] ? [{ record, index, reason: "bad" }] : [],
          );
          const s = settleOutbox(recs, { ok: false, reason, remaining, invalid, ...stats });
          const all = [...s.stored, ...s.pending, ...s.dead.map((d) => d.id)].sort();
          expect(all).toEqual(recs.map((r) => r.id).sort());
          expect(s.stored).toEqual(recs.filter((_, i) => !fates[i]?.[0]).map((r) => r.id));
          expect(s.dead.map((d) => d.id)).toEqual(invalid.map((i) => i.record.id));
        },
      ),
    );
  });
});
