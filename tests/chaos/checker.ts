/**
 * The chaos checker: from a {@link History} (client operations and a final
 * full read of every partition), finds the anomalies Jepsen looks for in
 * Kafka-like logs. Pure: no I/O, no clock; the same history always gives the
 * same result.
 *
 * ## Definitions
 *
 * A *write* is a `produce` operation; its value is unique in the run and
 * identifies it. A *read* is either a record of a `poll` or a record of a
 * final read. A value is *known committed* if its write was acknowledged
 * (`ok`) or any consumer polled it: a consumer only sees records below the
 * high watermark, so a polled value was committed even if its producer never
 * heard back. "The log" of a partition is its final read.
 *
 * - **lost-write**: a known-committed value is absent from its partition's
 *   log (acknowledged writes below the log start offset excepted: retention
 *   removed them, nothing lost them).
 * - **unseen**: an acknowledged value is in the log but no poll ever returned
 *   it. Only writes acknowledged at or before `unseenCutoffMs` count (the end
 *   of the run minus the recovery window: writes after it may legitimately
 *   still be unread), and only in topics that consumers read.
 * - **duplicate**: a value is read at two or more distinct offsets (or in two
 *   partitions), across all polls and final reads. Idempotent producers must
 *   make this impossible even when they retry.
 * - **inconsistent-offsets**: an offset of a partition holds two or more
 *   distinct values across all reads and acknowledgements; or a value was
 *   acknowledged at one offset but is read at a different one.
 * - **nonmonotonic-poll**: within one consumer's assignment of a partition
 *   (from one `assign` marker to the next), the offsets it polled, in order
 *   within and across polls, fail to strictly increase. Each backward or
 *   repeated step counts once.
 * - **poll-skip**: within one assignment, two consecutively polled offsets
 *   `a < b` (or the assignment's start offset and the first polled one) have
 *   a record of the log strictly between them: the consumer jumped over it.
 * - **committed-backwards**: an observation of a group's committed offset for
 *   a partition is lower than an observation that completed before it was
 *   invoked. Overlapping observations are not ordered and not compared.
 * - **failed-write-read**: a value whose write definitely failed is read.
 * - **unexpected-value**: a read returns a value that no write sent to that
 *   partition (corruption, or a record from elsewhere).
 *
 * Writes with an *unknown* outcome (timeout, connection lost) may be present
 * or absent, but at most once: present twice is a duplicate, and polled but
 * then absent from the log is a lost write (it was committed). They are
 * counted as `unknownPresent` / `unknownAbsent` for information, never as
 * violations by themselves.
 *
 * Every anomaly kind is a violation; `valid` is true when the total is zero.
 *
 * @module
 */

import {
  type FinalRead,
  type History,
  HistoryFormatError,
  partitionKey,
  type PollOp,
  type ProduceOp,
} from "./history.ts";

/** The anomaly kinds, in the order reports list them. */
export const ANOMALY_KINDS = [
  "lost",
  "unseen",
  "duplicate",
  "inconsistent-offsets",
  "nonmonotonic-poll",
  "poll-skip",
  "committed-backwards",
  "failed-write-read",
  "unexpected-value",
] as const;

/** One of {@link ANOMALY_KINDS}. */
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Examples kept per anomaly kind: enough to debug, small enough to print. */
export const EXAMPLES_PER_ANOMALY_MAX = 10;

/** One instance of an anomaly, for a human reading the report. */
export interface AnomalyExample {
  /** `topic/partition`. */
  readonly partition: string;
  /** What happened, in a sentence. */
  readonly description: string;
  readonly value?: string;
  readonly offsets?: readonly number[];
  /** The consumer or group involved. */
  readonly who?: string;
}

/** How many of one anomaly were found, and the first few. */
export interface AnomalyFindings {
  readonly count: number;
  readonly examples: readonly AnomalyExample[];
}

/** Counts of writes by outcome. */
export interface WriteCounts {
  readonly acked: number;
  readonly failed: number;
  readonly unknown: number;
  /** Unknown-outcome writes found in the log. */
  readonly unknownPresent: number;
  /** Unknown-outcome writes not in the log (allowed). */
  readonly unknownAbsent: number;
}

/** What the checker found. */
export interface CheckResult {
  /** True when no anomaly of any kind was found. */
  readonly valid: boolean;
  /** Total anomalies of all kinds. */
  readonly violations: number;
  readonly writes: WriteCounts;
  readonly anomalies: Readonly<Record<AnomalyKind, AnomalyFindings>>;
}

