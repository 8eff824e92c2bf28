// What every view of the dashboard is: an element, and a load that fetches and renders for
// the chosen time range. Views fetch only when shown; auto-refresh calls `load` again.

import type { RangeName } from "../../shared/analytics-window.ts";
import type { Tier } from "../../shared/types.ts";

export type { RangeName };

export interface LoadContext {
  range: RangeName;
  /** Aborted when the range or the view changes before the answers arrive. */
  signal: AbortSignal;
  /** The rest of the route, e.g. the decision id of `#/decisions/<id>`. */
  param: string | undefined;
}

/** What the shell offers a view. */
export interface Shell {
  /** Loads the view again now (after a filter changed), with the shell's status and errors. */
  refresh(): void;
  /** Sets the rest of the route (e.g. the decision opened) without loading again. */
  setParam(param: string | undefined): void;
  /** Shows an error of work the view started by itself (e.g. a click), as loads' errors are. */
  fail(err: unknown): void;
}

export interface View {
  readonly title: string;
  readonly el: HTMLElement;
  load(ctx: LoadContext): Promise<void>;
  /** Called when the view is left. */
  destroy?(): void;
}

export const TIERS: readonly Tier[] = ["device", "mec", "cloud"];

export const RANGE_MS: Record<RangeName, number> = {
  "15m": 15 * 60_000,
  "1h": 3_600_000,
  "6h": 6 * 3_600_000,
  "24h": 24 * 3_600_000,
  "7d": 7 * 24 * 3_600_000,
};
