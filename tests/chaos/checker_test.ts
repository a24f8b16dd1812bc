import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { ANOMALY_KINDS, type AnomalyKind, checkHistory, type CheckResult } from "./checker.ts";
import {
  type AssignOp,
  type CommittedOp,
  type FinalRead,
  type History,
  HistoryFormatError,
  type HistoryOp,
  historyToLines,
  type Outcome,
  parseHistoryLines,
  type PollOp,
  type ProduceOp,
} from "./history.ts";
import { buildReport, formatSummary, percentile } from "./report.ts";
import { checkAdminOps } from "./admin_checker.ts";

const TOPIC = "events";

function write(value: string, partition: number, outcome: Outcome, offset?: number, atMs = 0) {
  return {
    type: "produce",
    process: "p0",
    topic: TOPIC,
    partition,
    value,
    invokeMs: atMs,
    completeMs: atMs + 1,
    outcome,
    ...(offset === undefined ? {} : { offset }),
  } satisfies ProduceOp;
}

function poll(consumer: string, partition: number, records: [number, string][], timeMs = 0) {
  return { type: "poll", consumer, topic: TOPIC, partition, timeMs, records } satisfies PollOp;
}

function assign(consumer: string, partition: number, offset?: number): AssignOp {
  return {
    type: "assign",
    consumer,
    topic: TOPIC,
    partition,
    timeMs: 0,
    reason: "rebalance",
    ...(offset === undefined ? {} : { offset }),
  };
}

function committed(offset: number, invokeMs: number, completeMs: number): CommittedOp {
  return {
    type: "committed",
    group: "g",
    topic: TOPIC,
    partition: 0,
    offset,
    invokeMs,
    completeMs,
  };
}

function final(partition: number, records: [number, string][], logStartOffset = 0): FinalRead {
  return { topic: TOPIC, partition, logStartOffset, records };
}

/** The counts of every anomaly kind that is non-zero. */
function nonZero(result: CheckResult): Partial<Record<AnomalyKind, number>> {
  const out: Partial<Record<AnomalyKind, number>> = {};
  for (const kind of ANOMALY_KINDS) {
    if (result.anomalies[kind].count > 0) out[kind] = result.anomalies[kind].count;
  }
  return out;
}

/** Three acknowledged writes on partition 0, polled in order and kept: the clean baseline. */
function cleanOps(): HistoryOp[] {
  return [
    write("a", 0, "ok", 0),
    write("b", 0, "ok", 1),
    write("c", 0, "ok", 2),
    assign("c1", 0, 0),
    poll("c1", 0, [[0, "a"], [1, "b"]]),
    poll("c1", 0, [[2, "c"]]),
  ];
}
const CLEAN_FINAL = [final(0, [[0, "a"], [1, "b"], [2, "c"]])];

Deno.test("a clean history reports no anomaly and counts writes by outcome", () => {
  const result = checkHistory({
    ops: [...cleanOps(), write("x", 0, "fail"), write("y", 0, "unknown")],
    finalReads: CLEAN_FINAL,
  });
  strictEqual(result.valid, true);
  strictEqual(result.violations, 0);
  deepStrictEqual(nonZero(result), {});
  deepStrictEqual(result.writes, {
    acked: 3,
    failed: 1,
    unknown: 1,
    unknownPresent: 0,
    unknownAbsent: 1,
  });
});

Deno.test("an acknowledged value missing from the final read is a lost write", () => {
  const result = checkHistory({
    ops: cleanOps(),
    finalReads: [final(0, [[0, "a"], [1, "b"]])],
  });
  deepStrictEqual(nonZero(result), { lost: 1 });
  strictEqual(result.anomalies.lost.examples[0].value, "c");
  strictEqual(result.valid, false);
});

