// Privacy canaries over the whole local stack (scripts/stack.mjs: the router under
// `wrangler dev`, demo MEC sites, the Converse stand-ins, kinesalite), with faults injected: the
// sites answer errors, hang, reset and send garbage; Bedrock throttles, errors and resets.
//
// A seeded, randomized run (CANARY_SEED) sends chat, infer and route requests that carry random
// canary strings wherever a caller can put text: messages, names, `user`, tool definitions and
// arguments, metadata, stop sequences, media bytes, request ids, headers, routing hints, and
// malformed bodies. Afterwards no canary (nor the base64 of one) may appear in any line wrangler
// or workerd printed, any queue message (read by the tap consumer the monitor's queue is fed
// through), any Kinesis record, any D1 row, or any byte of the local state (Durable Object
// storage included); and no strict-privacy request may have reached the cloud stand-in.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../scripts/demo-site-wire.mjs";
import { type Stack, startStack } from "../../scripts/stack.mjs";

const SEED = Number(process.env.CANARY_SEED ?? 4_242);
const REQUESTS = Number(process.env.CANARY_REQUESTS ?? 240);
const CONCURRENCY = 12;
const rand = mulberry32(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

/** Every canary planted, and those of strict-privacy requests. */
const canaries = new Set<string>();
const strictCanaries = new Set<string>();
function canary(strict: boolean): string {
  const c = `cnry${Math.floor(rand() * 2 ** 32)
    .toString(16)
    .padStart(8, "0")}${Math.floor(rand() * 2 ** 32)
    .toString(16)
    .padStart(8, "0")}`;
  canaries.add(c);
  if (strict) strictCanaries.add(c);
  return c;
}
/** A canary inside media bytes: what leaks would be the base64 of these bytes. */
function mediaWith(c: string): string {
  const b64 = Buffer.from(`\x89PNG\r\n\x1a\n${c}`, "latin1").toString("base64");
  if (c) media.set(b64, c);
  return b64;
}

const PLACES = [
  { name: "berlin", at: { lat: 52.52, lon: 13.4 }, country: "DE" },
  { name: "paris", at: { lat: 48.86, lon: 2.35 }, country: "FR" },
  { name: "madrid", at: { lat: 40.42, lon: -3.7 }, country: "ES" },
];

interface Sent {
  kind: string;
  strict: boolean;
  status: number | "lost";
  tier?: string | null;
}

function request(): { kind: string; strict: boolean; path: string; init: RequestInit } {
  const kind = pick(["chat", "chat", "stream", "infer", "infer", "route", "outcome", "malformed"]);
  // A malformed body carries no routing hints: it is never a strict-privacy request.
  const strict = kind !== "malformed" && rand() < 0.4;
  const privacy = strict ? "strict" : pick(["public", "sensitive"]);
  const place = pick(PLACES);
  const c = () => canary(strict);
  const headers: Record<string, string> = {
    authorization: "Bearer dev-device-key",
    "content-type": "application/json",
    "x-request-id": c(),
    "user-agent": `app/1.0 (${c()})`,
  };
  // A compliance tag no site holds makes a request infeasible: only now and then.
  const constraints = {
    privacy,
    latencySlaMs: 5_000,
    ...(rand() < 0.1 ? { compliance: [c()] } : {}),
  };
  if (kind === "route") {
    const body = {
      requestId: c(),
      task: { modality: pick(["text", "image"]), maxOutputTokens: 32 },
      constraints,
      location: place.at,
      reserve: rand() < 0.5,
    };
    return {
      kind,
      strict,
      path: "/v1/route",
      init: { method: "POST", headers, body: JSON.stringify(body) },
    };
  }
  if (kind === "outcome") {
    // A device's report: the model it names is the only free text, and a canary is refused.
    const body = {
      decisionId: crypto.randomUUID(),
      siteId: pick(["berlin-1", "paris-1", "madrid-1"]),
      ok: rand() < 0.5,
      latencyMs: Math.floor(rand() * 3_000),
      ...(rand() < 0.7 ? { model: c() } : {}),
    };
    return {
      kind,
      strict,
      path: "/v1/outcomes",
      init: { method: "POST", headers, body: JSON.stringify(body) },
    };
  }
  if (kind === "infer") {
    const body = {
      requestId: c(),
      task: { modality: "multimodal", maxOutputTokens: 16 },
      constraints,
      location: place.at,
      device: { models: [] },
      input: {
        prompt: `Describe ${c()}`,
        messages: [{ role: "user", content: `earlier ${c()}`, name: c() }],
        media: [{ type: "image", data: mediaWith(c()), format: "png" }],
      },
    };
    return {
      kind,
      strict,
      path: "/v1/infer",
      init: { method: "POST", headers, body: JSON.stringify(body) },
    };
  }
  if (kind === "malformed") {
    // Broken JSON, a wrong type holding a canary (refused), an unknown key named by one (dropped,
    // the rest runs).
    const body = pick([
      `{"model":"auto","messages":[{"role":"user","content":"${c()}"`,
      JSON.stringify({ model: "auto", messages: [{ role: "user", content: "x" }], [c()]: c() }),
      JSON.stringify({ model: "auto", messages: [{ role: c(), content: c() }] }),
      JSON.stringify({ model: "auto", messages: c() }),
    ]);
    return { kind, strict, path: "/v1/chat/completions", init: { method: "POST", headers, body } };
  }
  if (rand() < 0.1) headers["x-mec-compliance"] = c();
  const body = {
    model: pick(["auto", "llama-3.2-3b", "llama-3.1-8b"]),
    stream: kind === "stream",
    user: c(),
    messages: [
      { role: "system", content: `You are ${c()}.` },
      {
        role: "user",
        name: c(),
        content: [
          { type: "text", text: `Hello ${c()}` },
          { type: "image_url", image_url: { url: `data:image/png;base64,${mediaWith(c())}` } },
        ],
      },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: c(),
            type: "function",
            function: { name: "lookup", arguments: JSON.stringify({ q: c() }) },
          },
        ],
      },
      { role: "tool", tool_call_id: "t1", content: `result ${c()}` },
      { role: "user", content: `Again ${c()}` },
    ],
    tools: [
      {
        type: "function",
        function: {
          name: "lookup",
          description: c(),
          parameters: { type: "object", properties: { q: { type: "string", description: c() } } },
        },
      },
    ],
    metadata: { note: c() },
    stop: [c()],
    max_tokens: 16,
    mec: { requestId: c(), location: place.at, constraints },
  };
  return {
    kind,
    strict,
    path: "/v1/chat/completions",
    init: { method: "POST", headers, body: JSON.stringify(body) },
  };
}

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** Media base64 → its canary, for finding the bytes' encoded form. */
const media = new Map<string, string>();
const MEDIA_PREFIX = mediaWith("").slice(0, 8);

