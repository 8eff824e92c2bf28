// Runs a decision's plan: primary, then backups, inside the SLA deadline. Each MEC step takes a
// lease at its site first; each cloud step asks the region's breaker. Within a step, connect
// errors, timeouts, 429 and 5xx before the first byte are retried with full-jitter backoff (or
// the upstream's Retry-After), while a shared retry budget allows it; other 4xx go back to the
// client. A stream that breaks after it started continues on the next step, which is asked to
// continue the partial answer, so the client sees one stream and one final `[DONE]`.

import { targetKey } from "../../shared/events.ts";
import type { ChatCompletion, ChatCompletionChunk } from "../../shared/openai.ts";
import { continuationRequest, sseChunkText } from "../../shared/openai-converse.ts";
import {
  backoffDelay,
  classifyFailure,
  type ErrorClass,
  planAttemptTimeout,
  type RetryBudget,
  timerFiredLate,
} from "../../shared/retry.ts";
import type { Criticality, Decision, PlanStep, RetryPolicy, Tier } from "../../shared/types.ts";
import { AppError } from "../errors.ts";
import { type HeldLease, handOnLease, noteQueueing, releaseAtSite } from "../fleet/releases.ts";
import { serviceBreakerStub, siteStub } from "../fleet/site-stub.ts";
import { SSE_DONE, sseComment, sseEvent } from "./sse.ts";
import {
  type StartedStream,
  type TierClient,
  transportFailure,
  UpstreamError,
  type UpstreamRequest,
} from "./upstream.ts";

export interface RunDeps {
  env: Env;
  clients: { mec: TierClient; cloud: TierClient };
  budget: RetryBudget;
  waitUntil(p: Promise<unknown>): void;
  now(): number;
  rand(): number;
  sleep(ms: number): Promise<void>;
  /** A stream silent this long after it started counts as broken. */
  stallMs: number;
  /** The request's class and tenant, for admission at MEC sites (shared/admission.ts). */
  admission?: { criticality: Criticality; tenant?: string | undefined };
  /**
   * How long after its grant a lease of this isolate may go on to the next request for the same
   * site and model instead of back to the agent (worker/fleet/releases.ts); absent or 0: never.
   */
  leaseReuseMs?: number;
}

export interface AttemptRecord {
  target: string;
  tier: Tier;
  ok: boolean;
  errorClass?: ErrorClass | "denied";
  status?: number;
  latencyMs: number;
  detail?: string;
}

interface Admission {
  step: PlanStep;
  lease?: HeldLease;
  service?: string;
  probe: boolean;
}

/** How attempts, headers and events name a step's target (`site:<id>`, `cloud:<region>`). */
export function targetName(step: PlanStep): string {
  return targetKey(step.target);
}

/** Every target of the plan failed or refused; says which tier and how. */
export class ExecutionFailed extends AppError {
  readonly attempts: AttemptRecord[];
  constructor(attempts: AttemptRecord[]) {
    const last = attempts.at(-1);
    const timedOut = last?.errorClass === "timeout";
    const allDenied = attempts.length > 0 && attempts.every((a) => a.errorClass === "denied");
    const status = timedOut ? 504 : allDenied ? 503 : 502;
    const code = timedOut ? "upstream_timeout" : allDenied ? "unavailable" : "upstream_error";
    const where = last ? `${last.tier} tier (${last.target})` : "no target";
    const message = allDenied
      ? "every target in the plan refused the request (capacity, breaker or drain)"
      : `the request failed on every target; last: ${where}`;
    // Refused everywhere for capacity, breakers or drains: that passes; say when to come back.
    super(status, code, message, { attempts }, allDenied ? { "retry-after": "1" } : {});
    this.attempts = attempts;
  }
}

/** An upstream rejected the request itself (4xx other than 408/429): passed on, not retried. */
export class UpstreamRejected extends AppError {
  readonly attempts: AttemptRecord[];
  constructor(status: number, tier: Tier, attempts: AttemptRecord[]) {
    super(
      status === 413 || status === 422 || status === 404 ? status : 400,
      "upstream_rejected",
      `the ${tier} tier rejected the request (HTTP ${status})`,
      { attempts },
    );
    this.attempts = attempts;
  }
}

