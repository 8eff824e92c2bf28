// The routing policies mec-router is compared with, each as its real counterpart behaves:
//
// - cloud-only: every request to the nearest Bedrock region serving the request's model group.
// - nearest-site: the nearest MEC site serving the group (static geo routing), else the cloud.
// - least-busy: LiteLLM's `least-busy` strategy: the deployment with the fewest requests this
//   router has in flight.
// - latency-based: LiteLLM's `latency-based-routing`: the deployment with the lowest average
//   latency per output token over its last 10 successful responses; a deployment with no
//   history counts as 0, so each is tried once.
// - random: LiteLLM's default `simple-shuffle` (no weights configured): uniform over deployments.
//
// They route among the deployments of a model group (LiteLLM's `model_list`): every MEC site
// serving a model of the request's group and every region serving one, where the group is what
// the request needs (the named model, or the modality at the quality the request calls for,
// from the same context analysis mec-router uses). Each is configured as a careful operator
// would configure LiteLLM: deployments tagged with their trust, country and certifications, and
// requests routed only to deployments their privacy, residency and compliance allow (LiteLLM's
// tag-based routing), so they break no rule. They know nothing of users' locations (except the
// two geographic ones), of site load beyond their own counters, or of the device; like LiteLLM's
// router they put a deployment in cooldown for 5 s after 3 failures within a minute, retry once
// on another deployment, and give each attempt the request's SLA as its timeout.

import { CATALOG, type CatalogModel } from "../../shared/catalog.ts";
import { analyzeRequest } from "../../shared/context.ts";
import { distanceKm } from "../../shared/geo.ts";
import { DEFAULT_POLICY } from "../../shared/policy.ts";
import type { RouteRequest } from "../../shared/types.ts";
import { type Feedback, type SimPolicy, type Step, violation } from "./policy.ts";
import { hash01, type SimRequest, stringHash, type TargetRef, type World } from "./world.ts";

export interface Deployment {
  key: string;
  target: TargetRef;
  model: CatalogModel;
}

/** Models that can serve `req`: the one it names, or its modality at the quality it needs. */
export function modelGroup(req: RouteRequest): CatalogModel[] {
  const ctx = analyzeRequest(req, DEFAULT_POLICY);
  return CATALOG.filter(
    (m) =>
      m.modalities.includes(req.task.modality) &&
      (ctx.requestedModel ? m.id === ctx.requestedModel.id : m.quality >= ctx.requiredQuality),
  ).sort((a, b) => a.quality - b.quality || a.paramsB - b.paramsB);
}

/** Every site and region serving a model of the group, each with its smallest such model. */
export function deployments(world: World, req: RouteRequest): Deployment[] {
  const group = modelGroup(req);
  const out: Deployment[] = [];
  for (const site of world.sites) {
    const served = new Set(site.view.models.map((m) => m.model));
    const model = group.find((m) => m.mec && served.has(m.id));
    if (model) out.push({ key: `site:${site.view.id}`, target: { kind: "site", site }, model });
  }
  for (const region of world.regions) {
    const model = group.find((m) => m.cloud && region.models.includes(m.id));
    if (model) out.push({ key: `cloud:${region.id}`, target: { kind: "cloud", region }, model });
  }
  return out;
}

export function targetKey(t: TargetRef): string {
  return t.kind === "device"
    ? "device"
    : t.kind === "site"
      ? `site:${t.site.view.id}`
      : `cloud:${t.region.id}`;
}

