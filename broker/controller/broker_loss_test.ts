/**
 * Two ways the controller could lose acknowledged data or fence healthy
 * brokers, both found by the 30-minute chaos run of seed 33:
 *
 * 1. A stalled active controller (SIGSTOP, starved of CPU) woke up, saw no
 *    heartbeat for longer than the session timeout, and fenced all three
 *    brokers — itself included — in one metadata entry, leaving partitions
 *    with a single, leaderless ISR member.
 * 2. That last ISR member's data dir was then wiped; it registered again
 *    with a new directory id and was elected leader with an empty log, from
 *    which every replica holding the data would have truncated.
 */

import assert from "node:assert/strict";
import type { MetadataImage } from "../metadata/image.ts";
import { replay, topicByName } from "../metadata/image.ts";
import type { MetadataRecord } from "../metadata/records.ts";
import { NO_LEADER } from "../metadata/records.ts";
import { createLogger } from "../log.ts";
import { withoutBroker } from "./partition_change.ts";
import { DEFAULT_CONTROLLER_CONFIG, QuorumController } from "./quorum_controller.ts";
import {
  commit,
  FakeQuorum,
  heartbeatAt,
  registeredBrokers,
  serviceOver,
} from "./_test_support.ts";

/** A cluster whose partition t-0 (replicas 1,2,3) has shrunk to ISR [1], led by nobody. */
function lastMemberLeaderless(c: QuorumController): MetadataImage {
  let image = registeredBrokers(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 1, replicationFactor: 3 }));
  const t = topicByName(image, "t")!;
  const p = t.partitions[0];
  const leader = p.leader;
  image = commit(
    image,
    c.alterPartition(image, {
      brokerId: leader,
      brokerEpoch: image.brokers.get(leader)!.epoch,
      topicId: t.topicId,
      partition: 0,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      isr: [leader],
    }),
  );
  // The leader goes silent; the others keep heartbeating.
  for (const id of [1, 2, 3].filter((b) => b !== leader)) heartbeatAt(c, image, id, 1_000);
  image = commit(image, c.fenceExpiredBrokers(image, 2_000));
  const after = topicByName(image, "t")!.partitions[0];
  assert.equal(after.leader, NO_LEADER);
  assert.deepEqual(after.isr, [leader]);
  return image;
}

function register(
  c: QuorumController,
  image: MetadataImage,
  brokerId: number,
  directoryId: string,
  nowMs: number,
): MetadataImage {
  return commit(
    image,
    c.registerBroker(image, {
      brokerId,
      incarnationId: `again-${nowMs}`,
      directoryId,
      clientUrl: `http://b${brokerId}:9092`,
      internalUrl: `http://b${brokerId}:19092`,
      rack: null,
    }, nowMs),
  );
}

Deno.test("the last ISR member that comes back with a wiped data dir leaves the ISR and is never elected", () => {
  const c = new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => "topic-t");
  let image = lastMemberLeaderless(c);
  const last = topicByName(image, "t")!.partitions[0].isr[0];
  image = register(c, image, last, "a-new-directory", 3_000);
  let p = topicByName(image, "t")!.partitions[0];
  assert.deepEqual(p.isr, [], "it holds none of the data, so it is in sync with nothing");
  assert.equal(p.leader, NO_LEADER);

  image = heartbeatAt(c, image, last, 3_100);
  image = commit(image, c.balanceLeaders(image));
  p = topicByName(image, "t")!.partitions[0];
  assert.equal(p.leader, NO_LEADER, "an empty replica is not elected: the partition stays offline");
  assert.deepEqual(p.isr, []);
});

Deno.test("the last ISR member that comes back with its own data dir leads again", () => {
  const c = new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => "topic-t");
  let image = lastMemberLeaderless(c);
  const last = topicByName(image, "t")!.partitions[0].isr[0];
  image = register(c, image, last, `dir-${last}`, 3_000);
  assert.deepEqual(topicByName(image, "t")!.partitions[0].isr, [last]);
  image = heartbeatAt(c, image, last, 3_100);
  image = commit(image, c.balanceLeaders(image));
  const p = topicByName(image, "t")!.partitions[0];
  assert.equal(p.leader, last);
  assert.deepEqual(p.isr, [last]);
});

Deno.test("withoutBroker() keeps the last member unless its data is lost", () => {
  const p = {
    replicas: [1, 2, 3],
    isr: [2],
    leader: NO_LEADER,
    leaderEpoch: 4,
    partitionEpoch: 9,
  };
  // Broker 2 is the one being removed: it is not active.
  const active = (id: number) => id !== 2;
  assert.deepEqual(withoutBroker(p, 2, active, false), { leader: NO_LEADER, isr: [2] });
  assert.deepEqual(withoutBroker(p, 2, active, false, true), { leader: NO_LEADER, isr: [] });
  // With unclean election allowed, an out-of-sync replica takes over instead.
  assert.deepEqual(withoutBroker(p, 2, active, true, true), { leader: 1, isr: [1] });
});

Deno.test("an image accepts an empty ISR only on a leaderless partition", () => {
  const c = new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => "topic-t");
  let image = registeredBrokers(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 1, replicationFactor: 3 }));
  const t = topicByName(image, "t")!;
  const change = (leader: number): MetadataRecord => ({
    type: "PartitionChange",
    topicId: t.topicId,
    partition: 0,
    leader,
    isr: [],
    leaderEpoch: 1,
    partitionEpoch: 1,
  });
  assert.throws(() => replay(image, [change(1)], image.offset + 1), /ISR/);
  const leaderless = replay(image, [change(NO_LEADER)], image.offset + 1);
  assert.deepEqual(topicByName(leaderless, "t")!.partitions[0].isr, []);
});

Deno.test("an active controller that was stalled past the session timeout fences nobody when it wakes", async () => {
  const c = new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => "topic-t");
  let now = 10_000;
  const quorum = new FakeQuorum(registeredBrokers(c, 3, now));
  const lines: string[] = [];
  const service = serviceOver(quorum, c, createLogger({ sink: (l) => lines.push(l) }), () => now);
  quorum.lead();
  assert.equal(service.active, true);
  service.start();
  try {
    const ticks = () => new Promise((resolve) => setTimeout(resolve, 60));
    await ticks();
    // Frozen for three session timeouts: no check ran, no heartbeat was heard.
    now += 3 * DEFAULT_CONTROLLER_CONFIG.sessionTimeoutMs;
    await ticks();
    assert.equal(quorum.committed.length, 0, "nobody was fenced for the controller's own stall");
    assert.ok(lines.some((l) => l.includes("the controller was stalled")));

    // Brokers that stay silent after the controller woke are fenced a session later (time now
    // passes in steps the controller observes).
    const wokeMs = now;
    while (now + 100 <= wokeMs + DEFAULT_CONTROLLER_CONFIG.sessionTimeoutMs) {
      now += 100;
      await ticks();
    }
    assert.equal(quorum.committed.length, 0, "still within the session after waking");
    for (let i = 0; i < 10 && quorum.committed.length === 0; i++) {
      now += 100;
      await ticks();
    }
    const fenced = (quorum.committed as MetadataRecord[][]).flat().filter((r) =>
      r.type === "FenceBroker"
    );
    assert.deepEqual(fenced.map((r) => (r as { brokerId: number }).brokerId).sort(), [1, 2, 3]);
  } finally {
    service.stop();
  }
});
