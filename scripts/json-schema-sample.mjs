// A value that satisfies a JSON Schema, drawn deterministically from a PRNG: what the Bedrock
// stand-in puts into a forced tool call's input, so code that asks Converse for schema-shaped
// JSON through tool use meets plausible, valid answers. Covers what tool schemas use (zod's
// `toJSONSchema` output included); no general regex generator: `pattern` is met only when one
// of a few stock shapes (formats, plain words) happens to match it.

import { isRecord, mulberry32 } from "./demo-site-wire.mjs";

const WORDS = "edge cell tower relay beam slice uplink carrier zone metric".split(" ");

/**
 * A value that satisfies `schema` (JSON Schema as tool specs use it, drafts 4 to 2020-12):
 * `const`; the first `enum` value; the first non-null branch of `anyOf`/`oneOf`; `allOf`
 * merged; local `$ref`s; by type: numbers within bounds and `multipleOf`, strings within
 * `minLength`/`maxLength` (common `format`s honoured), arrays of `minItems` (at least one)
 * distinct items, objects with every required property and, in the top two levels, the
 * optional ones. `pattern` is honoured only as far as the formats' shapes match it.
 * @param {unknown} schema @param {() => number} rand @returns {unknown}
 */
export function sampleFromSchema(schema, rand) {
  return sample(schema, schema, rand, 0, 0);
}

/**
 * @param {unknown} node @param {unknown} root @param {() => number} rand
 * @param {number} depth @param {number} variant tells apart items of one array
 * @returns {unknown}
 */
function sample(node, root, rand, depth, variant) {
  if (node === true || node === undefined) return "edge";
  if (!isRecord(node) || depth > 16) return null;
  if (typeof node.$ref === "string") {
    const { $ref, ...rest } = node;
    return sample(merge(resolveRef(root, $ref), rest), root, rand, depth + 1, variant);
  }
  if ("const" in node) return node.const;
  if (Array.isArray(node.enum) && node.enum.length > 0) {
    return node.enum[variant % node.enum.length];
  }
  if (Array.isArray(node.allOf) && node.allOf.length > 0) {
    const { allOf, ...rest } = node;
    const parts = allOf.map((s) =>
      isRecord(s) && typeof s.$ref === "string" ? merge(resolveRef(root, s.$ref), s) : s,
    );
    return sample(parts.reduce(merge, rest), root, rand, depth + 1, variant);
  }
  const branches = node.anyOf ?? node.oneOf;
  if (Array.isArray(branches) && branches.length > 0) {
    const { anyOf: _a, oneOf: _o, ...rest } = node;
    const pick = branches.find((b) => !(isRecord(b) && b.type === "null")) ?? branches[0];
    return sample(merge(rest, pick), root, rand, depth + 1, variant);
  }
  switch (typeOf(node)) {
    case "null":
      return null;
    case "boolean":
      return rand() < 0.5;
    case "integer":
      return sampleNumber(node, rand, variant, true);
    case "number":
      return sampleNumber(node, rand, variant, false);
    case "array":
      return sampleArray(node, root, rand, depth);
    case "object":
      return sampleObject(node, root, rand, depth, variant);
    default:
      return sampleString(node, rand, variant);
  }
}

/** @param {Record<string, unknown>} node @returns {string} */
function typeOf(node) {
  const { type } = node;
  if (typeof type === "string") return type;
  if (Array.isArray(type)) return type.find((t) => t !== "null") ?? "null";
  if ("properties" in node || "required" in node || "additionalProperties" in node) {
    return "object";
  }
  if ("items" in node || "prefixItems" in node) return "array";
  if ("minimum" in node || "maximum" in node || "multipleOf" in node) return "number";
  return "string";
}

/**
 * @param {Record<string, unknown>} node @param {unknown} root @param {() => number} rand
 * @param {number} depth @param {number} variant
 */