/** The planted canaries (or their media's base64) found in `text`, in one pass. */
function found(text: string, among: ReadonlySet<string> = canaries): string[] {
  const hits: string[] = [];
  for (const m of text.matchAll(/cnry[0-9a-f]{16}/g)) if (among.has(m[0])) hits.push(m[0]);
  for (let i = text.indexOf(MEDIA_PREFIX); i >= 0; i = text.indexOf(MEDIA_PREFIX, i + 1)) {
    const c = media.get(text.slice(i, i + 40));
    if (c && among.has(c)) hits.push(c);
  }
  return hits;
}

let stack: Stack;
let dir: string | undefined;
const cloudBodies: string[] = [];
const novaBodies: string[] = [];
const sent: Sent[] = [];
let kinesisText = "";
let kinesisRecords = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mec-router-canary-"));
  stack = await startStack({
    dir,
    output: "ignore",
    seed: SEED,
    tap: true,
    streamReader: true,
    nova: { onRequest: (_op, _model, body) => novaBodies.push(body.toString("utf8")) },
    siteTimeScale: 0.05,
    siteFaults: { errorRate: 0.1, hangRate: 0.04, resetRate: 0.05, garbageRate: 0.04 },
    bedrock: {
      timeScale: 0.05,
      faults: { errorRate: 0.1, throttleRate: 0.1, resetRate: 0.05 },
      onRequest: (_op, _model, body) => cloudBodies.push(body.toString("utf8")),
    },
  });
  let next = 0;
  const lane = async () => {
    while (next < REQUESTS) {
      next++;
      const r = request();
      try {
        const res = await fetch(`${stack.base}${r.path}`, {
          ...r.init,
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        sent.push({
          kind: r.kind,
          strict: r.strict,
          status: res.status,
          tier: res.headers.get("x-mec-tier"),
        });
      } catch {
        sent.push({ kind: r.kind, strict: r.strict, status: "lost" });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  // Wait until the monitor has had everything: the tap's count and Kinesis stop growing.
  let last = "";
  for (let quiet = 0, i = 0; quiet < 3 && i < 40; i++) {
    await new Promise((r) => setTimeout(r, 2_000));
    const res = await fetch(`${stack.readerUrl}/streams/${stack.stream}`);
    const contents = (await res.json()) as {
      shards: { records: { partitionKey: string; data: string }[] }[];
    };
    const records = contents.shards.flatMap((s) => s.records);
    kinesisRecords = records.length;
    kinesisText = JSON.stringify(records);
    const now = `${stack.tapped.length}/${records.length}`;
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  await stack.stop();
}, 170_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`privacy canaries (seed ${SEED})`, () => {
  it("ran a real mixed workload under faults, every request answered", () => {
    const statuses = new Map<string, number>();
    for (const s of sent) statuses.set(String(s.status), (statuses.get(String(s.status)) ?? 0) + 1);
    const faults = stack.demoSites.reduce(
      (n, s) =>
        n +
        s.state.stats.injectedErrors +
        s.state.stats.resets +
        s.state.stats.hangs +
        s.state.stats.garbage,
      0,
    );
    console.log(
      `canaries: ${canaries.size} planted (${strictCanaries.size} in strict requests) over ${sent.length} requests ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `${stack.logs.length} log lines, ${stack.tapped.length} queue messages, ${kinesisRecords} Kinesis records, ` +
        `${cloudBodies.length} cloud calls, ${novaBodies.length} Nova calls, ${faults} site faults`,
    );
    expect(sent).toHaveLength(REQUESTS);
    expect(sent.filter((s) => s.status === "lost")).toEqual([]);
    expect(sent.some((s) => s.status === 200)).toBe(true);
    expect(sent.filter((s) => s.status === 500)).toEqual([]);
    expect(faults).toBeGreaterThan(0);
    expect(stack.tapped.length).toBeGreaterThan(0);
    expect(kinesisRecords).toBeGreaterThan(0);
  });

  it("the canaries are real: non-strict content does reach the cloud tier", () => {
    // The check below would pass vacuously if canaries never travelled; here they do.
    expect(found(cloudBodies.join("\n")).length).toBeGreaterThan(0);
  });

  it("no canary in any log line", () => {
    const hits = stack.logs.filter((line) => found(line).length > 0);
    expect(hits).toEqual([]);
  });

  it("no canary in any queue message the monitor consumed", () => {
    expect(found(JSON.stringify(stack.tapped))).toEqual([]);
  });

  it("no canary in any Kinesis record", () => {
    expect(found(kinesisText)).toEqual([]);
  });

  it("no canary in any D1 row, nor anywhere in the local state", () => {
    const all = files(stack.stateDir ?? "");
    const databases = all.filter((f) => f.includes(`${join("v3", "d1")}`) && f.endsWith(".sqlite"));
    expect(databases.length).toBeGreaterThan(0);
    let rows = 0;
    for (const file of databases) {
      const db = new DatabaseSync(file, { readOnly: true });
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[];
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all()) {
          rows++;
          expect(found(JSON.stringify(row)), `${name} row`).toEqual([]);
        }
      }
      db.close();
    }
    console.log(`canaries: ${rows} D1 rows and ${all.length} state files checked`);
    expect(rows).toBeGreaterThan(0);
    for (const file of all) {
      expect(found(readFileSync(file).toString("latin1")), file).toEqual([]);
    }
  });

  it("no strict-privacy request reached the cloud, and Nova saw no content at all", () => {
    expect(found(cloudBodies.join("\n"), strictCanaries)).toEqual([]);
    expect(sent.filter((s) => s.strict && s.tier === "cloud")).toEqual([]);
    expect(found(novaBodies.join("\n"))).toEqual([]);
  });
});
