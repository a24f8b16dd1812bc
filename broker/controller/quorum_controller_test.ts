import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import type { MetadataImage } from "../metadata/image.ts";
import { EMPTY_IMAGE, topicByName } from "../metadata/image.ts";
import { NO_LEADER } from "../metadata/records.ts";
import type { PartitionChangeRecord } from "../metadata/records.ts";
import {
  ALTER_PARTITIONS_ITEMS_MAX,
  DEFAULT_CONTROLLER_CONFIG,
  QuorumController,
} from "./quorum_controller.ts";
import { decideFor } from "./controller_ops.ts";
import { partitionChange } from "./partition_change.ts";
import { commit, registeredBrokers } from "./_test_support.ts";

function controller(): QuorumController {
  let n = 0;
  return new QuorumController(DEFAULT_CONTROLLER_CONFIG, () => `topic-id-${++n}`);
}

/** A cluster image with `count` registered, unfenced brokers, at time 0. */
function clusterOf(c: QuorumController, count: number, racks?: string[]): MetadataImage {
  return registeredBrokers(c, count, 0, racks);
}

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof StromError && e.code === code);
}

Deno.test("a registered broker is unfenced only once it has caught up to its registration", () => {
  const c = controller();
  let image = commit(
    EMPTY_IMAGE,
    c.registerBroker(EMPTY_IMAGE, {
      brokerId: 1,
      incarnationId: "a",
      directoryId: "dir-1",
      clientUrl: "http://b1",
      internalUrl: "http://b1i",
      rack: null,
    }, 0),
  );
  const b = image.brokers.get(1)!;
  assert.equal(b.fenced, true);
  const behind = c.heartbeat(image, {
    brokerId: 1,
    brokerEpoch: b.epoch,
    metadataOffset: b.registeredAtOffset - 1,
    wantShutdown: false,
  }, 10);
  assert.deepEqual(behind.records, []);
  assert.equal(behind.response.fenced, true);
  const caughtUp = c.heartbeat(image, {
    brokerId: 1,
    brokerEpoch: b.epoch,
    metadataOffset: b.registeredAtOffset,
    wantShutdown: false,
  }, 20);
  assert.deepEqual(caughtUp.records, [{
    type: "UnfenceBroker",
    brokerId: 1,
    brokerEpoch: b.epoch,
  }]);
  image = commit(image, caughtUp);
  assert.equal(image.brokers.get(1)!.fenced, false);
});

Deno.test("a heartbeat with a stale broker epoch is rejected", () => {
  const c = controller();
  const image = clusterOf(c, 1);
  const epoch = image.brokers.get(1)!.epoch;
  expectCode(
    () =>
      c.heartbeat(image, {
        brokerId: 1,
        brokerEpoch: epoch - 1,
        metadataOffset: 9,
        wantShutdown: false,
      }, 1),
    "STALE_BROKER_EPOCH",
  );
  expectCode(
    () =>
      c.heartbeat(
        image,
        { brokerId: 7, brokerEpoch: 1, metadataOffset: 9, wantShutdown: false },
        1,
      ),
    "BROKER_ID_NOT_REGISTERED",
  );
});

Deno.test("createTopic() spreads leaders and replicas evenly over the brokers", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(
    image,
    c.createTopic(image, { name: "orders", partitions: 6, replicationFactor: 3 }),
  );
  image = commit(
    image,
    c.createTopic(image, { name: "audit", partitions: 3, replicationFactor: 2 }),
  );
  const leaders = new Map<number, number>();
  const replicas = new Map<number, number>();
  for (const t of image.topics.values()) {
    for (const p of t.partitions) {
      assert.equal(new Set(p.replicas).size, p.replicas.length, "replicas are distinct");
      assert.deepEqual(p.isr, p.replicas);
      assert.equal(p.leader, p.replicas[0]);
      leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
      for (const r of p.replicas) replicas.set(r, (replicas.get(r) ?? 0) + 1);
    }
  }
  assert.deepEqual([...leaders.values()].sort(), [3, 3, 3], "9 leaders, 3 per broker");
  assert.deepEqual([...replicas.values()].sort(), [8, 8, 8], "24 replicas, 8 per broker");
});

