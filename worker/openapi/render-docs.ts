// The API reference page (/docs), rendered from the OpenAPI document on the server: plain HTML
// and inline CSS, no script, nothing fetched, so it works offline and under a strict CSP.

import type { OpenApiDocument } from "./document.ts";

type Schema = Record<string, unknown>;

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Escaped text with `code` spans, the only markup the document's prose uses. */
const prose = (s: string) => esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");

const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "-");

function refName(schema: Schema): string | undefined {
  const ref = schema.$ref;
  return typeof ref === "string" ? ref.slice(ref.lastIndexOf("/") + 1) : undefined;
}

/** A one-line type: `string`, `integer 0–100`, `"a" | "b"`, `array of Site`, a schema link. */
function typeOf(schema: Schema | boolean | undefined): string {
  if (schema === undefined || schema === true) return "any";
  if (schema === false) return "never";
  const name = refName(schema);
  if (name) return `<a href="#schema-${slug(name)}">${esc(name)}</a>`;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => esc(JSON.stringify(v))).join(" | ");
  if (schema.const !== undefined) return esc(JSON.stringify(schema.const));
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) return union.map(typeOf).join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : String(schema.type ?? "any");
  if (type === "array") return `array of ${typeOf(schema.items as Schema | undefined)}`;
  if (type === "object" && !schema.properties && schema.additionalProperties) {
    return `map of ${typeOf(schema.additionalProperties as Schema)}`;
  }
  const limits: string[] = [];
  const range = (lo: unknown, hi: unknown) =>
    lo !== undefined || hi !== undefined ? `${lo ?? ""}–${hi ?? ""}` : "";
  const r = range(schema.minimum ?? schema.exclusiveMinimum, schema.maximum);
  if (r) limits.push(r);
  const len = range(schema.minLength, schema.maxLength);
  if (len) limits.push(`length ${len}`);
  const items = range(schema.minItems, schema.maxItems);
  if (items) limits.push(`items ${items}`);
  if (typeof schema.format === "string") limits.push(schema.format);
  if (typeof schema.pattern === "string") limits.push(`<code>${esc(schema.pattern)}</code>`);
  return [esc(type), ...limits].join(" ");
}

/** Field table of an object schema; nested objects are rendered inside their row. */
function fields(schema: Schema, depth = 0): string {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  if (Object.keys(props).length === 0) return `<p class="type">${typeOf(schema)}</p>`;
  const rows = Object.entries(props).map(([name, prop]) => {
    const nested = prop.type === "object" && prop.properties && depth < 4;
    const arrayOfObjects =
      prop.type === "array" && (prop.items as Schema | undefined)?.properties && depth < 4;
    const inner = nested
      ? fields(prop, depth + 1)
      : arrayOfObjects
        ? fields(prop.items as Schema, depth + 1)
        : "";
    const def = prop.default !== undefined ? ` (default ${esc(JSON.stringify(prop.default))})` : "";
    const desc = typeof prop.description === "string" ? prose(prop.description) : "";
    const type = nested ? "object" : arrayOfObjects ? "array of objects" : typeOf(prop);
    return `<tr><td><code>${esc(name)}</code>${required.has(name) ? "" : '<span class="opt">optional</span>'}</td><td class="type">${type}${def}</td><td>${desc}${inner}</td></tr>`;
  });
  return `<table class="fields"><tbody>${rows.join("")}</tbody></table>`;
}

const json = (v: unknown) => `<pre>${esc(JSON.stringify(v, null, 2))}</pre>`;

function curl(method: string, path: string, op: Schema): string {
  const params = (op.parameters ?? []) as Schema[];
  let url = path;
  const query: string[] = [];
  const headers: string[] = [];
  for (const p of params) {
    if (p.example === undefined) continue;
    if (p.in === "path") url = url.replace(`{${p.name}}`, String(p.example));
    if (p.in === "query") query.push(`${p.name}=${encodeURIComponent(String(p.example))}`);
    if (p.in === "header") headers.push(`-H '${p.name}: ${p.example}'`);
  }
  const security = (op.security ?? []) as Schema[];
  const roles = (security[0]?.bearerKey as string[] | undefined) ?? [];
  const lines = [
    `curl -s${method === "get" ? "" : ` -X ${method.toUpperCase()}`} "$ROUTER${url}${query.length ? `?${query.join("&")}` : ""}"`,
  ];
  if (roles.length > 0)
    lines.push(`-H "authorization: Bearer $${(roles[0] ?? "").toUpperCase()}_KEY"`);
  lines.push(...headers);
  const example = (op.requestBody as Schema | undefined)?.content as
    | Record<string, Schema>
    | undefined;
  const body = example?.["application/json"]?.example;
  if (body !== undefined) {
    lines.push("-H 'content-type: application/json'", `-d '${JSON.stringify(body, null, 2)}'`);
  }
  return `<pre>${esc(lines.join(" \\\n     "))}</pre>`;
}

