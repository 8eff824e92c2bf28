// ServiceBreaker: the circuit breaker for one cloud service the router calls (`bedrock:<region>`,
// `kinesis`), one Durable Object per service. Same pure machine as a site's (shared/breaker.ts);
// state changes are pushed to the fleet directory so routing sees them in the next snapshot.

import { DurableObject } from "cloudflare:workers";
import {
  acquire,
  type Breaker,
  breakerStateSchema,
  breakerView,
  DEFAULT_BREAKER_CONFIG,
  initialBreaker,
  nextWakeAt,
  type Outcome,
  record,
  releaseProbe,
  tick,
  windowStats,
} from "../shared/breaker.ts";
import type { BreakerState } from "../shared/types.ts";

export interface ServiceStatus {
  service: string;
  breaker: BreakerState;
  errorRate: number;
  state: Breaker;
}

export class ServiceBreaker extends DurableObject<Env> {
  now: () => number = () => Date.now();
  rand: () => number = Math.random;
  #service = "";
  #breaker: Breaker = initialBreaker();
  #pushed: BreakerState | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const kv = ctx.storage.kv;
      this.#service = String(kv.get("service") ?? "");
      const stored = breakerStateSchema.safeParse(kv.get("breaker"));
      if (stored.success) this.#breaker = stored.data;
    });
  }

  #name(service: string): void {
    if (this.#service === service) return;
    this.#service = service;
    this.ctx.storage.kv.put("service", service);
  }

  /** Asks to send one call; in HALF_OPEN only P probes pass. */
  async acquire(service: string): Promise<{ admitted: boolean; probe: boolean }> {
    this.#name(service);
    const gate = acquire(this.#breaker, this.now(), DEFAULT_BREAKER_CONFIG);
    await this.#save(gate.state);
    return { admitted: gate.admitted, probe: gate.probe };
  }

  async record(service: string, outcome: Outcome): Promise<ServiceStatus> {
    this.#name(service);
    const now = this.now();
    await this.#save(record(this.#breaker, outcome, now, DEFAULT_BREAKER_CONFIG, this.rand()));
    return this.status();
  }

  async abandonProbe(service: string): Promise<void> {
    this.#name(service);
    await this.#save(releaseProbe(this.#breaker));
  }

  status(): ServiceStatus {
    return {
      service: this.#service,
      breaker: breakerView(this.#breaker, this.now()),
      errorRate: windowStats(this.#breaker).failureRate,
      state: this.#breaker,
    };
  }

  override async alarm(): Promise<void> {
    await this.#save(tick(this.#breaker, this.now(), DEFAULT_BREAKER_CONFIG));
  }

  async #save(next: Breaker): Promise<void> {
    const changed = next !== this.#breaker;
    this.#breaker = next;
    if (changed) this.ctx.storage.kv.put("breaker", next);
    const wake = nextWakeAt(next);
    if (wake !== null) await this.ctx.storage.setAlarm(Math.max(wake, this.now() + 10));
    const view = breakerView(next, this.now());
    if (view !== this.#pushed && this.#service) {
      this.#pushed = view;
      await this.env.FLEET_DIRECTORY.getByName("global").upsertService({
        service: this.#service,
        breaker: view,
        errorRate: windowStats(next).failureRate,
        updatedAt: this.now(),
      });
    }
  }
}
