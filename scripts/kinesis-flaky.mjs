// A local Kinesis that fails the way Kinesis does, for what kinesalite never produces: PutRecords
// answers HTTP 200 with `FailedRecordCount` > 0 and per-entry `ErrorCode`s
// (`ProvisionedThroughputExceededException`, `InternalFailure`), whole calls are throttled
// (400 ProvisionedThroughputExceededException) or fail (500 InternalFailure, 503
// ServiceUnavailable), connections drop. It also checks every call against PutRecords' limits
// and counts violations, so a test can prove the publisher never exceeds them. Plain ESM with
// JSDoc types (declarations in kinesis-flaky.d.mts); runs under Node ≥ 20 unbuilt; loopback only.
//
// Library:
//   `createKinesisFlaky(options)` → `{ putRecords(body), state, setFaults(f), reset() }`: the
//     logic without sockets (a unit test can answer 10⁴ batches in-process with it).
//   `startKinesisFlaky(options)` → the same plus `{ port, url, close() }`: an HTTP/1.1 server on
//     127.0.0.1. Point a client at `url` with any region and static credentials.
//
// CLI: node scripts/kinesis-flaky.mjs [--port 4568] [--seed N] [--faults '{"entryFailureRate":0.2}']
//
// Wire (Kinesis JSON protocol): POST / with `X-Amz-Target: Kinesis_20131202.PutRecords`,
// `Content-Type: application/x-amz-json-1.1`, SigV4 `Authorization` scoped to `kinesis` (checked
// for shape, not verified) and a body `{ StreamName, Records: [{ Data (base64), PartitionKey }] }`.
// Answers `{ FailedRecordCount, Records: [{ SequenceNumber, ShardId } | { ErrorCode,
// ErrorMessage }] }` in request order. Errors: `{ "__type": Name, "message" }` with HTTP 400
// (ValidationException, InvalidArgumentException, SerializationException,
// ResourceNotFoundException, ProvisionedThroughputExceededException, UnknownOperationException,
// MissingAuthenticationTokenException), 500 InternalFailure or 503 ServiceUnavailable.
// Only PutRecords is served; any stream name in `streams` (default: any) is accepted.
//
// Limits checked (a violation answers 400 and is counted in `state.violations`): 1–500 records,
// partition key 1–256 Unicode characters, data + partition key ≤ 1 MiB per record, ≤ 5 MiB per
// call (the `limits` option scales them down for tests).
//
// Faults (POST /__faults merges JSON; GET reads them; `setFaults()` does the same), drawn from a
// PRNG seeded by `seed`:
//   entryFailureRate (0–1): each entry of an answered call fails on its own;
//   internalFailureShare (0–1, default 0.5): of the failed entries, the share with InternalFailure
//     (the rest ProvisionedThroughputExceededException);
//   throttleRate (0–1): calls answered 400 ProvisionedThroughputExceededException;
//   errorRate (0–1): calls answered 500 InternalFailure or 503 ServiceUnavailable;
//   resetRate (0–1): calls whose socket is destroyed unanswered (HTTP server only);
//   script: per-call outcomes used before any rate, one per call, oldest first: "ok" | "throttle"
//     | "error" | "reset" | { "failIndexes": [0, 3], "errorCode"?: "InternalFailure" }.
// Nothing is stored for a call that failed as a whole.
//
// GET /__state answers { faults, calls, stored, violations } (`calls`: one entry per PutRecords
// call — status, error, the ids sent (the `id` inside each record's JSON data) and the indexes
// that failed; `stored`: { id, partitionKey, shardId, sequenceNumber, data } in arrival order,
// `data` as UTF-8).
// POST /__reset clears calls, stored records, violations and the script (rates stay).

import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { isRecord, mulberry32 } from "./demo-site-wire.mjs";

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/**
 * @typedef {"ok" | "throttle" | "error" | "reset" | { failIndexes: number[], errorCode?: string }}
 *   ScriptStep
 */
/**
 * @typedef {object} Faults
 * @property {number} entryFailureRate
 * @property {number} internalFailureShare
 * @property {number} throttleRate
 * @property {number} errorRate
 * @property {number} resetRate
 * @property {ScriptStep[]} script
 */
