// The scenarios of `npm run bench:quality`: each a workload and what happens to the fleet.

import { simWorld } from "./fleet.ts";
import type { WorkloadSpec } from "./workload.ts";
import type { World } from "./world.ts";

export interface Scenario {
  id: string;
  title: string;
  spec: WorkloadSpec;
  /** A fresh world for one policy's run (the same for every policy). */
  world(seed: number): World;
}

const BASE: WorkloadSpec = {
  durationMs: 600_000,
  peakPerSec: 45,
  users: 4_000,
  privacy: { strict: 0.1, sensitive: 0.25 },
};

/** The scenarios at `scale` (1 = ten simulated minutes at 45 requests/s at the peak). */
export function scenarios(scale = 1): Scenario[] {
  const base = { ...BASE, durationMs: Math.round(BASE.durationMs * scale) };
  const d = base.durationMs;
  return [
    { id: "steady", title: "steady state", spec: base, world: (s) => simWorld(s) },
    {
      id: "flash-crowd",
      title: "flash crowd at one site (Berlin, ×8 for 15 % of the run)",
      spec: { ...base, flashCrowd: { metro: "berlin", from: 0.45, to: 0.6, factor: 8 } },
      world: (s) => simWorld(s),
    },
    {
      id: "site-failure",
      title: "a site fails mid-run and returns (paris-1, 30 %–60 % of the run)",
      spec: base,
      world: (s) => {
        const w = simWorld(s);
        const site = w.sites.find((x) => x.view.id === "paris-1");
        if (site) site.down.push([0.3 * d, 0.6 * d]);
        return w;
      },
    },
    {
      id: "cold-start",
      title: "a new popular model (qwen2.5-7b, resident nowhere; 35 % of text from 20 %)",
      spec: { ...base, newModel: { model: "qwen2.5-7b", from: 0.2, share: 0.35 } },
      world: (s) => simWorld(s, ["qwen2.5-7b"]),
    },
    {
      id: "privacy-heavy",
      title: "privacy-heavy population (45 % strict, 40 % sensitive)",
      spec: { ...base, privacy: { strict: 0.45, sensitive: 0.4 } },
      world: (s) => simWorld(s),
    },
    {
      id: "mobility",
      title: "devices moving between sites (40 % travelling between metros)",
      spec: { ...base, movers: 0.4 },
      world: (s) => simWorld(s),
    },
  ];
}