Deno.test("createTopic() puts replicas on different racks when racks are configured", () => {
  const c = controller();
  let image = clusterOf(c, 6, ["a", "a", "b", "b", "c", "c"]);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 12, replicationFactor: 3 }));
  for (const p of topicByName(image, "t")!.partitions) {
    const racks = p.replicas.map((r) => image.brokers.get(r)!.rack);
    assert.equal(new Set(racks).size, 3, `replicas ${p.replicas} span 3 racks`);
  }
});

Deno.test("createTopic() validates like Kafka", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  expectCode(() => c.createTopic(image, { name: "bad name" }), "INVALID_TOPIC_EXCEPTION");
  expectCode(() => c.createTopic(image, { name: "." }), "INVALID_TOPIC_EXCEPTION");
  expectCode(() => c.createTopic(image, { name: "x".repeat(250) }), "INVALID_TOPIC_EXCEPTION");
  expectCode(() => c.createTopic(image, { name: "t", partitions: 0 }), "INVALID_PARTITIONS");
  expectCode(
    () => c.createTopic(image, { name: "t", replicationFactor: 4 }),
    "INVALID_REPLICATION_FACTOR",
  );
  expectCode(
    () => c.createTopic(image, { name: "t", configs: { "retention.mss": "1" } }),
    "INVALID_CONFIG",
  );
  expectCode(
    () => c.createTopic(image, { name: "t", replicationFactor: 1, configs: {} }),
    "INVALID_CONFIG", // min.insync.replicas 2 > RF 1
  );
  image = commit(image, c.createTopic(image, { name: "a.b" }));
  expectCode(() => c.createTopic(image, { name: "a.b" }), "TOPIC_ALREADY_EXISTS");
  expectCode(() => c.createTopic(image, { name: "a_b" }), "INVALID_TOPIC_EXCEPTION");
  const t = topicByName(image, "a.b")!;
  assert.equal(t.partitions.length, 1);
  assert.equal(t.partitions[0].replicas.length, 3, "default replication factor 3");
});

Deno.test("a fenced leader is replaced from the ISR with a bumped leader epoch", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 3 }));
  // Brokers 2 and 3 keep heartbeating; broker 1 goes silent.
  for (const id of [2, 3]) {
    c.heartbeat(image, {
      brokerId: id,
      brokerEpoch: image.brokers.get(id)!.epoch,
      metadataOffset: image.offset,
      wantShutdown: false,
    }, 1000);
  }
  const before = topicByName(image, "t")!.partitions;
  const result = c.fenceExpiredBrokers(image, 2000);
  assert.deepEqual(result.response, [1]);
  image = commit(image, result);
  assert.equal(image.brokers.get(1)!.fenced, true);
  topicByName(image, "t")!.partitions.forEach((p, i) => {
    const old = before[i];
    assert.ok(!p.isr.includes(1), "the fenced broker left every ISR");
    assert.notEqual(p.leader, 1);
    assert.ok(p.isr.includes(p.leader), "the new leader comes from the ISR");
    assert.equal(p.partitionEpoch, old.partitionEpoch + 1);
    assert.equal(p.leaderEpoch, old.leader === 1 ? old.leaderEpoch + 1 : old.leaderEpoch);
  });
});

Deno.test("without an active in-sync replica the partition goes leaderless, not unclean", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 1, replicationFactor: 2 }));
  const p0 = topicByName(image, "t")!.partitions[0];
  const [leader, follower] = p0.replicas;
  const third = [1, 2, 3].find((b) => !p0.replicas.includes(b))!;
  const epochOf = (id: number) => image.brokers.get(id)!.epoch;
  // The follower drops out of the ISR first.
  image = commit(
    image,
    c.alterPartition(image, {
      brokerId: leader,
      brokerEpoch: epochOf(leader),
      topicId: p0 === undefined ? "" : topicByName(image, "t")!.topicId,
      partition: 0,
      leaderEpoch: p0.leaderEpoch,
      partitionEpoch: p0.partitionEpoch,
      isr: [leader],
    }),
  );
  // Only the follower and the third broker stay alive.
  for (const id of [follower, third]) {
    c.heartbeat(image, {
      brokerId: id,
      brokerEpoch: epochOf(id),
      metadataOffset: image.offset,
      wantShutdown: false,
    }, 1000);
  }
  image = commit(image, c.fenceExpiredBrokers(image, 2000));
  const p = topicByName(image, "t")!.partitions[0];
  assert.equal(p.leader, NO_LEADER, "the out-of-sync follower is not elected");
  assert.deepEqual(p.isr, [leader], "the last in-sync replica stays in the ISR");

  // With unclean election enabled, the follower takes over with an ISR of itself.
  image = commit(
    image,
    c.alterConfigs(image, "t", {
      "unclean.leader.election.enable": "true",
      "min.insync.replicas": "1",
    }),
  );
  image = commit(image, c.balanceLeaders(image));
  const after = topicByName(image, "t")!.partitions[0];
  assert.equal(after.leader, follower);
  assert.deepEqual(after.isr, [follower]);
});

