import assert from "node:assert/strict";
import type { MetadataImage } from "../metadata/image.ts";
import { EMPTY_IMAGE, replay } from "../metadata/image.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";
import type { MetadataRecord } from "../metadata/records.ts";
import { createLogger } from "../log.ts";
import { ControllerService } from "./controller_service.ts";
import type { ControllerResult } from "./quorum_controller.ts";
import { DEFAULT_CONTROLLER_CONFIG, QuorumController } from "./quorum_controller.ts";

function commit<R>(image: MetadataImage, result: ControllerResult<R>): MetadataImage {
  return result.records.length === 0 ? image : replay(image, result.records, image.offset + 1);
}

/** Brokers 1..3 registered and unfenced at `nowMs`. */
function threeBrokers(c: QuorumController, nowMs: number): MetadataImage {
  let image = EMPTY_IMAGE;
  for (const id of [1, 2, 3]) {
    image = commit(
      image,
      c.registerBroker(image, {
        brokerId: id,
        incarnationId: `inc-${id}`,
        directoryId: `dir-${id}`,
        clientUrl: `http://b${id}:9092`,
        internalUrl: `http://b${id}:19092`,
        rack: null,
      }, nowMs),
    );
  }
  for (const id of [1, 2, 3]) {
    image = commit(
      image,
      c.heartbeat(image, {
        brokerId: id,
        brokerEpoch: image.brokers.get(id)!.epoch,
        metadataOffset: image.offset,
        wantShutdown: false,
      }, nowMs),
    );
  }
  return image;
}

/** A quorum whose proposals commit only when the test says so (a busy, slow metadata log). */
class HeldQuorum {
  image: MetadataImage;
  readonly committed: MetadataRecord[][] = [];
  readonly #held: (() => void)[] = [];
  #leadership: ((
    s: { leaderId: number; isLeader: boolean; term: number; firstIndexOfTerm: number },
  ) => void)[] = [];
  constructor(image: MetadataImage) {
    this.image = image;
  }
  onImage(_listener: (image: MetadataImage) => void): void {}
  onLeadership(
    listener: (
      s: { leaderId: number; isLeader: boolean; term: number; firstIndexOfTerm: number },
    ) => void,
  ): void {
    this.#leadership.push(listener);
  }
  lead(): void {
    for (const l of this.#leadership) {
      l({ leaderId: 1, isLeader: true, term: 1, firstIndexOfTerm: this.image.offset });
    }
  }
  propose(records: MetadataRecord[]): Promise<number> {
    return new Promise((resolve) => {
      this.#held.push(() => {
        this.committed.push(records);
        this.image = replay(this.image, records, this.image.offset + 1);
        resolve(this.image.offset);
      });
    });
  }
  /** Commits the oldest held proposal. */
  commitOne(): boolean {
    const next = this.#held.shift();
    next?.();
    return next !== undefined;
  }
  notControllerError(): Error {
    return new Error("not the controller");
  }
}

Deno.test("fencing a silent broker goes ahead of queued operations", async () => {
  const c = new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => "topic-t");
  let now = 10_000;
  const quorum = new HeldQuorum(threeBrokers(c, now));
  const service = new ControllerService(
    quorum as unknown as MetadataQuorum,
    c,
    { checkIntervalMs: 10, balanceIntervalMs: 1_000_000, noOpIntervalMs: 1_000_000 },
    createLogger({ sink: () => {} }),
    () => now,
  );
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
