// Types of build-dashboard.mjs for TypeScript importers (the browser test).

/** dist/assets: the Workers static assets folder. */
export const ASSETS_DIR: string;

export interface BuiltFile {
  /** Relative to the repository root. */
  file: string;
  bytes: number;
  gzipBytes: number;
}

/** Builds the dashboard into dist/assets and returns its files with their sizes. */
export function buildDashboard(options?: { log?: boolean }): Promise<BuiltFile[]>;

/** The land of a TopoJSON topology as an SVG path in degrees (x = lon, y = −lat), 0.1° steps. */
export function landPath(topology: unknown, object: string): string;