async function admit(deps: RunDeps, step: PlanStep, deadline: number): Promise<Admission | string> {
  const t = step.target;
  if (t.kind === "site") {
    const criticality = deps.admission?.criticality;
    const tenant = deps.admission?.tenant || undefined;
    const want = { siteId: t.siteId, model: step.model, criticality, tenant };
    const ttlMs = Math.max(step.timeoutMs * 4, 30_000);
    const handed = handOnLease({ ...want, ttlMs }, deps.now(), deps.leaseReuseMs ?? 0);
    if (handed) return { step, lease: handed, probe: false };
    const res = await siteStub(deps.env, t.siteId).reserve({
      model: step.model,
      ttlMs,
      budgetMs: Math.max(0, deadline - deps.now()),
      ...(criticality ? { criticality } : {}),
      ...(tenant ? { tenant } : {}),
    });
    if (!res.granted) {
      if (res.reason === "capacity") noteQueueing(t.siteId, true);
      return res.reason;
    }
    const { leaseId, probe, queued, expiresAt } = res;
    noteQueueing(t.siteId, queued);
    const lease = { ...want, leaseId, probe, queued, expiresAt, grantedAt: deps.now() };
    return { step, lease, probe };
  }
  if (t.kind === "cloud") {
    const service = `bedrock:${t.region}`;
    const gate = await serviceBreakerStub(deps.env, service).acquire(service);
    return gate.admitted ? { step, service, probe: gate.probe } : "breaker";
  }
  return "device";
}

/**
 * Feeds the outcome back (lease release or cloud breaker), after the response. `ttftMs` (known
 * for streams) is what the breaker judges slow; a long complete answer is not a slow site.
 * `timedOut`: the attempt's timer expired, which the site agent does not hold against a site
 * whose queue the request waited in.
 */
function settle(
  deps: RunDeps,
  adm: Admission,
  ok: boolean,
  latencyMs: number,
  ttftMs?: number,
  timedOut = false,
): void {
  const timing = ttftMs === undefined ? { latencyMs } : { latencyMs, ttftMs };
  if (adm.lease) {
    const outcome = { ok, ...timing, ...(timedOut ? { timedOut } : {}) };
    // With the isolate's other releases of the moment, in one call, unless the next request
    // takes the lease over first (fleet/releases.ts).
    deps.waitUntil(releaseAtSite(deps.env, adm.lease, outcome));
  } else if (adm.service) {
    const outcome = {
      ok,
      probe: adm.probe,
      ...(ttftMs === undefined ? {} : { durationMs: ttftMs }),
    };
    deps.waitUntil(serviceBreakerStub(deps.env, adm.service).record(adm.service, outcome));
  }
}

/**
 * Hands the lease (or the breaker's probe) back with no verdict on the target: the router, not
 * the target, ran out of time — its attempt timer fired late, or no time was left to try.
 */
function settleUnjudged(deps: RunDeps, adm: Admission): void {
  if (adm.lease) {
    deps.waitUntil(releaseAtSite(deps.env, adm.lease));
  } else if (adm.service && adm.probe) {
    deps.waitUntil(serviceBreakerStub(deps.env, adm.service).abandonProbe(adm.service));
  }
}

/** A failed attempt that will be retried still counts against the target's breaker. */
function reportFailedAttempt(
  deps: RunDeps,
  adm: Admission,
  latencyMs: number,
  timedOut: boolean,
): void {
  const t = adm.step.target;
  if (t.kind === "site") {
    const outcome = { ok: false, latencyMs, ...(timedOut ? { timedOut } : {}) };
    deps.waitUntil(siteStub(deps.env, t.siteId).reportOutcome(outcome, adm.lease?.leaseId));
  }
}

function clientFor(deps: RunDeps, step: PlanStep): TierClient {
  return step.tier === "cloud" ? deps.clients.cloud : deps.clients.mec;
}

function asUpstreamError(err: unknown, signal: AbortSignal): UpstreamError {
  if (err instanceof UpstreamError) {
    // A timer that fired while the client was reading is still a timeout.
    if (err.failure === undefined || !signal.aborted) return err;
    return new UpstreamError(err.message, { failure: transportFailure(err, signal) });
  }
  return new UpstreamError(err instanceof Error ? err.message : "upstream failed", {
    failure: transportFailure(err, signal),
  });
}

/**
 * Tries one step: admission, then attempts with retries. Returns the result, or undefined to move
 * on to the next step; throws for a client-side error that no other target would fix.
 */
async function runStep<T>(
  deps: RunDeps,
  step: PlanStep,
  deadline: number,
  retry: RetryPolicy,
  attempts: AttemptRecord[],
  call: (signal: AbortSignal) => Promise<T>,
  clientSignal: AbortSignal | undefined,
): Promise<
  | {
      value: T;
      adm: Admission;
      startedAt: number;
      firstByteMs: number;
      /** This attempt's entry in `attempts`, amended if a stream breaks later. */
      record: AttemptRecord;
      stop: () => void;
    }
  | undefined
