// Generates the typed client's types (client/api.ts) from the OpenAPI document: every component
// schema as a TypeScript type, every operation's inputs and answers, and the method + path table
// the client calls through. Covers the JSON Schema that zod emits (objects, arrays, enums,
// consts, unions, nullable types, records, $refs). `npm run client:gen` writes the file;
// test/unit/client-types.test.ts fails while the committed file differs from this output.

type Schema = Record<string, unknown>;

interface Doc {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Schema> };
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (name: string) => (IDENT.test(name) ? name : JSON.stringify(name));

function comment(text: unknown, indent: string): string {
  if (typeof text !== "string" || text === "") return "";
  return `${indent}/** ${text.replace(/\*\//g, "*\\/").replace(/\n/g, " ")} */\n`;
}

/** A JSON Schema as a TypeScript type. */
export function tsType(schema: Schema | boolean | undefined, indent = ""): string {
  if (schema === undefined || schema === true) return "unknown";
  if (schema === false) return "never";
  if (typeof schema.$ref === "string") {
    return `components["schemas"][${JSON.stringify(schema.$ref.split("/").pop())}]`;
  }
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) return union.map((s) => tsType(s, indent)).join(" | ");
  if (Array.isArray(schema.type)) {
    return schema.type.map((t) => tsType({ ...schema, type: t }, indent)).join(" | ");
  }
  switch (schema.type) {
    case "string":
      return "string";
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array": {
      const item = tsType(schema.items as Schema | undefined, indent);
      return /^[\w[\]".]+$/.test(item) ? `${item}[]` : `(${item})[]`;
    }
    case "object":
      return objectType(schema, indent);
    default:
      return "unknown";
  }
}

function objectType(schema: Schema, indent: string): string {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const extra = schema.additionalProperties;
  const inner = `${indent}  `;
  const lines = Object.entries(props).map(
    ([name, prop]) =>
      `${comment(prop.description, inner)}${inner}${key(name)}${required.has(name) ? "" : "?"}: ${tsType(prop, inner)};`,
  );
  if (extra !== undefined && extra !== false) {
    // With named properties beside it, an index signature has to admit them too.
    const value = lines.length > 0 ? "unknown" : tsType(extra as Schema | true, inner);
    lines.push(`${inner}[key: string]: ${value};`);
  }
  return lines.length === 0 ? "Record<string, never>" : `{\n${lines.join("\n")}\n${indent}}`;
}

function operationType(op: Schema, indent: string): string {
  const inner = `${indent}  `;
  const lines: string[] = [];
  const params = (op.parameters ?? []) as Schema[];
  for (const where of ["path", "query"] as const) {
    const list = params.filter((p) => p.in === where);
    if (list.length === 0) continue;
    const fields = list.map(
      (p) =>
        `${inner}  ${key(String(p.name))}${p.required ? "" : "?"}: ${tsType(p.schema as Schema, `${inner}  `)};`,
    );
    const optional = list.every((p) => !p.required) ? "?" : "";
    lines.push(
      `${inner}${where === "path" ? "params" : "query"}${optional}: {\n${fields.join("\n")}\n${inner}};`,
    );
  }
  const body = (op.requestBody as Schema | undefined)?.content as
    | Record<string, Schema>
    | undefined;
  const bodySchema = body?.["application/json"]?.schema as Schema | undefined;
  if (bodySchema) lines.push(`${inner}body: ${tsType(bodySchema, inner)};`);
  const responses = (op.responses ?? {}) as Record<string, Schema>;
  const answers = Object.entries(responses).map(([status, r]) => {
    const content = (r.content ?? {}) as Record<string, Schema>;
    const types = Object.entries(content)
      .filter(([type]) => type !== "text/event-stream")
      .map(([, media]) => tsType(media.schema as Schema, `${inner}  `));
    // A streamed answer is not parsed: the caller reads `response.body`.
    if (content["text/event-stream"]) types.push("null");
    return `${inner}  ${status}: ${types.length > 0 ? types.join(" | ") : "null"};`;
  });
  lines.push(`${inner}responses: {\n${answers.join("\n")}\n${inner}};`);
  return `{\n${lines.join("\n")}\n${indent}}`;
}

/** The whole of client/api.ts. */
export function clientSource(doc: Doc): string {
  const schemas = Object.entries(doc.components.schemas).map(
    ([name, schema]) =>
      `${comment(schema.description, "    ")}    ${key(name)}: ${tsType(schema, "    ")};`,
  );
  const ops: string[] = [];
  const table: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods) as [string, Schema][]) {
      const id = String(op.operationId);
      ops.push(`${comment(op.summary, "  ")}  ${key(id)}: ${operationType(op, "  ")};`);
      table.push(
        `  ${key(id)}: { method: ${JSON.stringify(method.toUpperCase())}, path: ${JSON.stringify(path)} },`,
      );
    }
  }
  return `// Generated from the OpenAPI document (worker/openapi/) by \`npm run client:gen\`. Do not edit.

export interface components {
  schemas: {
${schemas.join("\n")}
  };
}

export interface operations {
${ops.join("\n")}
}

export const OPERATIONS = {
${table.join("\n")}
} as const;
`;
}
