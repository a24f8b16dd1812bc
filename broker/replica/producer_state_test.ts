import assert from "node:assert/strict";
import { SEQUENCE_MAX } from "./config.ts";
import type { ProducerBatchHeader, ProducerValidation } from "./producer_state.ts";
import {
  chooseSnapshot,
  decodeProducerSnapshot,
  encodeProducerSnapshot,
  inSequence,
  lastSequence,
  ProducerStateManager,
  rebuildProducerState,
  sequenceBefore,
} from "./producer_state.ts";

/** A batch of `count` records from producer 7. */
function batch(
  baseSequence: number,
  count: number,
  over: Partial<ProducerBatchHeader> = {},
): ProducerBatchHeader {
  return {
    producerId: 7,
    producerEpoch: 0,
    baseSequence,
    lastOffsetDelta: count - 1,
    baseOffset: 0,
    maxTimestamp: 1_000,
    ...over,
  };
}

const verdict = (v: ProducerValidation) =>
  v.kind === "error"
    ? v.error.code
    : v.kind === "duplicate"
    ? `dup@${v.baseOffset}-${v.lastOffset}`
    : v.kind;

/** Validates and, if accepted, appends at the state's end offset. */
function produce(m: ProducerStateManager, b: ProducerBatchHeader): string {
  const [v] = m.validate([b]);
  if (v.kind === "append") m.apply({ ...b, baseOffset: m.endOffset });
  return verdict(v);
}

Deno.test("sequences wrap from 2^31-1 to 0 like Kafka's", () => {
  assert.equal(lastSequence(0, 4), 4);
  assert.equal(lastSequence(SEQUENCE_MAX - 1, 3), 1);
  assert.equal(lastSequence(SEQUENCE_MAX, 0), SEQUENCE_MAX);
  assert.equal(inSequence(SEQUENCE_MAX, 0), true);
  assert.equal(inSequence(4, 5), true);
  assert.equal(inSequence(4, 6), false);
});

Deno.test("sequence order is judged over half the sequence space, across the wrap", () => {
  assert.equal(sequenceBefore(3, 4), true);
  assert.equal(sequenceBefore(4, 4), false);
  assert.equal(sequenceBefore(5, 4), false);
  assert.equal(sequenceBefore(SEQUENCE_MAX, 2), true);
  assert.equal(sequenceBefore(2, SEQUENCE_MAX), false);
});

Deno.test("a retry older than the window after a wrap is still a duplicate", () => {
  // A producer whose sequences were all appended here, about to wrap (restored from a snapshot:
  // reaching 2^31 by appending would take too long).
  const m = ProducerStateManager.fromSnapshot({
    version: 1,
    endOffset: 1,
    producers: [{
      producerId: 7,
      producerEpoch: 0,
      batches: [{
        firstSeq: SEQUENCE_MAX - 1,
        lastSeq: SEQUENCE_MAX - 1,
        baseOffset: 0,
        lastOffset: 0,
        timestampMs: 1_000,
      }],
      lastTimestampMs: 1_000,
      gapless: true,
    }],
  }, { partition: "t-0" });
  for (let i = 0; i < 6; i++) {
    assert.equal(produce(m, batch(lastSequence(SEQUENCE_MAX, i), 1)), "append");
  }
  assert.equal(produce(m, batch(SEQUENCE_MAX - 1, 1)), "dup@-1--1");
});

