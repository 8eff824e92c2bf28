// kinesalite (an in-memory Kinesis) on loopback, with streams created, and a reader that reads a
// stream back with the real `@aws-sdk/client-kinesis` from Node — what tests inside workerd ask
// for over HTTP to check what the worker put. Plain ESM with JSDoc types (declarations in
// kinesalite-local.d.mts); runs under Node ≥ 20 unbuilt.
//
// Library:
//   `startKinesalite({ port?, host?, streams? })` → `{ port, url, close() }`: kinesalite bound to
//     127.0.0.1 (its CLI binds every interface), each stream created and ACTIVE.
//   `readStream(endpoint, streamName)` → `{ shards: [{ shardId, records: [{ sequenceNumber,
//     partitionKey, data }] }] }`: every record from TRIM_HORIZON, per shard in sequence order,
//     `data` decoded as UTF-8.
//   `startStreamReader({ endpoint })` → `{ port, url, close() }`: GET /streams/{name} answers
//     `readStream(endpoint, name)` as JSON.
// The SDK's Node default is HTTP/2, which kinesalite does not speak. `FetchHttpHandler` (HTTP/1.1
// through Node's fetch) rather than `NodeHttpHandler`: a Vite-run caller such as the workers
// project's global setup resolves the SDK's browser build, whose stream collector reads only web
// streams; the Node build's reads both.

import { once } from "node:events";
import { createServer } from "node:http";
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import kinesalite from "kinesalite";

/**
 * @typedef {object} StreamSpec
 * @property {string} name
 * @property {number} [shards] default 1
 */
/**
 * @typedef {object} KinesaliteOptions
 * @property {number} [port] default 0: any free port
 * @property {string} [host] default 127.0.0.1; loopback only
 * @property {StreamSpec[]} [streams]
 */
/**
 * @typedef {object} ReadRecord
 * @property {string} sequenceNumber
 * @property {string} partitionKey
 * @property {string} data UTF-8 of the record's data
 */
/** @typedef {{ shards: { shardId: string, records: ReadRecord[] }[] }} StreamContents */
/** @typedef {{ port: number, url: string, close(): Promise<void> }} LocalServer */

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** A Kinesis client for a local endpoint, with dummy credentials. @param {string} endpoint */
export function localKinesisClient(endpoint) {
  return new KinesisClient({
    endpoint,
    region: "eu-central-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    requestHandler: new FetchHttpHandler(),
  });
}

/** @param {KinesaliteOptions} [options] @returns {Promise<LocalServer>} */
export async function startKinesalite(options = {}) {
  const { port = 0, host = "127.0.0.1", streams = [] } = options;
  if (!LOOPBACK.has(host)) throw new TypeError(`kinesalite: loopback only, not ${host}`);
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 });
  // kinesalite throws from a request's "error" listener, so a client that aborts mid-body (a
  // publish that timed out) would take the whole process down: drop such a request instead.
  const [handler] = server.listeners("request");
  server.removeAllListeners("request");
  server.on("request", (req, res) => {
    const on = req.on.bind(req);
    req.on = (event, listener) =>
      event === "error" ? on(event, () => res.destroy()) : on(event, listener);
    handler(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
  const client = localKinesisClient(url);
  try {
    for (const { name, shards = 1 } of streams) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      for (let i = 0; ; i++) {
        const out = await client.send(new DescribeStreamCommand({ StreamName: name }));
        if (out.StreamDescription?.StreamStatus === "ACTIVE") break;
        if (i > 200) throw new Error(`kinesalite: stream ${name} never became ACTIVE`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  } finally {
    client.destroy();
  }
  /** @type {Promise<void> | undefined} */
  let closed;
  const close = () => {
    closed ??= new Promise((resolve) => server.close(() => resolve()));
    return closed;
  };
  return { port: boundPort, url, close };
}

/**
 * Every record of a stream, per shard in sequence order.
 * @param {string} endpoint @param {string} streamName @returns {Promise<StreamContents>}
 */
export async function readStream(endpoint, streamName) {
  const client = localKinesisClient(endpoint);
  try {
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
    const shards = [];
    for (const shard of Shards) {
      const shardId = shard.ShardId ?? "";
      let { ShardIterator: iterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      );
      /** @type {ReadRecord[]} */
      const records = [];
      while (iterator) {
        const out = await client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }),
        );
        for (const r of out.Records ?? []) {
          records.push({
            sequenceNumber: r.SequenceNumber ?? "",
            partitionKey: r.PartitionKey ?? "",
            data: new TextDecoder().decode(r.Data),
          });
        }
        // An open shard always has a next iterator; an empty page means we are at the tip.
        if ((out.Records ?? []).length === 0) break;
        iterator = out.NextShardIterator;
      }
      shards.push({ shardId, records });
    }
    return { shards };
  } finally {
    client.destroy();
  }
}

/**
 * GET /streams/{name} → `readStream(endpoint, name)` as JSON, on loopback.
 * @param {{ endpoint: string, port?: number, host?: string }} options @returns {Promise<LocalServer>}
 */
export async function startStreamReader(options) {
  const { endpoint, port = 0, host = "127.0.0.1" } = options;
  if (!LOOPBACK.has(host)) throw new TypeError(`stream reader: loopback only, not ${host}`);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://reader").pathname;
    const m = /^\/streams\/([^/]+)$/.exec(path);
    const answer = (/** @type {number} */ status, /** @type {unknown} */ body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" || !m) {
      answer(404, { error: `no route ${req.method} ${path}` });
      return;
    }
    readStream(endpoint, decodeURIComponent(m[1] ?? "")).then(
      (contents) => answer(200, contents),
      (err) => answer(502, { error: err instanceof Error ? `${err.name}: ${err.message}` : "" }),
    );
  });
  server.listen(port, host);
  await once(server, "listening");
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
  /** @type {Promise<void> | undefined} */
  let closed;
  const close = () => {
    closed ??= (async () => {
      const done = once(server, "close");
      server.close();
      server.closeAllConnections();
      await done;
    })();
    return closed;
  };
  return { port: boundPort, url, close };
}
