/**
 * The history a chaos run records and the checker reads: every client
 * operation with its outcome, in the order the operations completed, plus a
 * final full read of every partition taken after the cluster has healed.
 *
 * The format is plain JSON (one operation per line in a `.jsonl` file, see
 * {@link parseHistoryLines}), so a history can be saved with a failing run and
 * checked again offline. Values are strings and must be unique per run: the
 * checker identifies a write by its value.
 *
 * Operation kinds:
 *
 * - `produce`: one value sent to one partition. `invokeMs`/`completeMs` are
 *   when the request was sent and when its outcome was known. `outcome` is
 *   `ok` (acknowledged, with the `offset` the broker answered), `fail` (a
 *   definite failure: the broker answered with an error that guarantees the
 *   write was not appended, e.g. a validation error), or `unknown` (timeout,
 *   connection lost, a retriable error after which the producer gave up, or
 *   no answer before the run ended).
 * - `poll`: what one consumer got from one partition in one poll, as
 *   `[offset, value]` pairs in the order returned. A poll spanning several
 *   partitions is recorded as one `poll` per partition.
 * - `assign`: the consumer (re)starts reading a partition — it was assigned
 *   the partition by a rebalance, or it seeked. The next poll of that
 *   partition may start anywhere; offsets are compared only between markers.
 * - `committed`: an observation of a group's committed offset for a
 *   partition (from fetching the group's offsets), with when the request was
 *   sent and answered.
 *
 * @module
 */

/** How a write ended, in Jepsen's terms: ok, fail (definite), info (here: unknown). */
export type Outcome = "ok" | "fail" | "unknown";

/** One value produced to one partition. */
export interface ProduceOp {
  readonly type: "produce";
  /** Which producer (a stable name, e.g. "producer-2"). */
  readonly process: string;
  readonly topic: string;
  readonly partition: number;
  readonly value: string;
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly outcome: Outcome;
  /** The offset the broker acknowledged; present exactly when `outcome` is "ok". */
  readonly offset?: number;
}

/** One consumer's records from one partition in one poll. */
export interface PollOp {
  readonly type: "poll";
  /** Which consumer (a stable name per consumer instance). */
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
  readonly timeMs: number;
  /** `[offset, value]` in the order the poll returned them. */
  readonly records: ReadonlyArray<readonly [number, string]>;
}

/** The consumer starts (again) on a partition: a rebalance assigned it, or it seeked. */
export interface AssignOp {
  readonly type: "assign";
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
  readonly timeMs: number;
  readonly reason: "rebalance" | "seek";
  /** Where it will read from, when known. */
  readonly offset?: number;
}

/** An observed committed offset of a consumer group. */
export interface CommittedOp {
  readonly type: "committed";
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly invokeMs: number;
  readonly completeMs: number;
}

/** Any history operation. */
export type HistoryOp = ProduceOp | PollOp | AssignOp | CommittedOp;

/** Everything one partition held at the end of the run, from its first offset. */
export interface FinalRead {
  readonly topic: string;
  readonly partition: number;
  /**
   * The partition's log start offset when read (0 unless retention or
   * delete-records removed a prefix). Acknowledged writes below it are not
   * counted as lost.
   */
  readonly logStartOffset?: number;
  /** `[offset, value]` of every record from the log start to the end, in offset order. */
  readonly records: ReadonlyArray<readonly [number, string]>;
}

/** A whole history: operations in completion order and the final reads. */
export interface History {
  readonly ops: readonly HistoryOp[];
  readonly finalReads: readonly FinalRead[];
}

/** Most operations one history file may hold: a 30-minute run writes well under this. */
export const HISTORY_OPS_MAX = 20_000_000;

/** A stable key for a partition: `topic/partition`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** A history that is not well formed, with the line (1-based) where it went wrong. */
export class HistoryFormatError extends Error {
  readonly code = "INVALID_HISTORY";
  constructor(message: string, readonly line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = "HistoryFormatError";
  }
}

