// Tenants and their API keys (drizzle; `npm run db:generate` writes the migration). Read on the
// request path only through the key store's isolate cache (key-store.ts): one primary-key read
// per key id when the cache is cold.

import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { BUDGET_PERIODS } from "../../shared/budget.ts";

export const TENANT_STATUSES = ["active", "suspended"] as const;

/** A customer of the router: its keys, data and cost budget are its own. */
export const tenants = sqliteTable("tenants", {
  /** A lower-case slug; `platform` is reserved for the platform's own keys. */
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** `suspended`: every key of the tenant is refused. */
  status: text("status", { enum: TENANT_STATUSES }).notNull().default("active"),
  /** Spend allowed per period in USD, at the router's predicted and measured costs; NULL = none. */
  budgetUsd: real("budget_usd"),
  /** Calendar periods in UTC. */
  budgetPeriod: text("budget_period", { enum: BUDGET_PERIODS }).notNull().default("month"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Issued API keys: only the SHA-256 of each key is kept. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    /** The public id inside the key (`mec_<scope>_<id>_<secret>`). */
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    scope: text("scope", { enum: ["device", "operator", "site"] }).notNull(),
    /** Site keys: the one site they may heartbeat. */
    siteId: text("site_id"),
    /** A label for people (e.g. "android 4.2"); never secret. */
    name: text("name"),
    /** SHA-256 of the whole key, hex. */
    hash: text("hash").notNull(),
    createdAt: integer("created_at").notNull(),
    /** The key id of the operator who created it (`platform:<id>` for the platform's keys). */
    createdBy: text("created_by").notNull(),
    /** The key stops working then (set by rotation to end the overlap, or at creation). */
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    /** The key that replaced this one on rotation. */
    replacedBy: text("replaced_by"),
  },
  (t) => [index("api_keys_tenant").on(t.tenantId, t.createdAt)],
);
