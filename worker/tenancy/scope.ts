// Object-level access by tenant: what a principal may read and manage. Another tenant's objects
// answer 404, exactly like ones that do not exist, so ids cannot be probed across tenants.

import type { Principal } from "../auth.ts";
import { NotFound } from "../errors.ts";

/**
 * The tenant a read is limited to: the caller's own, or for a platform key every tenant
 * (`undefined`) unless it names one.
 */
export function readScope(principal: Principal, requested?: string): string | undefined {
  if (principal.platform) return requested;
  if (requested !== undefined && requested !== principal.tenantId) {
    throw new NotFound(`no tenant "${requested}"`);
  }
  return principal.tenantId;
}

/** Whether `principal` may see or manage what belongs to `tenantId`. */
export function mayAccess(principal: Principal, tenantId: string): boolean {
  return principal.platform || principal.tenantId === tenantId;
}