/** Parameters of the check. */
export interface CheckOptions {
  /**
   * Writes acknowledged after this time need not have been polled (default:
   * every acknowledged write must have been). Set it to the end of the
   * workload minus the recovery window.
   */
  readonly unseenCutoffMs?: number;
  /** Topics consumers read, for the unseen check (default: every topic with a poll or assign). */
  readonly consumedTopics?: readonly string[];
  /** Examples kept per kind (default {@link EXAMPLES_PER_ANOMALY_MAX}). */
  readonly examplesMax?: number;
}

class Findings {
  readonly #examplesMax: number;
  readonly counts = new Map<AnomalyKind, number>();
  readonly examples = new Map<AnomalyKind, AnomalyExample[]>();

  constructor(examplesMax: number) {
    this.#examplesMax = examplesMax;
  }

  add(kind: AnomalyKind, example: AnomalyExample): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    const list = this.examples.get(kind) ?? [];
    if (list.length < this.#examplesMax) list.push(example);
    this.examples.set(kind, list);
  }

  result(writes: WriteCounts): CheckResult {
    const anomalies = {} as Record<AnomalyKind, AnomalyFindings>;
    let violations = 0;
    for (const kind of ANOMALY_KINDS) {
      const count = this.counts.get(kind) ?? 0;
      violations += count;
      anomalies[kind] = { count, examples: this.examples.get(kind) ?? [] };
    }
    return { valid: violations === 0, violations, writes, anomalies };
  }
}

/** Where each value was read and what each offset held, over all reads. */
class ReadIndex {
  /** partition → offset → distinct values read or acknowledged there. */
  readonly valuesAt = new Map<string, Map<number, Set<string>>>();
  /** value → `partition@offset` places it was read (not acknowledged). */
  readonly placesOf = new Map<string, Set<string>>();
  /** Values some poll returned. */
  readonly polled = new Set<string>();
  /** Topics some consumer polled or was assigned. */
  readonly consumedTopics = new Set<string>();
  /** partition → value → its first offset in the final read. */
  readonly finalOffsetOf = new Map<string, Map<string, number>>();

  noteValueAt(partition: string, offset: number, value: string): void {
    let offsets = this.valuesAt.get(partition);
    if (!offsets) this.valuesAt.set(partition, offsets = new Map());
    let values = offsets.get(offset);
    if (!values) offsets.set(offset, values = new Set());
    values.add(value);
  }

  noteRead(partition: string, offset: number, value: string): void {
    this.noteValueAt(partition, offset, value);
    let places = this.placesOf.get(value);
    if (!places) this.placesOf.set(value, places = new Set());
    places.add(`${partition}@${offset}`);
  }
}

/**
 * Checks a history; see the module doc for what each anomaly means.
 *
 * @throws {HistoryFormatError} if two writes share a value (the checker
 *   could not tell them apart).
 */
export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const findings = new Findings(options.examplesMax ?? EXAMPLES_PER_ANOMALY_MAX);
  const writes = indexWrites(history);
  const index = new ReadIndex();
  for (const op of history.ops) {
    if (op.type === "poll" || op.type === "assign") index.consumedTopics.add(op.topic);
  }
  const polls = history.ops.filter((op): op is PollOp => op.type === "poll");
  for (const poll of polls) {
    const partition = partitionKey(poll.topic, poll.partition);
    for (const [offset, value] of poll.records) {
      index.noteRead(partition, offset, value);
      index.polled.add(value);
    }
  }
  const finals = new Map<string, FinalRead>();
  for (const read of history.finalReads) {
    const partition = partitionKey(read.topic, read.partition);
    finals.set(partition, read);
    const offsetOf = new Map<string, number>();
    index.finalOffsetOf.set(partition, offsetOf);
    for (const [offset, value] of read.records) {
      index.noteRead(partition, offset, value);
      if (!offsetOf.has(value)) offsetOf.set(value, offset);
    }
  }
  for (const write of writes.values()) {
    if (write.outcome === "ok" && knownOffset(write)) {
      index.noteValueAt(partitionKey(write.topic, write.partition), write.offset!, write.value);
    }
  }

  checkWrites(writes, index, finals, options, findings);
  checkReads(writes, index, findings);
  checkOffsets(index, findings);
  checkPolls(history, finals, findings);
  checkCommitted(history, findings);

  let acked = 0, failed = 0, unknown = 0, unknownPresent = 0;
  for (const write of writes.values()) {
    if (write.outcome === "ok") acked++;
    else if (write.outcome === "fail") failed++;
    else {
      unknown++;
      const inLog = index.finalOffsetOf.get(partitionKey(write.topic, write.partition));
      if (inLog?.has(write.value)) unknownPresent++;
    }
  }
  return findings.result({
    acked,
    failed,
    unknown,
    unknownPresent,
    unknownAbsent: unknown - unknownPresent,
  });
}

