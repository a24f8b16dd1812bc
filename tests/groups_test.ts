/**
 * Consumer groups on real processes (issue 8): the `/v1/groups` routes
 * through any broker, and `@strom/client` group consumers through
 * rebalances, a SIGKILLed consumer and a SIGKILLed coordinator broker, with
 * an ownership log built from the rebalance callbacks and an at-least-once
 * check of every produced record. Rebalance times are printed.
 *
 * Bounded: one cluster per test (≤ 60 s to start), every wait ≤ 30 s; the
 * group session is shortened to 3 s through the nodes' `groups` config. Every
 * process started here is killed by pid in `finally`.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Strom } from "@strom/client";
import { GROUP_METADATA_TOPIC, groupCoordinatorPartition } from "../broker/groups/mod.ts";
import { runCli } from "../client/cli/main.ts";
import { launchCluster } from "./_harness/launcher.ts";
import type { LaunchedCluster } from "./_harness/launcher.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { createTopic as createTopicVia, requestJson } from "./_harness/http.ts";
import { eventually, LineCollector, processAlive } from "./_harness/process.ts";

const SESSION_MS = 3_000;
const OFFSETS_PARTITIONS = 3;
/** Every node's `groups` config section, through the launcher's `--groups` flag. */
const GROUPS_ARGS = [
  "--groups",
  JSON.stringify({
    sessionTimeoutMs: SESSION_MS,
    heartbeatIntervalMs: 300,
    offsetsTopicPartitions: OFFSETS_PARTITIONS,
  }),
];
const CONSUMER_MAIN = fileURLToPath(new URL("./groups_consumer_main.ts", import.meta.url));

/** Runs the strom CLI in-process; returns its exit code and output lines. */
async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), fetch });
  return { code, out, err };
}

async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  await createTopicVia(url, name, partitions);
  await eventually(
    async () => {
      const d = await requestJson(`${url}/v1/topics/${name}`);
      // deno-lint-ignore no-explicit-any
      return d.body?.partitions?.every((p: any) => p.leader > 0) === true;
    },
    20_000,
    `every partition of ${name} to have a leader`,
  );
}

