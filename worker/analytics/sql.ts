// Small SQL pieces the analytics queries share. Window bounds and steps are integers this code
// computed (never client text), inlined so SQLite does integer arithmetic on them whatever
// type a bound parameter would get.

import { type SQL, sql } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { AnalyticsWindow } from "../../shared/analytics-window.ts";

export function int(n: number): SQL {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
  return sql.raw(String(n));
}

/** The start of the window bucket holding `minute` (a column of epoch-ms minute starts). */
export function bucketOf(w: AnalyticsWindow, minute: SQL | unknown): SQL {
  return sql`(${int(w.from)} + ((${minute} - ${int(w.from)}) / ${int(w.stepMs)}) * ${int(w.stepMs)})`;
}

/** `minute` inside `[w.from, w.to)`. */
export function inWindow(w: AnalyticsWindow, minute: SQL | unknown): SQL {
  return sql`${minute} >= ${int(w.from)} AND ${minute} < ${int(w.to)}`;
}

/** Conditions joined with AND; `undefined` ones are left out. */
export function where(...conditions: (SQL | undefined)[]): SQL {
  const kept = conditions.filter((c): c is SQL => c !== undefined);
  return kept.length === 0 ? sql`1` : sql.join(kept, sql` AND `);
}

const dialect = new SQLiteAsyncDialect();

/** Runs a query built with drizzle's `sql` and answers its rows. */
export async function rows<T>(d1: D1Database, query: SQL): Promise<T[]> {
  const q = dialect.sqlToQuery(query);
  const { results } = await d1
    .prepare(q.sql)
    .bind(...q.params)
    .all<T>();
  return results;
}