function indexWrites(history: History): Map<string, ProduceOp> {
  const writes = new Map<string, ProduceOp>();
  for (const op of history.ops) {
    if (op.type !== "produce") continue;
    if (writes.has(op.value)) {
      throw new HistoryFormatError(
        `two writes share the value ${JSON.stringify(op.value)}; values must be unique per run`,
      );
    }
    writes.set(op.value, op);
  }
  return writes;
}

/**
 * Whether an acknowledged write says where it is: a retry the leader knew
 * was appended long ago is acknowledged with offset -1 (Kafka's
 * DUPLICATE_SEQUENCE_NUMBER); it must still be found, just not at an offset.
 */
function knownOffset(write: { readonly offset?: number }): boolean {
  return write.offset !== undefined && write.offset >= 0;
}

/** lost-write, unseen, and acknowledged-offset mismatches. */
function checkWrites(
  writes: Map<string, ProduceOp>,
  index: ReadIndex,
  finals: Map<string, FinalRead>,
  options: CheckOptions,
  findings: Findings,
): void {
  // Default: the topics consumers touched (the unseen check needs someone reading).
  const consumed = options.consumedTopics === undefined
    ? index.consumedTopics
    : new Set(options.consumedTopics);
  const cutoffMs = options.unseenCutoffMs ?? Infinity;
  for (const write of writes.values()) {
    const partition = partitionKey(write.topic, write.partition);
    const final = finals.get(partition);
    const finalOffset = index.finalOffsetOf.get(partition)?.get(write.value);
    const committed = write.outcome === "ok" || index.polled.has(write.value);
    if (committed && finalOffset === undefined) {
      const belowStart = write.outcome === "ok" && final !== undefined && knownOffset(write) &&
        write.offset! < (final.logStartOffset ?? 0);
      if (!belowStart) {
        findings.add("lost", {
          partition,
          value: write.value,
          ...(write.offset !== undefined ? { offsets: [write.offset] } : {}),
          description: final === undefined
            ? `${
              write.outcome === "ok" ? "acknowledged" : "polled"
            } value ${write.value} has no final read of its partition`
            : `${
              write.outcome === "ok" ? `acknowledged at offset ${write.offset}` : "polled"
            } but absent from the final read`,
        });
      }
    }
    const places = index.placesOf.get(write.value);
    if (
      write.outcome === "ok" && knownOffset(write) && places &&
      !places.has(`${partition}@${write.offset}`)
    ) {
      findings.add("inconsistent-offsets", {
        partition,
        value: write.value,
        offsets: [write.offset!],
        description: `acknowledged at offset ${write.offset} but read only at ${
          [...places].join(", ")
        }`,
      });
    }
    if (
      write.outcome === "ok" && finalOffset !== undefined && !index.polled.has(write.value) &&
      write.completeMs <= cutoffMs && consumed.has(write.topic)
    ) {
      findings.add("unseen", {
        partition,
        value: write.value,
        offsets: [finalOffset],
        description:
          `acknowledged at ${write.completeMs} ms and in the log at offset ${finalOffset}, but no consumer ever polled it`,
      });
    }
  }
}

/** duplicate, failed-write-read, unexpected-value: per value read. */
function checkReads(writes: Map<string, ProduceOp>, index: ReadIndex, findings: Findings): void {
  for (const [value, places] of index.placesOf) {
    const sorted = [...places].sort();
    const [firstPartition] = sorted[0].split("@");
    if (places.size > 1) {
      findings.add("duplicate", {
        partition: firstPartition,
        value,
        offsets: sorted.map((place) => Number(place.slice(place.lastIndexOf("@") + 1))),
        description: `value read at ${places.size} places: ${sorted.join(", ")}`,
      });
    }
    const write = writes.get(value);
    if (write?.outcome === "fail") {
      findings.add("failed-write-read", {
        partition: firstPartition,
        value,
        description: `the write of ${value} definitely failed, yet it was read at ${sorted[0]}`,
      });
    }
    for (const place of sorted) {
      const partition = place.slice(0, place.lastIndexOf("@"));
      if (write && partitionKey(write.topic, write.partition) === partition) continue;
      findings.add("unexpected-value", {
        partition,
        value,
        description: write
          ? `value was written to ${
            partitionKey(write.topic, write.partition)
          } but read from ${place}`
          : `value read at ${place} was never written`,
      });
    }
  }
}