function sampleObject(node, root, rand, depth, variant) {
  const properties = isRecord(node.properties) ? node.properties : {};
  const required = Array.isArray(node.required)
    ? node.required.filter((k) => typeof k === "string")
    : [];
  const extra = isRecord(node.additionalProperties) ? node.additionalProperties : {};
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, sub] of Object.entries(properties)) {
    if (depth < 2 || required.includes(key)) {
      out[key] = sample(sub, root, rand, depth + 1, variant);
    }
  }
  for (const key of required) {
    if (!(key in out)) out[key] = sample(extra, root, rand, depth + 1, variant);
  }
  const minProperties = typeof node.minProperties === "number" ? node.minProperties : 0;
  for (let i = 0; Object.keys(out).length < minProperties; i++) {
    out[`extra_${i}`] = sample(extra, root, rand, depth + 1, variant);
  }
  return out;
}

/**
 * @param {Record<string, unknown>} node @param {unknown} root @param {() => number} rand
 * @param {number} depth
 */
function sampleArray(node, root, rand, depth) {
  const minItems = typeof node.minItems === "number" ? node.minItems : 0;
  const maxItems = typeof node.maxItems === "number" ? node.maxItems : Number.POSITIVE_INFINITY;
  const tuple = Array.isArray(node.prefixItems)
    ? node.prefixItems
    : Array.isArray(node.items)
      ? node.items
      : [];
  const rest = Array.isArray(node.items) ? node.additionalItems : node.items;
  const n = Math.min(Math.max(minItems, 1, Math.min(tuple.length, maxItems)), maxItems);
  // Every item draws the same numbers, so items differ by their index alone (uniqueItems).
  const itemSeed = Math.floor(rand() * 2 ** 32);
  return Array.from({ length: n }, (_, i) =>
    sample(i < tuple.length ? tuple[i] : (rest ?? {}), root, mulberry32(itemSeed), depth + 1, i),
  );
}

/**
 * @param {Record<string, unknown>} node @param {() => number} rand @param {number} variant
 * @param {boolean} integer
 */
function sampleNumber(node, rand, variant, integer) {
  let lo = Number.NEGATIVE_INFINITY;
  let hi = Number.POSITIVE_INFINITY;
  let loOpen = false;
  let hiOpen = false;
  if (typeof node.minimum === "number")
    [lo, loOpen] = [node.minimum, node.exclusiveMinimum === true];
  if (typeof node.maximum === "number")
    [hi, hiOpen] = [node.maximum, node.exclusiveMaximum === true];
  if (typeof node.exclusiveMinimum === "number" && node.exclusiveMinimum >= lo) {
    [lo, loOpen] = [node.exclusiveMinimum, true];
  }
  if (typeof node.exclusiveMaximum === "number" && node.exclusiveMaximum <= hi) {
    [hi, hiOpen] = [node.exclusiveMaximum, true];
  }
  const multipleOf =
    typeof node.multipleOf === "number" && node.multipleOf > 0 ? node.multipleOf : 0;
  const step = integer
    ? Number.isInteger(multipleOf) && multipleOf > 0
      ? multipleOf
      : 1
    : multipleOf;
  if (lo === hi) return lo;
  if (step === 0) {
    // Somewhere in a window of width ≤ 100 inside the bounds, as near [0, 100] as they allow.
    const width = Math.min(hi - lo, 100);
    const from = clamp(0, lo, hi - width);
    const v = from + width * (0.1 + 0.8 * rand());
    const rounded = Math.round(v * 100) / 100;
    return rounded > lo && rounded < hi ? rounded : v;
  }
  // Multiples k·step: a window of ≤ 100 of them as near k ∈ [1, 100] as the bounds allow.
  let kLo = Math.ceil(lo / step - 1e-9);
  if (loOpen && kLo * step <= lo) kLo += 1;
  let kHi = Math.floor(hi / step + 1e-9);
  if (hiOpen && kHi * step >= hi) kHi -= 1;
  const from = clamp(1, kLo, Math.max(kLo, kHi - 99));
  const count = Math.min(kHi, from + 99) - from + 1;
  const k = from + ((Math.floor(rand() * count) + variant) % count);
  return Number((k * step).toPrecision(12));
}

/** @param {number} x @param {number} lo @param {number} hi */
function clamp(x, lo, hi) {
  return Math.min(Math.max(x, lo), hi);
}