/**
 * @typedef {object} CallLogEntry
 * @property {number} at epoch ms
 * @property {number} status HTTP status answered; 0 when the socket was destroyed
 * @property {string} [error] exception of a failed call, or "ConnectionReset"
 * @property {string[]} ids the `id` in each record's data ("" when the data is not such JSON)
 * @property {number[]} failedIndexes entries answered with an ErrorCode
 * @property {number} bytes data + partition keys
 */
/**
 * @typedef {object} StoredRecord
 * @property {string} id
 * @property {string} partitionKey
 * @property {string} shardId
 * @property {string} sequenceNumber
 * @property {string} data the record's data as UTF-8
 */
/**
 * @typedef {object} KinesisFlakyState
 * @property {Faults} faults
 * @property {CallLogEntry[]} calls
 * @property {StoredRecord[]} stored
 * @property {string[]} violations one message per call that broke a PutRecords limit
 */
/**
 * @typedef {object} KinesisFlakyOptions
 * @property {number} [port]
 * @property {string} [host]
 * @property {number} [seed]
 * @property {number} [shards] default 2
 * @property {string[]} [streams] accepted stream names; default any
 * @property {Partial<typeof LIMITS>} [limits] default Kinesis' (tests may scale them down)
 * @property {Partial<Faults>} [faults]
 */
/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {Record<string, unknown>} body
 * @property {boolean} [reset] destroy the socket instead of answering
 */

export const LIMITS = Object.freeze({
  maxRecordsPerCall: 500,
  maxBytesPerCall: 5 * 1024 * 1024,
  maxBytesPerRecord: 1024 * 1024,
  maxPartitionKeyLength: 256,
});
const ACCOUNT = "000000000000";
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const RATES = /** @type {const} */ ([
  "entryFailureRate",
  "internalFailureShare",
  "throttleRate",
  "errorRate",
  "resetRate",
]);
/** @type {Faults} */
const NO_FAULTS = Object.freeze({
  entryFailureRate: 0,
  internalFailureShare: 0.5,
  throttleRate: 0,
  errorRate: 0,
  resetRate: 0,
  script: [],
});

class KinesisError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @param {unknown} patch @returns {Partial<Faults>} */
function validateFaults(patch) {
  if (!isRecord(patch)) throw new TypeError("faults must be an object");
  /** @type {Partial<Faults>} */
  const out = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === "script") {
      if (!Array.isArray(value) || !value.every(isScriptStep)) {
        throw new TypeError("script: an array of ok|throttle|error|reset|{ failIndexes }");
      }
      out.script = [...value];
    } else if (RATES.includes(/** @type {never} */ (key))) {
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
        throw new TypeError(`${key} must be a number in [0, 1]`);
      }
      out[/** @type {(typeof RATES)[number]} */ (key)] = value;
    } else throw new TypeError(`unknown fault ${key}`);
  }
  return out;
}

/** @param {unknown} step @returns {step is ScriptStep} */
function isScriptStep(step) {
  if (step === "ok" || step === "throttle" || step === "error" || step === "reset") return true;
  return (
    isRecord(step) &&
    Array.isArray(step.failIndexes) &&
    step.failIndexes.every((i) => Number.isInteger(i) && i >= 0) &&
    (step.errorCode === undefined || typeof step.errorCode === "string")
  );
}

/**
 * PutRecords' logic, without sockets.
 * @param {KinesisFlakyOptions} [options]
 */