Deno.test("alterPartition() is a compare-and-set on leader and partition epochs", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 1 }));
  const t = topicByName(image, "t")!;
  const p = t.partitions[0];
  const leader = p.leader;
  const base = {
    brokerId: leader,
    brokerEpoch: image.brokers.get(leader)!.epoch,
    topicId: t.topicId,
    partition: 0,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
  };
  const shrunk = p.isr.filter((b) => b !== p.replicas[2]);
  const ok = c.alterPartition(image, { ...base, isr: shrunk });
  assert.equal(ok.records.length, 1);
  image = commit(image, ok);
  assert.deepEqual(topicByName(image, "t")!.partitions[0].isr, shrunk);
  // The same request again carries a stale partition epoch.
  expectCode(() => c.alterPartition(image, { ...base, isr: shrunk }), "INVALID_UPDATE_VERSION");
  // A non-leader cannot change the ISR.
  expectCode(
    () =>
      c.alterPartition(image, {
        ...base,
        brokerId: p.replicas[1],
        brokerEpoch: image.brokers.get(p.replicas[1])!.epoch,
        partitionEpoch: p.partitionEpoch + 1,
        isr: p.replicas,
      }),
    "FENCED_LEADER_EPOCH",
  );
  // The ISR must keep the leader.
  expectCode(
    () =>
      c.alterPartition(image, {
        ...base,
        partitionEpoch: p.partitionEpoch + 1,
        isr: [p.replicas[1]],
      }),
    "INVALID_REQUEST",
  );
});

Deno.test("a fenced broker cannot be added back to an ISR", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 1 }));
  const t = topicByName(image, "t")!;
  const p = t.partitions[0];
  const [leader, f1, f2] = p.replicas;
  for (const id of [leader, f1]) {
    c.heartbeat(image, {
      brokerId: id,
      brokerEpoch: image.brokers.get(id)!.epoch,
      metadataOffset: image.offset,
      wantShutdown: false,
    }, 1000);
  }
  image = commit(image, c.fenceExpiredBrokers(image, 2000));
  const now = topicByName(image, "t")!.partitions[0];
  assert.deepEqual(now.isr, [leader, f1]);
  expectCode(
    () =>
      c.alterPartition(image, {
        brokerId: leader,
        brokerEpoch: image.brokers.get(leader)!.epoch,
        topicId: t.topicId,
        partition: 0,
        leaderEpoch: now.leaderEpoch,
        partitionEpoch: now.partitionEpoch,
        isr: [leader, f1, f2],
      }),
    "INELIGIBLE_REPLICA",
  );
});

Deno.test("controlled shutdown moves leadership away before the broker is let go", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 6 }));
  const epoch = image.brokers.get(2)!.epoch;
  const req = { brokerId: 2, brokerEpoch: epoch, metadataOffset: image.offset, wantShutdown: true };
  const first = c.heartbeat(image, req, 10);
  assert.equal(first.response.shutdownReady, false, "it still leads partitions");
  image = commit(image, first);
  for (const p of topicByName(image, "t")!.partitions) {
    assert.notEqual(p.leader, 2);
    assert.ok(!p.isr.includes(2));
  }
  const second = c.heartbeat(image, { ...req, metadataOffset: image.offset }, 20);
  assert.equal(second.response.shutdownReady, true);
  image = commit(image, second);
  assert.equal(image.brokers.get(2)!.fenced, true);
});

