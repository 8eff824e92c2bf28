// Pins the benchmark to one core on Linux: re-executes the same command under `taskset -c <cpu>`
// and exits with its status. Pinning keeps the scheduler from moving the process between cores
// mid-measurement; it does not keep other processes off that core.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Pinning {
  pinned: boolean;
  cpu?: number;
  /** How it was (or why it was not) pinned. */
  how: string;
}

const CHILD_ENV = "MEC_BENCH_PINNED_CPU";

/** CPUs this process may run on, from `/proc/self/status`; undefined off Linux. */
export function allowedCpus(): number[] | undefined {
  let status: string;
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    return undefined;
  }
  const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1];
  if (!list) return undefined;
  const cpus: number[] = [];
  for (const part of list.trim().split(",")) {
    const [from, to] = part.split("-").map(Number);
    if (from === undefined || Number.isNaN(from)) continue;
    for (let c = from; c <= (to ?? from); c++) cpus.push(c);
  }
  return cpus;
}

/**
 * In the parent: re-executes under `taskset` and never returns, unless pinning is off or not
 * possible. In the re-executed child: reports the affinity it actually has.
 * @param enabled false for `--no-pin`
 * @param preferred CPU to use; defaults to the last allowed one (CPU 0 takes most interrupts)
 */
export function pinToOneCore(enabled: boolean, preferred?: number): Pinning {
  const cpus = allowedCpus();
  if (process.env[CHILD_ENV] !== undefined) {
    const cpu = cpus?.length === 1 ? cpus[0] : undefined;
    return cpu === undefined
      ? { pinned: false, how: `taskset ran, but affinity is ${cpus?.join(",") ?? "unknown"}` }
      : { pinned: true, cpu, how: `taskset -c ${cpu}` };
  }
  if (!enabled) return { pinned: false, how: "--no-pin" };
  if (cpus?.length === 1) {
    const cpu = cpus[0] as number;
    return { pinned: true, cpu, how: "already restricted to one CPU" };
  }
  const cpu = preferred ?? cpus?.at(-1) ?? 0;
  const probe = spawnSync("taskset", ["-c", String(cpu), "true"], { stdio: "ignore" });
  if (probe.error) return { pinned: false, how: "taskset not available" };
  if (probe.status !== 0) return { pinned: false, how: `taskset -c ${cpu} refused` };
  const child = spawnSync(
    "taskset",
    ["-c", String(cpu), process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: "inherit", env: { ...process.env, [CHILD_ENV]: String(cpu) } },
  );
  process.exit(child.status ?? 1);
}
