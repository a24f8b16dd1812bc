/**
 * Kafka's zigzag varints (protobuf style): a 32-bit `varint` takes at most 5
 * bytes, a 64-bit `varlong` at most 10. Varlongs are JS numbers here, so only
 * safe integers are written or accepted.
 *
 * @module
 */

/** Longest varint encoding of an int32. */
const VARINT_BYTES_MAX = 5;
/** Longest varint encoding of an int64. */
const VARLONG_BYTES_MAX = 10;
/** Magnitudes below this zigzag-encode into a uint32, so 32-bit bit operations suffice. */
const SMALL_MAGNITUDE_MAX = 0x3fffffff;

/** Bytes `writeVarint` uses for `value` (an int32). */
export function sizeOfVarint(value: number): number {
  let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned >>>= 7;
    size++;
  }
  return size;
}

/** Bytes `writeVarlong` uses for `value` (a safe integer). */
export function sizeOfVarlong(value: number): number {
  if (value >= -SMALL_MAGNITUDE_MAX && value <= SMALL_MAGNITUDE_MAX) return sizeOfVarint(value);
  let unsigned = zigzagBig(value);
  let size = 1;
  while (unsigned >= 0x80n) {
    unsigned >>= 7n;
    size++;
  }
  return size;
}

function zigzagBig(value: number): bigint {
  const big = BigInt(value);
  return big >= 0n ? big << 1n : (-big << 1n) - 1n;
}

/** Writes an int32 zigzag varint at `pos`; returns the position after it. */
export function writeVarint(bytes: Uint8Array, pos: number, value: number): number {
  let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
  while (unsigned >= 0x80) {
    bytes[pos++] = (unsigned & 0x7f) | 0x80;
    unsigned >>>= 7;
  }
  bytes[pos++] = unsigned;
  return pos;
}

/** Writes a safe-integer zigzag varlong at `pos`; returns the position after it. */
export function writeVarlong(bytes: Uint8Array, pos: number, value: number): number {
  if (value >= -SMALL_MAGNITUDE_MAX && value <= SMALL_MAGNITUDE_MAX) {
    return writeVarint(bytes, pos, value);
  }
  let unsigned = zigzagBig(value);
  while (unsigned >= 0x80n) {
    bytes[pos++] = Number(unsigned & 0x7fn) | 0x80;
    unsigned >>= 7n;
  }
  bytes[pos++] = Number(unsigned);
  return pos;
}

/** Why a varint could not be read; the caller turns it into a CorruptBatchError. */
export type VarintProblem = "truncated" | "too long" | "out of range";

/**
 * A bounds-checked reader of varints from `bytes[pos..end)`. Each read returns
 * the value and advances `pos`, or records the problem in `problem` and
 * returns 0 — no exceptions on the hot path, and never a read past `end`.
 */
export class VarintReader {
  pos: number;
  problem: VarintProblem | null = null;

  constructor(readonly bytes: Uint8Array, pos: number, readonly end: number) {
    this.pos = pos;
  }

  /** Reads an int32 zigzag varint. */
  varint(): number {
    const { bytes, end } = this;
    let pos = this.pos;
    let unsigned = 0;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (pos >= end) return this.fail("truncated");
      const byte = bytes[pos++];
      if (i === VARINT_BYTES_MAX - 1 && byte > 0x0f) return this.fail("too long");
      unsigned |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        this.pos = pos;
        return (unsigned >>> 1) ^ -(unsigned & 1);
      }
    }
    return this.fail("too long");
  }

  /** Reads a zigzag varlong that must decode to a safe integer. */
  varlong(): number {
    const { bytes, end } = this;
    let pos = this.pos;
    // Accumulate with multiplication: exact while below 2^53.
    let unsigned = 0;
    let scale = 1;
    for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
      if (pos >= end) return this.fail("truncated");
      const byte = bytes[pos++];
      unsigned += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (unsigned > Number.MAX_SAFE_INTEGER) return this.varlongExact(pos);
        this.pos = pos;
        return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
      }
      scale *= 128;
    }
    return this.fail("too long");
  }

  /** Re-reads a large varlong ending before `end` exactly, with bigints. */
  private varlongExact(end: number): number {
    let unsigned = 0n;
    for (let pos = end - 1; pos >= this.pos; pos--) {
      unsigned = (unsigned << 7n) | BigInt(this.bytes[pos] & 0x7f);
    }
    const value = unsigned & 1n ? -((unsigned + 1n) >> 1n) : unsigned >> 1n;
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      return this.fail("out of range");
    }
    this.pos = end;
    return Number(value);
  }

  private fail(problem: VarintProblem): number {
    this.problem ??= problem;
    return 0;
  }
}
