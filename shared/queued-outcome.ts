// What a site's breaker learns from one outcome. A breaker is for a sick site, not a busy one: a
// request that waited in the site's queue (granted beyond its run slots) and then timed out, or
// whose first token came late, says the queue was long, not that the site failed. Such an outcome
// is left out of the breaker's window; a queued request that errored outright still counts, and
// so does every outcome of a request that started at once (a hung site times those out too).

export interface SiteOutcome {
  ok: boolean;
  /** Time to first token. */
  ttftMs?: number | undefined;
  /** The router's attempt timer expired before an answer. */
  timedOut?: boolean | undefined;
}

/** The breaker's view of an outcome (`record`'s argument), or undefined to leave it out. */
export function breakerResult(
  outcome: SiteOutcome,
  queued: boolean,
): { ok: boolean; durationMs?: number } | undefined {
  if (!queued) {
    return outcome.ttftMs === undefined
      ? { ok: outcome.ok }
      : { ok: outcome.ok, durationMs: outcome.ttftMs };
  }
  if (outcome.ok) return { ok: true };
  return outcome.timedOut ? undefined : { ok: false };
}

/** Weight of the newest sample in a site's measured service time. */
const SERVICE_EWMA = 0.2;

/** The measured service time, moved toward one request that ran without queueing. */
export function nextServiceMs(current: number | undefined, sampleMs: number): number | undefined {
  if (!Number.isFinite(sampleMs) || sampleMs <= 0) return current;
  return current === undefined ? sampleMs : current + SERVICE_EWMA * (sampleMs - current);
}
