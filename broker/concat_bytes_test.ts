import assert from "node:assert/strict";
import { concatBytes } from "./concat_bytes.ts";

Deno.test("concatBytes joins the parts in order into a new buffer", () => {
  const a = new Uint8Array([1, 2]);
  const joined = concatBytes([a, new Uint8Array(0), new Uint8Array([3])]);
  assert.deepEqual(joined, new Uint8Array([1, 2, 3]));
  joined[0] = 9;
  assert.equal(a[0], 1, "a copy, not a view");
  assert.deepEqual(concatBytes([a, a], 4), new Uint8Array([1, 2, 1, 2]));
  assert.deepEqual(concatBytes([]), new Uint8Array(0));
});