> {
  const target = targetName(step);
  const admitted = await admit(deps, step, deadline);
  if (typeof admitted === "string") {
    attempts.push({
      target,
      tier: step.tier,
      ok: false,
      errorClass: "denied",
      latencyMs: 0,
      detail: admitted,
    });
    return undefined;
  }
  for (let attempt = 0; ; attempt++) {
    const timeout = planAttemptTimeout(deadline, deps.now(), step.timeoutMs);
    if (timeout <= 0) {
      settleUnjudged(deps, admitted);
      attempts.push({
        target,
        tier: step.tier,
        ok: false,
        errorClass: "timeout",
        latencyMs: 0,
        detail: "deadline",
      });
      return undefined;
    }
    // The timer bounds the attempt until it answers (a stream: until its first chunk); the
    // controller also stops a started stream when the plan moves on.
    const controller = new AbortController();
    const due = deps.now() + timeout;
    let lateMs = 0;
    const timer = setTimeout(() => {
      lateMs = deps.now() - due;
      controller.abort(new DOMException("attempt timed out", "TimeoutError"));
    }, timeout);
    const signal = clientSignal
      ? AbortSignal.any([controller.signal, clientSignal])
      : controller.signal;
    const t0 = deps.now();
    try {
      const value = await call(signal);
      clearTimeout(timer);
      const firstByteMs = deps.now() - t0;
      const record = { target, tier: step.tier, ok: true, latencyMs: firstByteMs };
      attempts.push(record);
      return {
        value,
        adm: admitted,
        startedAt: t0,
        firstByteMs,
        record,
        stop: () => controller.abort(),
      };
    } catch (err) {
      clearTimeout(timer);
      const e = asUpstreamError(err, signal);
      const latencyMs = deps.now() - t0;
      const verdict = classifyFailure({
        ...(e.status === undefined ? {} : { status: e.status }),
        ...(e.failure === undefined ? {} : { error: e.failure }),
        afterFirstByte: false,
      });
      const timedOut = verdict.errorClass === "timeout";
      const routerLate = timedOut && timerFiredLate(timeout, lateMs);
      attempts.push({
        target,
        tier: step.tier,
        ok: false,
        errorClass: verdict.errorClass,
        latencyMs,
        ...(e.status === undefined ? {} : { status: e.status }),
        ...(routerLate ? { detail: "router busy" } : {}),
      });
      if (!verdict.retryable && !verdict.failover) {
        // The site worked; the request was at fault (or the client left).
        settle(deps, admitted, e.status !== undefined, latencyMs);
        if (e.status !== undefined) throw new UpstreamRejected(e.status, step.tier, attempts);
        throw new ExecutionFailed(attempts);
      }
      const more = attempt + 1 < retry.maxAttempts;
      if (verdict.retryable && more && deps.budget.tryRetry(deps.now())) {
        if (!routerLate) reportFailedAttempt(deps, admitted, latencyMs, timedOut);
        const wait = Math.max(
          e.retryAfterMs ?? 0,
          backoffDelay(
            attempt,
            { baseMs: retry.baseDelayMs, capMs: retry.maxDelayMs },
            deps.rand(),
          ),
        );
        if (deps.now() + wait < deadline) {
          await deps.sleep(wait);
          continue;
        }
      }
      if (routerLate) settleUnjudged(deps, admitted);
      else settle(deps, admitted, false, latencyMs, undefined, timedOut);
      return undefined;
    }
  }
}

function executableSteps(d: Decision): PlanStep[] {
  return [d.plan.primary, ...d.plan.backups].filter((s) => s.tier !== "device");
}

export interface CompleteResult {
  completion: ChatCompletion;
  step: PlanStep;
  attempts: AttemptRecord[];
}

/** Runs the plan for a non-streamed request. */
export async function runComplete(
  deps: RunDeps,
  decision: Decision,
  req: UpstreamRequest,
  deadline: number,
  clientSignal?: AbortSignal,
): Promise<CompleteResult> {
  deps.budget.recordRequest(deps.now());
  const attempts: AttemptRecord[] = [];
  for (const step of executableSteps(decision)) {
    const client = clientFor(deps, step);
    const done = await runStep(
      deps,
      step,
      deadline,
      decision.plan.retry,
      attempts,
      (signal) => client.complete(step, req, signal),
      clientSignal,
    );
    if (done) {
      settle(deps, done.adm, true, deps.now() - done.startedAt);
      return { completion: done.value, step, attempts };
    }
  }
  throw new ExecutionFailed(attempts);
}

export interface StreamEnd {
  ok: boolean;
  attempts: AttemptRecord[];
  /** Until the first chunk of the first stream. */
  ttftMs: number;
  usage: { prompt_tokens: number; completion_tokens: number };
}

export interface StreamResult {
  step: PlanStep;
  attempts: AttemptRecord[];
  body: ReadableStream<Uint8Array>;
}

/**
 * Runs the plan for a streamed request. Resolves once a first chunk is in hand (so the caller
 * can still answer with an error status when nothing started); the body then carries the whole
 * answer, across failovers, ending with `[DONE]`.
 */
