/**
 * Idempotent producer state of one partition (Kafka's
 * `ProducerStateManager`): for each producer id, its epoch and its last
 * {@link PRODUCER_BATCHES_RETAINED} batches, so that the leader can reject
 * gaps and answer retries with the offsets the first attempt got.
 *
 * Validation rules (leader, client appends), as Kafka's `ProducerAppendInfo`:
 * - producer id -1: not idempotent, nothing to check;
 * - unknown producer id: any sequence is accepted. Kafka's rule since
 *   KIP-360: the broker cannot tell a brand-new producer (which starts at 0)
 *   from one whose state expired or whose batches retention deleted, and
 *   refusing the latter would wedge it. A fresh producer sends 0 first, but
 *   its next batches may overtake it over HTTP/2, so the leader first holds
 *   such a batch (`holdUnknownAhead`) for a while in case batch 0 comes;
 * - epoch below the known one: INVALID_PRODUCER_EPOCH (a zombie producer);
 * - epoch above the known one: the producer was re-initialised; its first
 *   batch must have sequence 0 (else OUT_OF_ORDER_SEQUENCE_NUMBER), and the
 *   old sequences are forgotten;
 * - same epoch: a batch equal (first and last sequence) to one of the
 *   retained ones is a duplicate, answered with that batch's offsets and not
 *   appended; otherwise it must start right after the last one
 *   (`lastSeq + 1`, wrapping from 2^31-1 to 0), else
 *   OUT_OF_ORDER_SEQUENCE_NUMBER.
 *
 * Replicas (and recovery) {@link ProducerStateManager.apply} every batch in
 * offset order without validation: the leader validated it.
 *
 * Invariants:
 * - `endOffset` only grows through `apply`, and every applied batch starts at
 *   or after it: the state reflects exactly the batches below `endOffset`;
 * - each producer keeps ≤ PRODUCER_BATCHES_RETAINED batches, in offset
 *   order, all of its current epoch;
 * - at most `producersMax` producers; past it, the least recently written is
 *   forgotten (and treated as unknown if it returns).
 *
 * Truncation: a truncated log drops state that cannot be un-applied (older
 * batches fell out of the window), so the state is rebuilt from the newest
 * snapshot at or below the truncation offset plus a replay of the log from
 * there ({@link chooseSnapshot}, {@link rebuildProducerState}).
 *
 * Transactions are not supported: control batches are applied like data.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { invariant } from "./_assert.ts";
import { PRODUCER_BATCHES_RETAINED, PRODUCERS_PER_PARTITION_MAX, SEQUENCE_MAX } from "./config.ts";

/** The batch-header fields producer state reads (a subset of `BatchHeader`). */
export interface ProducerBatchHeader {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
  readonly baseOffset: number;
  readonly maxTimestamp: number;
}

/** What is remembered of one batch. */
export interface BatchMetadata {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly timestampMs: number;
}

/** One producer's state. */
export interface ProducerEntry {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Oldest first; ≤ PRODUCER_BATCHES_RETAINED. */
  readonly batches: readonly BatchMetadata[];
  readonly lastTimestampMs: number;
  /**
   * Every sequence of this epoch from 0 to the newest batch's was appended
   * here, without a gap: the first batch seen had sequence 0 and each later
   * one followed its predecessor. Only then is a sequence older than the
   * window known to be appended. Absent (older snapshots) means false.
   */
  readonly gapless?: boolean;
}

/** Verdict on one batch a client wants appended. */
export type ProducerValidation =
  | { readonly kind: "append" }
  /** Offsets -1: a retry of a batch older than the remembered window (appended, offsets unknown). */
  | { readonly kind: "duplicate"; readonly baseOffset: number; readonly lastOffset: number }
  | {
    readonly kind: "error";
    readonly error: StromError;
    /**
     * The refusal is OUT_OF_ORDER_SEQUENCE_NUMBER because the batch starts
     * past the next expected sequence: an earlier batch of this producer has
     * not been appended. Over HTTP/2 a producer's in-flight requests race
     * each other, so that batch may still be on its way and the leader may
     * wait for it before refusing (see `PartitionReplica.produce`).
     */
    readonly sequenceAhead?: true;
  };

/** Serialisable state at `endOffset`. */
export interface ProducerStateSnapshot {
  readonly version: 1;
  /** The state covers exactly the batches below this offset. */
  readonly endOffset: number;
  /** Least recently written first. */
  readonly producers: readonly ProducerEntry[];
}