Deno.test("an old sequence of a producer first seen mid-stream is out of order, not a duplicate", () => {
  // A new leader that never had the producer's first batches: sequences before the first it saw
  // may never have been appended, and acknowledging one would lose it.
  const m = new ProducerStateManager({ partition: "t-0" });
  for (let seq = 7; seq < 14; seq++) assert.equal(produce(m, batch(seq, 1)), "append");
  assert.equal(produce(m, batch(2, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  assert.equal(produce(m, batch(7, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  // A gap inside an epoch (an expired producer returning) also ends the certainty.
  const g = new ProducerStateManager({ partition: "t-0" });
  for (let seq = 0; seq < 3; seq++) produce(g, batch(seq, 1));
  g.expire(Number.MAX_SAFE_INTEGER, 0);
  for (let seq = 10; seq < 16; seq++) produce(g, batch(seq, 1));
  assert.equal(produce(g, batch(4, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
});

Deno.test("gapless survives a snapshot round trip; snapshots without it read as not gapless", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  for (let seq = 0; seq < 7; seq++) produce(m, batch(seq, 1));
  const restored = ProducerStateManager.fromSnapshot(
    decodeProducerSnapshot(encodeProducerSnapshot(m.snapshot())),
    { partition: "t-0" },
  );
  assert.equal(produce(restored, batch(0, 1)), "dup@-1--1");
  const old = m.snapshot();
  const legacy = ProducerStateManager.fromSnapshot({
    ...old,
    producers: old.producers.map(({ gapless: _, ...p }) => p),
  }, { partition: "t-0" });
  assert.equal(produce(legacy, batch(0, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
});

Deno.test("batches must follow each other without gaps", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  assert.equal(produce(m, batch(0, 3)), "append");
  assert.equal(produce(m, batch(3, 2)), "append");
  assert.equal(produce(m, batch(6, 1)), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  assert.equal(produce(m, batch(5, 1)), "append");
  assert.equal(m.endOffset, 6);
});

Deno.test("a refusal past the expected sequence is marked ahead (the missing batch may be on its way)", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  produce(m, batch(0, 3));
  const ahead = (b: ProducerBatchHeader) => {
    const [v] = m.validate([b]);
    assert.equal(v.kind, "error");
    return v.kind === "error" && v.sequenceAhead === true;
  };
  assert.equal(ahead(batch(5, 1)), true, "3 and 4 are missing");
  assert.equal(ahead(batch(1, 3)), false, "overlaps what was appended: it can never fit");
  assert.equal(ahead(batch(2, 1, { producerEpoch: 1 })), true, "the new epoch's batch 0 may come");
  const w = new ProducerStateManager({ partition: "t-0" });
  produce(w, batch(SEQUENCE_MAX - 1, 1));
  const [wrapped] = w.validate([batch(1, 1)]);
  assert.ok(wrapped.kind === "error" && wrapped.sequenceAhead, "2^31-1 and 0 are missing");
  assert.equal(m.endOffset, 3, "validation appends nothing");
});

Deno.test("a retry of any of the last five batches is answered with its original offsets", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  for (let i = 0; i < 7; i++) produce(m, batch(i * 2, 2));
  // Batches 2..6 (sequences 4..13, offsets 4..13) are retained; 0 and 1 are not.
  assert.equal(produce(m, batch(4, 2)), "dup@4-5");
  assert.equal(produce(m, batch(12, 2)), "dup@12-13");
  // Older than the window: it was appended (sequences are accepted only in order), so it is a
  // duplicate whose offsets are forgotten, never a reason for the producer to re-send it.
  assert.equal(produce(m, batch(2, 2)), "dup@-1--1", "older than the window");
  assert.equal(produce(m, batch(0, 1)), "dup@-1--1", "older than the window");
  assert.equal(produce(m, batch(4, 3)), "OUT_OF_ORDER_SEQUENCE_NUMBER", "not the same batch");
  assert.equal(m.endOffset, 14);
});

Deno.test("an unknown producer may start at any sequence (Kafka's rule after expiry)", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  const [held] = m.validate([batch(42, 1)], { holdUnknownAhead: true });
  assert.ok(held.kind === "error" && held.sequenceAhead, "held while batch 0 may be on its way");
  const [zero] = m.validate([batch(0, 1)], { holdUnknownAhead: true });
  assert.equal(zero.kind, "append");
  assert.equal(produce(m, batch(42, 1)), "append");
  assert.equal(produce(m, batch(43, 1)), "append");
});

Deno.test("an older epoch is fenced; a newer one must restart at sequence 0", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  produce(m, batch(0, 5, { producerEpoch: 3 }));
  assert.equal(produce(m, batch(5, 1, { producerEpoch: 2 })), "INVALID_PRODUCER_EPOCH");
  assert.equal(produce(m, batch(5, 1, { producerEpoch: 4 })), "OUT_OF_ORDER_SEQUENCE_NUMBER");
  assert.equal(produce(m, batch(0, 1, { producerEpoch: 4 })), "append");
  assert.equal(m.producer(7)?.producerEpoch, 4);
  assert.equal(m.producer(7)?.batches.length, 1, "the old epoch's batches are forgotten");
  assert.equal(produce(m, batch(0, 5, { producerEpoch: 3 })), "INVALID_PRODUCER_EPOCH");
});

Deno.test("a sequence continues across the 2^31-1 wrap", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  assert.equal(produce(m, batch(SEQUENCE_MAX - 1, 2)), "append");
  assert.equal(produce(m, batch(0, 2)), "append");
  assert.equal(produce(m, batch(SEQUENCE_MAX - 1, 2)), "dup@0-1");
});

Deno.test("validate() checks a request's batches against each other", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  produce(m, batch(0, 2));
  const verdicts = m.validate([
    batch(2, 2),
    batch(4, 1),
    batch(6, 1),
    batch(0, 1, { producerId: -1 }),
  ]);
  assert.deepEqual(verdicts.map(verdict), [
    "append",
    "append",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "append",
  ]);
  assert.equal(m.endOffset, 2, "validation changes nothing");
});

Deno.test("an idempotent batch without a sequence is invalid", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  assert.equal(produce(m, batch(-1, 1)), "INVALID_RECORD");
});

Deno.test("the least recently written producer is forgotten past producersMax", () => {
  const m = new ProducerStateManager({ partition: "t-0", producersMax: 2 });
  produce(m, batch(0, 1, { producerId: 1 }));
  produce(m, batch(0, 1, { producerId: 2 }));
  produce(m, batch(1, 1, { producerId: 1 }));
  produce(m, batch(0, 1, { producerId: 3 }));
  assert.equal(m.producerCount, 2);
  assert.equal(m.producer(2), undefined);
  assert.ok(m.producer(1) && m.producer(3));
});

Deno.test("expire() forgets producers idle for the expiration time", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  produce(m, batch(0, 1, { producerId: 1, maxTimestamp: 100 }));
  produce(m, batch(0, 1, { producerId: 2, maxTimestamp: 900 }));
  assert.equal(m.expire(1_100, 1_000), 1);
  assert.equal(m.producer(1), undefined);
  assert.ok(m.producer(2));
});

Deno.test("a snapshot round-trips through bytes and restores the same verdicts", () => {
  const m = new ProducerStateManager({ partition: "t-0" });
  for (let i = 0; i < 3; i++) produce(m, batch(i, 1));
  produce(m, batch(0, 1, { producerId: -1 }));
  const restored = ProducerStateManager.fromSnapshot(
    decodeProducerSnapshot(encodeProducerSnapshot(m.snapshot())),
    { partition: "t-0" },
  );
  assert.deepEqual(restored.snapshot(), m.snapshot());
  assert.equal(restored.endOffset, 4);
  assert.equal(produce(restored, batch(1, 1)), "dup@1-1");
  assert.equal(produce(restored, batch(3, 1)), "append");
});

Deno.test("decodeProducerSnapshot() refuses malformed bytes", () => {
  const bad = [
    "{}",
    '{"version":2,"endOffset":0,"producers":[]}',
    '{"version":1,"endOffset":1,"producers":[{"producerId":1,"producerEpoch":0,"lastTimestampMs":0,' +
    '"batches":[{"firstSeq":0,"lastSeq":0,"baseOffset":0,"lastOffset":5,"timestampMs":0}]}]}',
  ];
  for (const text of bad) {
    assert.throws(() => decodeProducerSnapshot(new TextEncoder().encode(text)), /malformed/);
  }
});

Deno.test("after a truncation the state is rebuilt from a snapshot below it plus the log", () => {
  // The log: producer 7 writes 10 one-record batches at offsets 0..9.
  const log = Array.from({ length: 10 }, (_, i) => batch(i, 1, { baseOffset: i }));
  const m = new ProducerStateManager({ partition: "t-0" });
  const snapshots = [];
  for (const b of log) {
    m.apply(b);
    if (m.endOffset % 4 === 0) snapshots.push(m.snapshot());
  }
  assert.equal(m.needsRebuildAfterTruncation(6), true);
  assert.equal(m.needsRebuildAfterTruncation(10), false);
  const snapshot = chooseSnapshot(snapshots, 6);
  assert.equal(snapshot?.endOffset, 4);
  const rebuilt = rebuildProducerState({
    partition: "t-0",
    snapshot,
    logStartOffset: 0,
    batches: log.filter((b) => b.baseOffset >= snapshot!.endOffset),
    truncateOffset: 6,
  });
  assert.equal(rebuilt.endOffset, 6);
  assert.equal(produce(rebuilt, batch(6, 1)), "append", "the truncated batches are gone");
  assert.equal(produce(rebuilt, batch(5, 1)), "dup@5-5");

  const fromScratch = rebuildProducerState({
    partition: "t-0",
    snapshot: chooseSnapshot(snapshots, 3),
    logStartOffset: 0,
    batches: log,
    truncateOffset: 6,
  });
  assert.deepEqual(
    fromScratch.snapshot(),
    rebuildProducerState({
      partition: "t-0",
      snapshot,
      logStartOffset: 0,
      batches: log.slice(4),
      truncateOffset: 6,
    }).snapshot(),
  );
});

Deno.test("a follower that applies the leader's batches answers retries the same way after failover", () => {
  const leader = new ProducerStateManager({ partition: "t-0" });
  const follower = new ProducerStateManager({ partition: "t-0" });
  for (let i = 0; i < 4; i++) {
    const b = batch(i * 3, 3);
    const [v] = leader.validate([b]);
    assert.equal(v.kind, "append");
    const appended = { ...b, baseOffset: leader.endOffset };
    leader.apply(appended);
    follower.apply(appended);
  }
  assert.equal(produce(follower, batch(6, 3)), "dup@6-8");
  assert.equal(produce(follower, batch(12, 1)), "append");
});
