// The environment every wrangler invocation of ours runs with: no telemetry, no update checks,
// no fetch of Cloudflare's `cf` data, so everything works with no network at all.
export function offlineEnv(extra = {}) {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    ...extra,
  };
}
