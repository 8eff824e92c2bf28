// `npm run fuzz -- --runs N [--seed S] [--case I]`: the fuzz suite (test/fuzz/) with more cases
// than `npm test` runs, a fresh seed unless one is given (printed, so a failure can be replayed),
// or one case alone (`--seed S --case I`, as a failure names them).

import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000000" },
    seed: { type: "string" },
    case: { type: "string" },
  },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error("usage: npm run fuzz -- [--runs N] [--seed S] [--case I]");
  process.exit(2);
}
console.log(
  `fuzz: ${values.case === undefined ? `${runs} cases` : `case ${values.case}`}, seed ${seed}`,
);
const result = spawnSync("vitest", ["run", "--project", "fuzz"], {
  stdio: "inherit",
  env: {
    ...process.env,
    FUZZ_RUNS: String(runs),
    FUZZ_SEED: String(seed),
    ...(values.case === undefined ? {} : { FUZZ_CASE: values.case }),
  },
});
process.exit(result.status ?? 1);
