// The monitor's learning and anomaly stage: run by the consumer on the events of chunks whose D1
// batches have committed and whose messages are acked, up to 1,000 events at a time (never inside
// a batch, so the exactly-once history and rollups do not depend on it, and a failure here only
// logs).
//
// Learning (shared/learning.ts): per (target, model, network class) and per (target, model, any)
// one estimator state in `learned_parameters` (scope = target, name = `estimator:<model>:<net>`).
// The network class comes from the outcome's decision row (its `network_type`, classed with the
// default link figures of that type); an outcome whose decision is not stored feeds `any` only.
// Duplicates: the consumer cannot tell after the commit which of the chunks' outcomes were new,
// so every delivered outcome is offered, and each state keeps the ids of the last
// `RECENT_IDS` outcomes it learned from and skips those again. A redelivered chunk (committed,
// then the isolate died before the acks) or a producer's double send is therefore learned once;
// only a duplicate arriving after that many newer outcomes of the same key would count twice,
// which an EWMA with α = 0.05 tolerates.
//
// Anomalies (shared/anomaly.ts): per target, latency (mean of the successful outcomes of a
// minute) and error rate (errors / outcomes of a minute), one point per *closed* minute, read
// from the stored outcome rows (the exactly-once source), not from the chunk. The series state
// (name `anomaly:<metric>`) remembers the last minute judged; minutes up to then are never read
// again, so a replay judges nothing twice. An onset is inserted with the id
// `<metric>|<target>|<minute>` (`ON CONFLICT DO NOTHING`) in the same D1 batch as the state, so
// a lost race or a replay cannot duplicate it.
//
// Writes are check-and-set on `learned_parameters.version` (an insert that must not find the row,
// or an update of the version read); a key that lost is re-read and recomputed once.
//
// Storage note: the table has no text column for a state, so the JSON goes into `value`, whose
// REAL affinity leaves a text that is not a number as text (SQLite). `samples` holds the state's
// sample count. A reader must use raw SQL here, not drizzle's typed `value: number`.
//
// Demand (shared/learning.ts `demandProfile`): per MEC site, the requests per hour of the week for
// each model, counted from the chunk's decision events whose target is a site (`site:<id>`), in
// one row per site (scope = the site target, name `demand`): counts per model and hour-of-week
// slot, the history covered `[from, to)` (whole hours; `to` grows to the start of the current
// hour, so hours that passed without a request count as quiet) and the ids of the last
// `RECENT_DECISIONS` decisions counted. Duplicates are bounded like the estimators': a
// redelivered chunk or a double send is skipped by those ids, so only a duplicate arriving after
// that many newer decisions at the same site counts twice (one extra request in a mean over
// weeks). Decisions stamped more than an hour ahead of the clock are not counted. Written with
// the same check-and-set. `readDemandProfiles` turns the rows into `DemandProfile`s for the
// scheduled prewarm (scheduled.ts).
//
// Answer lengths (shared/answer-length.ts, in answer-lengths.ts): the share of `max_tokens` the
// successful answers used, per modality and model, pushed to the fleet directory.
//
// Last, learned decode speeds (tokens/s of the successful outcomes, over all network classes)
// go to the SiteAgents of MEC targets (`SiteAgent.learn`), whose views then carry them to the
// decision engine.

import * as z from "zod/mini";
import {
  type AnomalyMetric,
  DEFAULT_ANOMALY_CONFIG,
  observePoint,
  type SeriesState,
  seriesStateSchema,
} from "../../shared/anomaly.ts";
import { networkClass } from "../../shared/context.ts";
import type { DecisionEvent, OutcomeEvent } from "../../shared/events.ts";
import {
  DEFAULT_LEARNING_CONFIG,
  type DemandPoint,
  type DemandProfile,
  demandProfile,
  type EstimateState,
  estimateStateSchema,
  type LearningObservation,
  learningKey,
  observeMany,
} from "../../shared/learning.ts";
import { floorTo, HOUR_MS, HOURS_PER_WEEK, hourOfWeek } from "../../shared/rollup.ts";
import { DEFAULT_NETWORK } from "../../shared/route-request.ts";
import { NETWORK_TYPES, type NetworkClass, type NetworkType } from "../../shared/types.ts";
import {
  ANSWERS_CELL,
  ANSWERS_NAME,
  ANSWERS_SCOPE,
  learnAnswerLengths,
  learnsAnswerFrom,
} from "./answer-lengths.ts";
import { type Cell, compareAndSet, type Stored, storedOf } from "./learned-parameters.ts";

