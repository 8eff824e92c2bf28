// `node --import ./scripts/cloudflare-workers-hooks.mjs …`: resolves `cloudflare:workers` to
// scripts/cloudflare-workers-stub.ts (see there), so that Node can load the route modules.
import { register } from "node:module";

const stub = new URL("./cloudflare-workers-stub.ts", import.meta.url).href;
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") return { url: ${JSON.stringify(stub)}, shortCircuit: true };
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
