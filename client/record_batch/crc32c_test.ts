import { strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { crc32c, crc32cIsNative, crc32cPortable } from "./crc32c.ts";

/** Obviously-correct bitwise CRC-32C, to cross-check the table-driven one. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

Deno.test("crc32c() matches the standard check value for '123456789'", () => {
  strictEqual(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});

Deno.test("crc32c() matches the RFC 3720 test vectors", () => {
  strictEqual(crc32c(new Uint8Array(32)), 0x8a9136aa);
  strictEqual(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  strictEqual(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  strictEqual(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

Deno.test("crc32c() of no bytes is 0", () => {
  strictEqual(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c() agrees with a bitwise implementation on arbitrary bytes and chunking", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const expected = crc32cBitwise(bytes);
      strictEqual(crc32c(bytes), expected);
      const at = bytes.length === 0 ? 0 : cut % bytes.length;
      strictEqual(crc32c(bytes.subarray(at), crc32c(bytes.subarray(0, at))), expected);
    }),
    { seed: 3720, numRuns: 300 },
  );
});

Deno.test("crc32c() reads only its subarray view of a larger buffer", () => {
  const bytes = new TextEncoder().encode("xx123456789yy");
  strictEqual(crc32c(bytes.subarray(2, 11)), 0xe3069283);
});

Deno.test("crc32cPortable() agrees with a bitwise implementation across the 8-byte stride", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.nat(0xffffffff), (b, init) => {
      strictEqual(crc32cPortable(b), crc32cBitwise(b));
      strictEqual(crc32cPortable(b, init), crc32c(b, init));
    }),
    { seed: 8, numRuns: 300 },
  );
});

Deno.test("crc32c() gives the same answer on the native and portable paths for large inputs", () => {
  // With --allow-all the native addon is loaded; without it both calls are portable.
  const random = fc.sample(fc.uint8Array({ minLength: 512, maxLength: 70_000 }), {
    seed: 512,
    numRuns: 20,
  });
  for (const bytes of random) {
    strictEqual(crc32c(bytes), crc32cPortable(bytes));
    strictEqual(
      crc32c(bytes.subarray(3), 0x12345678),
      crc32cPortable(bytes.subarray(3), 0x12345678),
    );
  }
  strictEqual(typeof crc32cIsNative(), "boolean");
});
