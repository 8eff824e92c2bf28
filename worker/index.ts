// Entry module: the edge API (`fetch`) and the Durable Object classes. The queue consumer and
// the scheduled handler are exported here as they arrive.

import { app } from "./app.ts";

export { FleetDirectory } from "../durable-objects/fleet-directory.ts";
export { ServiceBreaker } from "../durable-objects/service-breaker.ts";
export { SiteAgent } from "../durable-objects/site-agent.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
