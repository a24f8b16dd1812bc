/**
 * Consumer groups through `@strom/client` on real processes (issue 8), the
 * parts `groups_test.ts` does not cover:
 *
 * - a regex subscription picks up a matching topic created afterwards, and
 *   not one that does not match;
 * - static membership: a SIGKILLed consumer restarted with the same
 *   `instanceId` within the session gets exactly its partitions back and no
 *   other member's assignment changes; one that stays away longer than the
 *   session loses its partitions to the others;
 * - re-processing after a SIGKILL is bounded by the auto-commit interval,
 *   derived from the consumer processes' own logs (see
 *   {@link reprocessingReport}).
 *
 * One cluster for all three (group settings through the launcher's
 * `--groups`, written into every node's config), each scenario on its own
 * topic and group. Rebalance times and the re-processing numbers are
 * printed. Bounded: every wait ≤ 30 s; every consumer process is killed by
 * pid in `finally`.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Strom } from "@strom/client";
import { launchCluster } from "./_harness/launcher.ts";
import type { LaunchedCluster } from "./_harness/launcher.ts";
import { createTopic as createTopicVia, requestJson } from "./_harness/http.ts";
import { eventually, LineCollector, processAlive } from "./_harness/process.ts";

const SESSION_MS = 5_000;
const HEARTBEAT_MS = 400;
const AUTO_COMMIT_INTERVAL_MS = 1_000;
const GROUPS_ARGS = [
  "--groups",
  JSON.stringify({
    sessionTimeoutMs: SESSION_MS,
    heartbeatIntervalMs: HEARTBEAT_MS,
    offsetsTopicPartitions: 3,
  }),
];
const CONSUMER_MAIN = fileURLToPath(new URL("./groups_consumer_main.ts", import.meta.url));
/** Every wait for the cluster or a consumer. */
const WAIT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates a topic and waits until every broker knows its leaders: a
 * producer may ask any broker, and one whose metadata lags answers
 * UNKNOWN_TOPIC_OR_PARTITION, which the client does not retry.
 */
async function createTopic(urls: readonly string[], name: string, partitions: number) {
  await createTopicVia(urls[0], name, partitions);
  for (const url of urls) {
    await eventually(
      async () => {
        const d = await requestJson(`${url}/v1/topics/${name}`);
        // deno-lint-ignore no-explicit-any
        return d.body?.partitions?.every((p: any) => p.leader > 0) === true;
      },
      20_000,
      `every partition of ${name} to have a leader on ${url}`,
    );
  }
}

/** One line of `groups_consumer_main.ts`. */
interface ConsumerEvent {
  readonly event: "assigned" | "revoked" | "record" | "committed";
  readonly ms: number;
  readonly partitions?: number[];
  readonly partition?: number;
  readonly offset?: number;
  readonly batch?: number;
  readonly offsets?: { partition: number; offset: number }[];
}

/** A `groups_consumer_main.ts` process and its parsed log. */
class ConsumerProcess {
  readonly proc: Deno.ChildProcess;
  readonly out: LineCollector;
  readonly err: LineCollector;

  constructor(
    readonly name: string,
    brokers: readonly string[],
    group: string,
    topic: string,
    options: { instanceId?: string; autoCommitIntervalMs?: number },
  ) {
    this.proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        CONSUMER_MAIN,
        brokers.join(","),
        group,
        topic,
        String(SESSION_MS),
        JSON.stringify(options),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.out = new LineCollector(this.proc.stdout);
    this.err = new LineCollector(this.proc.stderr);
  }

  events(): ConsumerEvent[] {
    const events: ConsumerEvent[] = [];
    for (const line of this.out.lines) {
      try {
        events.push(JSON.parse(line));
      } catch { /* not an event */ }
    }
    return events;
  }

  /** Partitions owned after replaying the assigned/revoked events. */
  owned(events = this.events()): Set<number> {
    const owned = new Set<number>();
    for (const e of events) {
      if (e.event === "assigned") { for (const p of e.partitions!) owned.add(p); }
      if (e.event === "revoked") { for (const p of e.partitions!) owned.delete(p); }
    }
    return owned;
  }

