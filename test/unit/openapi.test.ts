// The OpenAPI document: valid OpenAPI 3.1 (a real validator), one entry for every route the Hono
// app serves and none for a route it does not, and examples that satisfy their own schemas.

import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { app } from "../../worker/app.ts";
import {
  errorStatuses,
  OPERATIONS,
  openApiDocument,
  openApiPath,
} from "../../worker/openapi/document.ts";

const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

describe("OpenAPI document", () => {
  it("validates as OpenAPI 3.1", async () => {
    const doc = structuredClone(openApiDocument());
    // The validator dereferences in place; it gets its own copy.
    await expect(SwaggerParser.validate(doc as never)).resolves.toBeTruthy();
    expect(openApiDocument().openapi).toBe("3.1.0");
  });

  it("documents every route the app serves, and only those", () => {
    // `ALL` entries are middleware (app.use), not routes.
    const served = new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => key(r.method, r.path)),
    );
    const documented = new Set(OPERATIONS.map((op) => key(op.method, op.path)));
    const undocumented = [...served].filter((r) => !documented.has(r)).sort();
    const stale = [...documented].filter((r) => !served.has(r)).sort();
    expect(
      undocumented,
      "served but not documented: add an operation to worker/openapi/paths/",
    ).toEqual([]);
    expect(stale, "documented but not served").toEqual([]);
  });

  it("gives every operation a unique id, a summary, an example and the error schema", () => {
    const ids = OPERATIONS.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const paths = openApiDocument().paths as Record<
      string,
      Record<string, Record<string, unknown>>
    >;
    for (const op of OPERATIONS) {
      const doc = paths[openApiPath(op.path)]?.[op.method];
      expect(doc, key(op.method, op.path)).toBeDefined();
      expect(op.summary.length).toBeGreaterThan(5);
      const responses = doc?.responses as Record<string, { content?: Record<string, unknown> }>;
      for (const status of Object.keys(errorStatuses(op))) {
        expect(responses[status]?.content?.["application/json"]).toEqual({
          schema: { $ref: "#/components/schemas/Error" },
        });
      }
      // Every route can fail with a bug; every keyed route refuses a missing key.
      expect(responses).toHaveProperty("500");
      if (op.roles.length > 0 || op.session) expect(responses).toHaveProperty("401");
      const security = doc?.security as Record<string, string[]>[];
      const bearer = op.roles.length > 0 ? [{ bearerKey: [...op.roles] }] : [];
      const cookie = op.session ? [{ sessionCookie: [...op.roles] }] : [];
      expect(security).toEqual([...bearer, ...cookie]);
    }
  });

  it("has examples that satisfy the operation's own schemas", () => {
    for (const op of OPERATIONS) {
      const where = key(op.method, op.path);
      const pathNames = [...op.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      expect(Object.keys(op.example.params ?? {}).sort(), where).toEqual(pathNames.sort());
      if (op.params) expect(z.safeParse(op.params, op.example.params).success, where).toBe(true);
      if (op.query) {
        expect(z.safeParse(op.query, op.example.query ?? {}).success, where).toBe(true);
      }
      expect(op.body === undefined, where).toBe(op.example.body === undefined);
      if (op.body) {
        const parsed = z.safeParse(op.body, op.example.body);
        expect(parsed.success, `${where}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      }
      for (const [status, r] of Object.entries(op.responses)) {
        if (r.example === undefined || !r.schema) continue;
        const parsed = z.safeParse(r.schema, r.example);
        expect(parsed.success, `${where} ${status}: ${JSON.stringify(parsed.error?.issues)}`).toBe(
          true,
        );
      }
    }
  });

  it("names the shared schemas and references them", () => {
    const doc = openApiDocument();
    const schemas = doc.components.schemas as Record<string, unknown>;
    for (const name of ["Error", "RouteRequest", "RouteAnswer", "Target", "SiteView"]) {
      expect(schemas).toHaveProperty(name);
    }
    const text = JSON.stringify(doc);
    for (const ref of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      expect(schemas, `dangling $ref ${ref[1]}`).toHaveProperty(ref[1] as string);
    }
    for (const name of Object.keys(schemas)) {
      expect(text, `unused schema ${name}`).toContain(`"#/components/schemas/${name}"`);
    }
    // Request schemas are documented as callers may send them: a default is optional.
    const route = schemas.RouteRequest as { required: string[] };
    expect(route.required).toEqual(["task", "constraints"]);
  });
});
