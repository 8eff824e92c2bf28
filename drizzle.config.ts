// drizzle-kit: `npm run db:generate` writes SQL migrations from worker/monitor/schema.ts into
// migrations/, where `wrangler d1 migrations apply` and the tests read them.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./worker/monitor/schema.ts",
  out: "./migrations",
});