Deno.test("balanceLeaders() returns leadership to the preferred replica once it is in sync", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 3 }));
  const epoch1 = image.brokers.get(1)!.epoch;
  image = commit(
    image,
    c.heartbeat(image, {
      brokerId: 1,
      brokerEpoch: epoch1,
      metadataOffset: image.offset,
      wantShutdown: true,
    }, 1),
  );
  // Broker 1 restarts: new incarnation, unfenced after catching up, then rejoins the ISRs.
  // While its old session is alive, a new incarnation is refused (it may be a duplicate id).
  expectCode(
    () =>
      c.registerBroker(image, {
        brokerId: 1,
        incarnationId: "inc-1b",
        directoryId: "dir-1",
        clientUrl: "http://b1",
        internalUrl: "http://b1i",
        rack: null,
      }, 2),
    "DUPLICATE_BROKER_REGISTRATION",
  );
  image = commit(
    image,
    c.registerBroker(image, {
      brokerId: 1,
      incarnationId: "inc-1b",
      directoryId: "dir-1",
      clientUrl: "http://b1",
      internalUrl: "http://b1i",
      rack: null,
    }, 5000),
  );
  const b1 = image.brokers.get(1)!;
  image = commit(
    image,
    c.heartbeat(image, {
      brokerId: 1,
      brokerEpoch: b1.epoch,
      metadataOffset: image.offset,
      wantShutdown: false,
    }, 5001),
  );
  const t = topicByName(image, "t")!;
  t.partitions.forEach((p, partition) => {
    image = commit(
      image,
      c.alterPartition(image, {
        brokerId: p.leader,
        brokerEpoch: image.brokers.get(p.leader)!.epoch,
        topicId: t.topicId,
        partition,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        isr: p.replicas,
      }),
    );
  });
  const moved = c.balanceLeaders(image);
  assert.equal(moved.response, 1, "broker 1 prefers-leads one partition of three");
  image = commit(image, moved);
  for (const p of topicByName(image, "t")!.partitions) assert.equal(p.leader, p.replicas[0]);
});

Deno.test("balanceLeaders() moves leaders back only to brokers above 10 % imbalance, and only when asked", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 30 }));
  const preferredBy1 = topicByName(image, "t")!.partitions.filter((p) => p.replicas[0] === 1);
  assert.equal(preferredBy1.length, 10);
  /** Hands `count` more of broker 1's preferred leaderships to another in-sync replica. */
  const moveAwayFrom1 = (count: number) => {
    const t = topicByName(image, "t")!;
    const records: PartitionChangeRecord[] = [];
    t.partitions.forEach((p, partition) => {
      if (records.length === count || p.leader !== 1) return;
      const next = { leader: p.isr.find((b) => b !== 1)!, isr: p.isr };
      records.push(partitionChange(t.topicId, partition, p, next)!);
    });
    image = commit(image, { records, response: null });
  };
  const notLedBy1 = () =>
    topicByName(image, "t")!.partitions.filter((p) => p.replicas[0] === 1 && p.leader !== 1);

  moveAwayFrom1(1);
  assert.equal(c.balanceLeaders(image).response, 0, "1 of 10 (10 %) is not above the threshold");
  moveAwayFrom1(1);
  assert.equal(notLedBy1().length, 2);
  assert.equal(c.balanceLeaders(image, false).response, 0, "preferred moves only when asked");
  image = commit(image, c.balanceLeaders(image));
  assert.equal(notLedBy1().length, 0, "2 of 10 (20 %): both moved back");
});

Deno.test("createPartitions() only grows and keeps the replication factor", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 2 }));
  expectCode(() => c.createPartitions(image, "t", 2), "INVALID_PARTITIONS");
  expectCode(() => c.createPartitions(image, "nope", 5), "UNKNOWN_TOPIC_OR_PARTITION");
  image = commit(image, c.createPartitions(image, "t", 5));
  const parts = topicByName(image, "t")!.partitions;
  assert.equal(parts.length, 5);
  for (const p of parts) assert.equal(p.replicas.length, 3);
});

Deno.test("producer id blocks never overlap", () => {
  const c = controller();
  let image = clusterOf(c, 2);
  const blocks: number[] = [];
  for (const id of [1, 2, 1]) {
    const r = c.allocateProducerIds(image, {
      brokerId: id,
      brokerEpoch: image.brokers.get(id)!.epoch,
    });
    blocks.push(r.response.firstProducerId);
    image = commit(image, r);
  }
  assert.deepEqual(blocks, [0, 1000, 2000]);
});

