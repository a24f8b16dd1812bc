/**
 * Cross-checks the codec against kafkajs, an independent implementation of
 * the same format: kafkajs encodes and we decode, we encode and kafkajs
 * decodes, and where both are deterministic the bytes must be identical.
 * kafkajs ships gzip; kafkajs-snappy adds snappy. It has no lz4 or zstd.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { CompressionCodecs, CompressionTypes } from "kafkajs";
import { RecordBatch } from "kafkajs/src/protocol/recordBatch/v0/index.js";
import KafkajsRecord from "kafkajs/src/protocol/recordBatch/record/v0/index.js";
import KafkajsDecoder from "kafkajs/src/protocol/decoder.js";
import decodeKafkajsBatch from "kafkajs/src/protocol/recordBatch/v0/decoder.js";
import Long from "kafkajs/src/utils/long.js";
import SnappyCodec from "kafkajs-snappy";
import { decodeRecordBatch, encodeRecordBatch } from "./record_batch.ts";
import type { RecordInput } from "./records.ts";

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

interface BatchFields {
  records: Required<Omit<RecordInput, "offsetDelta">>[];
  baseOffset: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  partitionLeaderEpoch: number;
  transactional: boolean;
}

// Header keys are unique and non-numeric: kafkajs takes headers as an object,
// whose key order would otherwise differ from the array's. kafkajs 2.2.4
// cannot encode a null header value (its size calculation throws), so batches
// it encodes get non-null ones.
function fieldsArbitrary(nullHeaderValues: boolean): fc.Arbitrary<BatchFields> {
  const headerValue = nullHeaderValues
    ? fc.option(fc.uint8Array({ maxLength: 10 }), { nil: null })
    : fc.uint8Array({ maxLength: 10 });
  return fc.record({
    records: fc.array(
      fc.record({
        key: fc.option(fc.uint8Array({ maxLength: 30 }), { nil: null }),
        value: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }),
        headers: fc.uniqueArray(fc.string({ maxLength: 8 }), { maxLength: 3 }).chain((keys) =>
          fc.tuple(...keys.map(() => headerValue))
            .map((values) => keys.map((k, i) => ({ key: `h-${k}`, value: values[i] })))
        ),
        timestamp: fc.integer({ min: 1_500_000_000_000, max: 1_800_000_000_000 }),
      }),
      { minLength: 1, maxLength: 12 },
    ),
    baseOffset: fc.integer({ min: 0, max: 2 ** 40 }),
    producerId: fc.integer({ min: -1, max: 2 ** 40 }),
    producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
    baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
    partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fffffff }),
    transactional: fc.boolean(),
  });
}

const toBuffer = (bytes: Uint8Array | null) => bytes === null ? null : Buffer.from(bytes);

async function encodeWithKafkajs(fields: BatchFields, compression: number): Promise<Uint8Array> {
  const base = fields.records[0].timestamp;
  const records = fields.records.map((r, i) =>
    KafkajsRecord({
      offsetDelta: i,
      timestampDelta: r.timestamp - base,
      key: toBuffer(r.key),
      value: toBuffer(r.value),
      headers: Object.fromEntries(r.headers.map((h) => [h.key, toBuffer(h.value)])),
    })
  );
  const encoder = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(fields.baseOffset),
    firstTimestamp: base,
    maxTimestamp: Math.max(...fields.records.map((r) => r.timestamp)),
    partitionLeaderEpoch: fields.partitionLeaderEpoch,
    lastOffsetDelta: records.length - 1,
    transactional: fields.transactional,
    producerId: Long.fromValue(fields.producerId),
    producerEpoch: fields.producerEpoch,
    firstSequence: fields.baseSequence,
    records,
  });
  const buffer: Buffer = encoder.buffer;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function expectedRecords(fields: BatchFields) {
  return fields.records.map((r, i) => ({
    offset: fields.baseOffset + i,
    timestamp: r.timestamp,
    key: r.key,
    value: r.value,
    headers: r.headers.map((h) => ({ key: h.key, value: h.value })),
  }));
}

/** Normalises kafkajs's decoded records to our shape. */
async function decodeWithKafkajs(batch: Uint8Array) {
  const decoded = await decodeKafkajsBatch(new KafkajsDecoder(Buffer.from(batch)));
  const bytes = (b: Buffer | null) => b === null ? null : new Uint8Array(b);
  return decoded.records.map((r: Record<string, unknown>) => ({
    offset: Number(r.offset),
    timestamp: Number(r.timestamp),
    key: bytes(r.key as Buffer | null),
    value: bytes(r.value as Buffer | null),
    headers: Object.entries(r.headers as Record<string, Buffer | null>).map(([key, value]) => ({
      key,
      value: bytes(value),
    })),
  }));
}

const ours = (fields: BatchFields, compression: "none" | "gzip" | "snappy") =>
  encodeRecordBatch({ ...fields, compression });

Deno.test("uncompressed and gzip batches are byte for byte identical to kafkajs's", async () => {
  await fc.assert(
    fc.asyncProperty(fieldsArbitrary(false), async (fields) => {
      deepStrictEqual(
        await ours(fields, "none"),
        await encodeWithKafkajs(fields, CompressionTypes.None),
      );
      // Both use zlib at its default level, so even the compressed bytes match.
      deepStrictEqual(
        await ours(fields, "gzip"),
        await encodeWithKafkajs(fields, CompressionTypes.GZIP),
      );
    }),
    { seed: 11, numRuns: 60 },
  );
});

Deno.test("batches kafkajs encodes (none, gzip, raw snappy) decode to the same records with ours", async () => {
  await fc.assert(
    fc.asyncProperty(
      fieldsArbitrary(false),
      fc.constantFrom(CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy),
      async (fields, compression) => {
        const { header, records } = await decodeRecordBatch(
          await encodeWithKafkajs(fields, compression),
        );
        strictEqual(header.producerId, fields.producerId);
        strictEqual(header.baseSequence, fields.baseSequence);
        deepStrictEqual(records, expectedRecords(fields));
      },
    ),
    { seed: 12, numRuns: 60 },
  );
});

Deno.test("batches we encode (none, gzip, xerial snappy) decode to the same records with kafkajs", async () => {
  await fc.assert(
    fc.asyncProperty(
      fieldsArbitrary(true),
      fc.constantFrom("none", "gzip", "snappy") as fc.Arbitrary<"none">,
      async (fields, codec) => {
        deepStrictEqual(
          await decodeWithKafkajs(await ours(fields, codec)),
          expectedRecords(fields),
        );
      },
    ),
    { seed: 13, numRuns: 60 },
  );
});
