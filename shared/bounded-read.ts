// Reads an upstream's answer body up to a size limit: a misbehaving server cannot make the
// router buffer more than it expects, whether or not it declares a length.

export class BodyTooLarge extends Error {
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super(`answer exceeds ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
    this.name = "BodyTooLarge";
  }
}

/** The body as text; throws `BodyTooLarge` (and stops the transfer) past `maxBytes`. */
export async function readTextWithin(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(maxBytes);
  }
  if (!res.body) return "";
  // A declared length bounds what the transport reads, so the native read is bounded too, unless
  // the body is decoded on the way (a small gzip may inflate without end): then, and without a
  // declared length, it is read chunk by chunk. The check after the read is a second line.
  if (Number.isFinite(declared) && !res.headers.has("content-encoding")) {
    const text = await res.text();
    if (text.length > maxBytes) throw new BodyTooLarge(maxBytes);
    return text;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(maxBytes);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}
