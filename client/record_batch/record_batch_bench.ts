/**
 * Throughput of the record batch codec: encode and decode of 16 KiB batches
 * of 1 KiB records per codec, CRC-32C on 16 KiB and 1 MiB, and gzip through
 * node:zlib against CompressionStream. Run with
 * `deno bench --allow-all client/record_batch/record_batch_bench.ts`;
 * MB/s = bytes per iteration / time per iteration.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { loadCompressionCodecs } from "../compression/codecs.ts";
import { crc32c, crc32cPortable } from "./crc32c.ts";
import type { CompressionName } from "./header.ts";
import { decodeRecordBatchSync, encodeRecordBatchSync } from "./record_batch.ts";
import type { RecordInput } from "./records.ts";

await loadCompressionCodecs();

/** Deterministic, moderately compressible text: JSON-ish events with varying numbers. */
function recordValue(seed: number, bytes: number): Uint8Array<ArrayBuffer> {
  let state = seed * 2654435761 >>> 0;
  let text = "";
  while (text.length < bytes) {
    state = (state * 1103515245 + 12345) >>> 0;
    text += `{"user":${state % 10000},"event":"click","page":"/p/${state % 97}","ms":${
      state % 5000
    }},`;
  }
  return new TextEncoder().encode(text.slice(0, bytes));
}

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 16;
const records: RecordInput[] = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
  key: new TextEncoder().encode(`key-${i}`),
  value: recordValue(i, RECORD_BYTES),
  timestamp: 1_700_000_000_000 + i,
}));
const PAYLOAD = `${RECORDS_PER_BATCH} x ${RECORD_BYTES} B records`;
const CODECS: CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

for (const compression of CODECS) {
  const batch = encodeRecordBatchSync({ records, compression, baseTimestamp: 1_700_000_000_000 });
  console.log(`${compression}: 16 KiB of records -> ${batch.length} B batch`);
  Deno.bench(`encode ${compression} (${PAYLOAD})`, { group: "encode" }, () => {
    encodeRecordBatchSync({ records, compression, baseTimestamp: 1_700_000_000_000 });
  });
  Deno.bench(`decode ${compression} (${PAYLOAD})`, { group: "decode" }, () => {
    decodeRecordBatchSync(batch);
  });
}

for (const bytes of [61, 16 * 1024, 1024 * 1024]) {
  const data = recordValue(7, bytes);
  Deno.bench(`crc32c ${bytes} B`, { group: `crc ${bytes}`, baseline: true }, () => {
    crc32c(data);
  });
  Deno.bench(`crc32cPortable ${bytes} B`, { group: `crc ${bytes}` }, () => {
    crc32cPortable(data);
  });
}

const plain = recordValue(3, 16 * 1024);
const gzipped = new Uint8Array(gzipSync(plain));

async function streamThrough(
  stream: CompressionStream | DecompressionStream,
  bytes: Uint8Array<ArrayBuffer>,
) {
  const response = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await response.arrayBuffer());
}

Deno.bench("gzip 16 KiB node:zlib", { group: "gzip compress", baseline: true }, () => {
  gzipSync(plain);
});
Deno.bench("gzip 16 KiB CompressionStream", { group: "gzip compress" }, async () => {
  await streamThrough(new CompressionStream("gzip"), plain);
});
Deno.bench("gunzip 16 KiB node:zlib", { group: "gzip decompress", baseline: true }, () => {
  gunzipSync(gzipped);
});
Deno.bench("gunzip 16 KiB DecompressionStream", { group: "gzip decompress" }, async () => {
  await streamThrough(new DecompressionStream("gzip"), gzipped);
});
