/**
 * A growable byte writer and a bounds-checked byte reader with unsigned
 * LEB128 varints for safe integers. Private to the codecs of this package.
 *
 * @module
 */

import { RaftError } from "./errors.ts";

const INITIAL_CAPACITY_BYTES = 256;
/** ceil(53 / 7): a safe integer never needs more varint bytes. */
const VARINT_BYTES_MAX = 8;

/**
 * Most unused capacity, as a fraction of the written length, that
 * {@link ByteWriter.finish} leaves behind a view instead of copying.
 */
const FINISH_SLACK_FRACTION_MAX = 1 / 8;

/**
 * Appends varints and length-prefixed bytes to a buffer that doubles as needed.
 *
 * Give a capacity hint when the size is known roughly: a 1.5 MB append
 * message written from the default capacity allocated 256 B … 2 MiB (4 MiB
 * in all) and then copied the result out; with a close hint it is one
 * buffer, handed out as a view.
 */
export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;

  constructor(capacityHintBytes: number = INITIAL_CAPACITY_BYTES) {
    this.#buf = new Uint8Array(Math.max(INITIAL_CAPACITY_BYTES, Math.ceil(capacityHintBytes)));
  }

  #reserve(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return;
    let capacity = this.#buf.length * 2;
    while (capacity < this.#len + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = value & 0xff;
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RaftError(
        "CORRUPT_MESSAGE",
        `cannot encode ${value}: not a non-negative safe integer`,
      );
    }
    this.#reserve(VARINT_BYTES_MAX);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#len++] = v;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.byteLength);
    this.#reserve(value.byteLength);
    this.#buf.set(value, this.#len);
    this.#len += value.byteLength;
  }

  /** The bytes written: a view if little capacity is unused, else a copy (so no large buffer is pinned). */
  finish(): Uint8Array {
    const slack = this.#buf.length - this.#len;
    if (slack <= this.#len * FINISH_SLACK_FRACTION_MAX) return this.#buf.subarray(0, this.#len);
    return this.#buf.slice(0, this.#len);
  }
}

/** Reads what {@link ByteWriter} wrote; every read is checked against the end. */
export class ByteReader {
  #pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}

  fail(reason: string): never {
    throw new RaftError(
      "CORRUPT_MESSAGE",
      `malformed ${this.what} at byte ${this.#pos}: ${reason}`,
    );
  }

  get remaining(): number {
    return this.buf.length - this.#pos;
  }

  u8(): number {
    if (this.#pos >= this.buf.length) this.fail("unexpected end");
    return this.buf[this.#pos++];
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) this.fail(`boolean byte ${b}`);
    return b === 1;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const b = this.u8();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) this.fail("integer beyond 2^53");
        return value;
      }
      scale *= 0x80;
    }
    return this.fail("varint longer than 8 bytes");
  }

  /** A count of items that each need at least `minItemBytes`, checked against what is left. */
  count(minItemBytes: number): number {
    const n = this.varint();
    if (n * minItemBytes > this.remaining) this.fail(`count ${n} exceeds the remaining bytes`);
    return n;
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.remaining) this.fail(`length ${n} exceeds the remaining ${this.remaining} bytes`);
    const out = this.buf.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes`);
  }
}
