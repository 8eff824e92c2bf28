// Types of kinesalite-local.mjs for TypeScript importers (tests): the project does not type-check
// JavaScript, so this mirrors the module's JSDoc.

import type { KinesisClient } from "@aws-sdk/client-kinesis";

export interface StreamSpec {
  name: string;
  /** Default 1. */
  shards?: number;
}

export interface KinesaliteOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1; only loopback addresses are accepted. */
  host?: string;
  /** Created, and ACTIVE, before the promise resolves. */
  streams?: StreamSpec[];
}

export interface ReadRecord {
  sequenceNumber: string;
  partitionKey: string;
  /** The record's data decoded as UTF-8. */
  data: string;
}

export interface StreamContents {
  /** Every shard with its records in sequence order. */
  shards: { shardId: string; records: ReadRecord[] }[];
}

export interface LocalServer {
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:4567`. */
  url: string;
  /** Resolves when the server is closed. Idempotent. */
  close(): Promise<void>;
}

/** A Kinesis SDK client for a local endpoint (dummy credentials, HTTP/1.1). */
export function localKinesisClient(endpoint: string): KinesisClient;

/** Starts kinesalite on loopback with the streams created. */
export function startKinesalite(options?: KinesaliteOptions): Promise<LocalServer>;

/** Reads every record of a stream with the SDK, per shard in sequence order. */
export function readStream(endpoint: string, streamName: string): Promise<StreamContents>;

/** GET /streams/{name} answers `readStream(endpoint, name)` as JSON. */
export function startStreamReader(options: {
  endpoint: string;
  port?: number;
  host?: string;
}): Promise<LocalServer>;