Deno.test("a write acknowledged without an offset (an old duplicate) must be present once, anywhere", () => {
  // The leader acknowledges a retry older than its producer window with offset -1.
  const ops = [...cleanOps(), write("d", 0, "ok", -1), poll("c1", 0, [[3, "d"]])];
  const present = checkHistory({
    ops,
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "d"]])],
  });
  deepStrictEqual(nonZero(present), {});
  const absent = checkHistory({
    ops: [...cleanOps(), write("d", 0, "ok", -1)],
    finalReads: CLEAN_FINAL,
  });
  deepStrictEqual(nonZero(absent), { lost: 1 });
  const twice = checkHistory({
    ops,
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "d"], [4, "d"]])],
  });
  deepStrictEqual(nonZero(twice), { duplicate: 1 });
});

Deno.test("an unknown write that a consumer polled must survive: absent later, it is lost", () => {
  const result = checkHistory({
    ops: [...cleanOps(), write("u", 0, "unknown"), poll("c1", 0, [[3, "u"]])],
    finalReads: CLEAN_FINAL,
  });
  deepStrictEqual(nonZero(result), { lost: 1 });
});

Deno.test("an unknown write may be present once or absent, but not present twice", () => {
  const ops = [...cleanOps(), write("u", 0, "unknown"), write("v", 0, "unknown")];
  const once = checkHistory({
    ops,
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "u"]])],
  });
  // "u" is in the log but was never polled: it was not acknowledged, so it is not unseen.
  deepStrictEqual(nonZero(once), {});
  deepStrictEqual([once.writes.unknownPresent, once.writes.unknownAbsent], [1, 1]);
  const twice = checkHistory({
    ops,
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "u"], [4, "u"]])],
  });
  deepStrictEqual(nonZero(twice), { duplicate: 1 });
});

Deno.test("acknowledged writes below the log start offset are not lost", () => {
  const result = checkHistory({
    ops: cleanOps(),
    finalReads: [final(0, [[2, "c"]], 2)],
  });
  deepStrictEqual(nonZero(result), {});
});

Deno.test("an acknowledged value in the log that no consumer polled is unseen, within the cutoff", () => {
  const ops = [...cleanOps(), write("d", 0, "ok", 3, 100)];
  const finalReads = [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "d"]])];
  deepStrictEqual(nonZero(checkHistory({ ops, finalReads })), { unseen: 1 });
  // Acknowledged after the cutoff (inside the recovery window): it may still be unread.
  deepStrictEqual(nonZero(checkHistory({ ops, finalReads }, { unseenCutoffMs: 50 })), {});
  // Nobody consumes the topic: nothing can be unseen.
  deepStrictEqual(nonZero(checkHistory({ ops, finalReads }, { consumedTopics: ["other"] })), {});
});

Deno.test("a value at two offsets is a duplicate", () => {
  const result = checkHistory({
    ops: cleanOps(),
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "b"]])],
  });
  deepStrictEqual(nonZero(result), { duplicate: 1 });
  deepStrictEqual(result.anomalies.duplicate.examples[0].offsets, [1, 3]);
});

Deno.test("two values at one offset across a poll and the final read are inconsistent offsets", () => {
  const ops = [...cleanOps(), write("d", 0, "unknown"), poll("c1", 0, [[3, "d"]])];
  const result = checkHistory({
    ops,
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "e"], [4, "d"]])],
  });
  // d moved from offset 3 to 4 (a duplicate by place), and offset 3 held d then e; e was never written.
  deepStrictEqual(nonZero(result), {
    "inconsistent-offsets": 1,
    duplicate: 1,
    "unexpected-value": 1,
  });
});

Deno.test("a value read at another offset than the one acknowledged is an inconsistent offset", () => {
  const result = checkHistory({
    ops: [write("a", 0, "ok", 5), assign("c1", 0, 0), poll("c1", 0, [[0, "a"]])],
    finalReads: [final(0, [[0, "a"]])],
  });
  deepStrictEqual(nonZero(result), { "inconsistent-offsets": 1 });
});

