// Types of demo-site.mjs for TypeScript importers (tests, benchmarks): the project does not
// type-check JavaScript, so this mirrors the module's JSDoc. Compare after a change with
//   npx tsc --ignoreConfig --allowJs --declaration --emitDeclarationOnly --outDir /tmp/dts \
//     --strict --module esnext --moduleResolution bundler --types node scripts/demo-site.mjs

export interface Faults {
  /** Share of chat requests answered 500/503 before the first byte (0–1). */
  errorRate: number;
  /** Share of chat requests whose socket is destroyed unanswered (0–1). */
  resetRate: number;
  /** Share of chat requests never answered, so the caller's timeout fires (0–1; after errorRate). */
  hangRate: number;
  /** Share of chat requests answered 200 with a malformed answer (0–1; after hangRate). */
  garbageRate: number;
  /** GET /metrics reports out-of-range values. */
  garbageMetrics: boolean;
  /** Wall-clock delay before every non-control answer (not scaled by `timeScale`). */
  addedLatencyMs: number;
  /** Streams stop after N tokens and hang until the client leaves; non-streams hang; null = off. */
  stallAfterTokens: number | null;
  /** GET /health answers 503. */
  unhealthy: boolean;
  /** In-flight answers cut, sockets destroyed (except /health → 503 and /control/faults). */
  dark: boolean;
}

export interface DemoModel {
  model: string;
  /** Single-request decode rate. */
  tokensPerSec: number;
  /** Cold-load time at timeScale 1. */
  loadTimeMs: number;
  /** GPU memory the weights hold. */
  sizeGb: number;
  /** Prompt processing rate; omitted = no prefill delay. */
  prefillTokensPerSec?: number;
}

export interface DemoSiteOptions {
  id: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1; only loopback addresses are accepted. */
  host?: string;
  models: DemoModel[];
  residentModels: string[];
  maxConcurrent: number;
  /**
   * How waiting requests are ordered: `fcfs` (default) in arrival order, refusing a non-zero
   * `priority` with 400 as vLLM does; `priority` by the body's `priority` (lower first), then
   * arrival.
   */
  scheduling?: "fcfs" | "priority";
  gpuMemoryGb: number;
  /** Multiplies every simulated delay (decode, prefill, cold load). Default 1. */
  timeScale?: number;
  /** Seeds the PRNG that decides which requests a fault rate hits. Default 1. */
  seed?: number;
  faults?: Partial<Faults>;
  heartbeat?: { routerUrl: string; siteKey: string; intervalMs: number };
}

export interface Residency {
  sizeGb: number;
  loadedAt: number;
  lastUsedAt: number;
}

export interface ControlLogEntry {
  at: number;
  method: string;
  path: string;
  model?: string;
  /** HTTP status answered; 0 when none was. */
  status: number;
}

export interface DemoSiteStats {
  /** Chat requests received. */
  requests: number;
  completed: number;
  injectedErrors: number;
  resets: number;
  hangs: number;
  /** Malformed answers sent. */
  garbage: number;
  coldLoads: number;
  evictions: number;
  generationTokens: number;
  /** Heartbeats answered 2xx. */
  heartbeatsSent: number;
  heartbeatsFailed: number;
  /** HTTP status of the last heartbeat; 0 unreachable; null none yet. */
  lastHeartbeatStatus: number | null;
  /** Chat requests by the `priority` they carried (`"none"` without one). */
  priorities: Record<string, number>;
}

/** Live: read it any time; do not write it. */
export interface DemoSiteState {
  id: string;
  faults: Faults;
  resident: Map<string, Residency>;
  /** Requests generating now. */
  readonly running: number;
  /** Requests queued for a slot or waiting for a cold load. */
  readonly waiting: number;
  /** The last 1,000 control calls, oldest first. */
  controlLog: ControlLogEntry[];
  stats: DemoSiteStats;
}

export interface DemoSite {
  port: number;
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:9101`. */
  url: string;
  /** Cuts open answers, stops heartbeats, resolves when the server is closed. Idempotent. */
  close(): Promise<void>;
  state: DemoSiteState;
  /** Merges a fault patch (throws TypeError on a bad field) and returns the faults now. */
  setFaults(f: Partial<Faults>): Faults;
}

/** Starts a demo site and resolves once it listens. */
export function startDemoSite(options: DemoSiteOptions): Promise<DemoSite>;

export interface SeedSite {
  id: string;
  endpoint: string;
  capacity: { maxConcurrent: number; gpuMemoryGb: number };
  models: { model: string }[];
  residentModels?: string[];
}

export interface SeedCatalogModel {
  id: string;
  mec?: {
    gpuMemoryGb: number;
    tokensPerSec: number;
    loadTimeMs: number;
    prefillTokensPerSec?: number;
  };
}

/** Options for a seed fleet site, with figures from the catalog's MEC variants. */
export function seedSiteOptions(
  site: SeedSite,
  catalog: readonly SeedCatalogModel[],
): DemoSiteOptions;

/** Every site of shared/seed/fleet.json as options (imports shared/catalog.ts). */
export function loadSeedSites(): Promise<DemoSiteOptions[]>;
