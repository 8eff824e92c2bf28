// zod schemas of the tenant and key routes' answers (worker/routes/tenants.ts, keys.ts).

import * as z from "zod/mini";
import { SCOPES } from "../../shared/api-key.ts";
import { BUDGET_PERIODS } from "../../shared/budget.ts";
import { TENANT_STATUSES } from "../tenancy/schema.ts";

const num = z.number();
const nullableNumber = z.nullable(num);

const tenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(TENANT_STATUSES),
  /** USD per period; null: no budget. */
  budget: z.nullable(z.object({ limitUsd: num, period: z.enum(BUDGET_PERIODS) })),
  createdAt: num,
  updatedAt: num,
});

export const tenantAnswerSchema = z.object({
  tenant: tenantSchema,
  /** This period's account, when the tenant has a budget. */
  spending: z.optional(
    z.object({
      period: z.string(),
      periodStart: num,
      periodEnd: num,
      limitUsd: num,
      spentUsd: num,
      reservedUsd: num,
      remainingUsd: num,
    }),
  ),
});

export const tenantsAnswerSchema = z.object({
  tenants: z.array(tenantSchema),
  /** Pass as `after` for the next page; absent on the last. */
  next: z.optional(z.string()),
});

const keyFields = {
  id: z.string(),
  /** `mec_<scope>_<id>`: names the key in logs and lists; the secret never appears again. */
  prefix: z.string(),
  tenant: z.string(),
  scope: z.enum(SCOPES),
  site: z.nullable(z.string()),
  name: z.nullable(z.string()),
  status: z.enum(["active", "revoked", "expired"]),
  createdAt: num,
  createdBy: z.string(),
  expiresAt: nullableNumber,
  revokedAt: nullableNumber,
  replacedBy: z.nullable(z.string()),
};

export const keySchema = z.object(keyFields);
export const keysAnswerSchema = z.object({ keys: z.array(keySchema) });

/** A new key: the secret `key`, shown this once. */
export const issuedKeySchema = z.object({ key: z.string(), ...keyFields });

export const rotatedKeySchema = z.object({
  key: z.string(),
  ...keyFields,
  /** The old key, which keeps working until `expiresAt` (the overlap). */
  replaces: z.object({ id: z.string(), expiresAt: num }),
});
