// How busy the machine was with work other than ours during a measurement: CPU time of every
// process (from /proc/stat) minus the CPU time of this process and its descendants (from
// /proc/<pid>/stat). A benchmark discards runs during which other work took more than a
// threshold of a core. Linux only; elsewhere `foreignCores` is null.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

interface Sample {
  at: number;
  busyTicks: number;
  ourTicks: number;
  serverTicks: number;
}

/** A process's command name, parent and CPU time so far (ticks), or undefined once it is gone. */
export function readStat(pid: number): { comm: string; ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may contain spaces: state ppid … utime(14) stime(15).
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
    return { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU time used so far by `pids`, in ms. */
export function cpuTimeMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** This process and all its descendants, alive now. */
export function ourProcesses(root = process.pid): number[] {
  const children = new Map<number, number[]>();
  let pids: number[];
  try {
    pids = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [root];
  }
  for (const pid of pids) {
    const s = readStat(pid);
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

function sample(pids: readonly number[], servers: ReadonlySet<number>): Sample | undefined {
  let busyTicks: number;
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    busyTicks =
      (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  } catch {
    return undefined;
  }
  let ourTicks = 0;
  let serverTicks = 0;
  for (const pid of pids) {
    const ticks = readStat(pid)?.ticks ?? 0;
    ourTicks += ticks;
    if (servers.has(pid)) serverTicks += ticks;
  }
  return { at: performance.now(), busyTicks, ourTicks, serverTicks };
}

export interface CpuUse {
  /** Cores other processes kept busy on average. */
  foreignCores: number;
  /** CPU seconds the `servers` used (10 ms resolution). */
  serverCpuS: number;
}

/**
 * Starts watching `pids` (ours: see `ourProcesses`), of which `servers` are the servers; `stop()`
 * answers what other processes and our servers used since, or null off Linux.
 */
export function watchCpu(
  pids: readonly number[],
  servers: readonly number[] = [],
): { stop(): CpuUse | null } {
  const serverSet = new Set(servers);
  const start = sample(pids, serverSet);
  return {
    stop() {
      const end = sample(pids, serverSet);
      if (!start || !end) return null;
      const seconds = (end.at - start.at) / 1000;
      if (seconds <= 0) return null;
      const foreign = end.busyTicks - start.busyTicks - (end.ourTicks - start.ourTicks);
      return {
        foreignCores: Math.max(0, foreign / TICKS_PER_SECOND / seconds),
        serverCpuS: (end.serverTicks - start.serverTicks) / TICKS_PER_SECOND,
      };
    },
  };
}
