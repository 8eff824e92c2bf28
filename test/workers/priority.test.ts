// Priority scheduling on the wire: a site registered with `scheduling: "priority"` receives each
// request's vLLM `priority` from its criticality; a site in arrival order (the default) never
// does — a real vLLM under fcfs refuses a non-zero one, as the demo site does.

import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";

const OPERATOR = { authorization: "Bearer dev-operator-key" };
const PRIORITY_SITE = inject("prioritySiteUrl");
const FCFS_SITE = inject("fcfsSiteUrl");

function registration(id: string, endpoint: string, country: string, scheduling?: string) {
  return {
    id,
    name: id,
    location: { lat: 47.37, lon: 8.54 },
    country,
    trusted: true,
    certifications: ["iso27001"],
    endpoint: `${endpoint}/v1`,
    capacity: { maxConcurrent: 16, maxQueue: 16, gpus: 1, gpuMemoryGb: 24 },
    cost: { gpuHourUsd: 1 },
    models: [{ model: "llama-3.1-8b" }],
    residentModels: ["llama-3.1-8b"],
    ...(scheduling === undefined ? {} : { scheduling }),
  };
}

function put(id: string, body: unknown) {
  return exports.default.fetch(`http://router.test/v1/sites/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...OPERATOR },
    body: JSON.stringify(body),
  });
}

/**
 * Strict privacy and one country keep each request on the one site there; the 8B model serves
 * every class (critical work needs its quality).
 */
function chat(country: string, criticality: string, stream = false) {
  return exports.default.fetch("http://router.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer dev-device-key" },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Which cell serves the station?" }],
      max_tokens: 16,
      stream,
      mec: {
        criticality,
        location: { lat: 47.37, lon: 8.54 },
        constraints: { privacy: "strict", latencySlaMs: 20_000, dataResidency: [country] },
      },
    }),
  });
}

async function priorities(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/control/stats`);
  return ((await res.json()) as { priorities: Record<string, number> }).priorities;
}

beforeAll(async () => {
  expect(
    (await put("prio-ch", registration("prio-ch", PRIORITY_SITE, "CH", "priority"))).status,
  ).toBe(200);
  expect((await put("fcfs-at", registration("fcfs-at", FCFS_SITE, "AT"))).status).toBe(200);
});

describe("priority scheduling", () => {
  it("sends a priority site each request's priority from its criticality", async () => {
    const before = await priorities(PRIORITY_SITE);
    const cases = [
      ["critical", "0", false],
      ["standard", "1", true],
      ["sheddable", "2", false],
    ] as const;
    for (const [criticality, priority, stream] of cases) {
      const res = await chat("CH", criticality, stream);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-mec-target")).toBe("site:prio-ch");
      await res.text();
      const after = await priorities(PRIORITY_SITE);
      expect((after[priority] ?? 0) - (before[priority] ?? 0)).toBe(1);
      before[priority] = after[priority] ?? 0;
    }
    expect((await priorities(PRIORITY_SITE)).none ?? 0).toBe(0);
  });

  it("sends none to a site scheduling in arrival order, which would refuse it", async () => {
    for (const criticality of ["critical", "standard", "sheddable"]) {
      const res = await chat("AT", criticality);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-mec-target")).toBe("site:fcfs-at");
      await res.text();
    }
    expect(await priorities(FCFS_SITE)).toEqual({ none: 3 });
  });

  it("keeps the scheduling in the registration and the fleet view; refuses unknown ones", async () => {
    const res = await exports.default.fetch("http://router.test/v1/sites/prio-ch", {
      headers: OPERATOR,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      registration: { scheduling?: string };
      view: { scheduling?: string; load: { waitingByClass?: Record<string, number> } };
    };
    expect(body.registration.scheduling).toBe("priority");
    expect(body.view.scheduling).toBe("priority");
    expect(body.view.load.waitingByClass).toEqual({ critical: 0, standard: 0, sheddable: 0 });
    const bad = await put("lifo-ch", registration("lifo-ch", PRIORITY_SITE, "CH", "lifo"));
    expect(bad.status).toBe(400);
    const error = (await bad.json()) as { error: { code: string; details: unknown } };
    expect(JSON.stringify(error.error.details)).toContain("scheduling");
  });

  it("treats a site registered priority that refuses one as fcfs, until it is registered again", async () => {
    // The operator's mistake: the fcfs demo site registered as a priority site.
    const reg = registration("mixup-li", FCFS_SITE, "LI", "priority");
    expect((await put("mixup-li", reg)).status).toBe(200);
    const before = await priorities(FCFS_SITE);
    const delta = async () => {
      const after = await priorities(FCFS_SITE);
      return Object.fromEntries(
        Object.entries(after)
          .map(([k, v]) => [k, v - (before[k] ?? 0)])
          .filter(([, v]) => v !== 0),
      );
    };
    // Refused with priority 1 (vLLM's 400), sent again without one: the client gets its answer.
    const first = await chat("LI", "standard");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-mec-target")).toBe("site:mixup-li");
    await first.text();
    expect(await delta()).toEqual({ "1": 1, none: 1 });
    const detail = async () => {
      const res = await exports.default.fetch("http://router.test/v1/sites/mixup-li", {
        headers: OPERATOR,
      });
      return (await res.json()) as {
        registration: { scheduling?: string };
        view: { scheduling?: string };
        priorityRefused?: boolean;
      };
    };
    // The agent hears of it after the answer.
    for (let i = 0; i < 100 && !(await detail()).priorityRefused; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await detail()).toMatchObject({
      registration: { scheduling: "priority" },
      view: { scheduling: "fcfs" },
      priorityRefused: true,
    });
    // From then on no priority is sent.
    for (const criticality of ["standard", "sheddable"]) {
      const res = await chat("LI", criticality);
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(await delta()).toEqual({ "1": 1, none: 3 });
    // Registered again, the registration is believed again.
    expect((await put("mixup-li", reg)).status).toBe(200);
    expect(await detail()).toMatchObject({ view: { scheduling: "priority" } });
    expect((await detail()).priorityRefused).toBeUndefined();
  });
});
