// drizzle-kit: `npm run db:generate` writes SQL migrations from the drizzle schemas into
// migrations/, where `wrangler d1 migrations apply` and the tests read them.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: ["./worker/monitor/schema.ts", "./worker/tenancy/schema.ts"],
  out: "./migrations",
});
