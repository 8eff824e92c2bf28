// `cloudflare:workers` for Node code that loads the worker's route modules only to read their
// routes and zod schemas (the OpenAPI document for `npm run client:gen`, and the unit tests of the
// document and the client's types): a module importing it for `waitUntil` can then be loaded.
// Nothing here serves a request; a call fails loudly. Mapped by vitest.config.ts (unit project)
// and by scripts/cloudflare-workers-hooks.mjs (node --import).

export function waitUntil(_promise: Promise<unknown>): never {
  throw new Error("waitUntil called outside workerd: run this code inside the worker");
}