/** The last sequence of a batch, wrapping like Kafka's `incrementSequence`. */
export function lastSequence(baseSequence: number, lastOffsetDelta: number): number {
  if (baseSequence > SEQUENCE_MAX - lastOffsetDelta) {
    return lastOffsetDelta - (SEQUENCE_MAX - baseSequence) - 1;
  }
  return baseSequence + lastOffsetDelta;
}

/** Whether sequence `a` comes before `b` (within half the sequence space, as they wrap). */
export function sequenceBefore(a: number, b: number): boolean {
  const space = SEQUENCE_MAX + 1;
  const distance = (b - a + space) % space;
  return distance > 0 && distance < space / 2;
}

/** Whether `nextFirstSeq` directly follows `lastSeq`. */
export function inSequence(lastSeq: number, nextFirstSeq: number): boolean {
  return nextFirstSeq === lastSeq + 1 || (nextFirstSeq === 0 && lastSeq === SEQUENCE_MAX);
}

/**
 * The producers of every manager that has none yet, shared and never written
 * (writes go through `#writable()`): most partitions of a large broker never
 * see an idempotent producer, and an empty Map costs ~200 bytes of heap.
 */
const NO_PRODUCERS: ReadonlyMap<number, ProducerEntry> = new Map();

/** Idempotent producer state of one partition. */
export class ProducerStateManager {
  readonly partition: string;
  readonly producersMax: number;
  /** Least recently written first (Map order; re-inserted on every write). */
  #producers: ReadonlyMap<number, ProducerEntry> = NO_PRODUCERS;
  #endOffset: number;

  constructor(options: { partition: string; endOffset?: number; producersMax?: number }) {
    this.partition = options.partition;
    this.#endOffset = options.endOffset ?? 0;
    this.producersMax = options.producersMax ?? PRODUCERS_PER_PARTITION_MAX;
  }

  /** The state covers exactly the batches below this offset. */
  get endOffset(): number {
    return this.#endOffset;
  }

  get producerCount(): number {
    return this.#producers.size;
  }

  /** A producer's state, if known. */
  producer(producerId: number): ProducerEntry | undefined {
    return this.#producers.get(producerId);
  }

  /**
   * Validates a client request's batches in order, each against the state as
   * the earlier ones would leave it (offsets are not needed: duplicates are
   * recognised by sequence). Nothing changes; call {@link apply} for each
   * appended batch after the append.
   *
   * `holdUnknownAhead`: refuse an unknown producer's batch that does not
   * start at sequence 0 as `sequenceAhead` instead of accepting it. A new
   * producer's batch 0 may still be on its way (its in-flight requests race
   * over HTTP/2), and accepting a later batch first appends them out of
   * order; the leader passes it until it has waited for batch 0, then falls
   * back to Kafka's rule (any sequence, for a producer whose state expired).
   */
  validate(
    batches: readonly Omit<ProducerBatchHeader, "baseOffset">[],
    options: { holdUnknownAhead?: boolean } = {},
  ): ProducerValidation[] {
    const overlay = new Map<number, ProducerEntry | undefined>();
    return batches.map((batch) => {
      const entry = overlay.has(batch.producerId)
        ? overlay.get(batch.producerId)
        : this.#producers.get(batch.producerId);
      const verdict = this.#validateOne(batch, entry, options.holdUnknownAhead === true);
      if (verdict.kind === "append" && batch.producerId >= 0) {
        overlay.set(batch.producerId, withBatch(entry, { ...batch, baseOffset: 0 }));
      }
      return verdict;
    });
  }

  /** Records an appended batch (leader after append, follower, recovery), in offset order. */
  apply(batch: ProducerBatchHeader): void {
    invariant(
      batch.baseOffset >= this.#endOffset,
      () =>
        `producer state of ${this.partition} is at ${this.#endOffset}; batch at ${batch.baseOffset} is behind it`,
    );
    this.#endOffset = batch.baseOffset + batch.lastOffsetDelta + 1;
    if (batch.producerId < 0) return;
    const entry = this.#producers.get(batch.producerId);
    // A lower epoch than known cannot follow a higher one in a valid log;
    // keep the newer state rather than regress it.
    if (entry !== undefined && batch.producerEpoch < entry.producerEpoch) return;
    const producers = this.#writable();
    producers.delete(batch.producerId);
    producers.set(batch.producerId, withBatch(entry, batch));
    if (producers.size > this.producersMax) {
      const oldest = producers.keys().next().value!;
      producers.delete(oldest);
    }
  }

