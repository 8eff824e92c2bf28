// POST /v1/infer — any modality: the `/v1/route` body plus the `input` to run. The device tier is
// a candidate here: when the phone is the best place, the answer is the decision with
// `"executed": false`; otherwise the request runs at the chosen MEC site or in the cloud, with
// the same retries and failover as /v1/chat/completions.

import { Hono } from "hono";
import * as z from "zod/mini";
import {
  type ChatCompletionRequest,
  chatMessageSchema,
  remoteMediaPaths,
} from "../../shared/openai.ts";
import { routeRequestSchema } from "../../shared/route-request.ts";
import { requireRole } from "../auth.ts";
import { decideRequest, routeAnswer } from "../decide-request.ts";
import { InvalidRequest, refuseRemoteMedia } from "../errors.ts";
import { executionDeps } from "../execute/deps.ts";
import { recordFailure, recordOutcome, tokensOf } from "../execute/record-outcome.ts";
import { runComplete, targetName } from "../execute/run-plan.ts";
import type { AppEnv } from "../types.ts";
import { limitBody, readJson } from "../validate.ts";

export const inferApp = new Hono<AppEnv>();

export const MAX_INFER_BODY_BYTES = 8 * 1024 * 1024;

const base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]+={0,2}$/, "expected base64"));
const mediaSchema = z.strictObject({
  type: z.enum(["image", "audio", "video"]),
  data: z.optional(base64),
  /** A `data:` URL; remote URLs are refused (nothing fetches them). */
  url: z.optional(z.string()),
  /**
   * `png`, `jpeg`, `webp`, `gif` for images (default jpeg); `wav`, `mp3` for audio (default wav);
   * `mp4`, `webm`, `mov`, `mkv`, … for video (default mp4).
   */
  format: z.optional(z.string().check(z.regex(/^[a-z0-9]{2,8}$/))),
});

export const inferSchema = z.extend(routeRequestSchema, {
  input: z.strictObject({
    prompt: z.optional(z.string().check(z.maxLength(1_000_000))),
    messages: z.optional(z.array(chatMessageSchema).check(z.maxLength(4096))),
    media: z.optional(z.array(mediaSchema).check(z.maxLength(16))),
  }),
});
type InferBody = z.infer<typeof inferSchema>;

/** The input as an OpenAI chat request: history, then the prompt with its media. */
function chatRequest(body: InferBody, maxTokens: number): ChatCompletionRequest {
  const parts: Record<string, unknown>[] = [];
  if (body.input.prompt) parts.push({ type: "text", text: body.input.prompt });
  for (const [i, m] of (body.input.media ?? []).entries()) {
    const path = `input.media.${i}`;
    if (!m.data && !m.url)
      throw new InvalidRequest("media needs data or url", [
        { path, message: "give data (base64) or url" },
      ]);
    if (m.type === "image") {
      const url = m.url ?? `data:image/${m.format ?? "jpeg"};base64,${m.data}`;
      parts.push({ type: "image_url", image_url: { url } });
    } else if (m.type === "audio") {
      if (!m.data)
        throw new InvalidRequest("audio must be inline", [
          { path, message: "give audio as base64 data" },
        ]);
      parts.push({ type: "input_audio", input_audio: { data: m.data, format: m.format ?? "wav" } });
    } else {
      // vLLM's `video_url` part: MEC sites serving a video model (Qwen2.5-VL) take it as is, and
      // the cloud tier turns a data: URL into a Converse video block.
      const url = m.url ?? `data:video/${m.format ?? "mp4"};base64,${m.data}`;
      parts.push({ type: "video_url", video_url: { url } });
    }
  }
  const history = body.input.messages ?? [];
  const messages = parts.length > 0 ? [...history, { role: "user", content: parts }] : history;
  if (messages.length === 0) {
    throw new InvalidRequest("nothing to run", [
      { path: "input", message: "give prompt, messages or media" },
    ]);
  }
  const parsed = z.array(chatMessageSchema).safeParse(messages);
  if (!parsed.success) throw new InvalidRequest("input is not a valid conversation");
  return { model: body.task.model ?? "auto", messages: parsed.data, max_tokens: maxTokens };
}

inferApp.post(
  "/",
  limitBody(MAX_INFER_BODY_BYTES),
  requireRole("device", "operator"),
  async (c) => {
    const body = await readJson(c, inferSchema);
    refuseRemoteMedia([
      ...(body.input.media ?? []).flatMap((m, i) =>
        m.url !== undefined && !/^data:/i.test(m.url) ? [`input.media.${i}.url`] : [],
      ),
      ...remoteMediaPaths(body.input.messages ?? []).map((p) => `input.${p}`),
    ]);
    const { input: _input, ...routeInput } = body;
    if (routeInput.task.payloadBytes === undefined) {
      const bytes = (body.input.media ?? []).reduce(
        (n, m) => n + Math.floor(((m.data?.length ?? 0) * 3) / 4),
        0,
      );
      routeInput.task.payloadBytes = bytes;
    }
    const decidedRequest = await decideRequest(c, routeInput, { spend: true });
    const { req, decision: decided, decisionId, now, waitUntil } = decidedRequest;
    const decision = routeAnswer(decidedRequest, decided);
    c.header("x-mec-decision-id", decisionId);
    if (decision.tier === "device") {
      c.header("x-mec-tier", "device");
      c.header("x-mec-target", "device");
      c.header("x-mec-attempts", "0");
      return c.json({ executed: false, decision });
    }
    const chat = chatRequest(body, req.task.maxOutputTokens);
    const deps = executionDeps(c.env, waitUntil, {
      criticality: req.task.criticality,
      tenant: decidedRequest.principal?.tenantId,
    });
    const run = await runComplete(
      deps,
      decided,
      chat,
      now + req.constraints.latencySlaMs,
      c.req.raw.signal,
    ).catch((err: unknown) => recordFailure(c, decidedRequest, err));
    recordOutcome(c, decidedRequest, {
      ok: true,
      attempts: run.attempts,
      tokens: tokensOf(run.completion.usage),
    });
    c.header("x-mec-tier", run.step.tier);
    c.header("x-mec-target", targetName(run.step));
    c.header("x-mec-attempts", String(run.attempts.length));
    return c.json({ executed: true, decision, output: run.completion });
  },
);
