// Types of local-stack.mjs for TypeScript importers (tests, the load test): the project does not
// type-check JavaScript, so this mirrors the module's JSDoc.

import type { BedrockStandin, BedrockStandinOptions } from "./bedrock-standin.mjs";
import type { DemoSite, DemoSiteOptions, Faults } from "./demo-site.mjs";
import type { LocalServer } from "./kinesalite-local.mjs";

export interface LocalStackOptions {
  /** Default: the seed fleet's sites (shared/seed/fleet.json). */
  sites?: DemoSiteOptions[];
  /** Faults every demo site starts with. */
  siteFaults?: Partial<Faults>;
  /** Demo sites' time scale (default each site's own, else 1). */
  timeScale?: number;
  /** Seeds the demo sites' and stand-ins' fault draws. */
  seed?: number;
  /** The cloud tier's Converse stand-in. */
  bedrock?: BedrockStandinOptions;
  /** Nova reasoning on (`REASONING=auto`) against a Converse stand-in of its own. */
  nova?: boolean | BedrockStandinOptions;
  /** Record every queue message through the tap consumer (`tapped`). */
  tap?: boolean;
  /** Demo sites' heartbeat period, ms (default 2,000). */
  heartbeatMs?: number;
  /** More `--var`s for the router. */
  vars?: Record<string, string>;
  /** Print wrangler's output as it comes, too. */
  echo?: boolean;
}

export interface LocalStack {
  /** The router, e.g. `http://127.0.0.1:40123`. */
  url: string;
  sites: DemoSite[];
  bedrock: BedrockStandin;
  nova: BedrockStandin | undefined;
  kinesis: LocalServer;
  /** GET {readerUrl}/streams/{stream} reads the metrics stream back. */
  readerUrl: string;
  stream: string;
  /** Every line wrangler and workerd printed, in order. */
  logs: string[];
  /** Every queue message body the router sent (with `tap`). */
  tapped: unknown[];
  /** Local persistence: D1, Durable Object storage. */
  stateDir: string;
  /** The stack's temporary folder (configs, state); the caller removes it. */
  dir: string;
  /** Stops everything it started. */
  stop(): Promise<void>;
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number>;

export function startLocalStack(options?: LocalStackOptions): Promise<LocalStack>;