const MINUTE_MS = 60_000;
/** Outcome ids an estimator state remembers, to skip redelivered ones. */
export const RECENT_IDS = 256;
/** A minute is judged once it ended this long ago (late events have arrived by then). */
export const CLOSE_AFTER_MS = 30_000;
/** A new anomaly series starts from this much history (the detector warms up on 30 points). */
export const FIRST_LOOKBACK_MINUTES = 60;
/** At most this many minutes are judged per series and call (a long gap is skipped). */
export const MAX_CATCH_UP_MINUTES = 180;
/** Decode-rate samples before a learned speed is pushed to a site. */
export const MIN_DECODE_SAMPLES = 10;
/** A learned speed this close (relative) to the last one pushed to a site is not pushed again… */
export const LEARN_PUSH_TOLERANCE = 0.01;
/** …until this long after that push. */
export const LEARN_PUSH_REFRESH_MS = 60_000;
/** Decision ids a site's demand row remembers, to skip redelivered ones. */
export const RECENT_DECISIONS = 512;
/** The `learned_parameters.name` of a site's demand row. */
export const DEMAND_NAME = "demand";

export interface InsightsEnv {
  DB: D1Database;
  SITE_AGENT: Env["SITE_AGENT"];
  FLEET_DIRECTORY: Env["FLEET_DIRECTORY"];
}

export interface InsightsSummary {
  /** Estimator states written. */
  estimators: number;
  /** Anomaly onsets inserted or found (deterministic ids). */
  anomalies: number;
  /** Decode speeds a SiteAgent took. */
  pushed: number;
  /** Site demand rows written. */
  demand: number;
  /** Answer lengths learned and pushed to the fleet directory (0 or 1). */
  answers: number;
}

/**
 * Learns from the events' outcomes and judges the closed minutes of their targets. Call after
 * their chunks committed, with their valid events (new or redelivered).
 * @param now the clock: which minutes are closed, and `updated_at` / `detected_at`
 */
export async function afterCommit(
  env: InsightsEnv,
  events: readonly { type: string }[],
  now: number = Date.now(),
): Promise<InsightsSummary> {
  const outcomes = events.filter((e): e is OutcomeEvent => e.type === "outcome");
  const summary: InsightsSummary = {
    estimators: 0,
    anomalies: 0,
    pushed: 0,
    demand: 0,
    answers: 0,
  };
  const siteDecisions = events.filter(
    (e): e is DecisionEvent =>
      e.type === "decision" && (e as DecisionEvent).target.startsWith("site:"),
  );
  const demandCells = demandCellsOf(siteDecisions, now);
  const series = seriesToJudge([...new Set(outcomes.map((o) => o.finalTarget))], now);
  const answerCell = outcomes.some(learnsAnswerFrom) ? [ANSWERS_CELL] : [];
  // What every stage starts from, in one D1 batch: the outcomes' decisions and the stored cells
  // (the estimators of each target and model by name range, since their network classes come
  // from those decisions).
  const input = await readInputs(
    env.DB,
    [...new Set(outcomes.map((o) => o.decisionId))],
    [...demandCells, ...answerCell, ...series.cells],
    [...new Map(outcomes.map((o) => [cellKey(o.finalTarget, o.finalModel), o])).values()],
  );
  if (demandCells.length > 0) {
    // Its own failure must not keep the estimators and anomalies from running.
    try {
      await learnDemand(env.DB, demandCells, now, summary, input.cells);
    } catch (err) {
      log("warn", { event: "insights_demand_failed", message: message(err) });
    }
  }
  if (outcomes.length === 0) return summary;
  const { decisions } = input;
  const speeds = await learn(env.DB, outcomes, decisions, now, summary, input.cells);
  // Its own failure must not keep the anomalies and speeds from their turn.
  try {
    summary.answers = await learnAnswerLengths(
      env,
      outcomes,
      decisions,
      now,
      answerCell.length > 0
        ? { stored: input.cells.get(cellKey(ANSWERS_SCOPE, ANSWERS_NAME)) }
        : undefined,
    );
  } catch (err) {
    log("warn", { event: "insights_answers_failed", message: message(err) });
  }
  await detect(env.DB, series, now, summary, input.cells);
  for (const { target, model, tokensPerSec } of speeds) {
    if (!pushDue(target, model, tokensPerSec, now)) continue;
    const siteId = target.slice("site:".length);
    try {
      if (await env.SITE_AGENT.getByName(siteId).learn(model, { tokensPerSec })) {
        summary.pushed++;
        pushedSpeeds.set(cellKey(target, model), { tokensPerSec, at: now });
      }
    } catch (err) {
      log("warn", { event: "insights_push_failed", target, model, message: message(err) });
    }
  }
  return summary;
}

