// The local Kinesis (scripts/kinesalite-local.mjs) survives clients that give up mid-request,
// as the worker's publisher does when its timeout fires.

import { connect } from "node:net";
import { ListStreamsCommand } from "@aws-sdk/client-kinesis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localKinesisClient, startKinesalite } from "../../scripts/kinesalite-local.mjs";

let kinesis: Awaited<ReturnType<typeof startKinesalite>>;

beforeAll(async () => {
  kinesis = await startKinesalite({ streams: [{ name: "s" }] });
});
afterAll(() => kinesis.close());

describe("startKinesalite", () => {
  it("keeps serving after a client aborts in the middle of a request body", async () => {
    for (let i = 0; i < 3; i++) {
      const socket = connect(kinesis.port, "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-amz-json-1.1\r\n" +
          'x-amz-target: Kinesis_20131202.PutRecords\r\ncontent-length: 1000\r\n\r\n{"Records":',
      );
      await new Promise((r) => setTimeout(r, 20));
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    const client = localKinesisClient(kinesis.url);
    const out = await client.send(new ListStreamsCommand({}));
    client.destroy();
    expect(out.StreamNames).toEqual(["s"]);
  });
});