/** Shapes for common string formats, tried in order against `pattern` when there is one. */
const FORMATS = /** @type {Record<string, (v: number, rand: () => number) => string[]>} */ ({
  "date-time": (v) => [
    `2026-01-${pad2(1 + (v % 28))}T12:00:00Z`,
    `2026-01-${pad2(1 + (v % 28))}T12:00:00.000Z`,
  ],
  date: (v) => [`2026-01-${pad2(1 + (v % 28))}`],
  time: (v) => [`12:${pad2(v % 60)}:00`, `12:${pad2(v % 60)}:00Z`],
  email: (v) => [`edge${v || ""}@example.com`],
  uri: (v) => [`https://example.com/edge/${v}`],
  url: (v) => [`https://example.com/edge/${v}`],
  "uri-reference": (v) => [`/edge/${v}`],
  hostname: (v) => [`edge${v}.example.com`],
  ipv4: (v) => [`192.0.2.${1 + (v % 254)}`],
  ipv6: (v) => [`2001:db8::${(v + 1).toString(16)}`],
  duration: (v) => [`PT${v + 1}M`],
  uuid: (v, rand) => {
    const hex = Array.from({ length: 32 }, (_, i) =>
      Math.floor(i < 24 ? rand() * 16 : (v >> (4 * (31 - i))) & 15).toString(16),
    ).join("");
    return [
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`,
    ];
  },
});

/**
 * @param {Record<string, unknown>} node @param {() => number} rand @param {number} variant
 */
function sampleString(node, rand, variant) {
  const word = () => WORDS[Math.floor(rand() * WORDS.length)] ?? "edge";
  const shapes = (typeof node.format === "string" && FORMATS[node.format]?.(variant, rand)) || [
    `${word()} ${word()}${variant ? ` ${variant + 1}` : ""}`,
  ];
  const pattern = typeof node.pattern === "string" ? safeRegExp(node.pattern) : null;
  // Against a pattern, other formats' shapes and a few plain ones get a try too.
  const fallbacks = pattern
    ? [
        ...Object.values(FORMATS).flatMap((f) => f(variant, rand)),
        "edge",
        "EDGE",
        "1",
        `e${variant}`,
      ]
    : [];
  let s = pattern
    ? ([...shapes, ...fallbacks].find((c) => pattern.test(c)) ?? shapes[0] ?? "edge")
    : (shapes[0] ?? "edge");
  const minLength = typeof node.minLength === "number" ? node.minLength : 0;
  const maxLength = typeof node.maxLength === "number" ? node.maxLength : Number.POSITIVE_INFINITY;
  if (s.length < minLength) s = s.padEnd(minLength, " edge");
  return s.length > maxLength ? s.slice(0, maxLength) : s;
}

/** @param {string} source */
function safeRegExp(source) {
  try {
    return new RegExp(source, "u");
  } catch {
    return null;
  }
}

/** @param {number} n */
function pad2(n) {
  return String(n).padStart(2, "0");
}

/** @param {unknown} root @param {string} ref a local JSON pointer, e.g. `#/$defs/Site` */
function resolveRef(root, ref) {
  if (!ref.startsWith("#")) return {};
  /** @type {unknown} */
  let node = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    const key = decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~");
    node = isRecord(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
  }
  return node ?? {};
}

/** Two schemas as one: later keywords win, `properties` and `required` are united. */
function merge(/** @type {unknown} */ a, /** @type {unknown} */ b) {
  if (!isRecord(a)) return b;
  if (!isRecord(b)) return a;
  const properties = {
    ...(isRecord(a.properties) ? a.properties : {}),
    ...(isRecord(b.properties) ? b.properties : {}),
  };
  const required = [
    ...new Set([
      ...(Array.isArray(a.required) ? a.required : []),
      ...(Array.isArray(b.required) ? b.required : []),
    ]),
  ];
  return {
    ...a,
    ...b,
    ...(Object.keys(properties).length ? { properties } : {}),
    ...(required.length ? { required } : {}),
  };
}