  /** Forgets producers idle for `expirationMs` (by their last batch timestamp); returns how many. */
  expire(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.#producers) {
      if (nowMs - entry.lastTimestampMs >= expirationMs) {
        this.#writable().delete(id);
        removed++;
      }
    }
    return removed;
  }

  /** Whether truncating the log to `offset` invalidates this state (then rebuild it). */
  needsRebuildAfterTruncation(offset: number): boolean {
    return offset < this.#endOffset;
  }

  /** The state as a serialisable value. */
  snapshot(): ProducerStateSnapshot {
    return { version: 1, endOffset: this.#endOffset, producers: [...this.#producers.values()] };
  }

  /** A manager with a snapshot's state. */
  static fromSnapshot(
    snapshot: ProducerStateSnapshot,
    options: { partition: string; producersMax?: number },
  ): ProducerStateManager {
    const m = new ProducerStateManager({ ...options, endOffset: snapshot.endOffset });
    for (const p of snapshot.producers) m.#writable().set(p.producerId, p);
    return m;
  }

  /** The producers map, made this manager's own before its first write. */
  #writable(): Map<number, ProducerEntry> {
    if (this.#producers === NO_PRODUCERS) this.#producers = new Map();
    return this.#producers as Map<number, ProducerEntry>;
  }

  #validateOne(
    batch: Omit<ProducerBatchHeader, "baseOffset">,
    entry: ProducerEntry | undefined,
    holdUnknownAhead: boolean,
  ): ProducerValidation {
    if (batch.producerId < 0) return { kind: "append" };
    if (batch.baseSequence < 0 || batch.producerEpoch < 0) {
      return this.#error(
        "INVALID_RECORD",
        `an idempotent batch of producer ${batch.producerId} must have a sequence and an epoch ≥ 0 ` +
          `(got sequence ${batch.baseSequence}, epoch ${batch.producerEpoch})`,
      );
    }
    if (entry === undefined) {
      if (!holdUnknownAhead || batch.baseSequence === 0) return { kind: "append" };
      return this.#ahead(
        `producer ${batch.producerId} is new to ${this.partition} and starts at sequence ` +
          `${batch.baseSequence}, not 0`,
      );
    }
    const lastSeq = lastSequence(batch.baseSequence, batch.lastOffsetDelta);
    if (batch.producerEpoch < entry.producerEpoch) {
      return this.#error(
        "INVALID_PRODUCER_EPOCH",
        `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than ${entry.producerEpoch}: ` +
          `another producer with the same id replaced this one`,
      );
    }
    if (batch.producerEpoch > entry.producerEpoch) {
      if (batch.baseSequence === 0) return { kind: "append" };
      return this.#ahead(
        `producer ${batch.producerId} starts epoch ${batch.producerEpoch} at sequence ` +
          `${batch.baseSequence}; a new epoch must start at 0`,
      );
    }
    const dup = entry.batches.find((b) =>
      b.firstSeq === batch.baseSequence && b.lastSeq === lastSeq
    );
    if (dup !== undefined) {
      return { kind: "duplicate", baseOffset: dup.baseOffset, lastOffset: dup.lastOffset };
    }
    const oldest = entry.batches[0];
    if (
      entry.gapless === true && oldest !== undefined && sequenceBefore(lastSeq, oldest.firstSeq)
    ) {
      // Older than every batch remembered, and this producer's sequences were appended here from 0
      // without a gap: this batch was appended before; only its offsets are forgotten (Kafka
      // answers DUPLICATE_SEQUENCE_NUMBER). Refusing it as out of order made the producer re-send
      // it under a new id: a duplicate (chaos suite, a leader cut from the controller while five
      // later batches went to the new leader). Without `gapless` (a producer first seen at a later
      // sequence, e.g. on a new leader that never had its first batches) it may never have been
      // appended, and calling it a duplicate acknowledged a lost write (CI chaos run).
      return { kind: "duplicate", baseOffset: -1, lastOffset: -1 };
    }
    const last = entry.batches[entry.batches.length - 1];
    const expected = last === undefined
      ? 0
      : (last.lastSeq === SEQUENCE_MAX ? 0 : last.lastSeq + 1);
    if (
      last === undefined ? batch.baseSequence === 0 : inSequence(last.lastSeq, batch.baseSequence)
    ) {
      return { kind: "append" };
    }
    const message =
      `producer ${batch.producerId} epoch ${batch.producerEpoch} sent sequence ${batch.baseSequence} ` +
      `to ${this.partition}, expected ${expected}; an earlier batch was lost`;
    return sequenceBefore(expected, batch.baseSequence)
      ? this.#ahead(message)
      : this.#error("OUT_OF_ORDER_SEQUENCE_NUMBER", message);
  }

  /** OUT_OF_ORDER_SEQUENCE_NUMBER for a batch past the expected sequence (an earlier one missing). */
  #ahead(message: string): ProducerValidation {
    return {
      kind: "error",
      error: new StromError("OUT_OF_ORDER_SEQUENCE_NUMBER", message),
      sequenceAhead: true,
    };
  }

  #error(
    code: "INVALID_RECORD" | "INVALID_PRODUCER_EPOCH" | "OUT_OF_ORDER_SEQUENCE_NUMBER",
    message: string,
  ): ProducerValidation {
    return { kind: "error", error: new StromError(code, message) };
  }
}