export function createKinesisFlaky(options = {}) {
  const { seed = 1, shards = 2, streams } = options;
  const limits = { ...LIMITS, ...options.limits };
  if (!(Number.isInteger(shards) && shards >= 1)) throw new TypeError("shards must be ≥ 1");
  let rand = mulberry32(seed);
  /** @type {KinesisFlakyState} */
  const state = {
    faults: { ...NO_FAULTS, ...validateFaults(options.faults ?? {}) },
    calls: [],
    stored: [],
    violations: [],
  };
  /** Per shard, the last sequence number given. */
  const sequences = Array.from({ length: shards }, () => 0n);

  /** @param {unknown} patch @returns {Faults} */
  function setFaults(patch) {
    state.faults = { ...state.faults, ...validateFaults(patch) };
    return { ...state.faults, script: [...state.faults.script] };
  }

  function reset() {
    state.calls = [];
    state.stored = [];
    state.violations = [];
    state.faults = { ...state.faults, script: [] };
    rand = mulberry32(seed);
  }

  /** Kinesis maps the MD5 of the partition key onto the shards' hash ranges. @param {string} key */
  function shardOf(key) {
    const hash = BigInt(`0x${createHash("md5").update(key, "utf8").digest("hex")}`);
    return Number((hash * BigInt(shards)) >> 128n);
  }

  /** @param {number} shard @param {string} id @param {string} partitionKey @param {Buffer} data */
  function store(shard, id, partitionKey, data) {
    sequences[shard] = (sequences[shard] ?? 0n) + 1n;
    // Kinesis' are 56 digits and grow per shard; only order and uniqueness matter here.
    const sequenceNumber = `4959${String(shard).padStart(4, "0")}${String(sequences[shard]).padStart(48, "0")}`;
    const shardId = `shardId-${String(shard).padStart(12, "0")}`;
    state.stored.push({ id, partitionKey, shardId, sequenceNumber, data: data.toString("utf8") });
    return { SequenceNumber: sequenceNumber, ShardId: shardId };
  }

  /**
   * Answers one PutRecords body (already JSON-parsed), as Kinesis would.
   * @param {unknown} body @returns {Answer}
   */
  function putRecords(body) {
    /** @type {CallLogEntry} */
    const entry = { at: Date.now(), status: 0, ids: [], failedIndexes: [], bytes: 0 };
    state.calls.push(entry);
    try {
      const answer = answerCall(body, entry);
      entry.status = answer.reset ? 0 : answer.status;
      if (answer.reset) entry.error = "ConnectionReset";
      return answer;
    } catch (err) {
      if (!(err instanceof KinesisError)) throw err;
      entry.status = err.status;
      entry.error = err.code;
      return { status: err.status, body: { __type: err.code, message: err.message } };
    }
  }

  /** @param {unknown} body @param {CallLogEntry} entry @returns {Answer} */
  function answerCall(body, entry) {
    const validation = (/** @type {string} */ m) =>
      new KinesisError(400, "ValidationException", `1 validation error detected: ${m}`);
    const violation = (/** @type {KinesisError} */ err) => {
      state.violations.push(err.message);
      return err;
    };
    if (!isRecord(body)) throw new KinesisError(400, "SerializationException", "Bad body.");
    const { StreamName: streamName, Records: records } = body;
    if (typeof streamName !== "string" || streamName.length === 0) {
      throw validation(
        "Value null at 'streamName' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!Array.isArray(records) || records.length === 0) {
      throw violation(
        validation(
          "Value at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
      );
    }
    /** @type {{ data: Buffer, key: string, id: string }[]} */
    const decoded = [];
    for (const [i, r] of records.entries()) {
      if (!isRecord(r) || typeof r.Data !== "string" || typeof r.PartitionKey !== "string") {
        throw new KinesisError(
          400,
          "SerializationException",
          `Record ${i} needs Data and PartitionKey.`,
        );
      }
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(r.Data) || r.Data.length % 4 !== 0) {
        throw new KinesisError(400, "SerializationException", `Record ${i}: Data is not base64.`);
      }
      const data = Buffer.from(r.Data, "base64");
      const key = r.PartitionKey;
      entry.ids.push(idOf(data));
      entry.bytes += data.length + Buffer.byteLength(key);
      decoded.push({ data, key, id: entry.ids[i] ?? "" });
    }
    if (records.length > limits.maxRecordsPerCall) {
      throw violation(
        validation(
          `Value '[...]' at 'records' failed to satisfy constraint: Member must have length less than or equal to ${limits.maxRecordsPerCall}`,
        ),
      );
    }
    for (const [i, { data, key }] of decoded.entries()) {
      const chars = [...key].length;
      if (chars < 1 || chars > limits.maxPartitionKeyLength) {
        throw violation(
          validation(
            `Value at 'records.${i + 1}.member.partitionKey' failed to satisfy constraint: Member must have length between 1 and ${limits.maxPartitionKeyLength}`,
          ),
        );
      }
      if (data.length + Buffer.byteLength(key) > limits.maxBytesPerRecord) {
        throw violation(
          new KinesisError(
            400,
            "InvalidArgumentException",
            `Record ${i} is over ${limits.maxBytesPerRecord} bytes with its partition key.`,
          ),
        );
      }
    }
    if (entry.bytes > limits.maxBytesPerCall) {
      throw violation(
        new KinesisError(
          400,
          "InvalidArgumentException",
          `Records size exceeds the ${limits.maxBytesPerCall}-byte limit: ${entry.bytes} bytes.`,
        ),
      );
    }
    if (streams && !streams.includes(streamName)) {
      throw new KinesisError(
        400,
        "ResourceNotFoundException",
        `Stream ${streamName} under account ${ACCOUNT} not found.`,
      );
    }
    const step = state.faults.script.shift();
    // Three draws per call, whatever the rates, then two per entry.
    const [reset, failure, which] = [rand(), rand(), rand()];
    const f = state.faults;
    const fate =
      step === undefined
        ? reset < f.resetRate
          ? "reset"
          : failure < f.throttleRate
            ? "throttle"
            : failure < f.throttleRate + f.errorRate
              ? "error"
              : "ok"
        : step;
    if (fate === "reset") return { status: 0, body: {}, reset: true };
    if (fate === "throttle") {
      throw new KinesisError(
        400,
        "ProvisionedThroughputExceededException",
        `Rate exceeded for stream ${streamName} under account ${ACCOUNT}.`,
      );
    }
    if (fate === "error") {
      throw which < 0.5
        ? new KinesisError(500, "InternalFailure", "Internal service failure.")
        : new KinesisError(503, "ServiceUnavailable", "Service unavailable.");
    }
    const forced = typeof fate === "object" ? new Set(fate.failIndexes) : null;
    let failedCount = 0;
    const results = decoded.map(({ data, key, id }, i) => {
      const [fails, kind] = [rand(), rand()];
      const shard = shardOf(key);
      const failed = forced ? forced.has(i) : fails < f.entryFailureRate;
      if (!failed) return store(shard, id, key, data);
      failedCount++;
      entry.failedIndexes.push(i);
      const code =
        (typeof fate === "object" ? fate.errorCode : undefined) ??
        (kind < f.internalFailureShare
          ? "InternalFailure"
          : "ProvisionedThroughputExceededException");
      return code === "InternalFailure"
        ? { ErrorCode: code, ErrorMessage: "Internal service failure." }
        : {
            ErrorCode: code,
            ErrorMessage: `Rate exceeded for shard shardId-${String(shard).padStart(12, "0")} in stream ${streamName} under account ${ACCOUNT}.`,
          };
    });
    return { status: 200, body: { FailedRecordCount: failedCount, Records: results } };
  }

  return { putRecords, state, setFaults, reset };
}

/** The `id` inside a record's JSON data, or "". @param {Buffer} data */
function idOf(data) {
  // Fast path for data that starts with its id (as the router's publisher writes it).
  const head = /^\{"id":("(?:[^"\\]|\\.)*")/.exec(data.subarray(0, 1024).toString("utf8"));
  try {
    const parsed = JSON.parse(head?.[1] ? `{"id":${head[1]}}` : data.toString("utf8"));
    return isRecord(parsed) && typeof parsed.id === "string" ? parsed.id : "";
  } catch {
    return "";
  }
}

/**
 * The request must look SigV4-signed for the `kinesis` service (the signature is not verified).
 * @param {IncomingMessage["headers"]} headers
 */
function checkRequest(headers) {
  const auth = headers.authorization ?? "";
  const scope = /Credential=[^/,\s]+\/\d{8}\/[a-z0-9-]+\/([a-z0-9-]+)\/aws4_request/.exec(auth);
  if (!auth.startsWith("AWS4-HMAC-SHA256 ") || !scope || !headers["x-amz-date"]) {
    throw new KinesisError(
      400,
      "MissingAuthenticationTokenException",
      "Missing Authentication Token (the stand-in wants SigV4).",
    );
  }
  if (scope[1] !== "kinesis") {
    throw new KinesisError(
      400,
      "InvalidSignatureException",
      "Credential should be scoped to correct service: 'kinesis'.",
    );
  }
  if (headers["x-amz-target"] !== "Kinesis_20131202.PutRecords") {
    throw new KinesisError(400, "UnknownOperationException", "Only PutRecords is served here.");
  }
  const type = (headers["content-type"] ?? "").split(";")[0]?.trim();
  if (type !== "application/x-amz-json-1.1") {
    throw new KinesisError(400, "SerializationException", `Unexpected content type ${type}.`);
  }
}

/** @param {IncomingMessage} req @returns {Promise<Buffer>} */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new KinesisError(413, "SerializationException", "Too large.");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** @param {ServerResponse} res @param {number} status @param {unknown} body */
function send(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": Buffer.byteLength(json),
    "x-amzn-requestid": randomUUID(),
  });
  res.end(json);
}

