// The fuzz suite's requests: valid seeds mutated (JSON values, the text, headers, method, path,
// query, key), generic requests to every route the app lists, and requests to nowhere.

import fc from "fast-check";
import { breakText, jsonOp, mutate, render, textOp, weirdValue } from "./json-mutations.ts";
import { KEYS, type SeedRequest, SITE_IDS } from "./seeds.ts";

export interface FuzzCase {
  /** The route it was made for (`METHOD /pattern`), or `(random)`. */
  label: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Uint8Array;
  /** Sent without `content-length`, as a chunked upload is. */
  chunked?: boolean;
}

export interface RouteInfo {
  method: string;
  /** Hono's pattern, e.g. `/v1/sites/:id`. */
  path: string;
}

/** Header values: printable ASCII (workerd sends anything else as UTF-8, with a warning). */
const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerValue = fc.oneof(
  { weight: 10, arbitrary: fc.string({ unit: headerChar, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom("NaN", "-1", "1e999", "0", "", "99999999999999999999") },
  { weight: 1, arbitrary: fc.constantFrom(100, 8_193, 17_000).map((n) => "h".repeat(n)) },
);
const headerName = fc.oneof(
  fc.constantFrom(
    "x-mec-latency-sla-ms",
    "x-mec-latency-target",
    "x-mec-max-cost-usd",
    "x-mec-privacy",
    "x-mec-data-residency",
    "x-mec-compliance",
    "x-mec-criticality",
    "x-mec-network",
    "x-request-id",
    "user-agent",
    "accept",
    "accept-encoding",
    "cookie",
    "x-forwarded-for",
    "cf-connecting-ip",
    "origin",
  ),
  fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
);

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/vnd.api+json",
  "application/json;;;",
  "application/jsonx",
  "text/plain",
  "text/json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "",
  "*/*",
);

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"];

/** `keys`: every key a case may present (the platform's and issued ones). */
function authorization(key: string | null, keys: readonly string[]): fc.Arbitrary<string | null> {
  const own = key === null ? fc.constant(null) : fc.constant(`Bearer ${key}`);
  const k = key ?? KEYS.device;
  return fc.oneof(
    { weight: 1, arbitrary: own },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((x) => `Bearer ${x}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "Bearer",
        "Bearer ",
        `bearer ${k}`,
        `Bearer  ${k}`,
        `Bearer ${k} extra`,
        `Basic ${btoa(`${k}:`)}`,
        `Token ${k}`,
        k,
        `Bearer ${k}x`,
        `Bearer ${"k".repeat(600)}`,
        "Bearer dev-device-kez",
      ),
    },
    { weight: 1, arbitrary: headerValue },
  );
}

/** Path segments where an id goes: the registered ones mostly, anything else sometimes. */
const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SITE_IDS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "..",
      "%2e%2e",
      "%00",
      "a%2Fb",
      "UPPER",
      "-lead",
      "x".repeat(63),
      "x".repeat(64),
      "00000000-0000-4000-8000-000000000000",
      "%F0%9F%98%80",
      "%ZZ",
      "",
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 12 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/) },
);

type PathOp =
  | { kind: "trailing" }
  | { kind: "upper" }
  | { kind: "segment"; pick: number; value: string }
  | { kind: "append"; value: string }
  | { kind: "long"; n: number };

const pathOp: fc.Arbitrary<PathOp> = fc.oneof(
  fc.constant({ kind: "trailing" as const }),
  fc.constant({ kind: "upper" as const }),
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("segment" as const), pick: fc.nat(), value: segment }),
  },
  fc.record({ kind: fc.constant("append" as const), value: segment }),
  fc.record({ kind: fc.constant("long" as const), n: fc.constantFrom(100, 8_000, 9_000, 20_000) }),
);

function applyPath(path: string, op: PathOp): string {
  switch (op.kind) {
    case "trailing":
      return `${path}/`;
    case "upper":
      return path.toUpperCase();
    case "segment": {
      const parts = path.split("/");
      const i = 1 + (op.pick % Math.max(1, parts.length - 1));
      parts[i] = op.value;
      return parts.join("/");
    }
    case "append":
      return `${path}/${op.value}`;
    case "long":
      return `${path}/${"p".repeat(op.n)}`;
  }
}

const queryPairs = fc.oneof(
  { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
  {
    weight: 4,
    arbitrary: fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom("from", "to", "limit", "target", "x"),
          fc.string({ maxLength: 10 }),
        ),
        fc.oneof(
          fc.constantFrom(
            "0",
            "-1",
            "1e3",
            "NaN",
            "9999999999999999",
            "site:fz-a",
            "cloud:eu-central-1",
            "device",
            "501",
            "",
          ),
          fc.string({ unit: "binary", maxLength: 20 }),
        ),
      ),
      { maxLength: 6 },
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(31, 33, 200)
      .map((n) => Array.from({ length: n }, (_, i): [string, string] => [`q${i}`, "1"])),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(1_025, 5_000)
      .map((n): [string, string][] => [["target", "t".repeat(n)]]),
  },
);

function withQuery(
  path: string,
  base: Record<string, string> | undefined,
  extra: [string, string][],
): string {
  const params = new URLSearchParams(base);
  for (const [k, v] of extra) params.append(k, v);
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

const extraHeaders = fc.oneof(
  { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
  { weight: 6, arbitrary: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(63, 80)
      .map((n) => Array.from({ length: n }, (_, i): [string, string] => [`x-h${i}`, "1"])),
  },
);

/** Bytes that are not UTF-8, or not text at all. */
const binaryBody = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constant(new Uint8Array([0xff, 0xfe, 0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d])),
  fc.constant(new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])),
);

interface Shape {
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Uint8Array;
  chunked?: boolean;
}

/** One body in eight goes up without a length, as a chunked upload. */
const chunked = fc.nat(7).map((n) => n === 0);

function finish(label: string, s: Shape): FuzzCase {
  // GET and HEAD cannot carry a body in fetch.
  const body = s.method === "GET" || s.method === "HEAD" ? undefined : s.body;
  if (body === undefined) return { label, method: s.method, path: s.path, headers: s.headers };
  const c: FuzzCase = { label, method: s.method, path: s.path, headers: s.headers, body };
  if (s.chunked) c.chunked = true;
  return c;
}

function headersFor(
  auth: string | null,
  type: string | null,
  extra: [string, string][],
  own: Record<string, string> = {},
): [string, string][] {
  const out: [string, string][] = Object.entries(own);
  if (auth !== null) out.push(["authorization", auth]);
  if (type !== null) out.push(["content-type", type]);
  return [...out, ...extra];
}

type Part = "body" | "text" | "auth" | "type" | "headers" | "method" | "path" | "query";

/**
 * Which parts of a seed a case changes: mostly one (so most cases get past the others and reach
 * the check under test), sometimes none or all.
 */
const parts: fc.Arbitrary<ReadonlySet<Part>> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(new Set<Part>()) },
  { weight: 24, arbitrary: fc.constant(new Set<Part>(["body"])) },
  { weight: 6, arbitrary: fc.constant(new Set<Part>(["text"])) },
  { weight: 3, arbitrary: fc.constant(new Set<Part>(["auth"])) },
  { weight: 2, arbitrary: fc.constant(new Set<Part>(["type"])) },
  { weight: 1, arbitrary: fc.constant(new Set<Part>(["headers"])) },
  { weight: 2, arbitrary: fc.constant(new Set<Part>(["method"])) },
  { weight: 4, arbitrary: fc.constant(new Set<Part>(["path"])) },
  { weight: 1, arbitrary: fc.constant(new Set<Part>(["query"])) },
  {
    weight: 6,
    arbitrary: fc.constant(
      new Set<Part>(["body", "auth", "type", "headers", "method", "path", "query"]),
    ),
  },
);

/** A seed, mutated in some of its parts. */
function seedCase(
  label: string,
  seed: SeedRequest,
  keys: readonly string[],
): fc.Arbitrary<FuzzCase> {
  const json = seed.body !== undefined;
  const text = json ? render(seed.body) : undefined;
  return parts.chain((changed) => {
    const pick = <T>(part: Part, same: T, other: fc.Arbitrary<T>): fc.Arbitrary<T> =>
      changed.has(part) ? other : fc.constant(same);
    const bodyArb: fc.Arbitrary<string | Uint8Array | undefined> = changed.has("text")
      ? textOp.map((op) => breakText(text ?? "", op))
      : pick(
          "body",
          text,
          fc.oneof(
            {
              weight: 8,
              arbitrary: fc
                .array(jsonOp, { minLength: 1, maxLength: 3 })
                .map((ops) => render(mutate(seed.body, ops))),
            },
            { weight: 1, arbitrary: binaryBody },
            { weight: 1, arbitrary: weirdValue.map(render) },
          ),
        );
    return fc
      .record({
        method: pick("method", seed.method, fc.constantFrom(...METHODS)),
        path: pick<PathOp | undefined>("path", undefined, pathOp),
        query: pick<[string, string][]>("query", [], queryPairs),
        auth: pick(
          "auth",
          seed.key === null ? null : `Bearer ${seed.key}`,
          authorization(seed.key, keys),
        ),
        type: pick<string | null>(
          "type",
          json ? "application/json" : null,
          fc.option(contentType, { nil: null }),
        ),
        extra: pick<[string, string][]>("headers", [], extraHeaders),
        body: bodyArb,
        chunked,
      })
      .map((r) =>
        finish(label, {
          method: r.method,
          path: withQuery(r.path ? applyPath(seed.path, r.path) : seed.path, seed.query, r.query),
          headers: headersFor(r.auth, r.type, r.extra, seed.headers),
          chunked: r.chunked,
          ...(r.body === undefined ? {} : { body: r.body }),
        }),
      );
  });
}

/** Any route the app lists, its parameters filled, with a body of any kind. */
function genericCase(route: RouteInfo, keys: readonly string[]): fc.Arbitrary<FuzzCase> {
  const label = `${route.method} ${route.path}`;
  const params = route.path.split("/").filter((s) => s.startsWith(":")).length;
  return fc
    .record({
      ids: fc.array(segment, { minLength: params, maxLength: params }),
      auth: fc.constantFrom(...keys).chain((k) => authorization(k, keys)),
      type: fc.option(contentType, { nil: null }),
      query: queryPairs,
      extra: extraHeaders,
      body: fc.option(
        fc.oneof(
          fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
          weirdValue.map(render),
          fc.string({ unit: "binary", maxLength: 200 }),
          binaryBody,
        ),
        { nil: undefined },
      ),
      chunked,
    })
    .map((r) => {
      let i = 0;
      const path = route.path.replace(/:[A-Za-z_]+/g, () => r.ids[i++] ?? "x");
      return finish(label, {
        method: route.method,
        path: withQuery(path, undefined, r.query),
        headers: headersFor(r.auth, r.type, r.extra),
        chunked: r.chunked,
        ...(r.body === undefined ? {} : { body: r.body }),
      });
    });
}

/** Requests to nowhere: any method, any path. */
const randomCase = (keys: readonly string[]): fc.Arbitrary<FuzzCase> =>
  fc
    .record({
      method: fc.constantFrom(...METHODS),
      path: fc.oneof(
        fc.webPath(),
        fc.constantFrom(
          "/",
          "/v1",
          "/v1/",
          "/v2/route",
          "/v1/route/extra",
          "/%2e%2e/etc",
          "//v1//route",
          "/V1/ROUTE",
        ),
      ),
      auth: authorization(KEYS.operator, keys),
      type: fc.option(contentType, { nil: null }),
      body: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
      chunked,
    })
    .map((r) =>
      finish("(random)", {
        method: r.method,
        path: r.path.startsWith("/") ? r.path : `/${r.path}`,
        headers: headersFor(r.auth, r.type, []),
        chunked: r.chunked,
        ...(r.body === undefined ? {} : { body: r.body }),
      }),
    );

/**
 * The whole mix. Seeds of the execute routes (chat, infer) are a small share, so the costly
 * paths (a site or Bedrock call) stay a few percent of the cases.
 */
export function fuzzCase(
  routes: RouteInfo[],
  seedMap: Record<string, SeedRequest[]>,
  keys: readonly string[],
): fc.Arbitrary<FuzzCase> {
  const seeded = Object.entries(seedMap).flatMap(([label, list]) =>
    list.map((seed) => ({ label, seed })),
  );
  const byLabel = new Map<string, { label: string; seed: SeedRequest }[]>();
  for (const s of seeded) byLabel.set(s.label, [...(byLabel.get(s.label) ?? []), s]);
  // Routes that take a JSON body get most cases; those without one (their inputs are the path,
  // a few query parameters and the key) a smaller share, as most of their cases reach a Durable
  // Object or D1 and cost the most; so do the execute routes, whose valid cases call a site, and
  // model loads (one at a time per site).
  const withBody = new Set(seeded.filter((x) => x.seed.body !== undefined).map((x) => x.label));
  const weightOf = (label: string) =>
    !withBody.has(label) ? 1 : /chat|infer|models/.test(label) ? 3 : 10;
  const seedArb = fc
    .oneof(
      ...[...byLabel.keys()].map((label) => ({
        weight: weightOf(label),
        arbitrary: fc.constant(label),
      })),
    )
    .chain((label) => fc.constantFrom(...(byLabel.get(label) ?? [])))
    .chain(({ label, seed }) => seedCase(label, seed, keys));
  // A body past every route's limit: costly to build and send, so one case in 5,000; half of
  // them chunked, refused as they stream in.
  const huge = fc
    .tuple(fc.constantFrom(...seeded.filter((s) => s.seed.body !== undefined)), fc.boolean())
    .map(([{ label, seed }, chunked]) =>
      finish(label, {
        method: seed.method,
        path: seed.path,
        headers: headersFor(seed.key && `Bearer ${seed.key}`, "application/json", []),
        body: `{"pad":"${"x".repeat(9_000_000)}"}`,
        chunked,
      }),
    );
  return fc.oneof(
    { weight: 14_000, arbitrary: seedArb },
    { weight: 4_000, arbitrary: fc.constantFrom(...routes).chain((r) => genericCase(r, keys)) },
    { weight: 1_000, arbitrary: randomCase(keys) },
    { weight: 4, arbitrary: huge },
  );
}