/** inconsistent-offsets: two values at one offset. */
function checkOffsets(index: ReadIndex, findings: Findings): void {
  for (const [partition, offsets] of index.valuesAt) {
    for (const [offset, values] of offsets) {
      if (values.size < 2) continue;
      findings.add("inconsistent-offsets", {
        partition,
        offsets: [offset],
        description: `offset ${offset} holds ${values.size} values across reads: ${
          [...values].slice(0, 4).join(", ")
        }`,
      });
    }
  }
}

/** nonmonotonic-poll and poll-skip, per consumer and partition between assign markers. */
function checkPolls(history: History, finals: Map<string, FinalRead>, findings: Findings): void {
  /** consumer|partition → last offset seen in the current assignment (or the start offset - 1). */
  const last = new Map<string, number | undefined>();
  const logOffsets = new Map<string, number[]>();
  for (const [partition, read] of finals) {
    logOffsets.set(partition, read.records.map(([offset]) => offset));
  }
  for (const op of history.ops) {
    if (op.type !== "poll" && op.type !== "assign") continue;
    const partition = partitionKey(op.topic, op.partition);
    const key = `${op.consumer}|${partition}`;
    if (op.type === "assign") {
      last.set(key, op.offset === undefined ? undefined : op.offset - 1);
      continue;
    }
    let previous = last.get(key);
    for (const [offset] of op.records) {
      if (previous !== undefined && offset <= previous) {
        findings.add("nonmonotonic-poll", {
          partition,
          who: op.consumer,
          offsets: [previous, offset],
          description:
            `${op.consumer} polled offset ${offset} after ${previous} at ${op.timeMs} ms`,
        });
      } else if (previous !== undefined) {
        const skipped = firstBetween(logOffsets.get(partition), previous, offset);
        if (skipped !== undefined) {
          findings.add("poll-skip", {
            partition,
            who: op.consumer,
            offsets: [previous, skipped, offset],
            description:
              `${op.consumer} went from offset ${previous} to ${offset} at ${op.timeMs} ms` +
              `, skipping offset ${skipped} that the log holds`,
          });
        }
      }
      // Consecutive steps: one rewind counts once, not once per record read again after it.
      previous = offset;
    }
    last.set(key, previous);
  }
}

/** The first element of sorted `offsets` strictly between `low` and `high`, if any. */
function firstBetween(
  offsets: number[] | undefined,
  low: number,
  high: number,
): number | undefined {
  if (!offsets) return undefined;
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid] <= low) lo = mid + 1;
    else hi = mid;
  }
  return lo < offsets.length && offsets[lo] < high ? offsets[lo] : undefined;
}

/** committed-backwards: an observation below one that completed before it began. */
function checkCommitted(history: History, findings: Findings): void {
  const byPartition = new Map<string, { offset: number; invokeMs: number; completeMs: number }[]>();
  for (const op of history.ops) {
    if (op.type !== "committed") continue;
    const key = `${op.group}|${partitionKey(op.topic, op.partition)}`;
    const list = byPartition.get(key) ?? [];
    list.push(op);
    byPartition.set(key, list);
  }
  for (const [key, observations] of byPartition) {
    const [group, partition] = key.split("|");
    const byCompletion = [...observations].sort((a, b) => a.completeMs - b.completeMs);
    const byInvocation = [...observations].sort((a, b) => a.invokeMs - b.invokeMs);
    let highest: { offset: number; completeMs: number } | undefined;
    let next = 0;
    for (const observation of byInvocation) {
      // Every observation that completed before this one was invoked precedes it.
      while (next < byCompletion.length && byCompletion[next].completeMs < observation.invokeMs) {
        if (!highest || byCompletion[next].offset > highest.offset) highest = byCompletion[next];
        next++;
      }
      if (highest && observation.offset < highest.offset) {
        findings.add("committed-backwards", {
          partition,
          who: group,
          offsets: [highest.offset, observation.offset],
          description:
            `group ${group} had committed ${highest.offset} (seen by ${highest.completeMs} ms)` +
            `, then ${observation.offset} was observed (asked at ${observation.invokeMs} ms)`,
        });
      }
    }
  }
}
