// The isolate's fleet cache (worker/fleet/live-fleet-source.ts): fresh snapshots are reused,
// stale ones served while one background refresh runs, and no request ever awaits a directory
// read another request started — a read that never settles (its request cancelled) leaves the
// next cold request and, after a while, the next refresh free to read for themselves.

import { describe, expect, it } from "vitest";
import type { DirectorySnapshot } from "../../durable-objects/fleet-directory.ts";
import {
  FRESH_MS,
  LiveFleetSource,
  MAX_STALE_MS,
  REFRESH_LOST_MS,
} from "../../worker/fleet/live-fleet-source.ts";
import { makeSite } from "./helpers/fleet-builders.ts";

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);

/** A directory whose reads the test settles (or never settles) one by one. */
function directory() {
  const pending: { version: number; settle: (s: DirectorySnapshot) => void }[] = [];
  let version = 0;
  const read = () =>
    new Promise<DirectorySnapshot>((resolve) => {
      version++;
      pending.push({ version, settle: resolve });
    });
  const answer = (i: number) => {
    const p = pending[i];
    if (!p) throw new Error(`no read ${i}`);
    p.settle({ version: p.version, sites: [], services: [] });
  };
  return { read, pending, answer };
}

/** Lets promise callbacks run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe("LiveFleetSource", () => {
  it("reuses a fresh snapshot and serves a stale one while one background refresh runs", async () => {
    const dir = directory();
    const source = new LiveFleetSource(dir.read);
    const first = source.snapshot(T0);
    dir.answer(0);
    expect((await first).data.version).toBe(1);
    expect((await source.snapshot(T0 + FRESH_MS - 1)).data.version).toBe(1);
    expect(dir.pending).toHaveLength(1);
    const background: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => background.push(p);
    // Stale: answered from the cache at once, one refresh started however many ask.
    expect((await source.snapshot(T0 + FRESH_MS, waitUntil)).data.version).toBe(1);
    expect((await source.snapshot(T0 + FRESH_MS + 1, waitUntil)).data.version).toBe(1);
    expect(dir.pending).toHaveLength(2);
    expect(background).toHaveLength(1);
    dir.answer(1);
    await Promise.all(background);
    expect((await source.snapshot(T0 + FRESH_MS + 2, waitUntil)).data.version).toBe(2);
  });

  it("keeps the site index across refreshes, invalidations included, while no site moved", async () => {
    const sites = [
      makeSite({ id: "munich", location: { lat: 48.1, lon: 11.6 } }),
      makeSite({ id: "berlin", location: { lat: 52.5, lon: 13.4 } }),
    ];
    let snap: DirectorySnapshot = { version: 1, sites, services: [] };
    const source = new LiveFleetSource(async () => snap);
    const first = await source.snapshot(T0);
    snap = { version: 2, sites: sites.map((s) => ({ ...s, errorRate: 0.5 })), services: [] };
    source.invalidate();
    const second = await source.snapshot(T0 + 1);
    expect(second.data.version).toBe(2);
    expect(second.siteIndex.xyz).toBe(first.siteIndex.xyz);
    expect(second.siteIndex.items.map((s) => [s.id, s.errorRate])).toEqual([
      ["berlin", 0.5],
      ["munich", 0.5],
    ]);
    const moved = { ...(sites[1] as (typeof sites)[number]), location: { lat: 40.4, lon: -3.7 } };
    snap = { version: 3, sites: [sites[0] as (typeof sites)[number], moved], services: [] };
    source.invalidate();
    const third = await source.snapshot(T0 + 2);
    expect(third.siteIndex.xyz).not.toBe(first.siteIndex.xyz);
    expect(third.siteIndex.items.map((s) => s.location)).toEqual([
      moved.location,
      sites[0]?.location,
    ]);
  });

  it("never makes a cold request await a read another request started", async () => {
    const dir = directory();
    const source = new LiveFleetSource(dir.read);
    // The first cold request's read never settles (its request was cancelled).
    void source.snapshot(T0);
    const second = source.snapshot(T0 + 1);
    expect(dir.pending).toHaveLength(2);
    dir.answer(1);
    expect((await second).data.version).toBe(2);
    // The cache it filled serves the next request.
    expect((await source.snapshot(T0 + 2)).data.version).toBe(2);
  });

  it("starts another background refresh once one has not settled for a while", async () => {
    const dir = directory();
    const source = new LiveFleetSource(dir.read);
    const first = source.snapshot(T0);
    dir.answer(0);
    await first;
    const waitUntil = () => {};
    const stale = T0 + FRESH_MS;
    await source.snapshot(stale, waitUntil);
    expect(dir.pending).toHaveLength(2);
    // The refresh never settles: within REFRESH_LOST_MS no second one starts, after it one does.
    await source.snapshot(stale + REFRESH_LOST_MS, waitUntil);
    expect(dir.pending).toHaveLength(2);
    await source.snapshot(stale + REFRESH_LOST_MS + 1, waitUntil);
    expect(dir.pending).toHaveLength(3);
    dir.answer(2);
    await settle();
    expect((await source.snapshot(stale + REFRESH_LOST_MS + 2, waitUntil)).data.version).toBe(3);
  });

  it("does not let a read that started before an invalidation fill the cache", async () => {
    const dir = directory();
    const source = new LiveFleetSource(dir.read);
    const before = source.snapshot(T0);
    source.invalidate();
    const after = source.snapshot(T0 + 1);
    dir.answer(1);
    expect((await after).data.version).toBe(2);
    dir.answer(0);
    expect((await before).data.version).toBe(1);
    expect((await source.snapshot(T0 + 2)).data.version).toBe(2);
  });

  it("waits on the directory when the cache is older than MAX_STALE_MS", async () => {
    const dir = directory();
    const source = new LiveFleetSource(dir.read);
    const first = source.snapshot(T0);
    dir.answer(0);
    await first;
    const late = source.snapshot(T0 + MAX_STALE_MS, () => {});
    expect(dir.pending).toHaveLength(2);
    dir.answer(1);
    expect((await late).data.version).toBe(2);
  });
});
