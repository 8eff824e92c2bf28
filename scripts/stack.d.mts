// Types of stack.mjs for TypeScript importers (the browser test): the project does not
// type-check JavaScript, so this mirrors the module's JSDoc.

import type { DemoSite } from "./demo-site.mjs";

export const OPERATOR_KEY: string;
export const DEVICE_KEY: string;
export const SITE_KEY: string;

/** Real AWS credentials in .dev.vars mean the real Bedrock; the dev placeholder means the stand-in. */
export function usesRealBedrock(): boolean;

export interface StackOptions {
  /** The router; default 8787; 0 = a free port. */
  port?: number;
  /** Default 9200; 0 = a free port. */
  bedrockPort?: number;
  /** Default 4567; 0 = a free port. */
  kinesisPort?: number;
  /** Demo sites on their seed endpoints' ports (default) or on free ports (registered with those). */
  sitePorts?: "seed" | "free";
  /** Local state folder for D1 and Durable Objects (default wrangler's .wrangler/state). */
  persistTo?: string;
  /** wrangler's dev registry folder (default the user's); a folder of its own keeps this stack
   * apart from other `wrangler dev` sessions. */
  registryPath?: string;
  /** Extra worker vars (`--var NAME:value`). */
  vars?: Record<string, string>;
  /** Multiplies the demo sites' simulated delays (default 1). */
  siteTimeScale?: number;
  /** Demo sites' heartbeat period (default 2000). */
  heartbeatMs?: number;
  /** wrangler's output: to this terminal (default), nowhere, or to a function. */
  output?: "inherit" | "ignore" | ((chunk: string) => void);
  /** Default 60000. */
  startTimeoutMs?: number;
}

export interface Stack {
  /** The router's URL, e.g. http://127.0.0.1:8787 */
  base: string;
  demoSites: DemoSite[];
  /** Seed sites registered. */
  registered: number;
  realBedrock: boolean;
  /** The stand-in's URL; "" with the real Bedrock. */
  bedrockUrl: string;
  kinesisUrl: string;
  /** Resolves with wrangler's exit code. */
  exited: Promise<number | null>;
  /** Ends everything started; idempotent. */
  stop(): Promise<void>;
}

/** Starts the local world; resolves once the router answers and the seed sites are registered. */
export function startStack(options?: StackOptions): Promise<Stack>;
