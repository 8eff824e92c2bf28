// Types of stack.mjs for TypeScript importers (the browser test, the stack suites, the load
// test): the project does not type-check JavaScript, so this mirrors the module's JSDoc.

import type { BedrockStandin, BedrockStandinOptions } from "./bedrock-standin.mjs";
import type { DemoSite, DemoSiteOptions, Faults } from "./demo-site.mjs";

export const OPERATOR_KEY: string;
export const DEVICE_KEY: string;
export const SITE_KEY: string;

/** Real AWS credentials in .dev.vars mean the real Bedrock; the dev placeholder means the stand-in. */
export function usesRealBedrock(): boolean;

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number>;

export interface StackOptions {
  /** The router; default 8787 (with `dir`, 0); 0 = a free port. */
  port?: number;
  /** Default 9200 (with `dir`, 0); 0 = a free port. */
  bedrockPort?: number;
  /** Default 4567 (with `dir`, 0); 0 = a free port. */
  kinesisPort?: number;
  /** Demo sites on their seed endpoints' ports (default) or on free ports (with `dir`, the
   * default), registered with those. */
  sitePorts?: "seed" | "free";
  /** The demo sites (default the seed fleet's); each must be a seed site. */
  sites?: DemoSiteOptions[];
  /** Multiplies the demo sites' simulated delays (default each site's own, else 1). */
  siteTimeScale?: number;
  /** Faults every demo site starts with. */
  siteFaults?: Partial<Faults>;
  /** How the demo sites order their queues, and how they are registered. Default priority. */
  siteScheduling?: "fcfs" | "priority";
  /** Seeds the demo sites' and stand-ins' draws (default 1). */
  seed?: number;
  /** Demo sites' heartbeat period (default 2000). */
  heartbeatMs?: number;
  /** "auto" (default without `dir`): the real Bedrock with AWS credentials in .dev.vars, else
   * the stand-in; options (default `{}` with `dir`): always the stand-in, with them. */
  bedrock?: "auto" | BedrockStandinOptions;
  /** Nova reasoning on (`REASONING=auto`) against a Converse stand-in of its own. */
  nova?: boolean | BedrockStandinOptions;
  /** Record every queue message through the tap consumer (`tapped`); needs `dir`. */
  tap?: boolean;
  /** Serve the metrics stream back at `readerUrl`. */
  streamReader?: boolean;
  /** A folder of the stack's own: local state, wrangler's dev registry, its configs; ports then
   * default to free ones, and the cloud tier to the stand-in. */
  dir?: string;
  /** Extra worker vars (`--var NAME:value`). */
  vars?: Record<string, string>;
  /** wrangler's output: to this terminal (default), nowhere, or to a function; kept in `logs`
   * unless "inherit". */
  output?: "inherit" | "ignore" | ((chunk: string) => void);
  /** Default 60000. */
  startTimeoutMs?: number;
}

export interface Stack {
  /** The router's URL, e.g. http://127.0.0.1:8787 */
  base: string;
  demoSites: DemoSite[];
  /** Sites registered. */
  registered: number;
  realBedrock: boolean;
  /** The stand-in's URL; "" with the real Bedrock. */
  bedrockUrl: string;
  bedrock: BedrockStandin | undefined;
  nova: BedrockStandin | undefined;
  kinesisUrl: string;
  /** The metrics stream's name. */
  stream: string;
  /** GET {readerUrl}/streams/{stream} reads it back ("" without `streamReader`). */
  readerUrl: string;
  /** Every line wrangler and workerd printed (unless output "inherit"). */
  logs: string[];
  /** Every queue message body the router sent (with `tap`). */
  tapped: unknown[];
  /** Local state of D1 and Durable Objects (with `dir`). */
  stateDir: string | undefined;
  /** Resolves with wrangler's exit code. */
  exited: Promise<number | null>;
  /** Ends everything started; idempotent. */
  stop(): Promise<void>;
}

/** Starts the local world; resolves once the router answers and the sites are registered. */
export function startStack(options?: StackOptions): Promise<Stack>;