Deno.test("a consumer polling backwards without a rebalance or seek is a nonmonotonic poll", () => {
  const ops = [
    ...cleanOps(),
    poll("c1", 0, [[1, "b"], [2, "c"]]),
  ];
  const result = checkHistory({ ops, finalReads: CLEAN_FINAL });
  deepStrictEqual(nonZero(result), { "nonmonotonic-poll": 1 });
  strictEqual(result.anomalies["nonmonotonic-poll"].examples[0].who, "c1");
  // The same rewind after an assign marker is legitimate (e.g. back to the committed offset).
  const rebalanced = [...cleanOps(), assign("c1", 0, 1), poll("c1", 0, [[1, "b"], [2, "c"]])];
  deepStrictEqual(nonZero(checkHistory({ ops: rebalanced, finalReads: CLEAN_FINAL })), {});
  // A repeated offset within one poll counts too, and other consumers do not interfere.
  const repeated = [...cleanOps().slice(0, 4), poll("c1", 0, [[0, "a"], [0, "a"]])];
  const other = [assign("c2", 0, 0), poll("c2", 0, [[0, "a"], [1, "b"], [2, "c"]])];
  deepStrictEqual(
    nonZero(checkHistory({ ops: [...repeated, ...other], finalReads: CLEAN_FINAL })),
    { "nonmonotonic-poll": 1 },
  );
});

Deno.test("a consumer jumping over an offset the log holds is a poll skip", () => {
  const ops = [...cleanOps().slice(0, 4), poll("c1", 0, [[0, "a"], [2, "c"]])];
  const extra = [assign("c2", 0, 1), poll("c2", 0, [[1, "b"]])];
  const result = checkHistory({ ops: [...ops, ...extra], finalReads: CLEAN_FINAL });
  deepStrictEqual(nonZero(result), { "poll-skip": 1 });
  deepStrictEqual(result.anomalies["poll-skip"].examples[0].offsets, [0, 1, 2]);
  // Starting past the assignment's start offset skips too.
  const late = [...cleanOps().slice(0, 3), assign("c1", 0, 0), poll("c1", 0, [[1, "b"], [2, "c"]])];
  const seen = [assign("c2", 0, 0), poll("c2", 0, [[0, "a"]])];
  deepStrictEqual(nonZero(checkHistory({ ops: [...late, ...seen], finalReads: CLEAN_FINAL })), {
    "poll-skip": 1,
  });
});

Deno.test("a committed offset lower than one observed before is committed-backwards", () => {
  const ops = [...cleanOps(), committed(10, 0, 5), committed(8, 6, 7)];
  const result = checkHistory({ ops, finalReads: CLEAN_FINAL });
  deepStrictEqual(nonZero(result), { "committed-backwards": 1 });
  strictEqual(result.anomalies["committed-backwards"].examples[0].who, "g");
  // Overlapping observations are concurrent: no order between them, no anomaly.
  const overlapping = [...cleanOps(), committed(10, 0, 5), committed(8, 4, 7), committed(12, 8, 9)];
  deepStrictEqual(nonZero(checkHistory({ ops: overlapping, finalReads: CLEAN_FINAL })), {});
});

Deno.test("reading the value of a definitely failed write is a failed-write-read", () => {
  const ops = [...cleanOps(), write("x", 0, "fail")];
  const result = checkHistory({
    ops,
    finalReads: [final(0, [[0, "a"], [1, "b"], [2, "c"], [3, "x"]])],
  });
  deepStrictEqual(nonZero(result), { "failed-write-read": 1 });
});

Deno.test("a value never written, or written to another partition, is unexpected", () => {
  const ops = [
    ...cleanOps(),
    write("z", 1, "ok", 0),
    assign("c1", 1, 0),
    poll("c1", 1, [[0, "z"]]),
  ];
  const result = checkHistory({
    ops,
    finalReads: [...CLEAN_FINAL, final(1, [[0, "z"], [1, "garbage"]]), final(2, [[0, "z"]])],
  });
  // "z" also turns up in partition 2: unexpected there, and a value in two places.
  deepStrictEqual(nonZero(result), { "unexpected-value": 2, duplicate: 1 });
});

