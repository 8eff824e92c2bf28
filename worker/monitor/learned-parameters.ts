// Check-and-set on `learned_parameters`, for the monitor's learned states: read a cell, compute
// its new value from the stored one, write it only if its version is still the one read.
//
// Storage note: the table has no text column for a state, so the JSON goes into `value`, whose
// REAL affinity leaves a text that is not a number as text (SQLite). `samples` holds the state's
// sample count. A reader must use raw SQL here, not drizzle's typed `value: number`.

export interface Cell {
  scope: string;
  name: string;
}

/** A cell as read: its parsed JSON (undefined when not JSON) and version. */
export interface Stored {
  value: unknown;
  version: number;
}

interface Write {
  json: string;
  samples: number;
  /** Run in the same D1 batch, before the state's write. */
  with?: D1PreparedStatement[];
}

/**
 * For each cell: reads it, `compute`s its new value from the stored one and writes it if the
 * version is still the one read; cells that lost are read and computed once more. `compute`
 * returns undefined for nothing to write.
 * @param opts.now stamps `updated_at`
 * @param opts.preread the cells as the caller already read them (index for index, undefined for
 *   a cell that does not exist), in place of the first read; the check-and-set holds all the same
 */
export async function compareAndSet<C extends Cell>(
  db: D1Database,
  cells: readonly C[],
  { now, preread }: { now: number; preread?: readonly (Stored | undefined)[] },
  compute: (cell: C, stored: unknown) => Promise<Write | undefined> | Write | undefined,
): Promise<C[]> {
  let pending = cells;
  const written: C[] = [];
  for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
    const stored = attempt === 0 && preread ? preread : await readCells(db, pending);
    const statements: D1PreparedStatement[] = [];
    const casAt: { cell: C; index: number }[] = [];
    for (const [i, cell] of pending.entries()) {
      const prev = stored[i];
      const write = await compute(cell, prev?.value);
      if (!write) continue;
      statements.push(...(write.with ?? []));
      casAt.push({ cell, index: statements.length });
      statements.push(
        prev === undefined
          ? db
              .prepare(
                `INSERT INTO learned_parameters (scope, name, value, samples, updated_at, version)
                 VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (scope, name) DO NOTHING`,
              )
              .bind(cell.scope, cell.name, write.json, write.samples, now)
          : db
              .prepare(
                `UPDATE learned_parameters SET value = ?, samples = ?, updated_at = ?,
                   version = version + 1
                 WHERE scope = ? AND name = ? AND version = ?`,
              )
              .bind(write.json, write.samples, now, cell.scope, cell.name, prev.version),
      );
    }
    if (statements.length === 0) break;
    const results = await db.batch(statements);
    const lost = casAt.filter(({ index }) => (results[index]?.meta.changes ?? 0) === 0);
    for (const w of casAt) if (!lost.includes(w)) written.push(w.cell);
    pending = lost.map((l) => l.cell);
    if (attempt === 1 && pending.length > 0) {
      log("warn", {
        event: "insights_cas_conflict",
        cells: pending.map((c) => `${c.scope}/${c.name}`),
      });
    }
  }
  return written;
}

async function readCells(db: D1Database, cells: readonly Cell[]): Promise<(Stored | undefined)[]> {
  if (cells.length === 0) return [];
  const results = await db.batch<{ value: unknown; version: number }>(
    cells.map((c) =>
      db
        .prepare("SELECT value, version FROM learned_parameters WHERE scope = ? AND name = ?")
        .bind(c.scope, c.name),
    ),
  );
  return results.map((r) => storedOf(r.results[0]));
}

/** A `learned_parameters` row (its raw `value` and `version`) as a `Stored` cell. */
export function storedOf(row: { value: unknown; version: number } | undefined): Stored | undefined {
  if (!row) return undefined;
  let value: unknown;
  try {
    value = typeof row.value === "string" ? JSON.parse(row.value) : undefined;
  } catch {
    value = undefined;
  }
  return { value, version: row.version };
}

function log(level: "warn", fields: Record<string, unknown>): void {
  console[level](JSON.stringify(fields));
}