/** LiteLLM's cooldown: 3 failures within 60 s keep a deployment out for 5 s after the last. */
export class Cooldowns {
  readonly #failures = new Map<string, number[]>();
  failed(key: string, at: number): void {
    const list = (this.#failures.get(key) ?? []).filter((x) => x > at - 60_000);
    list.push(at);
    this.#failures.set(key, list);
  }
  cooling(key: string, now: number): boolean {
    const list = this.#failures.get(key);
    if (!list || list.length < 3) return false;
    const recent = list.filter((x) => x > now - 60_000);
    return recent.length >= 3 && now < (recent.at(-1) as number) + 5_000;
  }
}

type Pick = (candidates: Deployment[], r: SimRequest, t: number) => Deployment | undefined;

/** A baseline: deployments of the group not cooling down, ranked by `pick`, one retry. */
function baseline(
  name: string,
  world: World,
  pick: Pick,
  filter: (d: Deployment) => boolean = () => true,
  hooks: { dispatched?: (key: string) => void; observe?: (f: Feedback) => void } = {},
): SimPolicy {
  const cooldowns = new Cooldowns();
  return {
    name,
    plan(r, t) {
      let candidates = deployments(world, r.req).filter(
        (d) => filter(d) && violation(r.req, d.target) === null,
      );
      const warm = candidates.filter((d) => !cooldowns.cooling(d.key, t));
      if (warm.length > 0) candidates = warm;
      const steps: Step[] = [];
      for (let i = 0; i < 2 && candidates.length > 0; i++) {
        const d = pick(candidates, r, t);
        if (!d) break;
        steps.push({ target: d.target, model: d.model, timeoutMs: r.req.constraints.latencySlaMs });
        candidates = candidates.filter((c) => c !== d);
      }
      return { steps };
    },
    dispatched(step) {
      hooks.dispatched?.(targetKey(step.target));
    },
    observe(f) {
      if (!f.ok) cooldowns.failed(targetKey(f.target), f.at);
      hooks.observe?.(f);
    },
  };
}

function nearestTo(r: SimRequest) {
  return (candidates: Deployment[]) => {
    let best: Deployment | undefined;
    let bestKm = Number.POSITIVE_INFINITY;
    for (const d of candidates) {
      const at =
        d.target.kind === "site"
          ? d.target.site.view.location
          : d.target.kind === "cloud"
            ? d.target.region.location
            : undefined;
      const km = at && r.req.location ? distanceKm(r.req.location, at) : 500;
      if (km < bestKm) {
        bestKm = km;
        best = d;
      }
    }
    return best;
  };
}

export function cloudOnly(world: World): SimPolicy {
  return baseline(
    "cloud-only",
    world,
    (c, r) => nearestTo(r)(c),
    (d) => d.target.kind === "cloud",
  );
}

export function nearestSite(world: World): SimPolicy {
  return baseline("nearest-site", world, (c, r) => {
    const sites = c.filter((d) => d.target.kind === "site");
    return nearestTo(r)(sites.length > 0 ? sites : c);
  });
}

export function leastBusy(world: World): SimPolicy {
  const inFlight = new Map<string, number>();
  return baseline(
    "least-busy (LiteLLM)",
    world,
    (c, r) => {
      let best: Deployment | undefined;
      let fewest = Number.POSITIVE_INFINITY;
      for (const d of c) {
        // Ties broken at random, as equal counts give no reason to prefer one.
        const n = (inFlight.get(d.key) ?? 0) + hash01(r.index, stringHash(d.key)) * 0.5;
        if (n < fewest) {
          fewest = n;
          best = d;
        }
      }
      return best;
    },
    () => true,
    {
      dispatched: (key) => inFlight.set(key, (inFlight.get(key) ?? 0) + 1),
      observe: (f) => {
        const key = targetKey(f.target);
        inFlight.set(key, Math.max(0, (inFlight.get(key) ?? 0) - 1));
      },
    },
  );
}

export function latencyBased(world: World): SimPolicy {
  const history = new Map<string, number[]>();
  const average = (key: string) => {
    const h = history.get(key);
    if (!h || h.length === 0) return 0;
    return h.reduce((a, b) => a + b, 0) / h.length;
  };
  return baseline(
    "latency-based (LiteLLM)",
    world,
    (c) => {
      let best: Deployment | undefined;
      let lowest = Number.POSITIVE_INFINITY;
      for (const d of c) {
        const a = average(d.key);
        if (a < lowest) {
          lowest = a;
          best = d;
        }
      }
      return best;
    },
    () => true,
    {
      observe: (f) => {
        const key = targetKey(f.target);
        const h = history.get(key) ?? [];
        // LiteLLM records a failed call's time too, as a large latency, so it is avoided.
        h.push(f.ok ? f.latencyMs / Math.max(1, f.outputTokens) : 1_000);
        if (h.length > 10) h.shift();
        history.set(key, h);
      },
    },
  );
}

export function randomShuffle(world: World): SimPolicy {
  return baseline("random (LiteLLM shuffle)", world, (c, r, t) => {
    return c[Math.floor(hash01(r.index, t, c.length, 7) * c.length)];
  });
}