/** `<scope>\u0000<name>`: a cell's key in the maps below. */
function cellKey(scope: string, name: string): string {
  return `${scope}\u0000${name}`;
}

/**
 * Decode speeds this isolate last pushed, by site target and model. A speed within
 * `LEARN_PUSH_TOLERANCE` of the last one pushed is not pushed again until `LEARN_PUSH_REFRESH_MS`
 * after it, so an agent that took a heartbeat's rate since, or restarted, gets the learned one
 * back within that time. What is learned (D1) does not depend on this.
 */
const pushedSpeeds = new Map<string, { tokensPerSec: number; at: number }>();
/** Bounds the memos below; past it they start empty again (they are only hints). */
const MAX_MEMO_ENTRIES = 10_000;

function pushDue(target: string, model: string, tokensPerSec: number, now: number): boolean {
  const last = pushedSpeeds.get(cellKey(target, model));
  if (pushedSpeeds.size >= MAX_MEMO_ENTRIES) pushedSpeeds.clear();
  if (!last || now < last.at || now - last.at >= LEARN_PUSH_REFRESH_MS) return true;
  return Math.abs(tokensPerSec - last.tokensPerSec) > LEARN_PUSH_TOLERANCE * last.tokensPerSec;
}

interface Inputs {
  decisions: Map<string, DecisionInfo>;
  /** The cells read, by `cellKey`: a cell asked for and not here does not exist. */
  cells: Map<string, Stored>;
}

/**
 * One D1 batch: the decisions of `decisionIds`, the `cells`, and every estimator cell of each
 * (final target, final model) of `estimatorsOf`.
 */
async function readInputs(
  db: D1Database,
  decisionIds: readonly string[],
  cells: readonly Cell[],
  estimatorsOf: readonly OutcomeEvent[],
): Promise<Inputs> {
  const out: Inputs = { decisions: new Map(), cells: new Map() };
  const decisionReads: D1PreparedStatement[] = [];
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < decisionIds.length; i += 90) {
    const part = decisionIds.slice(i, i + 90);
    decisionReads.push(
      db
        .prepare(
          `SELECT event_id, network_type, target, predicted_latency_ms, modality,
             max_output_tokens FROM decisions
           WHERE event_id IN (${part.map(() => "?").join(", ")})`,
        )
        .bind(...part),
    );
  }
  const cellReads: D1PreparedStatement[] = [];
  for (let i = 0; i < cells.length; i += 45) {
    const part = cells.slice(i, i + 45);
    cellReads.push(
      db
        .prepare(
          `SELECT scope, name, value, version FROM learned_parameters
           WHERE (scope, name) IN (VALUES ${part.map(() => "(?, ?)").join(", ")})`,
        )
        .bind(...part.flatMap((c) => [c.scope, c.name])),
    );
  }
  for (const o of estimatorsOf) {
    // Names from `estimator:<model>:` up to (not with) `estimator:<model>;` (";" follows ":").
    const prefix = estimatorName(o.finalModel, "any").slice(0, -"any".length);
    cellReads.push(
      db
        .prepare(
          `SELECT scope, name, value, version FROM learned_parameters
           WHERE scope = ? AND name >= ? AND name < ?`,
        )
        .bind(o.finalTarget, prefix, `${prefix.slice(0, -1)};`),
    );
  }
  const statements = [...decisionReads, ...cellReads];
  if (statements.length === 0) return out;
  const results = await db.batch<DecisionRow | CellRow>(statements);
  for (const [i, r] of results.entries()) {
    for (const row of r.results) {
      if (i < decisionReads.length) {
        const d = row as DecisionRow;
        out.decisions.set(d.event_id, {
          network: classOfType(d.network_type),
          target: d.target,
          predictedMs: d.predicted_latency_ms,
          modality: d.modality,
          maxOutputTokens: d.max_output_tokens,
        });
      } else {
        const c = row as CellRow;
        const stored = storedOf(c);
        if (stored) out.cells.set(cellKey(c.scope, c.name), stored);
      }
    }
  }
  return out;
}

