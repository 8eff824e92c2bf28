// Request limits checked before any route runs, for every method and path (unknown paths and
// requests whose route reads no body included): URL length, query parameters, header count and
// size, and body size. A body over its route's limit is refused from `content-length` alone, or
// while it streams in; nothing parses it first.
//
// Statuses: sizes answer 413 (`url_too_long`, `headers_too_large`, `payload_too_large`) rather
// than 414 or 431, so that a client sees one status for "too big" whichever part it was; a
// malformed query answers 400.

import { createMiddleware } from "hono/factory";
import { AppError, InvalidRequest } from "./errors.ts";
import { MAX_CHAT_BODY_BYTES } from "./routes/chat.ts";
import { MAX_INFER_BODY_BYTES } from "./routes/infer.ts";
import type { AppEnv } from "./types.ts";
import { limitBody, MAX_BODY_BYTES } from "./validate.ts";

export const REQUEST_LIMITS = {
  /** The whole URL, scheme and host included. */
  urlChars: 8 * 1024,
  queryParams: 32,
  queryKeyChars: 64,
  queryValueChars: 1024,
  headerCount: 64,
  /** Names and values of all headers together. */
  headerBytes: 16 * 1024,
  headerValueBytes: 8 * 1024,
  /** Every route but the ones below. */
  bodyBytes: MAX_BODY_BYTES,
} as const;

/** Routes that take media and long histories. */
const LARGE_BODY_ROUTES: ReadonlyMap<string, number> = new Map([
  ["/v1/chat/completions", MAX_CHAT_BODY_BYTES],
  ["/v1/infer", MAX_INFER_BODY_BYTES],
]);

export function bodyLimitFor(path: string): number {
  return LARGE_BODY_ROUTES.get(path.replace(/\/+$/, "")) ?? REQUEST_LIMITS.bodyBytes;
}

class TooLarge extends AppError {
  constructor(code: "url_too_long" | "headers_too_large", message: string, limit: number) {
    super(413, code, message, { limit });
  }
}

function checkUrl(url: string): void {
  if (url.length > REQUEST_LIMITS.urlChars) {
    throw new TooLarge(
      "url_too_long",
      `the URL exceeds ${REQUEST_LIMITS.urlChars} characters`,
      REQUEST_LIMITS.urlChars,
    );
  }
  const q = url.indexOf("?");
  if (q < 0) return;
  let count = 0;
  for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
    if (++count > REQUEST_LIMITS.queryParams) {
      throw new InvalidRequest(`more than ${REQUEST_LIMITS.queryParams} query parameters`);
    }
    if (
      key.length > REQUEST_LIMITS.queryKeyChars ||
      value.length > REQUEST_LIMITS.queryValueChars
    ) {
      throw new InvalidRequest("query parameter too long", [
        {
          path: key.slice(0, REQUEST_LIMITS.queryKeyChars),
          message: `names ≤ ${REQUEST_LIMITS.queryKeyChars} and values ≤ ${REQUEST_LIMITS.queryValueChars} characters`,
        },
      ]);
    }
  }
}

/** Header values are byte strings: one character per byte on the wire. */
function checkHeaders(headers: Headers): void {
  let count = 0;
  let bytes = 0;
  for (const [name, value] of headers) {
    count++;
    bytes += name.length + value.length;
    if (value.length > REQUEST_LIMITS.headerValueBytes) {
      throw new TooLarge(
        "headers_too_large",
        `a header value exceeds ${REQUEST_LIMITS.headerValueBytes} bytes`,
        REQUEST_LIMITS.headerValueBytes,
      );
    }
  }
  if (count > REQUEST_LIMITS.headerCount) {
    throw new TooLarge(
      "headers_too_large",
      `more than ${REQUEST_LIMITS.headerCount} headers`,
      REQUEST_LIMITS.headerCount,
    );
  }
  if (bytes > REQUEST_LIMITS.headerBytes) {
    throw new TooLarge(
      "headers_too_large",
      `headers exceed ${REQUEST_LIMITS.headerBytes} bytes`,
      REQUEST_LIMITS.headerBytes,
    );
  }
}

/** The app's first middleware: URL, query, headers, then the body's size. */
export const requestLimits = () => {
  const bodyLimits = new Map<number, ReturnType<typeof limitBody>>();
  return createMiddleware<AppEnv>(async (c, next) => {
    checkUrl(c.req.url);
    checkHeaders(c.req.raw.headers);
    const limit = bodyLimitFor(c.req.path);
    let check = bodyLimits.get(limit);
    if (!check) {
      check = limitBody(limit);
      bodyLimits.set(limit, check);
    }
    return check(c, next);
  });
};
