// Types of demo-workload.mjs for TypeScript importers (tests): the project does not type-check
// JavaScript, so this mirrors the module's JSDoc. Compare after a change with
//   npx tsc --ignoreConfig --allowJs --declaration --emitDeclarationOnly --outDir /tmp/dts \
//     --strict --module esnext --moduleResolution bundler --types node scripts/demo-workload.mjs

export type RequestKind = "chat" | "chat-stream" | "route" | "infer";
export type Tier = "device" | "mec" | "cloud";
export type LatencyTarget = "complete" | "first_token";

export interface City {
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  lat: number;
  lon: number;
  /** Share of phones. */
  weight: number;
}

export interface WorkItem {
  index: number;
  kind: RequestKind;
  path: "/v1/chat/completions" | "/v1/route" | "/v1/infer";
  /** The JSON body to send. */
  body: Record<string, unknown>;
  /** The request's latencySlaMs. */
  slaMs: number;
  latencyTarget: LatencyTarget;
  traits: {
    city: string;
    network: string;
    privacy: string;
    modality: string;
    criticality: string;
    onDevice: boolean;
  };
}

export interface RequestResult {
  kind: RequestKind;
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** The router's error code, or network, client_timeout, stream_failed, stream_incomplete. */
  code?: string;
  /** Content-free: the last attempt's target and error class, or a refusal's reasons. */
  errorWhere?: string;
  /** Client-measured, request sent → answer fully read. */
  latencyMs: number;
  /** Streams: request sent → first content chunk. */
  firstTokenMs?: number;
  slaMs: number;
  latencyTarget: LatencyTarget;
  /** The router ran it (chat, infer with `executed: true`). */
  executed: boolean;
  tier?: Tier;
  /** `site:<id>`, `cloud:<region>` or `device`. */
  target?: string;
  /** The decision's primary target, when the answer carries it. */
  primary?: string;
  /** `x-mec-attempts`. */
  attempts?: number;
  /** The fault phase the request started in. */
  phase?: string;
}

export interface FaultStep {
  /** Applied before the request with this index starts. */
  at: number;
  /** The phase it starts. */
  phase: string;
  inject: { site: string; faults: Record<string, unknown> }[];
  /** Sites whose faults go back to what they were before the run. */
  restore: string[];
}

export const CITIES: readonly City[];
export const NETWORKS: Readonly<
  Record<
    "5g" | "4g" | "wifi",
    {
      weight: number;
      rttMs: readonly [number, number];
      uplinkMbps: readonly [number, number];
      downlinkMbps: readonly [number, number];
    }
  >
>;
export const MIX: {
  readonly endpoint: { readonly chat: number; readonly route: number; readonly infer: number };
  readonly stream: number;
  readonly privacy: {
    readonly public: number;
    readonly sensitive: number;
    readonly strict: number;
  };
  readonly residency: { readonly none: number; readonly EU: number; readonly country: number };
  readonly criticality: {
    readonly standard: number;
    readonly sheddable: number;
    readonly critical: number;
  };
  readonly routeModality: {
    readonly text: number;
    readonly image: number;
    readonly audio: number;
    readonly video: number;
  };
  readonly onDevice: number;
  readonly background: number;
};
export const KINDS: readonly ["chat", "chat-stream", "route", "infer"];
export const TIERS: readonly ["device", "mec", "cloud"];

/** mulberry32: the same seed gives the same sequence, uniform in [0, 1). */
export function createRng(seed: number): () => number;

/** The whole run, request by request; deterministic for a seed. */
export function generateWorkload(options: { requests: number; seed: number }): WorkItem[];

/** `--faults`: the steps of the middle third of a run of `requests`. */
export function faultPlan(requests: number): FaultStep[];

/** Nearest-rank percentile (p 0–100); undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined;

/** `site:<id>`, `cloud:<region>` or `device`, as `x-mec-target` names it. */
export function targetName(target: unknown): string | undefined;

/** Whether a finished request met its SLA (streams with a first-token SLA: the first token). */
export function metSla(r: RequestResult): boolean;

/** A retry or failover happened: more than one attempt, or it ran off the plan's primary. */
export function failedOver(r: RequestResult): { retried: boolean; moved: boolean; any: boolean };

export interface KindSummary {
  count: number;
  /** Requests by HTTP status (`"0"`: no answer). */
  statuses: Record<string, number>;
  /** Successful answers by tier. */
  tiers: Record<string, number>;
  ok: number;
  p50: number | undefined;
  p99: number | undefined;
  firstTokenP50: number | undefined;
  firstTokenP99: number | undefined;
  executed: number;
  slaMet: number;
}

export interface ErrorSummary {
  code: string;
  status: number;
  count: number;
  kinds: Record<string, number>;
  where: Record<string, number>;
}

export interface PhaseSummary {
  phase: string;
  requests: number;
  errors: number;
  executed: number;
  failovers: number;
  targets: Record<string, number>;
}

export interface Summary {
  total: number;
  byKind: Record<string, KindSummary>;
  /** `attempted`: every request sent to run server-side, refusals and errors included. */
  sla: { met: number; executed: number; attempted: number };
  failovers: { any: number; retried: number; moved: number; executed: number };
  /** Executed requests by target. */
  targets: Record<string, number>;
  /** Most frequent first. */
  errors: ErrorSummary[];
  phases: PhaseSummary[];
}

/** Everything the summary table shows, from the finished requests. */
export function summarize(results: readonly RequestResult[]): Summary;

/** A plain text table: numeric columns right-aligned, the rest left-aligned. */
export function table(head: string[], rows: (string | number)[][]): string;

/** The summary as printed at the end of a run. */
export function formatSummary(s: Summary, meta: { title: string }): string;
