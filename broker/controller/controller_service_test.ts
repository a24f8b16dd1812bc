import assert from "node:assert/strict";
import { createLogger } from "../log.ts";
import { DEFAULT_CONTROLLER_CONFIG, QuorumController } from "./quorum_controller.ts";
import { FakeQuorum, registeredBrokers, serviceOver } from "./_test_support.ts";

Deno.test("fencing a silent broker goes ahead of queued operations", async () => {
  const c = new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => "topic-t");
  let now = 10_000;
  const quorum = new FakeQuorum(registeredBrokers(c, 3, now), { hold: true });
  const service = serviceOver(quorum, c, createLogger({ sink: () => {} }), () => now);
  quorum.lead();
  service.start();
  const ticks = () => new Promise((resolve) => setTimeout(resolve, 40));
  try {
    // A busy queue: one write being committed and five behind it (batched ISR changes, say).
    const queued = Array.from(
      { length: 6 },
      () => service.run(() => ({ records: [{ type: "NoOp" as const }], response: null })),
    );
    // Broker 3 goes silent; 1 and 2 keep heartbeating. Time passes in steps the checks see.
    for (let step = 0; step < 20; step++) {
      now += 100;
      for (const id of [1, 2]) {
        c.heartbeat(quorum.image, {
          brokerId: id,
          brokerEpoch: quorum.image.brokers.get(id)!.epoch,
          metadataOffset: quorum.image.offset,
          wantShutdown: false,
        }, now);
      }
      await ticks();
    }
    while (quorum.commitOne()) await ticks();
    await Promise.all(queued);
    const kinds = quorum.committed.map((records) => records[0].type);
    assert.deepEqual(
      kinds,
      ["NoOp", "FenceBroker", "NoOp", "NoOp", "NoOp", "NoOp", "NoOp"],
      "the fence ran right after the operation in flight, before the queued ones",
    );
    assert.equal(quorum.image.brokers.get(3)!.fenced, true);
    assert.equal(quorum.image.brokers.get(1)!.fenced, false);
  } finally {
    service.stop();
  }
});