Deno.test("deleteTopic() removes the topic and frees its name", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t" }));
  image = commit(image, c.deleteTopic(image, "t"));
  assert.equal(topicByName(image, "t"), undefined);
  expectCode(() => c.deleteTopic(image, "t"), "UNKNOWN_TOPIC_OR_PARTITION");
  image = commit(image, c.createTopic(image, { name: "t" }));
  assert.ok(topicByName(image, "t"));
});

Deno.test("a voter that comes back with a wiped data dir is refused with instructions", () => {
  const c = controller();
  const image = commit(clusterOf(c, 3), {
    records: [{
      type: "RegisterQuorumNode",
      nodeId: 2,
      directoryId: "dir-2",
      internalUrl: "http://b2i",
      clientUrl: "http://b2",
      voter: true,
    }],
    response: null,
  });
  expectCode(
    () =>
      c.registerBroker(image, {
        brokerId: 2,
        incarnationId: "after-wipe",
        directoryId: "a-new-directory",
        clientUrl: "http://b2",
        internalUrl: "http://b2i",
        rack: null,
      }, 10_000),
    "INCONSISTENT_VOTER_SET",
  );
  assert.throws(
    () =>
      c.registerBroker(image, {
        brokerId: 2,
        incarnationId: "after-wipe",
        directoryId: "a-new-directory",
        clientUrl: "http://b2",
        internalUrl: "http://b2i",
        rack: null,
      }, 10_000),
    /data dir was wiped or replaced.*Restore its original data dir.*quorum remove-voter --id 2 --directory-id=dir-2/,
  );
});

Deno.test("a broker-only node that comes back with a wiped data dir registers again", () => {
  const c = controller();
  const image = clusterOf(c, 3);
  const result = c.registerBroker(image, {
    brokerId: 3,
    incarnationId: "after-wipe",
    directoryId: "a-new-directory",
    clientUrl: "http://b3",
    internalUrl: "http://b3i",
    rack: null,
  }, 10_000);
  assert.equal(result.records[0].type, "RegisterBroker");
});

Deno.test("a newly active controller gives every registered broker a full session from activation", () => {
  const image = clusterOf(controller(), 3);
  // Another node takes over long after the brokers last heartbeated to the old controller.
  const successor = controller();
  const activatedAtMs = 100_000;
  successor.activate(image, activatedAtMs);
  const { sessionTimeoutMs } = DEFAULT_CONTROLLER_CONFIG;
  const within = successor.fenceExpiredBrokers(image, activatedAtMs + sessionTimeoutMs);
  assert.deepEqual(within.records, [], "nobody fenced within one session of activation");
  assert.deepEqual(within.response, []);
  const after = successor.fenceExpiredBrokers(image, activatedAtMs + sessionTimeoutMs + 1);
  assert.deepEqual(after.response, [1, 2, 3], "silent brokers are fenced once it runs out");
});

Deno.test("a broker fenced for silence is unfenced by its next heartbeat and can rejoin an ISR", () => {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions: 1 }));
  for (const id of [2, 3]) {
    c.heartbeat(image, {
      brokerId: id,
      brokerEpoch: image.brokers.get(id)!.epoch,
      metadataOffset: image.offset,
      wantShutdown: false,
    }, 1000);
  }
  image = commit(image, c.fenceExpiredBrokers(image, 2000));
  assert.equal(image.brokers.get(1)!.fenced, true);
  const beat = c.heartbeat(image, {
    brokerId: 1,
    brokerEpoch: image.brokers.get(1)!.epoch,
    metadataOffset: image.offset,
    wantShutdown: false,
  }, 2100);
  assert.equal(beat.response.fenced, false);
  image = commit(image, beat);
  assert.equal(image.brokers.get(1)!.fenced, false);
  const p = topicByName(image, "t")!.partitions[0];
  assert.ok(!p.isr.includes(1));
  const expanded = c.alterPartition(image, {
    brokerId: p.leader,
    brokerEpoch: image.brokers.get(p.leader)!.epoch,
    topicId: topicByName(image, "t")!.topicId,
    partition: 0,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    isr: [...p.isr, 1],
  });
  image = commit(image, expanded);
  assert.ok(topicByName(image, "t")!.partitions[0].isr.includes(1));
});