  /** How many times its partitions changed (assigned or revoked events). */
  rebalances(): number {
    return this.events().filter((e) => e.event === "assigned" || e.event === "revoked").length;
  }

  /** SIGKILLs it; resolves with the wall clock right after the signal, once it is reaped. */
  async kill(): Promise<number> {
    this.proc.kill("SIGKILL");
    const deathMs = Date.now();
    await this.proc.status;
    await this.out.done;
    return deathMs;
  }

  async cleanup(): Promise<void> {
    if (processAlive(this.proc.pid)) this.proc.kill("SIGKILL");
    await this.proc.status.catch(() => {});
    await Promise.all([this.out.done, this.err.done]);
    await this.proc.stdin.close().catch(() => {});
  }
}

const sorted = (s: Iterable<number>) => [...s].sort((a, b) => a - b);

/** One partition's re-processing after a consumer died, with its bound. */
interface PartitionReprocessing {
  readonly partition: number;
  /** Offsets the dead consumer processed that its successor processed again. */
  readonly reprocessed: number;
  /** Records the dead consumer processed at or past its last accepted commit. */
  readonly sinceLastCommit: number;
  /** Records the dead consumer processed in the last `windowMs` before it died. */
  readonly inWindow: number;
  /** The most records of this partition it processed from one `eachBatch` call. */
  readonly pollBatchMax: number;
  /** Where the successor started, and the dead consumer's last commit. */
  readonly successorFirstOffset: number | undefined;
  readonly lastCommittedOffset: number | undefined;
}

/** {@link reprocessingReport}'s answer. */
interface ReprocessingReport {
  readonly partitions: PartitionReprocessing[];
  /** The auto-commit interval stretched by the slowest cycle and commit round trip observed. */
  readonly windowMs: number;
  readonly commitCycleMsMax: number;
  readonly commitRoundTripMsMax: number;
}

/**
 * Derives re-processing and its bound from two consumers' logs: `dead` was
 * SIGKILLed at `deathMs`, `successor` took its partitions over.
 *
 * For each partition the dead consumer owned: `reprocessed` must be at most
 * `sinceLastCommit` (the successor starts at the last accepted commit, not
 * before), which must be at most `inWindow + pollBatchMax`: what was
 * processed in the last commit window before death, plus the batch that
 * may have been in hand when the window's commit was snapshotted.
 *
 * The window is the configured interval where the machine kept up; when it
 * did not, it is stretched by what this run showed: a commit snapshots the
 * processed positions when its timer fires, so the uncommitted tail at death
 * is at most one timer cycle plus one commit round trip. A cycle is measured
 * between consecutive snapshots, and a snapshot's time is bounded below by
 * when the last record it covers was processed (records flow continuously in
 * the test, so that bound is tight); the round trip is from that snapshot to
 * the `committed` line.
 */