Deno.test("examples are capped while counts are not", () => {
  const ops = Array.from({ length: 30 }, (_, i) => write(`v${i}`, 0, "ok", i));
  const result = checkHistory({ ops, finalReads: [final(0, [])] }, { examplesMax: 3 });
  strictEqual(result.anomalies.lost.count, 30);
  strictEqual(result.anomalies.lost.examples.length, 3);
});

Deno.test("checkHistory() refuses a history whose writes share a value", () => {
  throws(
    () => checkHistory({ ops: [write("a", 0, "ok", 0), write("a", 0, "fail")], finalReads: [] }),
    HistoryFormatError,
  );
});

Deno.test("a history round trips through JSON lines, and malformed lines are named", () => {
  const history: History = { ops: cleanOps(), finalReads: CLEAN_FINAL };
  deepStrictEqual(parseHistoryLines(historyToLines(history)), history);
  throws(() => parseHistoryLines('{"type":"produce"}\n'), /line 1: topic/);
  throws(
    () => parseHistoryLines(`${JSON.stringify(write("a", 0, "ok"))}\n`),
    /line 1: an ok produce needs its offset/,
  );
  throws(() => parseHistoryLines("\n{not json"), /line 2: not JSON/);
  throws(
    () =>
      parseHistoryLines(
        JSON.stringify({
          type: "final-read",
          topic: TOPIC,
          partition: 0,
          records: [[1, "a"], [0, "b"]],
        }),
      ),
    /not in offset order/,
  );
});

// ---- property: histories from a correct log never report anomalies ----

/** One step of the model's workload. */
type Step =
  | { kind: "produce"; partition: number; fate: "ok" | "fail" | "unknown-kept" | "unknown-lost" }
  | { kind: "poll"; consumer: number; partition: number; maxRecords: number }
  | { kind: "rebalance"; consumer: number; partition: number }
  | { kind: "commit"; consumer: number; partition: number }
  | { kind: "observe"; partition: number };

const PARTITIONS = 3;
const CONSUMERS = 2;

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("produce" as const),
    partition: fc.nat(PARTITIONS - 1),
    fate: fc.constantFrom(
      "ok" as const,
      "fail" as const,
      "unknown-kept" as const,
      "unknown-lost" as const,
    ),
  }),
  fc.record({
    kind: fc.constant("poll" as const),
    consumer: fc.nat(CONSUMERS - 1),
    partition: fc.nat(PARTITIONS - 1),
    maxRecords: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant("rebalance" as const),
    consumer: fc.nat(CONSUMERS - 1),
    partition: fc.nat(PARTITIONS - 1),
  }),
  fc.record({
    kind: fc.constant("commit" as const),
    consumer: fc.nat(CONSUMERS - 1),
    partition: fc.nat(PARTITIONS - 1),
  }),
  fc.record({ kind: fc.constant("observe" as const), partition: fc.nat(PARTITIONS - 1) }),
);

/**
 * Runs `steps` against an obviously correct log: appends in order, consumers
 * read sequentially from where they were assigned, the group's committed
 * offset only moves forward. At the end every partition is drained from the
 * committed offset, so every acknowledged value has been polled.
 */