function operationHtml(
  path: string,
  method: string,
  op: Schema,
  schemas: Record<string, Schema>,
): string {
  const id = String(op.operationId);
  const security = (op.security ?? []) as Schema[];
  const roles = (security[0]?.bearerKey as string[] | undefined) ?? [];
  const cookie = security.some((s) => s.sessionCookie !== undefined);
  const key =
    roles.length > 0 ? `Bearer key: ${roles.map((r) => `<code>${esc(r)}</code>`).join(", ")}` : "";
  const auth = [key, cookie ? "session cookie" : ""].filter(Boolean).join(" or ") || "No key";
  const params = ((op.parameters ?? []) as Schema[]).map(
    (p) =>
      `<tr><td><code>${esc(String(p.name))}</code> <span class="opt">${esc(String(p.in))}${p.required ? "" : ", optional"}</span></td><td class="type">${typeOf(p.schema as Schema)}</td><td>${prose(String(p.description ?? ""))}</td></tr>`,
  );
  const body = (op.requestBody as Schema | undefined)?.content as
    | Record<string, Schema>
    | undefined;
  const bodySchema = body?.["application/json"]?.schema as Schema | undefined;
  const responses = Object.entries((op.responses ?? {}) as Record<string, Schema>).map(
    ([status, r]) => {
      const content = (r.content ?? {}) as Record<string, Schema>;
      const types = Object.entries(content)
        .map(([type, media]) => `<code>${esc(type)}</code> ${typeOf(media.schema as Schema)}`)
        .join("; ");
      const example = Object.values(content).find((m) => m.example !== undefined)?.example;
      const ex =
        example === undefined
          ? ""
          : `<details><summary>Example</summary>${json(example)}</details>`;
      return `<tr><td class="status s${status[0]}">${esc(status)}</td><td>${prose(String(r.description ?? ""))}${ex}</td><td class="type">${types}</td></tr>`;
    },
  );
  return `<section class="op" id="op-${esc(id)}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p class="summary">${prose(String(op.summary ?? ""))} <span class="auth">${auth}</span></p>
${op.description ? `<p>${prose(String(op.description))}</p>` : ""}
${params.length > 0 ? `<h4>Parameters</h4><table class="fields"><tbody>${params.join("")}</tbody></table>` : ""}
${bodySchema ? `<h4>Body</h4><p class="type">${typeOf(bodySchema)}</p>${fields(schemas[refName(bodySchema) ?? ""] ?? bodySchema)}` : ""}
<h4>Example</h4>${curl(method, path, op)}
<h4>Responses</h4><table class="responses"><tbody>${responses.join("")}</tbody></table>
</section>`;
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1c2430;display:flex}
nav{width:270px;flex:none;height:100vh;position:sticky;top:0;overflow:auto;background:#f4f6f9;padding:16px;box-sizing:border-box;font-size:13px}
nav a{display:block;color:#1c2430;text-decoration:none;padding:2px 0}nav h2{font-size:13px;margin:14px 0 4px;text-transform:uppercase;color:#5b6675}
main{flex:1;max-width:1000px;padding:24px 40px;min-width:0}code,pre{font:13px/1.45 ui-monospace,monospace}
pre{background:#0f1720;color:#e6edf3;padding:12px;border-radius:6px;overflow:auto}
.op{border-top:1px solid #dde2e8;padding:12px 0 20px}.method{display:inline-block;min-width:58px;text-align:center;color:#fff;border-radius:4px;padding:1px 6px;font-size:13px}
.get{background:#1f7a4d}.post{background:#1f5fa8}.put{background:#8a5a00}.delete{background:#a62a2a}
.summary{font-weight:600}.auth{font-weight:400;color:#5b6675;margin-left:8px;font-size:13px}
table{border-collapse:collapse;width:100%;margin:4px 0}td{border-top:1px solid #e6e9ee;padding:4px 8px;vertical-align:top}
.fields .fields{margin-top:6px;font-size:13px}.type{color:#4b5563;font-size:13px}.opt{color:#8a94a3;font-size:12px;margin-left:6px}
.status{font-weight:600;width:48px}.s2{color:#1f7a4d}.s4{color:#a65d00}.s5{color:#a62a2a}h4{margin:14px 0 4px}`;

/** The whole page. */
export function renderDocs(doc: OpenApiDocument): string {
  const schemas = doc.components.schemas as Record<string, Schema>;
  const ops: { tag: string; html: string; link: string }[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods) as [string, Schema][]) {
      const tag = ((op.tags as string[] | undefined) ?? ["Other"])[0] ?? "Other";
      const link = `<a href="#op-${esc(String(op.operationId))}"><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> ${esc(path)}</a>`;
      ops.push({ tag, html: operationHtml(path, method, op, schemas), link });
    }
  }
  const byTag = doc.tags.map((t) => ({ ...t, ops: ops.filter((o) => o.tag === t.name) }));
  const nav = byTag
    .map((t) => `<h2>${esc(t.name)}</h2>${t.ops.map((o) => o.link).join("")}`)
    .join("");
  const sections = byTag
    .map(
      (t) =>
        `<h2 id="tag-${slug(t.name)}">${esc(t.name)}</h2><p>${prose(t.description)}</p>${t.ops.map((o) => o.html).join("")}`,
    )
    .join("");
  const schemaSections = Object.entries(schemas)
    .map(
      ([name, s]) =>
        `<section class="op" id="schema-${slug(name)}"><h3>${esc(name)}</h3>${fields(s)}</section>`,
    )
    .join("");
  const scheme = doc.components.securitySchemes.bearerKey;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)} API reference</title><style>${STYLE}</style></head>
<body><nav><strong>${esc(doc.info.title)} ${esc(doc.info.version)}</strong><a href="/openapi.json">openapi.json</a>${nav}<h2>Schemas</h2><a href="#schemas">All schemas</a></nav>
<main><h1>${esc(doc.info.title)} API reference</h1><p>${prose(doc.info.description)}</p>
<p><strong>Authentication.</strong> ${prose(scheme.description)} The examples use <code>$ROUTER</code> for the base URL and <code>$DEVICE_KEY</code>, <code>$OPERATOR_KEY</code>, <code>$SITE_KEY</code> for keys. The machine-readable document is <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
${sections}<h2 id="schemas">Schemas</h2>${schemaSections}</main></body></html>`;
}