type DecisionRow = {
  event_id: string;
  network_type: string;
  target: string;
  predicted_latency_ms: number;
  modality: string;
  max_output_tokens: number;
};

type CellRow = {
  scope: string;
  name: string;
  value: unknown;
  version: number;
};

/** The stored state of each cell as `readInputs` found it, for `compareAndSet`. */
function prereadOf(cells: readonly Cell[], read: ReadonlyMap<string, Stored>) {
  return cells.map((c) => read.get(cellKey(c.scope, c.name)));
}

// ---- learning -------------------------------------------------------------------------------

const estimatorRowSchema = z.strictObject({
  v: z.literal(1),
  estimate: estimateStateSchema,
  /** Ids of the latest outcomes learned, oldest first. */
  recent: z.array(z.string()),
});
type EstimatorRow = z.infer<typeof estimatorRowSchema>;

interface EstimatorCell extends Cell {
  target: string;
  model: string;
  network: NetworkClass | "any";
  observations: { id: string; obs: LearningObservation }[];
}

interface DecisionInfo {
  network: NetworkClass;
  target: string;
  predictedMs: number;
  modality: string;
  maxOutputTokens: number;
}

/** `estimator:<model>:<network>`. */
export function estimatorName(model: string, network: NetworkClass | "any"): string {
  return `estimator:${model}:${network}`;
}