function reprocessingReport(
  dead: readonly ConsumerEvent[],
  successor: readonly ConsumerEvent[],
  deathMs: number,
  intervalMs: number,
): ReprocessingReport {
  const processedAt = new Map<string, number>();
  for (const e of dead) {
    if (e.event === "record") processedAt.set(`${e.partition}:${e.offset}`, e.ms);
  }
  const snapshots: { atMs: number; doneMs: number }[] = [];
  for (const e of dead) {
    if (e.event !== "committed") continue;
    const covered = e.offsets!.map((o) => processedAt.get(`${o.partition}:${o.offset - 1}`));
    if (covered.some((ms) => ms === undefined)) continue;
    snapshots.push({ atMs: Math.max(...covered as number[]), doneMs: e.ms });
  }
  let commitCycleMsMax = intervalMs;
  let commitRoundTripMsMax = 0;
  snapshots.forEach((s, i) => {
    commitRoundTripMsMax = Math.max(commitRoundTripMsMax, s.doneMs - s.atMs);
    if (i > 0) commitCycleMsMax = Math.max(commitCycleMsMax, s.atMs - snapshots[i - 1].atMs);
  });
  const windowMs = commitCycleMsMax + commitRoundTripMsMax;

  const owned = new Set<number>();
  for (const e of dead) {
    if (e.event === "assigned") { for (const p of e.partitions!) owned.add(p); }
    if (e.event === "revoked") { for (const p of e.partitions!) owned.delete(p); }
  }
  const partitions = sorted(owned).map((partition): PartitionReprocessing => {
    const records = dead.filter((e) => e.event === "record" && e.partition === partition);
    const commits = dead.flatMap((e) =>
      e.event === "committed"
        ? e.offsets!.filter((o) => o.partition === partition).map((o) => o.offset)
        : []
    );
    const lastCommittedOffset = commits.length > 0 ? Math.max(...commits) : undefined;
    const uncommitted = records.filter((e) => e.offset! >= (lastCommittedOffset ?? -1));
    const deadOffsets = new Set(records.map((e) => e.offset!));
    const after = successor.filter((e) =>
      e.event === "record" && e.partition === partition && e.ms >= deathMs
    );
    const again = new Set(after.filter((e) => deadOffsets.has(e.offset!)).map((e) => e.offset!));
    const perBatch = new Map<number, number>();
    for (const e of records) perBatch.set(e.batch!, (perBatch.get(e.batch!) ?? 0) + 1);
    return {
      partition,
      reprocessed: again.size,
      sinceLastCommit: new Set(uncommitted.map((e) => e.offset!)).size,
      inWindow: records.filter((e) => e.ms > deathMs - windowMs).length,
      pollBatchMax: Math.max(0, ...perBatch.values()),
      successorFirstOffset: after.length > 0 ? Math.min(...after.map((e) => e.offset!)) : undefined,
      lastCommittedOffset,
    };
  });
  return { partitions, windowMs, commitCycleMsMax, commitRoundTripMsMax };
}

