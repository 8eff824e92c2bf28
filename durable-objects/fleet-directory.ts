// FleetDirectory: one Durable Object holding the compact view of every MEC site and cloud
// service breaker, so an edge isolate reads the whole fleet in one call. Site agents push their
// view on change (throttled); views carry a sequence number so a late push never overwrites a
// newer one. The monitor pushes the answer lengths it learned (shared/answer-length.ts), which
// the snapshot carries to the decision engine.

import { DurableObject } from "cloudflare:workers";
import * as z from "zod/mini";
import { type AnswerShares, answerSharesSchema } from "../shared/answer-length.ts";
import { siteViewSchema } from "../shared/fleet-schema.ts";
import type { BreakerState, SiteView } from "../shared/types.ts";

export interface ServiceView {
  service: string;
  breaker: BreakerState;
  errorRate: number;
  updatedAt: number;
}

export interface DirectorySnapshot {
  version: number;
  sites: SiteView[];
  services: ServiceView[];
  /** Learned answer lengths; absent until the monitor has pushed some. */
  answerShares?: AnswerShares;
}

const storedSite = z.object({ seq: z.number(), view: siteViewSchema });
const storedService = z.object({
  service: z.string(),
  breaker: z.enum(["closed", "open", "half_open"]),
  errorRate: z.number(),
  updatedAt: z.number(),
});

export class FleetDirectory extends DurableObject<Env> {
  #sites = new Map<string, { seq: number; view: SiteView }>();
  #services = new Map<string, ServiceView>();
  #answerShares: AnswerShares | undefined;
  #version = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const kv = ctx.storage.kv;
      this.#version = Number(kv.get("version") ?? 0);
      for (const [key, value] of kv.list({ prefix: "site:" })) {
        const parsed = storedSite.safeParse(value);
        if (parsed.success)
          this.#sites.set(key.slice(5), parsed.data as { seq: number; view: SiteView });
        else kv.delete(key);
      }
      for (const [key, value] of kv.list({ prefix: "service:" })) {
        const parsed = storedService.safeParse(value);
        if (parsed.success) this.#services.set(key.slice(8), parsed.data);
        else kv.delete(key);
      }
      const shares = answerSharesSchema.safeParse(kv.get("answers"));
      if (shares.success) this.#answerShares = shares.data;
    });
  }

  #bump(): void {
    this.#version++;
    this.ctx.storage.kv.put("version", this.#version);
  }

  /** Stores a site's view unless a newer one (higher `seq`) is already here. */
  upsertSite(view: SiteView, seq: number): boolean {
    const current = this.#sites.get(view.id);
    if (current && current.seq >= seq) return false;
    const entry = { seq, view };
    this.#sites.set(view.id, entry);
    this.ctx.storage.kv.put(`site:${view.id}`, entry);
    this.#bump();
    return true;
  }

  removeSite(id: string): boolean {
    const existed = this.#sites.delete(id);
    if (existed) {
      this.ctx.storage.kv.delete(`site:${id}`);
      this.#bump();
    }
    return existed;
  }

  upsertService(view: ServiceView): void {
    const current = this.#services.get(view.service);
    if (current && current.updatedAt > view.updatedAt) return;
    this.#services.set(view.service, view);
    this.ctx.storage.kv.put(`service:${view.service}`, view);
    this.#bump();
  }

  /** Replaces the learned answer lengths; false (and nothing kept) when they do not validate. */
  setAnswerShares(shares: AnswerShares): boolean {
    const parsed = answerSharesSchema.safeParse(shares);
    if (!parsed.success) return false;
    this.#answerShares = parsed.data;
    this.ctx.storage.kv.put("answers", parsed.data);
    this.#bump();
    return true;
  }

  /** The whole fleet in one answer. */
  snapshot(): DirectorySnapshot {
    const snap: DirectorySnapshot = {
      version: this.#version,
      sites: [...this.#sites.values()].map((e) => e.view),
      services: [...this.#services.values()],
    };
    if (this.#answerShares) snap.answerShares = this.#answerShares;
    return snap;
  }
}