/** Updates the estimators; returns the decode speeds worth pushing to MEC sites. */
async function learn(
  db: D1Database,
  outcomes: readonly OutcomeEvent[],
  decisions: ReadonlyMap<string, DecisionInfo>,
  now: number,
  summary: InsightsSummary,
  read: ReadonlyMap<string, Stored>,
): Promise<{ target: string; model: string; tokensPerSec: number }[]> {
  const cells = new Map<string, EstimatorCell>();
  const cell = (target: string, model: string, network: NetworkClass | "any") => {
    const name = estimatorName(model, network);
    const k = `${target}\u0000${name}`;
    let c = cells.get(k);
    if (!c) {
      c = { scope: target, name, target, model, network, observations: [] };
      cells.set(k, c);
    }
    return c;
  };
  for (const o of [...outcomes].sort((a, b) => a.time - b.time)) {
    const d = decisions.get(o.decisionId);
    const obs: LearningObservation = {
      at: o.time,
      target: o.finalTarget,
      model: o.finalModel,
      // Without the decision only the `any` cell takes it (see the header).
      network: d?.network ?? "fair",
      ok: o.ok,
      latencyMs: o.latencyMs,
    };
    if (o.ttftMs !== undefined) obs.ttftMs = o.ttftMs;
    if (o.tokens) obs.outputTokens = o.tokens.output;
    // The prediction was for the decision's target; after a failover it says nothing here.
    if (d && d.target === o.finalTarget && d.predictedMs > 0) obs.predictedMs = d.predictedMs;
    const item = { id: o.id, obs };
    if (d) cell(o.finalTarget, o.finalModel, d.network).observations.push(item);
    cell(o.finalTarget, o.finalModel, "any").observations.push(item);
  }
  const finals = new Map<EstimatorCell, EstimateState>();
  const list = [...cells.values()];
  const cas = { now, preread: prereadOf(list, read) };
  const written = await compareAndSet(db, list, cas, (c, stored) => {
    const parsed = estimatorRowSchema.safeParse(stored);
    if (stored !== undefined && !parsed.success) {
      log("warn", { event: "insights_state_reset", scope: c.scope, name: c.name });
    }
    const prev: EstimatorRow | undefined = parsed.success ? parsed.data : undefined;
    const seen = new Set(prev?.recent);
    const fresh = c.observations.filter(({ id }) => {
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (prev) finals.set(c, prev.estimate);
    if (fresh.length === 0) return undefined;
    const key = learningKey({ target: c.target, model: c.model, network: c.network });
    const state = prev ? { [key]: prev.estimate } : {};
    const estimate = observeMany(
      state,
      fresh.map((f) => f.obs),
      DEFAULT_LEARNING_CONFIG,
    )[key];
    if (!estimate) return undefined;
    finals.set(c, estimate);
    const recent = [...(prev?.recent ?? []), ...fresh.map((f) => f.id)].slice(-RECENT_IDS);
    const row: EstimatorRow = { v: 1, estimate, recent };
    return { json: JSON.stringify(row), samples: estimate.n };
  });
  summary.estimators += written.length;
  const speeds: { target: string; model: string; tokensPerSec: number }[] = [];
  for (const [c, e] of finals) {
    if (c.network !== "any" || !c.target.startsWith("site:")) continue;
    if (e.tokensPerSec.n >= MIN_DECODE_SAMPLES && e.tokensPerSec.mean > 0) {
      speeds.push({ target: c.target, model: c.model, tokensPerSec: e.tokensPerSec.mean });
    }
  }
  return speeds;
}

/** The class of a network type under its default link figures (events keep only the type). */
export function classOfType(type: string): NetworkClass {
  const t: NetworkType = (NETWORK_TYPES as readonly string[]).includes(type)
    ? (type as NetworkType)
    : "unknown";
  return networkClass({ type: t, ...DEFAULT_NETWORK[t] });
}

// ---- demand ---------------------------------------------------------------------------------

const slotsSchema = z
  .array(z.number().check(z.gte(0)))
  .check(z.minLength(HOURS_PER_WEEK), z.maxLength(HOURS_PER_WEEK));

const demandRowSchema = z.strictObject({
  v: z.literal(1),
  /** The history covered, epoch ms, whole hours: [from, to). */
  from: z.number(),
  to: z.number(),
  /** Requests per hour-of-week slot (UTC), by model. */
  counts: z.record(z.string(), slotsSchema),
  /** Ids of the latest decisions counted, oldest first. */
  recent: z.array(z.string()),
});
type DemandRow = z.infer<typeof demandRowSchema>;

interface DemandCell extends Cell {
  decisions: DecisionEvent[];
}

/** One cell per site target, with its decisions oldest first (none stamped an hour ahead). */
function demandCellsOf(decisions: readonly DecisionEvent[], now: number): DemandCell[] {
  const cells = new Map<string, DemandCell>();
  for (const d of [...decisions].sort((a, b) => a.time - b.time)) {
    if (!(Number.isFinite(d.time) && d.time <= now + HOUR_MS)) continue;
    let c = cells.get(d.target);
    if (!c) {
      c = { scope: d.target, name: DEMAND_NAME, decisions: [] };
      cells.set(d.target, c);
    }
    c.decisions.push(d);
  }
  return [...cells.values()];
}

async function learnDemand(
  db: D1Database,
  cells: readonly DemandCell[],
  now: number,
  summary: InsightsSummary,
  read: ReadonlyMap<string, Stored>,
): Promise<void> {
  const cas = { now, preread: prereadOf(cells, read) };
  const written = await compareAndSet(db, cells, cas, (c, stored) => {
    const parsed = demandRowSchema.safeParse(stored);
    if (stored !== undefined && !parsed.success) {
      log("warn", { event: "insights_state_reset", scope: c.scope, name: c.name });
    }
    const prev: DemandRow | undefined = parsed.success ? parsed.data : undefined;
    const seen = new Set(prev?.recent);
    const fresh = c.decisions.filter(({ id }) => {
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (fresh.length === 0) return undefined;
    const counts: Record<string, number[]> = {};
    for (const [model, slots] of Object.entries(prev?.counts ?? {})) counts[model] = [...slots];
    let from = prev?.from ?? Number.POSITIVE_INFINITY;
    let to = Math.max(prev?.to ?? Number.NEGATIVE_INFINITY, floorTo(now, HOUR_MS));
    for (const d of fresh) {
      const slots = counts[d.model] ?? new Array<number>(HOURS_PER_WEEK).fill(0);
      counts[d.model] = slots;
      const slot = hourOfWeek(d.time);
      slots[slot] = (slots[slot] ?? 0) + 1;
      from = Math.min(from, floorTo(d.time, HOUR_MS));
      to = Math.max(to, floorTo(d.time, HOUR_MS) + HOUR_MS);
    }
    const recent = [...(prev?.recent ?? []), ...fresh.map((d) => d.id)].slice(-RECENT_DECISIONS);
    const row: DemandRow = { v: 1, from, to, counts, recent };
    const samples = Object.values(counts).reduce((n, s) => n + s.reduce((a, b) => a + b, 0), 0);
    return { json: JSON.stringify(row), samples };
  });
  summary.demand += written.length;
}

/** A stored demand row as a `DemandProfile` (UTC slots) of its site target. */
function profileOfRow(target: string, row: DemandRow): DemandProfile {
  const first = hourOfWeek(row.from);
  const points: DemandPoint[] = [];
  for (const [model, slots] of Object.entries(row.counts)) {
    for (const [slot, count] of slots.entries()) {
      if (!(count > 0)) continue;
      // The first time this slot starts in [from, to): counts only come from inside the window.
      const offset = (((slot - first) % HOURS_PER_WEEK) + HOURS_PER_WEEK) % HOURS_PER_WEEK;
      const at = row.from + offset * HOUR_MS;
      if (at < row.to) points.push({ at, target, model, count });
    }
  }
  return demandProfile(points, { from: row.from, to: row.to });
}

/** The demand profiles of all sites that have one, by site id (without `site:`). */
export async function readDemandProfiles(db: D1Database): Promise<Map<string, DemandProfile>> {
  const { results } = await db
    .prepare("SELECT scope, value FROM learned_parameters WHERE name = ? AND scope LIKE 'site:%'")
    .bind(DEMAND_NAME)
    .all<{ scope: string; value: unknown }>();
  const out = new Map<string, DemandProfile>();
  for (const r of results) {
    let value: unknown;
    try {
      value = typeof r.value === "string" ? JSON.parse(r.value) : undefined;
    } catch {
      value = undefined;
    }
    const parsed = demandRowSchema.safeParse(value);
    if (!parsed.success) continue;
    out.set(r.scope.slice("site:".length), profileOfRow(r.scope, parsed.data));
  }
  return out;
}

// ---- anomalies ------------------------------------------------------------------------------

const METRICS: readonly AnomalyMetric[] = ["latency", "error_rate"];

interface SeriesCell extends Cell {
  target: string;
  metric: AnomalyMetric;
}

interface MinuteRow {
  minute: number;
  n: number;
  errors: number;
  oks: number;
  latency: number | null;
}

/** `anomaly:<metric>`. */
export function seriesName(metric: AnomalyMetric): string {
  return `anomaly:${metric}`;
}

/** The id of the anomaly whose onset is `minute`: the same on every run. */
export function anomalyId(metric: AnomalyMetric, target: string, minute: number): string {
  return `${metric}|${target}|${minute}`;
}

/**
 * The last minute judged of each series (`cellKey(target, name)`), as this isolate last read or
 * wrote it in D1. A series' `lastAt` only grows, so while no minute after it has closed there is
 * nothing to judge and its state need not be read; otherwise D1 decides as before.
 */
const judgedThrough = new Map<string, number>();

interface Series {
  /** Minutes before `end` are closed. */
  end: number;
  /** The series that may have a closed minute to judge. */
  cells: SeriesCell[];
}

function seriesToJudge(targets: readonly string[], now: number): Series {
  const end = Math.floor((now - CLOSE_AFTER_MS) / MINUTE_MS) * MINUTE_MS;
  const cells: SeriesCell[] = targets.flatMap((target) =>
    METRICS.map((metric) => ({ scope: target, name: seriesName(metric), target, metric })),
  );
  return {
    end,
    cells: cells.filter((c) => {
      const last = judgedThrough.get(cellKey(c.scope, c.name));
      return last === undefined || last + MINUTE_MS < end;
    }),
  };
}

function judged(c: SeriesCell, state: SeriesState): void {
  if (judgedThrough.size >= MAX_MEMO_ENTRIES) judgedThrough.clear();
  judgedThrough.set(cellKey(c.scope, c.name), state.lastAt);
}

async function detect(
  db: D1Database,
  { end, cells }: Series,
  now: number,
  summary: InsightsSummary,
  read: ReadonlyMap<string, Stored>,
): Promise<void> {
  const onsets = new Map<SeriesCell, number>();
  const states = new Map<SeriesCell, SeriesState>();
  const cas = { now, preread: prereadOf(cells, read) };
  const written = await compareAndSet(db, cells, cas, async (c, stored) => {
    const parsed = seriesStateSchema.safeParse(stored);
    if (stored !== undefined && !parsed.success) {
      log("warn", { event: "insights_state_reset", scope: c.scope, name: c.name });
    }
    let state: SeriesState | undefined = parsed.success ? parsed.data : undefined;
    if (state) judged(c, state);
    const from = Math.max(
      state ? state.lastAt + MINUTE_MS : end - FIRST_LOOKBACK_MINUTES * MINUTE_MS,
      end - MAX_CATCH_UP_MINUTES * MINUTE_MS,
    );
    if (from >= end) return undefined;
    const { results } = await db
      .prepare(
        `SELECT time - time % ${MINUTE_MS} AS minute, count(*) AS n, sum(ok = 0) AS errors,
           sum(ok = 1) AS oks, avg(CASE WHEN ok = 1 THEN latency_ms END) AS latency
         FROM outcomes WHERE final_target = ? AND time >= ? AND time < ?
         GROUP BY 1 ORDER BY 1`,
      )
      .bind(c.target, from, end)
      .all<MinuteRow>();
    const cfg = DEFAULT_ANOMALY_CONFIG[c.metric];
    const tier = tierOf(c.target);
    const extra: D1PreparedStatement[] = [];
    const before = state;
    onsets.delete(c);
    for (const row of results) {
      const point =
        c.metric === "latency"
          ? row.oks > 0 && row.latency !== null
            ? { at: row.minute, value: row.latency }
            : undefined
          : { at: row.minute, value: row.errors / row.n, n: row.n };
      if (!point) continue;
      const wasAnomalous = state !== undefined && Math.abs(state.run) >= cfg.consecutive;
      const v = observePoint(state, point, cfg);
      state = v.state;
      if (v.ignored) continue;
      if (v.onset) {
        onsets.set(c, (onsets.get(c) ?? 0) + 1);
        const detail = {
          direction: v.z > 0 ? "up" : "down",
          baseline: v.baseline,
          sd: v.sd,
          requests: row.n,
        };
        extra.push(
          db
            .prepare(
              `INSERT INTO anomalies (id, detected_at, minute, kind, tier, target, model, metric,
                 observed, expected, score, severity, detail)
               VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
            )
            .bind(
              anomalyId(c.metric, c.target, row.minute),
              now,
              row.minute,
              `${c.metric}_${detail.direction}`,
              tier,
              c.target,
              c.metric,
              point.value,
              v.expected,
              v.z,
              Math.abs(v.z) >= 2 * cfg.threshold ? "critical" : "warning",
              JSON.stringify(detail),
            ),
        );
      } else if (wasAnomalous && (!v.anomalous || v.relearned)) {
        // Back to normal, or the level was accepted as the new normal.
        extra.push(
          db
            .prepare(
              `UPDATE anomalies SET resolved_at = ?
               WHERE target = ? AND metric = ? AND resolved_at IS NULL AND minute < ?`,
            )
            .bind(row.minute + MINUTE_MS, c.target, c.metric, row.minute),
        );
      }
    }
    if (!state || state === before) return undefined;
    states.set(c, state);
    return { json: JSON.stringify(state), samples: state.n, with: extra };
  });
  for (const c of written) {
    summary.anomalies += onsets.get(c) ?? 0;
    const state = states.get(c);
    if (state) judged(c, state);
  }
}

function tierOf(target: string): string {
  return target.startsWith("site:") ? "mec" : target.startsWith("cloud:") ? "cloud" : "device";
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function log(level: "warn" | "error", fields: Record<string, unknown>): void {
  console[level](JSON.stringify(fields));
}
