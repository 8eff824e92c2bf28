// Entry module: the edge API (`fetch`), the monitor (`queue`: decision and outcome events into
// D1), the Kinesis outbox drain and retention (`scheduled`), and the Durable Object classes.

import { app } from "./app.ts";
import { handleEvents } from "./monitor/consumer.ts";
import { handleScheduled } from "./monitor/scheduled.ts";

export { FleetDirectory } from "../durable-objects/fleet-directory.ts";
export { ServiceBreaker } from "../durable-objects/service-breaker.ts";
export { SiteAgent } from "../durable-objects/site-agent.ts";
export { TenantBudget } from "../durable-objects/tenant-budget.ts";

export default {
  fetch: app.fetch,
  queue: handleEvents,
  scheduled: handleScheduled,
} satisfies ExportedHandler<Env>;