Deno.test({
  name:
    "the group routes answer on every broker: join, commit, fetch, describe with lag, list, reset and delete; bad bodies are clear errors",
  async fn() {
    const cluster = await launchCluster({ args: GROUPS_ARGS });
    try {
      const [u1, u2, u3] = cluster.manifest.nodes.map((n) => n.clientUrl);
      await createTopic(u1, "orders", 4);
      const produced = await requestJson(`${u1}/v1/topics/orders/records`, {
        body: { records: [0, 0, 0, 1].map((partition, i) => ({ value: `v${i}`, partition })) },
        timeoutMs: 15_000,
      });
      assert.equal(produced.status, 200, JSON.stringify(produced.body));

      const join = await requestJson(`${u1}/v1/groups/billing/heartbeat`, {
        body: { memberEpoch: 0, subscribedTopicNames: ["orders"] },
        timeoutMs: 20_000,
      });
      assert.equal(join.status, 200, JSON.stringify(join.body));
      const { memberId, memberEpoch } = join.body;
      assert.ok(memberEpoch > 0);
      assert.deepEqual(join.body.assignment, [{ topic: "orders", partitions: [0, 1, 2, 3] }]);

      const commit = await requestJson(`${u2}/v1/groups/billing/offsets`, {
        body: { memberId, memberEpoch, offsets: [{ topic: "orders", partition: 0, offset: 1 }] },
      });
      assert.equal(commit.status, 200, JSON.stringify(commit.body));
      const fetched = await requestJson(`${u3}/v1/groups/billing/offsets`);
      assert.deepEqual(
        fetched.body.offsets.map((o: { partition: number; offset: number }) => [
          o.partition,
          o.offset,
        ]),
        [[0, 1]],
      );

      const described = await requestJson(`${u3}/v1/groups/billing`);
      assert.equal(described.status, 200, JSON.stringify(described.body));
      assert.equal(described.body.state, "stable");
      assert.equal(described.body.members[0].memberId, memberId);
      const p0 = described.body.partitions.find((p: { partition: number }) => p.partition === 0);
      assert.deepEqual(
        [p0.committedOffset, p0.highWatermark, p0.lag, p0.memberId],
        [1, 3, 2, memberId],
      );

      const listed = await requestJson(`${u2}/v1/groups`);
      assert.deepEqual(listed.body.groups, [{ groupId: "billing", state: "stable", members: 1 }]);

      const shown = await cli([
        "groups",
        "describe",
        "--group",
        "billing",
        "--bootstrap-server",
        u2,
      ]);
      assert.equal(shown.code, 0, shown.err.join("\n"));
      const text = shown.out.join("\n");
      assert.match(text, /TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+MEMBER-ID/);
      assert.match(text, new RegExp(`orders\\s+0\\s+1\\s+3\\s+2\\s+${memberId}`));
      const cliList = await cli(["groups", "list", "--json", "--bootstrap-server", u3]);
      assert.equal(JSON.parse(cliList.out[0]).groups[0].groupId, "billing");

      const busy = await requestJson(`${u1}/v1/groups/billing/offsets/reset`, {
        body: { to: "earliest" },
      });
      assert.equal(busy.body.error?.code, "NON_EMPTY_GROUP");

      const left = await requestJson(`${u2}/v1/groups/billing/members/${memberId}`, {
        method: "DELETE",
      });
      assert.equal(left.status, 200, JSON.stringify(left.body));
      assert.equal(left.body.memberEpoch, -1);

      const reset = await requestJson(`${u1}/v1/groups/billing/offsets/reset`, {
        body: { to: "latest", topic: "orders" },
      });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      assert.deepEqual(
        reset.body.offsets.map((o: { offset: number }) => o.offset),
        [3, 1, 0, 0],
      );
      const toOffset = await requestJson(`${u2}/v1/groups/billing/offsets/reset`, {
        body: { to: { offset: 2 } },
      });
      assert.deepEqual(
        toOffset.body.offsets.map((o: { offset: number }) => o.offset),
        [2, 1, 0, 0],
        "an explicit offset is clamped to each partition's [earliest, latest]",
      );

      for (
        const [body, code] of [
          [[1], "INVALID_REQUEST"],
          [{ memberEpoch: "x" }, "INVALID_REQUEST"],
          [{ memberEpoch: 4, memberId: "nobody" }, "UNKNOWN_MEMBER_ID"],
          [{ memberEpoch: 0, ownedPartitions: [{ topic: 5 }] }, "INVALID_REQUEST"],
          [{ memberEpoch: 0, subscribedTopicRegex: "(" }, "INVALID_REGULAR_EXPRESSION"],
        ] as const
      ) {
        const bad = await requestJson(`${u3}/v1/groups/billing/heartbeat`, { body });
        assert.equal(bad.body.error?.code, code, JSON.stringify({ body, answer: bad.body }));
      }
      const badReset = await requestJson(`${u3}/v1/groups/billing/offsets/reset`, {
        body: { to: "yesterday" },
      });
      assert.equal(badReset.body.error?.code, "INVALID_REQUEST");

      const deleted = await requestJson(`${u3}/v1/groups/billing`, { method: "DELETE" });
      assert.deepEqual(deleted.body, { deleted: "billing", deletedOffsets: 4 });
      const gone = await cli([
        "groups",
        "describe",
        "--group",
        "billing",
        "--bootstrap-server",
        u1,
      ]);
      assert.equal(gone.code, 1);
      assert.match(gone.err.join("\n"), /GROUP_ID_NOT_FOUND/);

      // strom consume --group: reads from the beginning, commits what it printed, leaves.
      const consumed = await cli([
        "consume",
        "--topic",
        "orders",
        "--group",
        "console",
        "--from-beginning",
        "--max-messages",
        "4",
        "--bootstrap-server",
        u1,
      ]);
      assert.equal(consumed.code, 0, consumed.err.join("\n"));
      assert.deepEqual([...consumed.out].sort(), ["v0", "v1", "v2", "v3"]);
      const after = await requestJson(`${u2}/v1/groups/console`);
      assert.equal(after.body.state, "empty");
      assert.deepEqual(
        // deno-lint-ignore no-explicit-any
        after.body.partitions.map((p: any) => [p.partition, p.committedOffset, p.lag]),
        [[0, 3, 0], [1, 1, 0]],
      );
      const reset2 = await cli([
        "groups",
        "reset-offsets",
        "--group",
        "console",
        "--to-earliest",
        "--bootstrap-server",
        u3,
      ]);
      assert.equal(reset2.code, 0, reset2.err.join("\n"));
      assert.match(reset2.out.join("\n"), /orders\s+0\s+0/);
    } finally {
      await cluster.cleanup();
    }
  },
});

/** Who owns which partition, from the rebalance callbacks; a second owner is a violation. */
class OwnershipLog {
  readonly owners = new Map<number, string>();
  readonly violations: string[] = [];
  revocationsSince = 0;

