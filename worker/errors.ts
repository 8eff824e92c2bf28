// Typed domain errors, mapped to HTTP once in `app.onError` as
// `{ "error": { "code", "message", "details"? } }`. Clients never see a stack trace.

import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    details?: unknown,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

export class InvalidRequest extends AppError {
  constructor(message: string, issues?: FieldIssue[]) {
    super(400, "invalid_request", message, issues);
  }
}

/** Media given by URL (dotted paths): refused, since nothing may fetch a caller's URL. */
export function refuseRemoteMedia(paths: string[]): void {
  if (paths.length === 0) return;
  throw new InvalidRequest(
    "media by URL is not fetched: send it inline (a data: URL, or base64 data)",
    paths.map((path) => ({ path, message: "expected a data: URL" })),
  );
}

export class Unauthorized extends AppError {
  constructor(message = "missing or invalid API key") {
    super(401, "unauthorized", message, undefined, {
      "www-authenticate": 'Bearer realm="mec-router"',
    });
  }
}

export class Forbidden extends AppError {
  constructor(message: string) {
    super(403, "forbidden", message);
  }
}

export class NotFound extends AppError {
  constructor(message: string) {
    super(404, "not_found", message);
  }
}

export class PayloadTooLarge extends AppError {
  constructor(limitBytes: number) {
    super(413, "payload_too_large", `request body exceeds ${limitBytes} bytes`, { limitBytes });
  }
}

export class UnsupportedMediaType extends AppError {
  constructor() {
    super(415, "unsupported_media_type", "send the body as application/json");
  }
}

export class InfeasibleRoute extends AppError {
  constructor(message: string, details: unknown) {
    super(422, "infeasible", message, details);
  }
}

export class Overloaded extends AppError {
  constructor(message: string, details: unknown, retryAfterS = 1) {
    super(503, "overloaded", message, details, { "retry-after": String(retryAfterS) });
  }
}

export class Unavailable extends AppError {
  constructor(message: string, details: unknown, retryAfterS = 5) {
    super(503, "unavailable", message, details, { "retry-after": String(retryAfterS) });
  }
}

/** A key over its rate limit. */
export class RateLimited extends AppError {
  constructor(scope: string, retryAfterS: number) {
    super(
      429,
      "rate_limited",
      `this ${scope} key is over its rate limit; retry after ${retryAfterS} s`,
      { retryAfterS },
      { "retry-after": String(retryAfterS) },
    );
  }
}

/**
 * The tenant's cost budget for the period cannot cover the request, and no cheaper target that
 * meets its constraints can either. 402, not 429: retrying will not help before the period ends
 * or the budget is raised, so clients that back off and retry on 429 must not loop on it.
 */
export class BudgetExhausted extends AppError {
  constructor(message: string, details: unknown) {
    super(402, "budget_exhausted", message, details);
  }
}

/** The HTTP error for a decision that found no target. */
export function refusal(
  code: "infeasible" | "overloaded" | "unavailable",
  message: string,
  details: unknown,
): AppError {
  if (code === "overloaded") return new Overloaded(message, details);
  if (code === "unavailable") return new Unavailable(message, details);
  return new InfeasibleRoute(message, details);
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * What a log line may say about an unexpected error: its name, its message up to the first quote
 * (runtime messages quote the values they choked on, which may be request content), and where it
 * was thrown.
 */
export function errorLogFields(err: unknown): { name: string; message: string; at?: string } {
  if (!(err instanceof Error)) return { name: "unknown", message: typeof err };
  const head = err.message.split(/["'`]/, 1)[0] ?? "";
  const message = (head.length < err.message.length ? `${head}…` : head)
    .replace(/\s+/g, " ")
    .slice(0, 200);
  const at = err.stack
    ?.split("\n")
    .find((l) => /^\s+at /.test(l))
    ?.trim();
  return at ? { name: err.name, message, at } : { name: err.name, message };
}

export interface ErrorAnswer {
  status: ContentfulStatusCode;
  headers: Record<string, string>;
  body: ReturnType<typeof errorBody>;
}

/**
 * The one mapping of a thrown error to an answer, for HTTP routes and MCP tools alike: an
 * AppError as it is, a framework 4xx as `invalid_request`, anything else as `internal` (a bug:
 * logged with `where` — a route pattern or tool name, never a caller's path — and
 * `errorLogFields`, never request content, and answered without internals).
 */
export function errorAnswer(err: unknown, where: string): ErrorAnswer {
  if (err instanceof AppError) {
    return {
      status: err.status,
      headers: err.headers,
      body: errorBody(err.code, err.message, err.details),
    };
  }
  if (err instanceof HTTPException && err.status < 500) {
    return {
      status: err.status,
      headers: {},
      body: errorBody("invalid_request", err.message || "bad request"),
    };
  }
  console.error(JSON.stringify({ event: "error", route: where, ...errorLogFields(err) }));
  return { status: 500, headers: {}, body: errorBody("internal", "internal error") };
}
