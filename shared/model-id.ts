// Model names key records throughout (demand, measured speeds, per-model counts), and callers
// supply them (site registrations, heartbeats, outcome reports). A name that is also a property
// every object has — "__proto__", "constructor", "toString", … — would read an inherited value
// from such a record, or replace its prototype when written: no model is called that, so such
// names are refused where they come in.

import * as z from "zod/mini";

/** Whether `name` is a property of every object (`"constructor" in {}`). */
function isBuiltinPropertyName(name: string): boolean {
  return name in Object.prototype;
}

/** The check that refuses those names, for any string schema of model names. */
export const notBuiltinProperty = z.refine<string>(
  (name) => !isBuiltinPropertyName(name),
  "a model may not be named like a built-in object property",
);