function modelHistory(steps: readonly Step[]): History {
  const logs: string[][] = Array.from({ length: PARTITIONS }, () => []);
  const committedAt = new Array<number>(PARTITIONS).fill(0);
  const positions = new Map<string, number>();
  const ops: HistoryOp[] = [];
  let clockMs = 0;
  let nextValue = 0;
  const assignTo = (consumer: string, partition: number) => {
    const offset = committedAt[partition];
    positions.set(`${consumer}/${partition}`, offset);
    ops.push({ ...assign(consumer, partition, offset), timeMs: clockMs++ });
  };
  const pollFrom = (consumer: string, partition: number, maxRecords: number) => {
    const key = `${consumer}/${partition}`;
    if (!positions.has(key)) assignTo(consumer, partition);
    const from = positions.get(key)!;
    const upTo = Math.min(logs[partition].length, from + maxRecords);
    const records: [number, string][] = [];
    for (let offset = from; offset < upTo; offset++) {
      records.push([offset, logs[partition][offset]]);
    }
    positions.set(key, upTo);
    ops.push(poll(consumer, partition, records, clockMs++));
  };
  for (const step of steps) {
    if (step.kind === "produce") {
      const value = `v${nextValue++}`;
      const log = logs[step.partition];
      const atMs = clockMs;
      clockMs += 2;
      if (step.fate === "ok") {
        ops.push(write(value, step.partition, "ok", log.length, atMs));
        log.push(value);
      } else if (step.fate === "fail") {
        ops.push(write(value, step.partition, "fail", undefined, atMs));
      } else {
        ops.push(write(value, step.partition, "unknown", undefined, atMs));
        if (step.fate === "unknown-kept") log.push(value);
      }
    } else if (step.kind === "poll") {
      pollFrom(`c${step.consumer}`, step.partition, step.maxRecords);
    } else if (step.kind === "rebalance") {
      assignTo(`c${step.consumer}`, step.partition);
    } else if (step.kind === "commit") {
      const position = positions.get(`c${step.consumer}/${step.partition}`);
      if (position !== undefined) {
        committedAt[step.partition] = Math.max(committedAt[step.partition], position);
      }
    } else {
      const offset = committedAt[step.partition];
      ops.push({ ...committed(offset, clockMs, clockMs + 1), partition: step.partition });
      clockMs += 2;
    }
  }
  for (let partition = 0; partition < PARTITIONS; partition++) {
    assignTo("drain", partition);
    pollFrom("drain", partition, Infinity);
  }
  const finalReads = logs.map((log, partition) =>
    final(partition, log.map((value, offset) => [offset, value] as [number, string]))
  );
  return { ops, finalReads };
}

Deno.test("histories generated from a correct log model never report anomalies", () => {
  fc.assert(
    fc.property(fc.array(stepArbitrary, { maxLength: 120 }), (steps) => {
      const result = checkHistory(modelHistory(steps));
      deepStrictEqual(nonZero(result), {});
    }),
    { seed: 0x5eed9, numRuns: 300 },
  );
});

Deno.test("dropping an acknowledged record from a correct history's final read is always caught as lost", () => {
  fc.assert(
    fc.property(
      fc.array(stepArbitrary, { minLength: 1, maxLength: 80 }),
      fc.nat(),
      (steps, pick) => {
        const history = modelHistory(steps);
        const acked = history.ops.filter((op): op is ProduceOp =>
          op.type === "produce" && op.outcome === "ok"
        );
        fc.pre(acked.length > 0);
        const victim = acked[pick % acked.length];
        const finalReads = history.finalReads.map((read) =>
          read.partition !== victim.partition
            ? read
            : { ...read, records: read.records.filter(([, value]) => value !== victim.value) }
        );
        const result = checkHistory({ ops: history.ops, finalReads });
        ok(result.anomalies.lost.count >= 1);
        strictEqual(result.anomalies.lost.examples[0].value, victim.value);
      },
    ),
    { seed: 0x10057, numRuns: 200 },
  );
});

// ---- report ----

