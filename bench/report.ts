// What every benchmark reports the same way: the machine and code it ran on, the opening lines of
// its table, and its results files (bench/results/<name>.json and a dated copy).

import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import type { Pinning } from "./pin.ts";

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The commit, and whether shared/ (the code measured) had uncommitted changes. */
function codeVersion(): { commit: string | null; sharedModified: boolean | null } {
  const git = (...args: string[]) => spawnSync("git", args, { encoding: "utf8" });
  const head = git("rev-parse", "--short", "HEAD");
  if (head.status !== 0) return { commit: null, sharedModified: null };
  const status = git("status", "--porcelain", "--", "shared");
  return { commit: head.stdout.trim(), sharedModified: status.stdout.trim() !== "" };
}

export interface RunContext {
  name: string;
  date: Date;
  cpuModel: string;
  load: number[];
  code: { commit: string | null; sharedModified: boolean | null };
  pinning: Pinning;
}

export function runContext(name: string, pinning: Pinning): RunContext {
  return {
    name,
    date: new Date(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    load: loadavg().map((x) => round(x)),
    code: codeVersion(),
    pinning,
  };
}

/** The first lines of a benchmark's printout: what, when, which code, which machine, pinning. */
export function headerLines(ctx: RunContext, title: string): string[] {
  const { code, pinning } = ctx;
  return [
    `${title} — ${ctx.date.toISOString()} — commit ${code.commit ?? "unknown"}` +
      `${code.sharedModified ? " + uncommitted changes in shared/" : ""}`,
    `node ${process.version} (V8 ${process.versions.v8}), ${ctx.cpuModel}, ${cpus().length} CPUs, load ${ctx.load.join(" ")}`,
    `pinned: ${pinning.pinned ? `yes, CPU ${pinning.cpu} (${pinning.how})` : `no (${pinning.how})`}; ` +
      `gc between passes: ${globalThis.gc ? "yes" : "no (run with --expose-gc)"}`,
  ];
}

/** Writes the report, with the machine and code fields, as `<name>.json` and as a dated copy. */
export function writeResults(ctx: RunContext, results: Record<string, unknown>): void {
  const report = {
    benchmark: ctx.name,
    date: ctx.date.toISOString(),
    node: process.version,
    v8: process.versions.v8,
    ...ctx.code,
    cpuModel: ctx.cpuModel,
    cpuCount: cpus().length,
    platform: `${process.platform}-${process.arch}`,
    pinned: ctx.pinning.pinned,
    pinning: ctx.pinning,
    gcBetweenPasses: Boolean(globalThis.gc),
    loadAvgAtStart: ctx.load,
    loadAvgAtEnd: loadavg().map((x) => round(x)),
    ...results,
  };
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(new URL(`${ctx.name}.json`, dir), json);
  writeFileSync(new URL(`${ctx.name}-${ctx.date.toISOString().slice(0, 10)}.json`, dir), json);
}

/** Writes an SVG chart as bench/results/<name>.svg (the README embeds it). */
export function writeChart(name: string, svg: string): void {
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.svg`, dir), svg);
}
