// A brief edge cache for analytics answers (the Cache API of the colo), one entry per caller:
// the key is the request's origin, a reserved path naming the caller's key id, the route and its
// query parameters sorted. Authentication runs before it, so nobody reads an entry without being
// the principal it was stored for (a session and the bearer key it came from are the same
// principal). Only 200 answers are stored.
//
// Clients get `Cache-Control: no-store` and `x-mec-cache: hit | miss`: a browser keeps no copy of
// its own, which would outlive a logout (the dashboard shows what the edge answers, at most a few
// seconds old).

import type { Context } from "hono";
import type { AppEnv } from "../types.ts";

const CACHE_NAME = "mec-analytics";
/** No route of the app lives under this path, so a key can never be a real URL's. */
const KEY_PREFIX = "/__cache/analytics";

/** The cache key of this request for its principal. */
export function cacheKey(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  const principal = c.get("principal");
  const params = [...url.searchParams.entries()].sort(([a, av], [b, bv]) =>
    a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1,
  );
  const query = new URLSearchParams(params).toString();
  return `${url.origin}${KEY_PREFIX}/${encodeURIComponent(principal.keyId)}${url.pathname}?${query}`;
}

function answer(body: BodyInit | null, from: Response | undefined, hit: boolean) {
  const headers = new Headers(from?.headers);
  headers.set("content-type", "application/json");
  headers.set("cache-control", "no-store");
  headers.set("x-mec-cache", hit ? "hit" : "miss");
  return new Response(body, { status: 200, headers });
}

/** The cached answer of this request for its principal, or `compute()`'s, stored for `ttl` s. */
export async function cachedJson(
  c: Context<AppEnv>,
  ttl: number,
  compute: () => Promise<unknown>,
): Promise<Response> {
  const key = cacheKey(c);
  const cache = await caches.open(CACHE_NAME);
  const hit = await cache.match(key);
  if (hit) return answer(hit.body, hit, true);
  const body = JSON.stringify(await compute());
  const stored = new Response(body, {
    headers: { "content-type": "application/json", "cache-control": `max-age=${ttl}` },
  });
  try {
    await cache.put(key, stored);
  } catch {
    // Without a cache the answer is only slower next time.
  }
  return answer(body, undefined, false);
}