Deno.test("the report carries the issue's fields and the summary flags violations with the seed", () => {
  const result = checkHistory({ ops: cleanOps(), finalReads: [final(0, [[0, "a"], [1, "b"]])] });
  const report = buildReport(result, {
    seed: 42,
    durationMs: 61_000,
    faults: { kill: 3, pause: 2 },
    failoverMs: [900, 300, 1200, 400],
    extraChecks: [{ name: "replicas identical up to HW", violations: 0 }],
  });
  deepStrictEqual(
    {
      seed: report.seed,
      faultsTotal: report.faultsTotal,
      acked: report.acked,
      lost: report.lost,
      violations: report.violations,
      valid: report.valid,
      failoverMs: report.failoverMs,
    },
    {
      seed: 42,
      faultsTotal: 5,
      acked: 3,
      lost: 1,
      violations: 1,
      valid: false,
      failoverMs: { count: 4, p50: 400, max: 1200 },
    },
  );
  for (
    const field of [
      "failed",
      "unknown",
      "unseen",
      "duplicates",
      "inconsistentOffsets",
      "nonmonotonicPolls",
    ]
  ) {
    strictEqual(typeof (report as unknown as Record<string, unknown>)[field], "number", field);
  }
  deepStrictEqual(Object.keys(report.examples), ["lost"]);
  const summary = formatSummary(report);
  ok(summary.includes("lost writes"), summary);
  ok(/lost writes\s+1 {2}<-- VIOLATION/.test(summary), summary);
  ok(summary.includes("replay with --seed 42"), summary);
  ok(summary.includes("p50 400 ms, max 1200 ms"), summary);
  // JSON-serialisable as written to --report FILE.
  deepStrictEqual(JSON.parse(JSON.stringify(report)), report);
});

Deno.test("a failed extra check makes an otherwise clean report invalid", () => {
  const report = buildReport(checkHistory({ ops: cleanOps(), finalReads: CLEAN_FINAL }), {
    seed: 7,
    durationMs: 1000,
    faults: {},
    extraChecks: [{ name: "one Raft leader per term", violations: 1, examples: ["term 4: 1, 2"] }],
  });
  strictEqual(report.valid, false);
  strictEqual(report.violations, 1);
  deepStrictEqual(report.failoverMs, { count: 0, p50: null, max: null });
  ok(formatSummary(report).includes("term 4: 1, 2"));
  strictEqual(percentile([], 50), null);
  strictEqual(percentile([5], 99), 5);
});

Deno.test("admin violations count in the report total and the summary names them", () => {
  const admin = checkAdminOps(
    [
      {
        kind: "create",
        topic: "a",
        partitions: 1,
        invokeMs: 0,
        completeMs: 1,
        outcome: "ok",
        attempts: 1,
      },
      {
        kind: "create",
        topic: "b",
        partitions: 1,
        invokeMs: 0,
        completeMs: 1,
        outcome: "fail",
        attempts: 1,
      },
    ],
    [{ node: 1, topics: new Map([["b", 1]]) }],
  );
  const report = buildReport(checkHistory({ ops: cleanOps(), finalReads: CLEAN_FINAL }), {
    seed: 9,
    durationMs: 1000,
    faults: { corrupt: 2 },
    admin,
    corruptions: { detected: 2, undetected: 0 },
  });
  deepStrictEqual(
    {
      adminOps: report.adminOps,
      adminLost: report.adminLost,
      adminFailedApplied: report.adminFailedApplied,
      corruptDetected: report.corruptDetected,
      violations: report.violations,
      valid: report.valid,
    },
    {
      adminOps: { ok: 1, failed: 1, unknown: 0 },
      adminLost: 1,
      adminFailedApplied: 1,
      corruptDetected: 2,
      violations: 2,
      valid: false,
    },
  );
  const summary = formatSummary(report);
  ok(/admin ops lost\s+1 {2}<-- VIOLATION/.test(summary), summary);
  ok(/admin failures applied\s+1 {2}<-- VIOLATION/.test(summary), summary);
  ok(summary.includes("corruptions detected"), summary);
  ok(
    summary.includes("a: acknowledged with 1 partition(s), but node 1 has no such topic"),
    summary,
  );
});
