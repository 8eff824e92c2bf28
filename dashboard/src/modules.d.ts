// Made at build time from Natural Earth's 110 m land (scripts/build-dashboard.mjs).
declare module "virtual:land-outline" {
  /** Every land polygon as one SVG path in degrees: x = longitude, y = −latitude. */
  export const LAND_PATH: string;
}

// Stylesheets imported by main.ts: esbuild bundles them into app.css.
declare module "*.css" {}
