import assert from "node:assert/strict";
import type { StromError } from "@strom/client";
import {
  answerBatchBytes,
  decodeReplicaFetchResponse,
  encodeReplicaFetchResponse,
  encodeReplicaFetchResponseParts,
  parseReplicaFetchRequest,
} from "./fetch_wire.ts";
import type { ReplicaFetchAnswer, ReplicaFetchResponse } from "./fetch_wire.ts";

const RESPONSE: ReplicaFetchResponse = {
  partitions: [
    {
      topic: "a",
      partition: 0,
      kind: "read",
      highWatermark: 7,
      logStartOffset: 0,
      batches: new Uint8Array([1, 2, 3]),
    },
    {
      topic: "b",
      partition: 2,
      kind: "diverging",
      highWatermark: 4,
      logStartOffset: 0,
      divergingEpoch: { epoch: 1, endOffset: 5 },
      batches: new Uint8Array(0),
    },
    {
      topic: "c",
      partition: 1,
      kind: "error",
      highWatermark: -1,
      logStartOffset: -1,
      error: { code: "FENCED_LEADER_EPOCH", message: "stale", details: { currentEpoch: 3 } },
      batches: new Uint8Array([9, 9]),
    },
  ],
};

Deno.test("a replica fetch response survives encoding with its batches byte for byte", () => {
  const frame = encodeReplicaFetchResponse(RESPONSE);
  const back = decodeReplicaFetchResponse(frame);
  assert.deepEqual(back, RESPONSE);
  assert.equal(back.partitions[0].batches.buffer, frame.buffer, "batches are views, not copies");
});

Deno.test("the parts of a response are its frame, the stored batches passed as they are", () => {
  const parts = encodeReplicaFetchResponseParts(RESPONSE);
  // The header, then the non-empty batches themselves (the leader streams them, no copy).
  assert.equal(parts.length, 3);
  assert.equal(parts[1], RESPONSE.partitions[0].batches);
  assert.equal(parts[2], RESPONSE.partitions[2].batches);
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  assert.deepEqual(joined, encodeReplicaFetchResponse(RESPONSE));
  assert.deepEqual(decodeReplicaFetchResponse(joined), RESPONSE);
});

Deno.test("a partition answered in several parts (recent appends) decodes as their batches back to back", () => {
  const first = new Uint8Array([1, 2]);
  const second = new Uint8Array([3, 4, 5]);
  const answer: ReplicaFetchAnswer = {
    partitions: [
      { ...RESPONSE.partitions[0], batches: [first, new Uint8Array(0), second] },
      RESPONSE.partitions[2],
    ],
  };
  assert.equal(answerBatchBytes(answer.partitions[0]), 5);
  const parts = encodeReplicaFetchResponseParts(answer);
  assert.deepEqual(parts.slice(1), [first, second, RESPONSE.partitions[2].batches]);
  assert.equal(parts[1], first, "passed as they are");
  const back = decodeReplicaFetchResponse(encodeReplicaFetchResponse(answer));
  assert.deepEqual(back.partitions.map((p) => p.batches), [
    new Uint8Array([1, 2, 3, 4, 5]),
    new Uint8Array([9, 9]),
  ]);
  assert.deepEqual(back.partitions[1], RESPONSE.partitions[2]);
});

Deno.test("decodeReplicaFetchResponse() refuses truncated, oversized and trailing frames", () => {
  const frame = encodeReplicaFetchResponse(RESPONSE);
  const bad = (bytes: Uint8Array) =>
    assert.throws(
      () => decodeReplicaFetchResponse(bytes),
      (e: StromError) => e.code === "CORRUPT_MESSAGE",
    );
  bad(frame.subarray(0, 2));
  bad(frame.subarray(0, frame.length - 1));
  bad(new Uint8Array([...frame, 0]));
  bad(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0]));
  bad(new Uint8Array([0, 0, 0, 2, 0x7b, 0x7d]));
});

Deno.test("parseReplicaFetchRequest() accepts a well-formed request and refuses a malformed one", () => {
  const ok = {
    replicaId: 2,
    maxWaitMs: 500,
    partitions: [{
      topic: "a",
      partition: 0,
      currentLeaderEpoch: 1,
      fetchOffset: 5,
      lastFetchedEpoch: -1,
      highWatermark: 3,
    }],
  };
  assert.deepEqual(parseReplicaFetchRequest(ok), ok);
  assert.equal(parseReplicaFetchRequest({ ...ok, omitUnchanged: true }).omitUnchanged, true);
  for (
    const bad of [
      null,
      { ...ok, replicaId: -1 },
      { ...ok, omitUnchanged: "yes" },
      { ...ok, partitions: "x" },
      { ...ok, partitions: [{ ...ok.partitions[0], fetchOffset: 1.5 }] },
    ]
  ) {
    assert.throws(
      () => parseReplicaFetchRequest(bad),
      (e: StromError) => e.code === "INVALID_REQUEST",
    );
  }
});
