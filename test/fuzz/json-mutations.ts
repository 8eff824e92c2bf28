// Mutations of JSON request bodies for the fuzz suite: values at any path dropped, replaced,
// retyped or duplicated (a key written twice), unknown keys added, and the text itself broken
// (truncated, spliced, a BOM, bytes that are not UTF-8). Values include what JSON.parse turns
// into trouble: 1e999 (Infinity), -0, deep nesting, lone surrogates, huge strings.

import fc from "fast-check";

/** JSON text written as is (tokens JSON.stringify cannot produce: 1e999, NaN, deep nesting). */
export class Raw {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** A key written a second time, after the object's own keys. */
const DUPLICATE = Symbol("duplicate");
type Json = unknown;
type Obj = Record<string, Json> & { [DUPLICATE]?: [string, Json] };

export function render(v: Json): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(render).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Obj;
    const parts = Object.entries(o).map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`);
    const dup = o[DUPLICATE];
    if (dup) parts.push(`${JSON.stringify(dup[0])}:${render(dup[1])}`);
    return `{${parts.join(",")}}`;
  }
  // NaN and ±Infinity render as null, like JSON.stringify.
  return JSON.stringify(v) ?? "null";
}

/** Odd values: type confusion, edge numbers, odd strings, nesting, size. */
export const weirdValue: fc.Arbitrary<Json> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.constantFrom<Json>(
      null,
      true,
      false,
      0,
      -0,
      -1,
      1.5,
      1e308,
      -1e308,
      2 ** 53 + 1,
      Number.MIN_VALUE,
      "",
      " ",
      "NaN",
      "Infinity",
      "null",
      "__proto__",
      "constructor",
      "\u0000",
      "\ud800",
      "\udfff\ud800",
      "😀",
      "\u202eevil",
      "a\u0301",
      "../../etc/passwd",
      "http://127.0.0.1:9/v1",
      "data:image/png;base64,iVBORw0KGgo=",
      "<script>alert(1)</script>",
      "' OR 1=1 --",
      [],
      {},
      [null],
      new Raw("1e999"),
      new Raw("-1e999"),
      new Raw("-0.0e-0"),
      new Raw("1E400"),
      new Raw("123456789012345678901234567890"),
      new Raw('{"__proto__":{"x":1}}'),
      new Raw('{"constructor":{"prototype":{"x":1}}}'),
    ),
  },
  { weight: 30, arbitrary: fc.integer() },
  { weight: 20, arbitrary: fc.double() },
  { weight: 30, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 10,
    arbitrary: fc
      .integer({ min: 2, max: 5_000 })
      .map((n) => new Raw(`${"[".repeat(n)}${"]".repeat(n)}`)),
  },
  {
    weight: 10,
    arbitrary: fc
      .integer({ min: 20, max: 200 })
      .map((n) => new Raw(`${'{"a":'.repeat(n)}1${"}".repeat(n)}`)),
  },
  // Long strings around the default body limit (64 KiB) now and then, past it for the media
  // routes (1.1 MB) rarely. (Past their 8 MiB: cases.ts, more rarely still.)
  { weight: 8, arbitrary: fc.constantFrom(1_000, 60_000, 70_000).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.constant("x".repeat(1_100_000)) },
);

export type JsonOp =
  | { kind: "drop"; pick: number }
  | { kind: "replace"; pick: number; value: Json }
  | { kind: "retype"; pick: number }
  | { kind: "duplicate"; pick: number; value: Json }
  | { kind: "extra"; pick: number; key: string; value: Json };

export const jsonOp: fc.Arbitrary<JsonOp> = fc.oneof(
  fc.record({ kind: fc.constant("drop" as const), pick: fc.nat() }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("replace" as const),
      pick: fc.nat(),
      value: weirdValue,
    }),
  },
  fc.record({ kind: fc.constant("retype" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), pick: fc.nat(), value: weirdValue }),
  fc.record({
    kind: fc.constant("extra" as const),
    pick: fc.nat(),
    key: fc.oneof(fc.constantFrom("__proto__", "constructor", "mec", "input", "x"), fc.string()),
    value: weirdValue,
  }),
);

type Path = (string | number)[];

function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  } else if (v !== null && typeof v === "object" && !(v instanceof Raw)) {
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  }
  return out;
}

function clone(v: Json): Json {
  if (v instanceof Raw) return v;
  if (Array.isArray(v)) return v.map(clone);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  }
  return v;
}

function retyped(v: Json): Json {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return Number.isNaN(Number(v)) ? [v] : Number(v);
  if (typeof v === "boolean") return v ? "true" : 0;
  if (v === null) return "null";
  if (Array.isArray(v)) return { ...v };
  return [v];
}

/** Applies the ops in order to a copy of `body`. The root can be replaced too. */
export function mutate(body: Json, ops: readonly JsonOp[]): Json {
  let root = clone(body);
  for (const op of ops) {
    const all = paths(root);
    const path = all[op.pick % all.length] ?? [];
    const parentPath = path.slice(0, -1);
    const key = path.at(-1);
    let parent: Json = root;
    for (const p of parentPath) parent = (parent as Record<string | number, Json>)[p];
    const container = parent as Record<string | number, Json> & Json[];
    const current = key === undefined ? root : container[key];
    // Values are cloned in: an op's value may be a shared constant (`{}`), which a later op
    // would otherwise change for every case after this one, or insert into itself.
    const set = (v: Json) => {
      if (key === undefined) root = clone(v);
      else container[key] = clone(v);
    };
    switch (op.kind) {
      case "drop":
        if (key === undefined) root = undefined;
        else if (Array.isArray(container)) container.splice(Number(key), 1);
        else delete container[key];
        break;
      case "replace":
        set(op.value);
        break;
      case "retype":
        set(retyped(current));
        break;
      case "duplicate":
      case "extra": {
        const target =
          current !== null && typeof current === "object" && !Array.isArray(current)
            ? (current as Obj)
            : undefined;
        if (!target || target instanceof Raw) {
          set(op.value);
        } else if (op.kind === "duplicate") {
          const [first] = Object.keys(target);
          if (first !== undefined) target[DUPLICATE] = [first, clone(op.value)];
        } else {
          Object.defineProperty(target, op.key, {
            value: clone(op.value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        break;
      }
    }
  }
  return root;
}

export type TextOp =
  | { kind: "truncate"; at: number }
  | { kind: "splice"; at: number; text: string }
  | { kind: "bom" }
  | { kind: "trailing"; text: string }
  | { kind: "empty" };

export const textOp: fc.Arbitrary<TextOp> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("splice" as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(",", "}", "]", '"', "\\", "\\u12", "\u0000", "/*x*/"),
      fc.string({ maxLength: 4 }),
    ),
  }),
  fc.constant({ kind: "bom" as const }),
  fc.record({
    kind: fc.constant("trailing" as const),
    text: fc.constantFrom(" ", "x", "{}", ",", "\n\n"),
  }),
  fc.constant({ kind: "empty" as const }),
);

export function breakText(text: string, op: TextOp): string {
  switch (op.kind) {
    case "truncate":
      return text.slice(0, op.at % (text.length + 1));
    case "splice": {
      const at = op.at % (text.length + 1);
      return text.slice(0, at) + op.text + text.slice(at);
    }
    case "bom":
      return `\ufeff${text}`;
    case "trailing":
      return text + op.text;
    case "empty":
      return "";
  }
}