Deno.test({
  name:
    "group consumers through the client: a regex picks up a new matching topic, a static member gets its partitions back without a rebalance, and re-processing after SIGKILL is bounded by the commit interval",
  async fn(t) {
    let cluster: LaunchedCluster | undefined;
    const children: ConsumerProcess[] = [];
    const stroms: Strom[] = [];
    const timings: Record<string, number> = {};
    let urls: string[] = [];
    const spawn = (name: string, group: string, topic: string, options: object = {}) => {
      const c = new ConsumerProcess(name, urls, group, topic, options);
      children.push(c);
      return c;
    };
    try {
      cluster = await launchCluster({ args: GROUPS_ARGS });
      urls = cluster.manifest.nodes.map((n) => n.clientUrl);
      const admin = new Strom({ brokers: urls, requestTimeoutMs: 15_000 });
      stroms.push(admin);
      const producer = admin.producer({ lingerMs: 2 });

      await t.step(
        "a regex subscription picks up a matching topic created afterwards",
        async () => {
          await createTopic(urls, "rx-old", 2);
          const strom = new Strom({ brokers: urls, requestTimeoutMs: 10_000 });
          stroms.push(strom);
          const assigned = new Set<string>();
          const consumed = new Map<string, number>();
          const consumer = strom.consumer({
            groupId: "by-pattern",
            autoOffsetReset: "earliest",
            sessionTimeoutMs: SESSION_MS,
            onPartitionsAssigned: (tps) => tps.forEach((tp) => assigned.add(tp.topic)),
          });
          consumer.subscribe(/rx-.+/);
          const running = consumer.run({
            eachBatch: (b) => {
              consumed.set(b.topic, (consumed.get(b.topic) ?? 0) + b.records.length);
            },
          });
          try {
            await eventually(() => assigned.has("rx-old"), WAIT_MS, "rx-old to be assigned");
            const t0 = Date.now();
            await createTopic(urls, "rx-new", 3);
            await createTopic(urls, "ry-new", 1);
            await Promise.all([
              ...Array.from(
                { length: 12 },
                (_, i) => producer.send({ topic: "rx-new", key: `k${i}`, value: `v${i}` }),
              ),
              ...Array.from(
                { length: 5 },
                (_, i) => producer.send({ topic: "ry-new", value: `${i}` }),
              ),
            ]);
            await eventually(
              () => (consumed.get("rx-new") ?? 0) >= 12,
              WAIT_MS,
              "the 12 records of the new matching topic to be consumed",
            );
            timings["regex: matching topic created → its records consumed (ms)"] = Date.now() - t0;
            // Heartbeats every 400 ms: a few of them would have picked up ry-new by now.
            await sleep(HEARTBEAT_MS * 3);
            assert.ok(!assigned.has("ry-new"), "a topic that does not match is never assigned");
            assert.equal(consumed.get("ry-new"), undefined);
            const d = await requestJson(`${urls[0]}/v1/groups/by-pattern`);
            assert.equal(d.status, 200, JSON.stringify(d.body));
            assert.equal(d.body.members[0].subscribedTopicRegex, "rx-.+");
            assert.deepEqual(
              // deno-lint-ignore no-explicit-any
              d.body.members[0].assigned.map((tp: any) => [tp.topic, sorted(tp.partitions)])
                .sort(),
              [["rx-new", [0, 1, 2]], ["rx-old", [0, 1]]],
            );
          } finally {
            await consumer.close();
            await running;
          }
        },
      );

      await t.step(
        "a static member restarted within the session gets its partitions back and nothing else moves; one that stays away loses them",
        async () => {
          const TOPIC = "static-events";
          const GROUP = "static-workers";
          await createTopic(urls, TOPIC, 6);
          const describe = async () => {
            const d = await requestJson(`${urls[1]}/v1/groups/${GROUP}`);
            assert.equal(d.status, 200, JSON.stringify(d.body));
            return {
              groupEpoch: d.body.groupEpoch as number,
              byInstance: Object.fromEntries(
                // deno-lint-ignore no-explicit-any
                d.body.members.map((m: any) => [
                  m.instanceId,
                  // deno-lint-ignore no-explicit-any
                  sorted(m.assigned.flatMap((tp: any) => tp.partitions)),
                ]),
              ),
            };
          };
          const [s1, s2, s3] = ["s1", "s2", "s3"].map((id) =>
            spawn(id, GROUP, TOPIC, { instanceId: id })
          );
          await eventually(
            () => [s1, s2, s3].every((c) => c.owned().size === 2),
            WAIT_MS,
            "three static members to own two partitions each",
          );
          const before = await describe();
          const s1Partitions = sorted(s1.owned());
          const othersRebalances = s2.rebalances() + s3.rebalances();

          const t0 = Date.now();
          await s1.kill();
          const s1b = spawn("s1 (restarted)", GROUP, TOPIC, { instanceId: "s1" });
          await eventually(
            () => s1b.owned().size === s1Partitions.length,
            WAIT_MS,
            "the restarted static member to own its partitions again",
          );
          timings["static: SIGKILL → restarted member owns its partitions again (ms)"] =
            Date.now() -
            t0;
          assert.deepEqual(sorted(s1b.owned()), s1Partitions, "exactly its previous partitions");
          // A few heartbeats later, still nothing has moved.
          await sleep(HEARTBEAT_MS * 3);
          assert.equal(
            s2.rebalances() + s3.rebalances(),
            othersRebalances,
            "no other member gave up or received a partition",
          );
          const after = await describe();
          assert.deepEqual(after.byInstance, before.byInstance);
          assert.equal(after.groupEpoch, before.groupEpoch, "the group epoch did not bump");

          const t1 = Date.now();
          await s1b.kill();
          await eventually(
            () => s2.owned().size + s3.owned().size === 6,
            WAIT_MS,
            "the others to take the absent static member's partitions",
          );
          const awayMs = Date.now() - t1;
          timings["static: SIGKILL, stays away → its partitions owned by the others (ms)"] = awayMs;
          assert.ok(
            awayMs >= SESSION_MS / 2,
            `partitions moved after ${awayMs} ms, before the session`,
          );
          assert.deepEqual([s2.owned().size, s3.owned().size], [3, 3]);
        },
      );

      await t.step(
        "re-processing after a SIGKILL is at most what the killed consumer processed since its last commit, which fits in one commit interval",
        async () => {
          const TOPIC = "reprocess";
          const GROUP = "reprocessors";
          const PARTITIONS = 4;
          await createTopic(urls, TOPIC, PARTITIONS);
          const produced: string[] = [];
          let producing = true;
          const producing$ = (async () => {
            for (let round = 0; producing && round < 5_000; round++) {
              const sent = await Promise.all(
                Array.from(
                  { length: PARTITIONS },
                  (_, partition) => producer.send({ topic: TOPIC, partition, value: `r${round}` }),
                ),
              );
              for (const m of sent) produced.push(`${m.partition}:${m.offset}`);
              await sleep(50);
            }
          })();
          try {
            const options = { autoCommitIntervalMs: AUTO_COMMIT_INTERVAL_MS };
            const a = spawn("a", GROUP, TOPIC, options);
            const b = spawn("b", GROUP, TOPIC, options);
            await eventually(
              () => a.owned().size === 2 && b.owned().size === 2,
              WAIT_MS,
              "two consumers to own two partitions each",
            );
            const commitsOfA = () => a.events().filter((e) => e.event === "committed").length;
            const settled = commitsOfA();
            await eventually(
              () => commitsOfA() >= settled + 3,
              WAIT_MS,
              "three auto-commits of the consumer to be killed",
            );
            // Somewhere inside a commit interval.
            const delayMs = Math.floor(Math.random() * AUTO_COMMIT_INTERVAL_MS);
            await sleep(delayMs);
            const deadPartitions = sorted(a.owned());
            const deathMs = await a.kill();
            await eventually(
              () => b.owned().size === PARTITIONS,
              WAIT_MS,
              "the survivor to own every partition",
            );
            timings["commit-after-processing: SIGKILL → survivor owns all (ms)"] = Date.now() -
              deathMs;
            await sleep(500);
            producing = false;
            await producing$;
            const processedBy = () =>
              new Set(
                [...a.events(), ...b.events()].filter((e) => e.event === "record").map((e) =>
                  `${e.partition}:${e.offset}`
                ),
              );
            await eventually(
              () => {
                const done = processedBy();
                return produced.every((k) => done.has(k));
              },
              WAIT_MS,
              "every produced record to be processed at least once",
            );

            const report = reprocessingReport(
              a.events(),
              b.events(),
              deathMs,
              AUTO_COMMIT_INTERVAL_MS,
            );
            assert.deepEqual(report.partitions.map((p) => p.partition), deadPartitions);
            console.log(
              `reprocessing: ${produced.length} records; killed ${delayMs} ms into a wait; window ${report.windowMs} ms = cycle ${report.commitCycleMsMax} (interval ${AUTO_COMMIT_INTERVAL_MS}) + commit round trip ${report.commitRoundTripMsMax}`,
            );
            for (const p of report.partitions) {
              console.log(
                `reprocessing: partition ${p.partition}: re-processed ${p.reprocessed} ≤ since last commit ${p.sinceLastCommit} (commit ${p.lastCommittedOffset}, successor from ${p.successorFirstOffset}) ≤ bound ${
                  p.inWindow + p.pollBatchMax
                } (${p.inWindow} in the window + poll batch ${p.pollBatchMax})`,
              );
            }
            for (const p of report.partitions) {
              assert.ok(p.lastCommittedOffset !== undefined, `partition ${p.partition}: no commit`);
              assert.ok(
                p.successorFirstOffset !== undefined &&
                  p.successorFirstOffset >= p.lastCommittedOffset,
                `partition ${p.partition}: the successor started at ${p.successorFirstOffset}, before the last commit ${p.lastCommittedOffset}`,
              );
              assert.ok(p.reprocessed <= p.sinceLastCommit, JSON.stringify(p));
              assert.ok(p.sinceLastCommit <= p.inWindow + p.pollBatchMax, JSON.stringify(p));
            }
          } finally {
            producing = false;
            await producing$.catch(() => {});
          }
        },
      );
    } finally {
      for (const c of children) await c.cleanup();
      for (const s of stroms) await s.close().catch(() => {});
      await cluster?.cleanup();
      for (const [what, ms] of Object.entries(timings)) console.log(`groups: ${what}: ${ms}`);
    }
  },
});
