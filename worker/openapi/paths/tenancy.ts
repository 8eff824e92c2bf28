// Tenants and their issued API keys: platform operator keys manage tenants; a tenant's operator
// reads its own tenant and manages its own keys.

import * as z from "zod/mini";
import {
  createSchema as createKeySchema,
  listQuerySchema as keysQuerySchema,
  rotateSchema,
} from "../../routes/keys.ts";
import {
  createSchema as createTenantSchema,
  patchSchema as patchTenantSchema,
  listQuerySchema as tenantsQuerySchema,
} from "../../routes/tenants.ts";
import { MAX_BODY_BYTES } from "../../validate.ts";
import { operation } from "../operation.ts";
import {
  issuedKeySchema,
  keySchema,
  keysAnswerSchema,
  rotatedKeySchema,
  tenantAnswerSchema,
  tenantsAnswerSchema,
} from "../tenancy-responses.ts";

const tenantParams = z.strictObject({ id: z.string() });
const keyParams = z.strictObject({ id: z.string() });
const UNKNOWN_TENANT = { 404: "`not_found`: no such tenant (or not the caller's)." };
const UNKNOWN_KEY = { 404: "`not_found`: no such key (or another tenant's)." };
const TENANT = { id: "acme" };
/** The example key's id; the tests use the key the create example issued. */
const KEY = { id: "abcdefghijklmnop" };

export const TENANCY_OPERATIONS = [
  operation({
    method: "post",
    path: "/v1/tenants",
    operationId: "createTenant",
    tag: "Tenants",
    summary: "Create a tenant",
    description: "Platform key. A budget (USD per `day` or `month`) caps what its keys may spend.",
    roles: ["operator"],
    body: createTenantSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 201: { description: "Created.", schema: tenantAnswerSchema } },
    errors: { 409: "`conflict`: the id is taken." },
    example: {
      body: { id: "acme", name: "Acme Mobile", budget: { limitUsd: 500, period: "month" } },
    },
  }),
  operation({
    method: "get",
    path: "/v1/tenants",
    operationId: "listTenants",
    tag: "Tenants",
    summary: "Tenants",
    description:
      "Platform key. By id; `limit` 1–500 (default 100), `after` the previous page's `next`.",
    roles: ["operator"],
    query: tenantsQuerySchema,
    responses: { 200: { description: "One page.", schema: tenantsAnswerSchema } },
    example: { query: { limit: "20" } },
  }),
  operation({
    method: "get",
    path: "/v1/tenants/:id",
    operationId: "getTenant",
    tag: "Tenants",
    summary: "One tenant, with this period's spending",
    roles: ["operator"],
    params: tenantParams,
    responses: { 200: { description: "The tenant.", schema: tenantAnswerSchema } },
    errors: UNKNOWN_TENANT,
    example: { params: TENANT },
  }),
  operation({
    method: "patch",
    path: "/v1/tenants/:id",
    operationId: "updateTenant",
    tag: "Tenants",
    summary: "Rename, suspend or re-budget a tenant",
    description:
      "Platform key. `budget: null` removes the budget. In force in every isolate within the " +
      "key cache's 30 s.",
    roles: ["operator"],
    params: tenantParams,
    body: patchTenantSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 200: { description: "The tenant.", schema: tenantAnswerSchema } },
    errors: UNKNOWN_TENANT,
    example: { params: TENANT, body: { name: "Acme Mobile GmbH" } },
  }),
  operation({
    method: "post",
    path: "/v1/keys",
    operationId: "createKey",
    tag: "Tenants",
    summary: "Issue an API key",
    description:
      "The answer carries the key itself, this once; only its SHA-256 is stored. A tenant's " +
      "operator issues keys of its own tenant; a platform key names the `tenant` (and issues " +
      "site keys bound to a `site`).",
    roles: ["operator"],
    body: createKeySchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 201: { description: "The new key.", schema: issuedKeySchema } },
    errors: UNKNOWN_TENANT,
    example: { body: { tenant: "acme", scope: "device", name: "iOS app" } },
  }),
  operation({
    method: "get",
    path: "/v1/keys",
    operationId: "listKeys",
    tag: "Tenants",
    summary: "Issued keys (prefixes, never secrets)",
    description: "Newest first; the caller's tenant, or for a platform key every one or `tenant`.",
    roles: ["operator"],
    query: keysQuerySchema,
    responses: { 200: { description: "The keys.", schema: keysAnswerSchema } },
    example: { query: { tenant: "acme", limit: "50" } },
  }),
  operation({
    method: "get",
    path: "/v1/keys/:id",
    operationId: "getKey",
    tag: "Tenants",
    summary: "One issued key",
    roles: ["operator"],
    params: keyParams,
    responses: { 200: { description: "The key.", schema: keySchema } },
    errors: UNKNOWN_KEY,
    example: { params: KEY },
  }),
  operation({
    method: "post",
    path: "/v1/keys/:id/rotate",
    operationId: "rotateKey",
    tag: "Tenants",
    summary: "Rotate a key",
    description:
      "Issues its successor (shown this once); the old key keeps working for `overlapSeconds` " +
      "(default 24 h, 0 = stop now). The body is optional.",
    roles: ["operator"],
    params: keyParams,
    body: rotateSchema,
    bodyLimitBytes: MAX_BODY_BYTES,
    responses: { 201: { description: "The new key.", schema: rotatedKeySchema } },
    errors: { ...UNKNOWN_KEY, 409: "`conflict`: rotated already, revoked or expired." },
    example: { params: KEY, body: { overlapSeconds: 3600 } },
  }),
  operation({
    method: "post",
    path: "/v1/keys/:id/revoke",
    operationId: "revokeKey",
    tag: "Tenants",
    summary: "Revoke a key",
    description: "Idempotent; in force in every isolate within the key cache's 30 s.",
    roles: ["operator"],
    params: keyParams,
    responses: { 200: { description: "The key.", schema: keySchema } },
    errors: UNKNOWN_KEY,
    example: { params: KEY },
  }),
];