  assigned(who: string, partitions: readonly number[]): void {
    for (const p of partitions) {
      const owner = this.owners.get(p);
      if (owner !== undefined && owner !== who) {
        this.violations.push(`partition ${p} given to ${who} while ${owner} owns it`);
      }
      this.owners.set(p, who);
    }
  }

  revoked(who: string, partitions: readonly number[]): void {
    for (const p of partitions) {
      if (this.owners.get(p) === who) this.owners.delete(p);
      this.revocationsSince++;
    }
  }

  /** A SIGKILLed member owns nothing from the moment it died. */
  dead(who: string): void {
    for (const [p, owner] of this.owners) if (owner === who) this.owners.delete(p);
  }

  count(who: string): number {
    return [...this.owners.values()].filter((o) => o === who).length;
  }
}

/** The subprocess consumer's events, applied to the log as they are printed. */
class ChildConsumer {
  readonly out: LineCollector;
  readonly err: LineCollector;
  #applied = 0;
  constructor(readonly proc: Deno.ChildProcess, readonly name: string) {
    this.out = new LineCollector(proc.stdout);
    this.err = new LineCollector(proc.stderr);
  }

  pump(log: OwnershipLog, processed: Map<string, number>): void {
    const lines = this.out.lines;
    for (; this.#applied < lines.length; this.#applied++) {
      let e: { event: string; partitions?: number[]; partition?: number; offset?: number };
      try {
        e = JSON.parse(lines[this.#applied]);
      } catch {
        continue;
      }
      if (e.event === "assigned") log.assigned(this.name, e.partitions!);
      if (e.event === "revoked") log.revoked(this.name, e.partitions!);
      if (e.event === "record") {
        const k = `${e.partition}:${e.offset}`;
        processed.set(k, (processed.get(k) ?? 0) + 1);
      }
    }
  }
}

Deno.test({
  name:
    "group consumers share 6 partitions 2/2/2, a 4th moves only one, a killed consumer's and a killed coordinator's partitions move on, and every record is processed at least once",
  async fn() {
    const TOPIC = "events";
    const GROUP = "workers";
    let cluster: LaunchedCluster | undefined;
    let nodes: ClusterNodes | undefined;
    let child: ChildConsumer | undefined;
    const stroms: Strom[] = [];
    try {
      cluster = await launchCluster({ args: GROUPS_ARGS });
      nodes = new ClusterNodes(cluster);
      const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
      await createTopic(urls[0], TOPIC, 6);

      const log = new OwnershipLog();
      const processed = new Map<string, number>();
      const produced: string[] = [];
      const runErrors: unknown[] = [];
      const admin = new Strom({ brokers: urls, requestTimeoutMs: 15_000 });
      stroms.push(admin);
      const producer = admin.producer({ lingerMs: 2 });
      const produce = async (count: number) => {
        const base = produced.length;
        const sent = await Promise.all(
          Array.from(
            { length: count },
            (_, i) => producer.send({ topic: TOPIC, key: `k${base + i}`, value: `v${base + i}` }),
          ),
        );
        for (const m of sent) produced.push(`${m.partition}:${m.offset}`);
      };
      const start = (name: string) => {
        const strom = new Strom({ brokers: urls, requestTimeoutMs: 10_000 });
        stroms.push(strom);
        const consumer = strom.consumer({
          groupId: GROUP,
          autoOffsetReset: "earliest",
          sessionTimeoutMs: SESSION_MS,
          autoCommitIntervalMs: 300,
          onPartitionsAssigned: (tps) => log.assigned(name, tps.map((t) => t.partition)),
          onPartitionsRevoked: (tps) => log.revoked(name, tps.map((t) => t.partition)),
        });
        consumer.subscribe([TOPIC]);
        consumer.run({
          eachBatch: (b) => {
            for (const r of b.records) {
              const k = `${r.partition}:${r.offset}`;
              processed.set(k, (processed.get(k) ?? 0) + 1);
            }
          },
        }).catch((e) => runErrors.push(e));
        return { name, strom, consumer };
      };
      const allProcessed = () => produced.every((k) => processed.has(k));
      const timings: Record<string, number> = {};

      await produce(120);
      let t0 = Date.now();
      const members = ["c1", "c2", "c3"].map(start);
      await eventually(
        () => members.every((m) => log.count(m.name) === 2),
        30_000,
        "three consumers to own two partitions each",
      );
      timings["3 join → 2/2/2 owned (ms)"] = Date.now() - t0;

      log.revocationsSince = 0;
      t0 = Date.now();
      child = new ChildConsumer(
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-all",
            CONSUMER_MAIN,
            urls.join(","),
            GROUP,
            TOPIC,
            `${SESSION_MS}`,
          ],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn(),
        "c4",
      );
      await eventually(
        () => {
          child!.pump(log, processed);
          return log.count("c4") === 1 && log.owners.size === 6;
        },
        30_000,
        "a fourth consumer to own one partition with all six owned",
      );
      timings["4th joins → all owned again (ms)"] = Date.now() - t0;
      const counts = ["c1", "c2", "c3", "c4"].map((n) => log.count(n)).sort();
      assert.deepEqual(counts, [1, 1, 2, 2]);
      assert.equal(log.revocationsSince, 1, "only one partition moved");

      await produce(120);
      await eventually(
        () => {
          child!.pump(log, processed);
          return allProcessed();
        },
        30_000,
        "every record to be processed",
      );

      t0 = Date.now();
      child.proc.kill("SIGKILL");
      await child.proc.status;
      child.pump(log, processed);
      log.dead("c4");
      await eventually(
        () => log.owners.size === 6,
        30_000,
        "the killed consumer's partition to move after the session timeout",
      );
      timings["consumer SIGKILL → all owned again (ms)"] = Date.now() - t0;
      assert.ok(Date.now() - t0 >= SESSION_MS / 2, "the partition waited for the session timeout");

      // Committed offsets before the coordinator dies: everything processed is committed.
      const endOffsets = new Map<number, number>();
      for (const k of produced) {
        const [p, o] = k.split(":").map(Number);
        endOffsets.set(p, Math.max(endOffsets.get(p) ?? 0, o + 1));
      }
      let before = new Map<number, number>();
      await eventually(
        async () => {
          const r = await requestJson(`${urls[0]}/v1/groups/${GROUP}/offsets`);
          if (r.status !== 200) return false;
          before = new Map(
            r.body.offsets.map((
              o: { partition: number; offset: number },
            ) => [o.partition, o.offset]),
          );
          return [...endOffsets].every(([p, end]) => before.get(p) === end);
        },
        20_000,
        "auto-commit to cover every processed record",
      );

      const offsetsTopic = await requestJson(`${urls[0]}/v1/topics/${GROUP_METADATA_TOPIC}`);
      const coordinatorId = offsetsTopic.body.partitions[
        groupCoordinatorPartition(GROUP, OFFSETS_PARTITIONS)
      ].leader as number;
      t0 = Date.now();
      nodes.kill(coordinatorId);
      const live = urls.filter((u) => u !== nodes!.clientUrl(coordinatorId));
      await produce(120);
      await eventually(
        allProcessed,
        30_000,
        "records produced after the coordinator died to be processed",
      );
      timings["coordinator SIGKILL → new records processed (ms)"] = Date.now() - t0;
      let after = new Map<number, number>();
      await eventually(
        async () => {
          const r = await requestJson(`${live[0]}/v1/groups/${GROUP}/offsets`);
          if (r.status !== 200) return false;
          after = new Map(
            r.body.offsets.map((
              o: { partition: number; offset: number },
            ) => [o.partition, o.offset]),
          );
          return true;
        },
        20_000,
        "the new coordinator to answer",
      );
      for (const [p, o] of before) {
        assert.ok((after.get(p) ?? -1) >= o, `partition ${p}: committed ${after.get(p)} < ${o}`);
      }

      assert.deepEqual(log.violations, [], "no partition ever had two owners");
      assert.deepEqual(runErrors, []);
      const duplicates = [...processed.values()].filter((n) => n > 1).length;

      // Graceful close: commit and leave; the group is then empty with no lag.
      for (const m of members) await m.consumer.close();
      await eventually(
        async () => {
          const d = await requestJson(`${live[0]}/v1/groups/${GROUP}`);
          return d.status === 200 && d.body.state === "empty" &&
            // deno-lint-ignore no-explicit-any
            d.body.partitions.every((p: any) => p.lag === 0);
        },
        20_000,
        "the group to be empty with zero lag after every consumer closed",
      );

      console.log(
        `groups: ${produced.length} records, ${processed.size} processed, ${duplicates} processed twice or more`,
      );
      for (const [what, ms] of Object.entries(timings)) console.log(`groups: ${what}: ${ms}`);
    } finally {
      if (child) {
        if (processAlive(child.proc.pid)) child.proc.kill("SIGKILL");
        await child.proc.status.catch(() => {});
        await Promise.all([child.out.done, child.err.done]);
        await child.proc.stdin.close().catch(() => {});
      }
      for (const s of stroms) await s.close().catch(() => {});
      await nodes?.cleanup();
      await cluster?.cleanup();
    }
  },
});
