// The typed client's generated types: client/api.ts must be what the generator makes of the
// current OpenAPI document (run `npm run client:gen` after changing a route's documentation),
// and the JSON Schema → TypeScript mapping holds for the shapes zod emits.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { clientSource, tsType } from "../../scripts/client-types.ts";
import { openApiDocument } from "../../worker/openapi/document.ts";

describe("client/api.ts", () => {
  it("is up to date with the OpenAPI document (npm run client:gen)", () => {
    const committed = readFileSync(new URL("../../client/api.ts", import.meta.url), "utf8");
    expect(committed === clientSource(openApiDocument()), "run `npm run client:gen`").toBe(true);
  });

  it("lists every operation with its method and path", () => {
    const source = clientSource(openApiDocument());
    expect(source).toContain('route: { method: "POST", path: "/v1/route" }');
    expect(source).toContain('getSite: { method: "GET", path: "/v1/sites/{id}" }');
  });
});

describe("JSON Schema to TypeScript", () => {
  it("maps the shapes zod emits", () => {
    expect(tsType({ type: ["number", "null"] })).toBe("number | null");
    expect(tsType({ enum: ["a", "b"] })).toBe('"a" | "b"');
    expect(tsType({ const: 1 })).toBe("1");
    expect(
      tsType({ type: "array", items: { anyOf: [{ type: "string" }, { type: "null" }] } }),
    ).toBe("(string | null)[]");
    expect(tsType({ $ref: "#/components/schemas/SiteView" })).toBe(
      'components["schemas"]["SiteView"]',
    );
    expect(
      tsType({
        type: "object",
        propertyNames: { type: "string" },
        additionalProperties: { type: "number" },
      }),
    ).toBe("{\n  [key: string]: number;\n}");
    expect(
      tsType({
        type: "object",
        properties: { "vllm:x": { type: "number" }, ok: { type: "boolean" } },
        required: ["ok"],
      }),
    ).toBe('{\n  "vllm:x"?: number;\n  ok: boolean;\n}');
    expect(tsType({})).toBe("unknown");
  });
});