/** A topic of `partitions` partitions on a 3-broker cluster, and the ISR shrinks its leaders would ask for. */
function batchFixture(partitions: number) {
  const c = controller();
  let image = clusterOf(c, 3);
  image = commit(image, c.createTopic(image, { name: "t", partitions }));
  const t = topicByName(image, "t")!;
  const leader = t.partitions[0].leader;
  const led = t.partitions.flatMap((p, i) => (p.leader === leader ? [i] : []));
  const shrink = (i: number) => {
    const p = topicByName(image, "t")!.partitions[i];
    return {
      topicId: t.topicId,
      partition: i,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      isr: p.isr.filter((b) => b !== p.replicas[2]),
    };
  };
  const brokerEpoch = () => image.brokers.get(leader)!.epoch;
  return {
    c,
    get image() {
      return image;
    },
    set image(v) {
      image = v;
    },
    t,
    leader,
    led,
    shrink,
    brokerEpoch,
  };
}

Deno.test("alterPartitions() decides a batch in one metadata entry, one answer per partition", () => {
  const f = batchFixture(30);
  assert.ok(f.led.length >= 5, `broker ${f.leader} leads ${f.led.length} partitions`);
  const items = f.led.map(f.shrink);
  const result = f.c.alterPartitions(f.image, {
    brokerId: f.leader,
    brokerEpoch: f.brokerEpoch(),
    partitions: items,
  });
  assert.equal(result.records.length, items.length, "one PartitionChange per partition");
  assert.deepEqual(
    result.response.partitions.map((r) => [r.partition, r.error]),
    items.map((i) => [i.partition, undefined]),
  );
  const before = f.image.offset;
  f.image = commit(f.image, result);
  assert.equal(f.image.offset, before + 1, "the whole batch is one entry");
  for (const [n, i] of f.led.entries()) {
    const p = topicByName(f.image, "t")!.partitions[i];
    assert.deepEqual(p.isr, items[n].isr);
    assert.deepEqual(result.response.partitions[n].state, p, "the answer is the committed state");
  }
});

Deno.test("alterPartitions(): a stale or invalid partition is refused alone; the others apply", () => {
  const f = batchFixture(30);
  const [a, b, c, d, e] = f.led;
  const items = [
    f.shrink(a),
    { ...f.shrink(b), partitionEpoch: f.shrink(b).partitionEpoch + 1 }, // stale partition epoch
    { ...f.shrink(c), leaderEpoch: f.shrink(c).leaderEpoch + 7 }, // not this leader's epoch
    { ...f.shrink(d), isr: [f.shrink(d).isr.find((x) => x !== f.leader)!] }, // drops the leader
    f.shrink(e),
    { ...f.shrink(e), partition: 10_000 }, // no such partition
  ];
  const result = f.c.alterPartitions(f.image, {
    brokerId: f.leader,
    brokerEpoch: f.brokerEpoch(),
    partitions: items,
  });
  assert.deepEqual(
    result.response.partitions.map((r) => r.error?.code ?? "ok"),
    [
      "ok",
      "INVALID_UPDATE_VERSION",
      "FENCED_LEADER_EPOCH",
      "INVALID_REQUEST",
      "ok",
      "UNKNOWN_TOPIC_OR_PARTITION",
    ],
  );
  assert.equal(result.records.length, 2);
  const image = commit(f.image, result);
  const parts = topicByName(image, "t")!.partitions;
  assert.deepEqual(parts[a].isr, items[0].isr);
  assert.deepEqual(parts[e].isr, items[4].isr);
  for (const i of [b, c, d]) {
    assert.deepEqual(
      parts[i],
      topicByName(f.image, "t")!.partitions[i],
      `partition ${i} unchanged`,
    );
  }
});

Deno.test("alterPartitions(): two changes of one partition in a batch are a compare-and-set on each other", () => {
  const f = batchFixture(3);
  const i = f.led[0];
  const first = f.shrink(i);
  const result = f.c.alterPartitions(f.image, {
    brokerId: f.leader,
    brokerEpoch: f.brokerEpoch(),
    // The second is based on the same partition epoch as the first, which the first moves on.
    partitions: [first, { ...first, isr: [f.leader] }],
  });
  assert.deepEqual(result.response.partitions.map((r) => r.error?.code ?? "ok"), [
    "ok",
    "INVALID_UPDATE_VERSION",
  ]);
  // Based on the first's outcome, the second applies within the same batch.
  const chained = f.c.alterPartitions(f.image, {
    brokerId: f.leader,
    brokerEpoch: f.brokerEpoch(),
    partitions: [first, { ...first, partitionEpoch: first.partitionEpoch + 1, isr: [f.leader] }],
  });
  assert.equal(chained.records.length, 2);
  const image = commit(f.image, chained);
  const p = topicByName(image, "t")!.partitions[i];
  assert.deepEqual(p.isr, [f.leader]);
  assert.equal(p.partitionEpoch, first.partitionEpoch + 2);
  assert.deepEqual(chained.response.partitions[1].state, p);
});