function isOffset(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isRecordList(value: unknown): boolean {
  return Array.isArray(value) &&
    value.every((r) =>
      Array.isArray(r) && r.length === 2 && isOffset(r[0]) && typeof r[1] === "string"
    );
}

/**
 * Checks that `value` is a well-formed operation and returns it typed.
 *
 * @throws {HistoryFormatError} naming the first problem found.
 */
export function validateOp(value: unknown, line?: number): HistoryOp {
  const fail = (what: string): never => {
    throw new HistoryFormatError(what, line);
  };
  if (typeof value !== "object" || value === null) return fail("an operation must be an object");
  const op = value as Record<string, unknown>;
  if (typeof op.topic !== "string" || op.topic === "") fail("topic must be a non-empty string");
  if (!isOffset(op.partition)) fail("partition must be a non-negative integer");
  switch (op.type) {
    case "produce":
      if (typeof op.process !== "string") fail("produce.process must be a string");
      if (typeof op.value !== "string") fail("produce.value must be a string");
      if (typeof op.invokeMs !== "number" || typeof op.completeMs !== "number") {
        fail("produce needs invokeMs and completeMs");
      }
      if (op.outcome !== "ok" && op.outcome !== "fail" && op.outcome !== "unknown") {
        fail(`produce.outcome must be ok, fail or unknown, not ${JSON.stringify(op.outcome)}`);
      }
      if (op.outcome === "ok" && !isOffset(op.offset)) fail("an ok produce needs its offset");
      if (op.outcome !== "ok" && op.offset !== undefined) fail("only an ok produce has an offset");
      break;
    case "poll":
      if (typeof op.consumer !== "string") fail("poll.consumer must be a string");
      if (typeof op.timeMs !== "number") fail("poll.timeMs must be a number");
      if (!isRecordList(op.records)) fail("poll.records must be a list of [offset, value]");
      break;
    case "assign":
      if (typeof op.consumer !== "string") fail("assign.consumer must be a string");
      if (op.reason !== "rebalance" && op.reason !== "seek") {
        fail("assign.reason must be rebalance or seek");
      }
      if (op.offset !== undefined && !isOffset(op.offset)) fail("assign.offset must be an offset");
      break;
    case "committed":
      if (typeof op.group !== "string") fail("committed.group must be a string");
      if (!isOffset(op.offset)) fail("committed.offset must be a non-negative integer");
      if (typeof op.invokeMs !== "number" || typeof op.completeMs !== "number") {
        fail("committed needs invokeMs and completeMs");
      }
      break;
    default:
      fail(`unknown operation type ${JSON.stringify(op.type)}`);
  }
  return value as HistoryOp;
}

/**
 * Checks a final read: well-formed records in strictly increasing offset order.
 *
 * @throws {HistoryFormatError}
 */
export function validateFinalRead(value: unknown): FinalRead {
  const read = value as Record<string, unknown>;
  if (typeof read !== "object" || read === null) {
    throw new HistoryFormatError("a final read must be an object");
  }
  if (typeof read.topic !== "string" || !isOffset(read.partition) || !isRecordList(read.records)) {
    throw new HistoryFormatError("a final read needs topic, partition and [offset, value] records");
  }
  const records = read.records as ReadonlyArray<readonly [number, string]>;
  for (let i = 1; i < records.length; i++) {
    if (records[i][0] <= records[i - 1][0]) {
      throw new HistoryFormatError(
        `final read of ${read.topic}/${read.partition} is not in offset order at offset ${
          records[i][0]
        }`,
      );
    }
  }
  return value as FinalRead;
}

/**
 * Parses a history written as JSON lines: one operation per line, and final
 * reads as lines `{"type":"final-read", ...FinalRead}`. Blank lines are skipped.
 *
 * @throws {HistoryFormatError} on bad JSON, a malformed operation, or more
 *   than {@link HISTORY_OPS_MAX} operations.
 */
export function parseHistoryLines(text: string): History {
  const ops: HistoryOp[] = [];
  const finalReads: FinalRead[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new HistoryFormatError(`not JSON: ${(error as Error).message}`, i + 1);
    }
    if ((parsed as { type?: unknown })?.type === "final-read") {
      const { type: _type, ...read } = parsed as Record<string, unknown>;
      finalReads.push(validateFinalRead(read));
      continue;
    }
    if (ops.length >= HISTORY_OPS_MAX) {
      throw new HistoryFormatError(`more than ${HISTORY_OPS_MAX} operations`, i + 1);
    }
    ops.push(validateOp(parsed, i + 1));
  }
  return { ops, finalReads };
}

/** Writes a history as JSON lines, the inverse of {@link parseHistoryLines}. */
export function historyToLines(history: History): string {
  const lines = history.ops.map((op) => JSON.stringify(op));
  for (const read of history.finalReads) {
    lines.push(JSON.stringify({ type: "final-read", ...read }));
  }
  return lines.join("\n") + "\n";
}
