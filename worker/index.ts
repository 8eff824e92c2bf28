// Entry module: the edge API (`fetch`). Durable Object classes, the queue consumer and the
// scheduled handler are exported here as they arrive.

import { app } from "./app.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
