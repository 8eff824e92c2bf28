// GET /v1/catalog — the models the router knows and where each can run.

import { Hono } from "hono";
import { CATALOG } from "../../shared/catalog.ts";
import { requireRole } from "../auth.ts";
import type { AppEnv } from "../types.ts";

export const catalogApp = new Hono<AppEnv>();

catalogApp.get("/", requireRole("device", "operator", "site"), (c) => c.json({ models: CATALOG }));
