/**
 * Fuzzes the decoder with untrusted bytes: random bytes, random bytes behind
 * a plausible header, and mutations of valid batches of every codec (with and
 * without re-signing the CRC, so mutations reach the decompressors and the
 * record parser, not just the CRC check). Every outcome must be a decoded
 * batch or a CorruptBatchError — never another exception — and the run must
 * finish (no input may loop). 12,000 inputs in all, seeded.
 */
import { ok } from "node:assert/strict";
import fc from "fast-check";
import { loadCompressionCodecs } from "../compression/codecs.ts";
import { CorruptBatchError } from "./corrupt_batch_error.ts";
import { computeBatchCrc } from "./header.ts";
import { decodeRecordBatchSync, encodeRecordBatchSync } from "./record_batch.ts";
import { encodeRecords } from "./records.ts";

const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/** Decodes `bytes`; any outcome but success or CorruptBatchError fails the property. */
function decodeOrCorrupt(bytes: Uint8Array): void {
  try {
    const { records } = decodeRecordBatchSync(bytes);
    ok(Array.isArray(records));
  } catch (error) {
    if (!(error instanceof CorruptBatchError)) {
      throw new Error(`decoder threw ${error} instead of CorruptBatchError`, { cause: error });
    }
    ok(error.code === "CORRUPT_MESSAGE" && error.message.length > 0);
  }
}

/** Rewrites batchLength and the CRC so that a mutated batch passes the outer checks. */
function resign(batch: Uint8Array): Uint8Array {
  if (batch.length >= 61) {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    view.setInt32(8, batch.length - 12);
    view.setUint32(17, computeBatchCrc(batch));
  }
  return batch;
}

type Mutation =
  | { kind: "set"; at: number; byte: number }
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number };

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
);

function mutate(bytes: Uint8Array, mutation: Mutation, from: number): Uint8Array {
  const span = Math.max(1, bytes.length - from);
  const at = from + (mutation.at % span);
  switch (mutation.kind) {
    case "set": {
      const out = bytes.slice();
      if (at < out.length) out[at] = mutation.byte;
      return out;
    }
    case "flip": {
      const out = bytes.slice();
      if (at < out.length) out[at] ^= 1 << mutation.bit;
      return out;
    }
    case "truncate":
      return bytes.slice(0, at);
    case "insert":
      return new Uint8Array([...bytes.subarray(0, at), ...mutation.bytes, ...bytes.subarray(at)]);
    case "delete":
      return new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + mutation.count)]);
  }
}

const recordsArbitrary = fc.array(
  fc.record({
    key: fc.option(fc.uint8Array({ maxLength: 16 }), { nil: null }),
    value: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
    headers: fc.array(
      fc.record({
        key: fc.string({ maxLength: 6 }),
        value: fc.option(fc.uint8Array({ maxLength: 6 }), { nil: null }),
      }),
      { maxLength: 2 },
    ),
    timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
  }),
  { minLength: 1, maxLength: 6 },
);

Deno.test("fuzz: random bytes decode or fail with CorruptBatchError", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOrCorrupt), {
    seed: 1,
    numRuns: 2000,
  });
});

Deno.test("fuzz: random records behind a valid, CRC-signed header fail only with CorruptBatchError", async () => {
  await loadCompressionCodecs();
  fc.assert(
    fc.property(
      fc.nat(4),
      fc.nat(0xffff),
      fc.integer({ min: -1, max: 40 }),
      fc.uint8Array({ maxLength: 300 }),
      (codec, attributeBits, recordCount, records) => {
        const batch = new Uint8Array(61 + records.length);
        const view = new DataView(batch.buffer);
        view.setInt8(16, 2);
        view.setInt16(21, (attributeBits & ~7) | codec);
        view.setInt32(23, Math.max(0, recordCount));
        view.setInt32(57, recordCount);
        batch.set(records, 61);
        decodeOrCorrupt(resign(batch));
      },
    ),
    { seed: 2, numRuns: 2000 },
  );
});

Deno.test("fuzz: mutated valid batches of every codec fail only with CorruptBatchError", async () => {
  await loadCompressionCodecs();
  fc.assert(
    fc.property(
      recordsArbitrary,
      fc.constantFrom(...CODECS),
      fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.boolean(),
      (records, codec, mutations, resignAfter, recordsOnly) => {
        let batch = encodeRecordBatchSync({ records, compression: codec });
        // Mutating only past the header keeps the header valid, so the damage reaches deeper.
        for (const m of mutations) batch = mutate(batch, m, recordsOnly ? 61 : 0);
        decodeOrCorrupt(resignAfter ? resign(batch) : batch);
      },
    ),
    { seed: 3, numRuns: 5000 },
  );
});

Deno.test("fuzz: well-compressed but malformed records fail only with CorruptBatchError", async () => {
  await loadCompressionCodecs();
  const { codecByName } = await import("../compression/codecs.ts");
  fc.assert(
    fc.property(
      recordsArbitrary,
      fc.constantFrom("gzip", "snappy", "lz4", "zstd") as fc.Arbitrary<"gzip">,
      fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }),
      (records, codecName, mutations) => {
        const timestamps = records.map((r) => r.timestamp);
        let plain = encodeRecords(records, timestamps, timestamps[0]);
        for (const m of mutations) plain = mutate(plain, m, 0);
        const codec = codecByName(codecName);
        const compressed = codec.compress(plain);
        const batch = new Uint8Array(61 + compressed.length);
        const view = new DataView(batch.buffer);
        view.setInt8(16, 2);
        view.setInt16(21, codec.code);
        view.setInt32(23, records.length - 1);
        view.setInt32(57, records.length);
        batch.set(compressed, 61);
        decodeOrCorrupt(resign(batch));
      },
    ),
    { seed: 4, numRuns: 3000 },
  );
});
