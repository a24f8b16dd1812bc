/**
 * Big-endian 64-bit integers as JS numbers. Strom keeps offsets, timestamps
 * and producer ids as `number` (safe integers, |x| ≤ 2^53 - 1) rather than
 * `bigint`, because every consumer of them is JS arithmetic and JSON; values
 * outside that range are refused rather than rounded.
 *
 * @module
 */

const TWO_POW_32 = 4294967296;

/**
 * Reads a big-endian int64 at `pos`; returns `undefined` when it is not a safe
 * integer so the caller can name the field in its error. The caller ensures
 * `pos + 8 <= view.byteLength`.
 */
export function readInt64Safe(view: DataView, pos: number): number | undefined {
  const high = view.getInt32(pos);
  const low = view.getUint32(pos + 4);
  // Exact whenever the result is a safe integer; otherwise it fails the check below.
  const value = high * TWO_POW_32 + low;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Writes a safe integer as a big-endian int64 at `pos`. */
export function writeInt64(view: DataView, pos: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  const low = value - high * TWO_POW_32;
  view.setInt32(pos, high);
  view.setUint32(pos + 4, low);
}

/** Asserts that `value` is a safe integer in [min, max], naming `field` if not. */
export function assertIntegerInRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${field} must be an integer in [${min}, ${max}], got ${value}`);
  }
}
