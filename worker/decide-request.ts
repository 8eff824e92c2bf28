// What every deciding route (and the MCP dry run) does the same way: check the model asked for,
// fall back to the edge's idea of the caller's location, decide against the isolate's fleet
// snapshot, turn a refusal into its HTTP error, and, for a request that will run, reserve its
// cost in the tenant's budget (tenancy/spend.ts).

import type { Context } from "hono";
import { catalogModel } from "../shared/catalog.ts";
import { decide } from "../shared/decide.ts";
import { decisionEvent } from "../shared/events.ts";
import { normalizeRouteRequest, type RouteRequestInput } from "../shared/route-request.ts";
import type { Decision, GeoPoint, RouteRequest } from "../shared/types.ts";
import type { Principal } from "./auth.ts";
import { policyForDecision } from "./config.ts";
import { InvalidRequest, refusal } from "./errors.ts";
import { wantAtSite } from "./fleet/expectations.ts";
import { fleetSource } from "./fleet/live-fleet-source.ts";
import { sendEvents } from "./monitor/producer.ts";
import { cachedHint, consultHints } from "./reasoning/hints.ts";
import { keepRules } from "./reasoning/policy.ts";
import { maybeReason } from "./reasoning/reason.ts";
import { spendWithinBudget } from "./tenancy/spend.ts";
import type { AppEnv } from "./types.ts";

export interface Decided {
  req: RouteRequest;
  decision: Decision;
  decisionId: string;
  /** The policy variant it was decided under (`"default"` without an A/B experiment). */
  policyVariant: string;
  now: number;
  waitUntil: (p: Promise<unknown>) => void;
  /** The caller (absent only when a test drives this without the auth middleware). */
  principal: Principal | undefined;
  /** USD reserved in the tenant's budget for this decision; 0 when nothing was. */
  chargedUsd: number;
}

export interface DecideOptions {
  /**
   * The request is going to run: its cost is reserved in the tenant's budget, or a cheaper
   * target is chosen, or 402.
   */
  spend?: boolean;
  /**
   * Send the decision event to the monitor (default). A dry run does not: it would count in the
   * history and analytics as a decision that never ran.
   */
  record?: boolean;
}

/** Decides a validated `/v1/route`-shaped input; throws the HTTP error when nothing can take it. */
export async function decideRequest(
  c: Context<AppEnv>,
  input: RouteRequestInput,
  opts: DecideOptions = {},
): Promise<Decided> {
  const model = input.task.model;
  if (model !== undefined && model !== "auto" && !catalogModel(model)) {
    throw new InvalidRequest("unknown model", [
      { path: "task.model", message: `"${model}" is not in the catalog (GET /v1/catalog)` },
    ]);
  }
  // Reading `request.cf` showed in the profiles (bench:overhead-profile): only when the body
  // gives no location.
  const req = normalizeRouteRequest(input, input.location ? undefined : edgeLocation(c.req.raw));
  const now = Date.now();
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const fleet = await fleetSource(c.env).snapshot(now, waitUntil);
  // The id comes first: it picks the policy variant of an A/B experiment (stable per id).
  const decisionId = crypto.randomUUID();
  const { policy, variant } = policyForDecision(c.env, decisionId);
  const mode = input.reasoning ?? "auto";
  // A borderline class may have a learned second opinion (Nova Micro + Lite); using it is a
  // lookup. Without one, `force` may ask now (slack permitting), `auto` learns after the answer.
  const hint = cachedHint(c.env, req, policy, mode, now);
  let result = decide(req, fleet, policy, now, hint);
  // Nova's view of the class may leave nothing feasible; then the rules' own view stands.
  if (!result.ok && hint) result = decide(req, fleet, policy, now);
  // A model resident nowhere near stays cold unless someone asks for it where it would serve:
  // the site's cache agent hears of it (batched, after the answer), refused or not; a dry run
  // changes nothing.
  const { prewarm } = result;
  if (prewarm && (opts.record ?? true)) {
    waitUntil(wantAtSite(c.env, prewarm.siteId, prewarm.model));
  }
  if (!result.ok) {
    const details = { rejected: result.rejected, rationale: result.rationale };
    throw refusal(result.code, result.message, details);
  }
  let ruled = result.decision;
  if (!hint) {
    const consulted = await consultHints(c.env, req, policy, ruled, mode, waitUntil);
    const again = consulted.hint && decide(req, fleet, policy, now, consulted.hint);
    if (again?.ok) ruled = again.decision;
    else if (again) ruled = keepRules(ruled, "Nova's class left nothing feasible; rules classify");
    else if (consulted.note) ruled = keepRules(ruled, consulted.note);
  }
  // Nova Pro may re-order the plan when the rules are unsure and the SLA leaves room; otherwise
  // this returns at once with the rules' decision.
  const reasoned = await maybeReason(c.env, req, ruled, mode, waitUntil);
  const principal: Principal | undefined = c.get("principal");
  // Over budget, the request is decided again with what is left as its cost limit (the rules'
  // own view of its class: a cheaper plan needs no second opinion).
  const { decision, chargedUsd } = opts.spend
    ? await spendWithinBudget(c.env, principal, decisionId, req, reasoned, (cheaper) =>
        decide(cheaper, fleet, policy, now),
      )
    : { decision: reasoned, chargedUsd: 0 };
  // History leaves through the queue after the response: no D1 while the request waits.
  if (opts.record ?? true) {
    sendEvents(c.env, c.executionCtx, [
      decisionEvent({
        id: decisionId,
        time: now,
        request: req,
        decision,
        policyVariant: variant,
        tenant: principal?.tenantId,
      }),
    ]);
  }
  return {
    req,
    decision,
    decisionId,
    policyVariant: variant,
    now,
    waitUntil,
    principal,
    chargedUsd,
  };
}

/** The `/v1/route` answer body for a decision: ids first, then the decision. */
export function routeAnswer(
  decided: Pick<Decided, "req" | "decisionId" | "policyVariant">,
  decision: Decision,
) {
  const { req, decisionId, policyVariant } = decided;
  return { requestId: req.requestId ?? decisionId, decisionId, policyVariant, ...decision };
}

/** Where Cloudflare's edge places the caller, when the body does not say. */
function edgeLocation(request: Request): GeoPoint | undefined {
  const cf = request.cf as { latitude?: unknown; longitude?: unknown } | undefined;
  if (cf?.latitude === undefined || cf?.longitude === undefined) return undefined;
  const lat = Number(cf.latitude);
  const lon = Number(cf.longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  return { lat, lon };
}
