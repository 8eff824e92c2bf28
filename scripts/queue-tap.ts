// A queue consumer that records what the router enqueues, for the privacy canary suite
// (scripts/stack.mjs runs it beside the router, with the router's producer pointed at its
// queue): it posts each batch's message bodies to TAP_URL, then sends the batch on, unchanged,
// to the monitor's queue. A batch it cannot record is retried, never passed on unseen.

interface TapEnv {
  TAP_URL: string;
  FORWARD: Queue;
}

export default {
  async queue(batch: MessageBatch, env: TapEnv): Promise<void> {
    const bodies = batch.messages.map((m) => m.body);
    const res = await fetch(env.TAP_URL, { method: "POST", body: JSON.stringify(bodies) });
    if (!res.ok) throw new Error(`tap collector answered ${res.status}`);
    await env.FORWARD.sendBatch(bodies.map((body) => ({ body, contentType: "json" as const })));
  },
};
