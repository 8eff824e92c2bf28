import type { Principal, Role } from "./auth.ts";

/** Hono environment of the worker: generated bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: { role: Role; principal: Principal };
}
