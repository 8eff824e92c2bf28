// Reads and validates JSON bodies: 415 for another media type, 400 for bad JSON or JSON nested
// deeper than MAX_JSON_DEPTH, 400 with field paths for a schema miss. (Size is limited before
// this, by `limitBody`.)

import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { jsonDeeperThan } from "../shared/json-depth.ts";
import {
  type FieldIssue,
  InvalidRequest,
  PayloadTooLarge,
  UnsupportedMediaType,
} from "./errors.ts";

z.config(en());

export const MAX_BODY_BYTES = 64 * 1024;
/** No request body of ours nests deeper than about 8 levels; tool schemas get room to spare. */
export const MAX_JSON_DEPTH = 32;

/** Rejects bodies over the limit with 413 before anything parses them. */
export function limitBody(maxSize = MAX_BODY_BYTES) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new PayloadTooLarge(maxSize);
    },
  });
}

/** A `limit` query parameter: an integer from 1 to `max`, given as a string. */
export function limitParam(max: number) {
  return z.optional(
    z
      .string()
      .check(
        z.refine(
          (v) => /^\d{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= max,
          `expected an integer from 1 to ${max}`,
        ),
      ),
  );
}

export function toFieldIssues(issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  return issues.map((i) => ({
    path: i.path.map(String).join(".") || "(body)",
    message: i.message,
  }));
}

/** The query parameters, validated: 400 with field paths (an unknown parameter by name). */
export function readQuery<S extends z.ZodMiniType>(c: Context, schema: S): z.infer<S> {
  const result = z.safeParse(schema, c.req.query());
  if (!result.success) {
    const issues = result.error.issues.flatMap((i): FieldIssue[] =>
      i.code === "unrecognized_keys"
        ? i.keys.map((k) => ({ path: k, message: "unknown query parameter" }))
        : [{ path: i.path.map(String).join(".") || "(query)", message: i.message }],
    );
    throw new InvalidRequest("invalid query", issues);
  }
  return result.data;
}

export async function readJson<S extends z.ZodMiniType>(
  c: Context,
  schema: S,
): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([a-z.+-]*\+)?json\s*(;|$)/i.test(type)) throw new UnsupportedMediaType();
  const text = await c.req.text();
  if (jsonDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new InvalidRequest(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequest("body is not valid JSON");
  }
  const result = z.safeParse(schema, body);
  if (!result.success) {
    throw new InvalidRequest("request body failed validation", toFieldIssues(result.error.issues));
  }
  return result.data;
}