export async function runStream(
  deps: RunDeps,
  decision: Decision,
  req: UpstreamRequest,
  deadline: number,
  opts: {
    id: string;
    includeUsage: boolean;
    clientSignal?: AbortSignal;
    /** Called once when the stream has ended, however it ended. */
    onDone?: (end: StreamEnd) => void;
  },
): Promise<StreamResult> {
  deps.budget.recordRequest(deps.now());
  const attempts: AttemptRecord[] = [];
  const steps = executableSteps(decision);
  const open = async (from: number, request: UpstreamRequest) => {
    for (let i = from; i < steps.length; i++) {
      const step = steps[i] as PlanStep;
      const client = clientFor(deps, step);
      const started = await runStep(
        deps,
        step,
        deadline,
        decision.plan.retry,
        attempts,
        (signal) => client.stream(step, request, signal),
        opts.clientSignal,
      );
      if (started) return { index: i, step, ...started };
    }
    return undefined;
  };

  const first = await open(0, req);
  if (!first) throw new ExecutionFailed(attempts);

  let current = first;
  let text = "";
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      let stream: StartedStream = current.value;
      let chunk: ChatCompletionChunk | undefined = stream.first;
      let continuing = false;
      let failed = false;
      for (;;) {
        try {
          while (chunk) {
            const out = forward(chunk, opts.id, continuing);
            continuing = false;
            if (out) {
              text += sseChunkText(out);
              controller.enqueue(sseEvent(out));
            }
            const u = (chunk as { usage?: typeof usage | null }).usage;
            if (u) {
              usage.prompt_tokens = Math.max(usage.prompt_tokens, u.prompt_tokens ?? 0);
              usage.completion_tokens += u.completion_tokens ?? 0;
            }
            chunk = await nextWithin(stream.rest, deps.stallMs);
          }
          settle(deps, current.adm, true, deps.now() - current.startedAt, current.firstByteMs);
          break;
        } catch (err) {
          // Broke after it started: never retried in place; continue on the next step.
          const latencyMs = deps.now() - current.startedAt;
          Object.assign(current.record, {
            ok: false,
            errorClass: "stream",
            latencyMs,
            detail: err instanceof StallError ? "stalled" : "broken",
          });
          settle(deps, current.adm, false, latencyMs, current.firstByteMs);
          current.stop();
          stream.cancel().catch(() => {});
          const next = await open(current.index + 1, continuationRequest(req, text));
          if (!next) {
            failed = true;
            controller.enqueue(
              sseEvent({
                error: {
                  message: "the stream broke and no backup could continue it",
                  type: "upstream_error",
                  code: "stream_failed",
                },
              }),
            );
            break;
          }
          current = next;
          stream = next.value;
          chunk = stream.first;
          continuing = true;
        }
      }
      if (opts.includeUsage) {
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
        controller.enqueue(
          sseEvent({
            id: opts.id,
            object: "chat.completion.chunk",
            created: Math.floor(deps.now() / 1000),
            model: current.step.model,
            choices: [],
            usage,
          }),
        );
      }
      // Headers left with the first chunk; an SSE comment (ignored by OpenAI clients) says where
      // the stream ended up and how many attempts it took, failovers included.
      controller.enqueue(
        sseComment(
          `x-mec-target=${targetName(current.step)} x-mec-tier=${current.step.tier} x-mec-attempts=${attempts.length}`,
        ),
      );
      controller.enqueue(SSE_DONE);
      controller.close();
      opts.onDone?.({ ok: !failed, attempts, ttftMs: first.firstByteMs, usage });
    },
    cancel() {
      // The client went away: stop the upstream too.
      current.stop();
      current.value.cancel().catch(() => {});
    },
  });
  return { step: first.step, attempts, body };
}

class StallError extends Error {}

/** The next chunk, or a StallError when the upstream stays silent for `ms`. */
async function nextWithin(
  it: AsyncIterator<ChatCompletionChunk>,
  ms: number,
): Promise<ChatCompletionChunk | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StallError("stream stalled")), ms);
  });
  try {
    const r = await Promise.race([it.next(), stall]);
    return r.done ? undefined : r.value;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The chunk as the client sees it: our response id, usage held back (summed at the end), and a
 * continuation's opening role-only chunk dropped so the stream reads as one answer.
 */
function forward(
  chunk: ChatCompletionChunk,
  id: string,
  continuing: boolean,
): ChatCompletionChunk | undefined {
  if (chunk.choices.length === 0) return undefined;
  if (continuing && sseChunkText(chunk) === "" && !chunk.choices[0]?.finish_reason)
    return undefined;
  const { usage: _usage, ...rest } = chunk as ChatCompletionChunk & { usage?: unknown };
  return { ...rest, id } as ChatCompletionChunk;
}
