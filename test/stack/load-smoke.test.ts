// A few seconds of the load test (bench/loadtest-run.ts) on the local stack: at twice the fleet's
// measured capacity, every request gets an answer with a typed body (none lost, no 500), and the
// worker keeps answering its health check. The minute-long run with its figures is
// `npm run loadtest`. Also what only a real socket can send: a GET with a body.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoadResult, loadTable, loadVerdict, runLoad } from "../../bench/loadtest-run.ts";
import { type Stack, startStack } from "../../scripts/stack.mjs";

const fleet = JSON.parse(
  readFileSync(new URL("../../shared/seed/fleet.json", import.meta.url), "utf8"),
) as { sites: { location: { lat: number; lon: number }; capacity: { maxConcurrent: number } }[] };

let stack: Stack;
let dir: string | undefined;
let result: LoadResult;

beforeAll(async () => {
  // Sites 4× slower than the catalog, as `npm run loadtest` runs them: the fleet saturates.
  dir = mkdtempSync(join(tmpdir(), "mec-router-load-"));
  stack = await startStack({ dir, output: "ignore", seed: 3, siteTimeScale: 4 });
  result = await runLoad({
    url: stack.base,
    sites: fleet.sites.map((s) => ({ location: s.location, slots: s.capacity.maxConcurrent })),
    seconds: 6,
    calibrationSeconds: 4,
    factor: 2,
    slaMs: 10_000,
    mix: { critical: 0.2, standard: 0.5, sheddable: 0.3 },
    seed: 3,
    model: "llama-3.1-8b",
    maxTokens: 96,
  });
  console.log(loadTable(result).join("\n"));
}, 170_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A GET with a body, as a client on a socket may send one (fetch cannot). */
function getWithBody(url: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, {
      method: "GET",
      headers: { "content-length": String(bytes), "content-type": "text/plain" },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end(Buffer.alloc(bytes, 0x61));
  });
}

describe("load smoke: twice the fleet's capacity for a few seconds", () => {
  it("answers every request with a typed body, none lost, no 500, and stays up", () => {
    const verdict = loadVerdict(result);
    expect(result.capacity.perSecond).toBeGreaterThan(0);
    expect(verdict.noneLost).toBe(true);
    expect(verdict.allTyped).toBe(true);
    expect(verdict.workerUp).toBe(true);
    for (const c of Object.values(result.classes)) {
      expect(c.sent).toBeGreaterThan(0);
      expect(c.refused["500"]).toBeUndefined();
    }
  });

  it("refuses a GET whose body is over the limit, over a real socket", async () => {
    expect(await getWithBody(stack.base, 100)).toBe(200);
    expect(await getWithBody(stack.base, 100 * 1024)).toBe(413);
  });
});