/**
 * Starts the flaky Kinesis on loopback and resolves once it listens.
 * @param {KinesisFlakyOptions} [options]
 */
export async function startKinesisFlaky(options = {}) {
  const { port = 0, host = "127.0.0.1" } = options;
  if (!LOOPBACK.has(host)) throw new TypeError(`kinesis-flaky: loopback only, not ${host}`);
  const flaky = createKinesisFlaky(options);

  /** @param {IncomingMessage} req @param {ServerResponse} res */
  async function dispatch(req, res) {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://flaky").pathname;
    if (path === "/__faults") {
      if (method === "POST") {
        const raw = (await readBody(req)).toString("utf8");
        try {
          send(res, 200, flaky.setFaults(JSON.parse(raw || "{}")));
        } catch (err) {
          send(res, 400, { __type: "ValidationException", message: String(err) });
        }
      } else send(res, 200, flaky.state.faults);
      return;
    }
    if (path === "/__state" && method === "GET") {
      send(res, 200, flaky.state);
      return;
    }
    if (path === "/__reset" && method === "POST") {
      flaky.reset();
      send(res, 200, { reset: true });
      return;
    }
    if (method !== "POST" || path !== "/") {
      throw new KinesisError(
        404,
        "UnknownOperationException",
        `No operation at ${method} ${path}.`,
      );
    }
    const raw = await readBody(req);
    checkRequest(req.headers);
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new KinesisError(400, "SerializationException", "Body is not JSON.");
    }
    const answer = flaky.putRecords(body);
    if (answer.reset) req.socket.destroy();
    else send(res, answer.status, answer.body);
  }

  const server = createServer({ noDelay: true, keepAliveTimeout: 5_000 }, (req, res) => {
    dispatch(req, res).catch((err) => {
      if (res.headersSent || res.destroyed) res.destroy();
      else if (err instanceof KinesisError) {
        send(res, err.status, { __type: err.code, message: err.message });
      } else send(res, 500, { __type: "InternalFailure", message: "Stand-in failure." });
    });
  });
  server.listen(port, host);
  await once(server, "listening");
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;

  /** @type {Promise<void> | undefined} */
  let closed;
  function close() {
    closed ??= (async () => {
      const done = once(server, "close");
      server.close();
      server.closeAllConnections();
      await done;
    })();
    return closed;
  }

  return { ...flaky, port: boundPort, url, close };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "4568" },
      seed: { type: "string", default: "1" },
      faults: { type: "string", default: "{}" },
    },
  });
  const flaky = await startKinesisFlaky({
    port: Number(values.port),
    seed: Number(values.seed),
    faults: JSON.parse(values.faults),
  });
  console.log(`flaky Kinesis on ${flaky.url} (faults ${JSON.stringify(flaky.state.faults)})`);
  const stop = () => void flaky.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
