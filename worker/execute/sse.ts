// Server-sent events, as OpenAI-compatible servers stream them: parse an upstream body into
// `data:` payloads as they arrive (no buffering beyond one event), and frame ours.

const encoder = new TextEncoder();

/** One event's text; a chunk of an answer is a few hundred bytes, so this is only ever a fault. */
export const MAX_SSE_EVENT_CHARS = 1024 * 1024;

/**
 * Yields each event's `data` (joined lines), in order, as soon as its blank line arrives. Throws
 * when an event grows past MAX_SSE_EVENT_CHARS without ending.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  // Read and decode by hand: a piped TextDecoderStream would leave its pipe's rejection
  // unhandled when the upstream connection drops.
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const end = buffer.search(/\r?\n\r?\n/);
        if (end < 0) break;
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = raw
          .split(/\r?\n/)
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) yield data;
      }
      if (buffer.length > MAX_SSE_EVENT_CHARS) throw new Error("server-sent event too large");
    }
  } finally {
    // Stops the upstream when the consumer leaves early (failover, client gone).
    await reader.cancel().catch(() => {});
  }
}

export function sseEvent(data: unknown): Uint8Array {
  return encoder.encode(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

/** A comment line: clients skip it; people and our own tools can read it. */
export function sseComment(text: string): Uint8Array {
  return encoder.encode(`: ${text.replace(/[\r\n]/g, " ")}\n\n`);
}

export const SSE_DONE = encoder.encode("data: [DONE]\n\n");
