// Reading an upstream's answer within a size limit (shared/bounded-read.ts), whether or not the
// answer declares its length.

import { describe, expect, it } from "vitest";
import { BodyTooLarge, readTextWithin } from "../../shared/bounded-read.ts";

/** A body sent in chunks, with no declared length unless given. */
function chunked(parts: string[], headers: Record<string, string> = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(encoder.encode(p));
      c.close();
    },
  });
  return new Response(body, { headers });
}

describe("readTextWithin", () => {
  it("reads a declared body within the limit, and refuses one declared over it unread", async () => {
    expect(await readTextWithin(new Response("héllo"), 16)).toBe("héllo");
    const res = new Response("x".repeat(64), { headers: { "content-length": "64" } });
    await expect(readTextWithin(res, 16)).rejects.toBeInstanceOf(BodyTooLarge);
  });

  it("stops an undeclared body as soon as it passes the limit", async () => {
    expect(await readTextWithin(chunked(["ab", "cd", "é"]), 6)).toBe("abcdé");
    await expect(readTextWithin(chunked(["abcd", "efgh"]), 6)).rejects.toBeInstanceOf(BodyTooLarge);
  });

  it("counts the decoded body when it is encoded on the way, whatever length it declares", async () => {
    const inflated = chunked(["x".repeat(10), "x".repeat(10)], {
      "content-encoding": "gzip",
      "content-length": "8",
    });
    await expect(readTextWithin(inflated, 16)).rejects.toBeInstanceOf(BodyTooLarge);
  });

  it("refuses a body longer than it declared", async () => {
    const lying = chunked(["x".repeat(40)], { "content-length": "4" });
    await expect(readTextWithin(lying, 16)).rejects.toBeInstanceOf(BodyTooLarge);
  });

  it("reads an empty body as an empty string", async () => {
    expect(await readTextWithin(new Response(null), 16)).toBe("");
  });
});
