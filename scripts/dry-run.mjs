// Proves the deploy bundle builds offline: `wrangler deploy --dry-run` into a temporary folder.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { offlineEnv } from "./offline-env.mjs";

const outdir = mkdtempSync(join(tmpdir(), "mec-router-dry-"));
try {
  const r = spawnSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir], {
    stdio: ["ignore", "pipe", "inherit"],
    env: offlineEnv(),
    encoding: "utf8",
  });
  if (r.status !== 0) {
    process.stdout.write(r.stdout ?? "");
    process.exit(r.status ?? 1);
  }
  const files = readdirSync(outdir).filter((f) => f.endsWith(".js"));
  const kib = files.reduce((n, f) => n + statSync(join(outdir, f)).size, 0) / 1024;
  console.log(`deploy bundle builds offline: ${files.join(", ")} ${kib.toFixed(0)} KiB`);
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
