// What the OpenAPI document says about one route: written beside the others of its resource in
// worker/openapi/paths/, from the zod schemas the route itself validates with. A route the app
// serves without an entry here fails test/unit/openapi.test.ts, which names it.

import type * as z from "zod/mini";
import type { Role } from "../auth.ts";

export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface ResponseDoc {
  description: string;
  /** The body's schema; none for 204 and the like. */
  schema?: z.ZodMiniType;
  /** Default `application/json`. */
  contentType?: string;
  /** Also served as `text/event-stream` (chat streaming). */
  stream?: string;
  headers?: Record<string, string>;
  /** A complete example answer (checked against `schema` in the tests). */
  example?: unknown;
}

export interface OperationDoc {
  method: Method;
  /** As Hono writes it: `/v1/sites/:id`. */
  path: string;
  /** Unique; the typed client's method name. */
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Roles whose key may call it; empty: no key needed. */
  roles: readonly Role[];
  /** Also takes the dashboard's session cookie (of one of `roles`), instead of a key. */
  session?: boolean;
  params?: z.ZodMiniObject;
  query?: z.ZodMiniObject;
  /** Request headers the route reads, with what each means. */
  headers?: Record<string, { description: string; required?: boolean }>;
  body?: z.ZodMiniType;
  /** Largest body taken (413 beyond); documented when there is a body. */
  bodyLimitBytes?: number;
  /** Success answers by status. */
  responses: Record<number, ResponseDoc>;
  /**
   * Errors beyond the ones every route of its kind may answer (400 for a bad body or query,
   * 401/403 with roles, 413/415 with a body, 500): status → when.
   */
  errors?: Record<number, string>;
  /** One call that works against a running router (`npm start`): what the tests send. */
  example: {
    params?: Record<string, string>;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: unknown;
  };
}

/** Identity, for inference and one place to hang the type. */
export function operation(doc: OperationDoc): OperationDoc {
  return doc;
}
