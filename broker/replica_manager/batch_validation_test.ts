import assert from "node:assert/strict";
import { BATCH_FIELD_OFFSETS, computeBatchCrc, encodeRecordBatchSync } from "@strom/client";
import type { StromError } from "@strom/client";
import { validateProduceBatches } from "./batch_validation.ts";
import { textBatch } from "./_test_cluster.ts";

const LIMITS = { maxMessageBytes: 1024 * 1024 + 12 };

function rejects(bytes: Uint8Array, code: string, limits = LIMITS): StromError {
  let caught: StromError | undefined;
  assert.throws(() => validateProduceBatches(bytes, limits), (e: StromError) => {
    caught = e;
    return e.code === code;
  });
  return caught!;
}

/** Rewrites a header field and fixes the CRC, so only the field is wrong. */
function patched(batch: Uint8Array, patch: (view: DataView) => void): Uint8Array {
  const copy = batch.slice();
  const view = new DataView(copy.buffer);
  patch(view);
  view.setUint32(BATCH_FIELD_OFFSETS.crc, computeBatchCrc(copy));
  return copy;
}

Deno.test("validateProduceBatches() splits concatenated batches into views of the body", () => {
  const a = textBatch(["a"]);
  const b = textBatch(["b", "c"]);
  const body = new Uint8Array([...a, ...b]);
  const batches = validateProduceBatches(body, LIMITS);
  assert.deepEqual(batches.map((x) => x.header.recordCount), [1, 2]);
  assert.equal(batches[1].bytes.buffer, body.buffer, "no copy");
});

Deno.test("validateProduceBatches() refuses an empty body, a bad CRC and a truncated batch as CORRUPT_MESSAGE", () => {
  rejects(new Uint8Array(0), "CORRUPT_MESSAGE");
  const bad = textBatch(["x"]);
  bad[bad.length - 1] ^= 0xff;
  assert.match(rejects(bad, "CORRUPT_MESSAGE").message, /batch 0 .*corrupt/);
  const whole = textBatch(["x"]);
  rejects(whole.subarray(0, whole.length - 1), "CORRUPT_MESSAGE");
  const wrongMagic = textBatch(["x"]);
  wrongMagic[BATCH_FIELD_OFFSETS.magic] = 1;
  rejects(wrongMagic, "CORRUPT_MESSAGE");
});

Deno.test("validateProduceBatches() refuses a batch over max.message.bytes as MESSAGE_TOO_LARGE", () => {
  const big = encodeRecordBatchSync({ records: [{ value: new Uint8Array(2_000) }] });
  const e = rejects(big, "MESSAGE_TOO_LARGE", { maxMessageBytes: 1_000 });
  assert.equal(e.details?.maxMessageBytes, 1_000);
});

Deno.test("validateProduceBatches() refuses record counts that do not match, transactions and bad timestamps as INVALID_RECORD", () => {
  const batch = textBatch(["a", "b"]);
  rejects(patched(batch, (v) => v.setInt32(BATCH_FIELD_OFFSETS.recordCount, 0)), "INVALID_RECORD");
  rejects(patched(batch, (v) => v.setInt32(BATCH_FIELD_OFFSETS.recordCount, 3)), "INVALID_RECORD");
  rejects(
    encodeRecordBatchSync({ records: [{ value: null }], transactional: true }),
    "INVALID_RECORD",
  );
  rejects(
    patched(batch, (v) => v.setBigInt64(BATCH_FIELD_OFFSETS.maxTimestamp, -5n)),
    "INVALID_RECORD",
  );
  rejects(
    patched(batch, (v) => v.setBigInt64(BATCH_FIELD_OFFSETS.maxTimestamp, 10n)),
    "INVALID_RECORD",
  );
});
