import { strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { sizeOfVarint, sizeOfVarlong, VarintReader, writeVarint, writeVarlong } from "./_varint.ts";

Deno.test("varints use Kafka's zigzag encoding", () => {
  const cases: [number, number[]][] = [
    [0, [0]],
    [-1, [1]],
    [1, [2]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
    [300, [0xd8, 0x04]],
    [2147483647, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
    [-2147483648, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, expected] of cases) {
    const bytes = new Uint8Array(5);
    const end = writeVarint(bytes, 0, value);
    strictEqual([...bytes.subarray(0, end)].join(), expected.join(), `encoding ${value}`);
    strictEqual(sizeOfVarint(value), expected.length);
    const reader = new VarintReader(bytes, 0, end);
    strictEqual(reader.varint(), value);
    strictEqual(reader.problem, null);
  }
});

Deno.test("varints and varlongs round trip for arbitrary values", () => {
  fc.assert(
    fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.maxSafeInteger(), (i, l) => {
      const bytes = new Uint8Array(16);
      let end = writeVarint(bytes, 0, i);
      strictEqual(end, sizeOfVarint(i));
      end = writeVarlong(bytes, end, l);
      strictEqual(end, sizeOfVarint(i) + sizeOfVarlong(l));
      const reader = new VarintReader(bytes, 0, end);
      strictEqual(reader.varint(), i);
      strictEqual(reader.varlong(), l);
      strictEqual(reader.pos, end);
      strictEqual(reader.problem, null);
    }),
    { seed: 7, numRuns: 1000 },
  );
});

Deno.test("varlongs at the edges of the safe range round trip", () => {
  for (const value of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, -(2 ** 31) - 1]) {
    const bytes = new Uint8Array(10);
    const end = writeVarlong(bytes, 0, value);
    strictEqual(new VarintReader(bytes, 0, end).varlong(), value);
  }
});

Deno.test("VarintReader reports truncated, overlong and out-of-range input without reading past end", () => {
  const truncated = new VarintReader(new Uint8Array([0x80, 0x80, 0x01]), 0, 2);
  strictEqual(truncated.varint(), 0);
  strictEqual(truncated.problem, "truncated");
  const tooLong = new VarintReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0, 6);
  tooLong.varint();
  strictEqual(tooLong.problem, "too long");
  const fifthTooBig = new VarintReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x1f]), 0, 5);
  fifthTooBig.varint();
  strictEqual(fifthTooBig.problem, "too long");
  const huge = new VarintReader(new Uint8Array(10).fill(0xff).fill(0x01, 9), 0, 10);
  huge.varlong();
  strictEqual(huge.problem, "out of range");
  const elevenBytes = new VarintReader(new Uint8Array(11).fill(0x80), 0, 11);
  elevenBytes.varlong();
  strictEqual(elevenBytes.problem, "too long");
});
