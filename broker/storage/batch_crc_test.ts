import { strictEqual, throws } from "node:assert/strict";
import {
  CorruptBatchError,
  crc32cPortable,
  encodeRecordBatchSync,
  verifyBatchCrc,
} from "@strom/client";
import { batchCrcBackend, verifyBatchCrcFast } from "./batch_crc.ts";

function batchOf(valueBytes: number, count: number): Uint8Array {
  const value = new Uint8Array(valueBytes).map((_, i) => (i * 131) & 0xff);
  return encodeRecordBatchSync({ records: Array.from({ length: count }, () => ({ value })) });
}

/** The message the client's check gives, or undefined if it passes. */
function clientVerdict(batch: Uint8Array): string | undefined {
  try {
    verifyBatchCrc(batch);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

Deno.test({
  name: "the storage loads aws-crt's CRC-32C when run with all permissions",
  // aws-crt ships binaries for the common platforms; elsewhere the fallback is expected.
  ignore: Deno.build.os !== "linux" || Deno.build.arch !== "x86_64",
  fn: () => strictEqual(batchCrcBackend(), "aws-crt"),
});

Deno.test("verifyBatchCrcFast() agrees with the client's check on good and damaged batches of every size", () => {
  for (const [valueBytes, count] of [[1, 1], [300, 2], [1024, 16], [1024, 1024]]) {
    const batch = batchOf(valueBytes, count);
    verifyBatchCrcFast(batch);
    for (const at of [21, 61, batch.length >> 1, batch.length - 1]) {
      const damaged = batch.slice();
      damaged[at] ^= 0x10;
      const expected = clientVerdict(damaged);
      throws(() => verifyBatchCrcFast(damaged), (error: unknown) => {
        strictEqual(error instanceof CorruptBatchError, true);
        strictEqual((error as Error).message, expected);
        return true;
      });
    }
    throws(() => verifyBatchCrcFast(batch.subarray(0, batch.length - 1)), /truncated/);
  }
});

Deno.test("the fast CRC matches the portable reference on a 1 MiB batch", () => {
  const batch = batchOf(1024, 1024);
  const stored = new DataView(batch.buffer, batch.byteOffset).getUint32(17);
  strictEqual(crc32cPortable(batch.subarray(21)), stored);
  verifyBatchCrcFast(batch);
});