/** The entry after `batch` (a new epoch starts an empty window). */
function withBatch(entry: ProducerEntry | undefined, batch: ProducerBatchHeader): ProducerEntry {
  const sameEpoch = entry !== undefined && entry.producerEpoch === batch.producerEpoch;
  const kept = sameEpoch ? entry.batches.slice(-(PRODUCER_BATCHES_RETAINED - 1)) : [];
  const meta: BatchMetadata = {
    firstSeq: batch.baseSequence,
    lastSeq: lastSequence(batch.baseSequence, batch.lastOffsetDelta),
    baseOffset: batch.baseOffset,
    lastOffset: batch.baseOffset + batch.lastOffsetDelta,
    timestampMs: batch.maxTimestamp,
  };
  const newest = sameEpoch ? entry.batches[entry.batches.length - 1] : undefined;
  const gapless = newest === undefined
    ? batch.baseSequence === 0 && (!sameEpoch || entry.gapless === true)
    : entry!.gapless === true && inSequence(newest.lastSeq, batch.baseSequence);
  return {
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    batches: [...kept, meta],
    lastTimestampMs: batch.maxTimestamp,
    gapless,
  };
}

/** The newest snapshot usable after truncating the log to `truncateOffset`, if any. */
export function chooseSnapshot(
  snapshots: readonly ProducerStateSnapshot[],
  truncateOffset: number,
): ProducerStateSnapshot | undefined {
  let best: ProducerStateSnapshot | undefined;
  for (const s of snapshots) {
    if (s.endOffset <= truncateOffset && (best === undefined || s.endOffset > best.endOffset)) {
      best = s;
    }
  }
  return best;
}

/**
 * Rebuilds the state after truncating the log to `truncateOffset`: starts
 * from `snapshot` (or empty at `logStartOffset`) and applies `batches` — the
 * log's batch headers from the snapshot's offset on, in offset order —
 * stopping at `truncateOffset`.
 */
export function rebuildProducerState(options: {
  partition: string;
  snapshot: ProducerStateSnapshot | undefined;
  logStartOffset: number;
  batches: Iterable<ProducerBatchHeader>;
  truncateOffset: number;
  producersMax?: number;
}): ProducerStateManager {
  const m = options.snapshot === undefined
    ? new ProducerStateManager({ ...options, endOffset: options.logStartOffset })
    : ProducerStateManager.fromSnapshot(options.snapshot, options);
  for (const batch of options.batches) {
    if (batch.baseOffset < m.endOffset) continue;
    if (batch.baseOffset + batch.lastOffsetDelta >= options.truncateOffset) break;
    m.apply(batch);
  }
  return m;
}

/** The snapshot as bytes (JSON), for a `.snapshot` file. */
export function encodeProducerSnapshot(snapshot: ProducerStateSnapshot): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(snapshot));
}

/** Parses {@link encodeProducerSnapshot}'s bytes; throws on anything malformed. */
export function decodeProducerSnapshot(bytes: Uint8Array): ProducerStateSnapshot {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as ProducerStateSnapshot;
  const isInt = (n: unknown) => Number.isSafeInteger(n);
  const ok = value?.version === 1 && isInt(value.endOffset) && Array.isArray(value.producers) &&
    value.producers.every((p) =>
      isInt(p.producerId) && isInt(p.producerEpoch) && isInt(p.lastTimestampMs) &&
      (p.gapless === undefined || typeof p.gapless === "boolean") &&
      Array.isArray(p.batches) && p.batches.length <= PRODUCER_BATCHES_RETAINED &&
      p.batches.every((b: BatchMetadata) =>
        isInt(b.firstSeq) && isInt(b.lastSeq) && isInt(b.baseOffset) && isInt(b.lastOffset) &&
        isInt(b.timestampMs) && b.lastOffset < value.endOffset
      )
    );
  if (!ok) throw new Error("producer state snapshot is malformed");
  return value;
}
