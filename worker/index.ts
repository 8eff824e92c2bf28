// Entry module: the edge API (`fetch`), the monitor (`queue`: decision and outcome events into
// D1), retention (`scheduled`), and the Durable Object classes.

import { app } from "./app.ts";
import { handleEvents } from "./monitor/consumer.ts";
import { runRetention } from "./monitor/retention.ts";

export { FleetDirectory } from "../durable-objects/fleet-directory.ts";
export { ServiceBreaker } from "../durable-objects/service-breaker.ts";
export { SiteAgent } from "../durable-objects/site-agent.ts";

export default {
  fetch: app.fetch,
  queue: handleEvents,
  scheduled: runRetention,
} satisfies ExportedHandler<Env>;