Deno.test("alterPartitions(): a stale broker epoch or an oversized batch refuses the whole request", () => {
  const f = batchFixture(3);
  const items = f.led.map(f.shrink);
  expectCode(
    () =>
      f.c.alterPartitions(f.image, {
        brokerId: f.leader,
        brokerEpoch: f.brokerEpoch() - 1,
        partitions: items,
      }),
    "STALE_BROKER_EPOCH",
  );
  expectCode(
    () =>
      f.c.alterPartitions(f.image, {
        brokerId: f.leader,
        brokerEpoch: f.brokerEpoch(),
        partitions: Array.from({ length: ALTER_PARTITIONS_ITEMS_MAX + 1 }, () => items[0]),
      }),
    "INVALID_REQUEST",
  );
});

Deno.test("alterPartitions(): a fenced broker cannot join an ISR; other partitions still change", () => {
  const f = batchFixture(6);
  const [i, j] = f.led;
  // Shrink both first, then fence the removed follower and ask to add it back to one.
  f.image = commit(
    f.image,
    f.c.alterPartitions(f.image, {
      brokerId: f.leader,
      brokerEpoch: f.brokerEpoch(),
      partitions: [f.shrink(i), f.shrink(j)],
    }),
  );
  const removed = topicByName(f.image, "t")!.partitions[i].replicas[2];
  for (const id of [1, 2, 3].filter((b) => b !== removed)) {
    f.c.heartbeat(f.image, {
      brokerId: id,
      brokerEpoch: f.image.brokers.get(id)!.epoch,
      metadataOffset: f.image.offset,
      wantShutdown: false,
    }, 1000);
  }
  f.image = commit(f.image, f.c.fenceExpiredBrokers(f.image, 2000));
  const p = topicByName(f.image, "t")!.partitions[i];
  const q = topicByName(f.image, "t")!.partitions[j];
  const result = f.c.alterPartitions(f.image, {
    brokerId: f.leader,
    brokerEpoch: f.brokerEpoch(),
    partitions: [
      { ...f.shrink(i), isr: p.replicas },
      { ...f.shrink(j), isr: [f.leader] },
    ],
  });
  assert.deepEqual(result.response.partitions.map((r) => r.error?.code ?? "ok"), [
    "INELIGIBLE_REPLICA",
    "ok",
  ]);
  // The second shrinks to the leader alone (a change unless the fencing already did it).
  assert.equal(result.records.length, q.isr.length > 1 ? 1 : 0);
  assert.deepEqual(result.response.partitions[1].state?.isr, [f.leader]);
});

Deno.test("decideFor('alter-partitions') checks the body: each bad shape is INVALID_REQUEST", () => {
  const c = controller();
  const good = {
    brokerId: 1,
    brokerEpoch: 1,
    partitions: [{ topicId: "x", partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1] }],
  };
  assert.equal(typeof decideFor(c, "alter-partitions", good), "function");
  const item = good.partitions[0];
  for (
    const bad of [
      { ...good, partitions: [] },
      { ...good, partitions: "all" },
      { ...good, partitions: [null] },
      { ...good, partitions: [{ ...item, isr: "1,2" }] },
      { ...good, partitions: [{ ...item, isr: [1.5] }] },
      { ...good, partitions: [{ ...item, partition: -1 }] },
      { ...good, partitions: [{ ...item, topicId: "" }] },
      { ...good, brokerEpoch: "1" },
      { ...good, partitions: Array.from({ length: ALTER_PARTITIONS_ITEMS_MAX + 1 }, () => item) },
    ]
  ) {
    expectCode(() => decideFor(c, "alter-partitions", bad), "INVALID_REQUEST");
  }
});
