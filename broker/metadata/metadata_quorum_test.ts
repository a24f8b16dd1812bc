/**
 * The metadata quorum's snapshot path on three real quorum members in one
 * process (real file storage, real HTTP/2 Raft transport on 127.0.0.1):
 * snapshots are taken by entry count and by bytes, a restarted node rebuilds
 * its image from its own snapshot, and a node that was down while the
 * others compacted installs the leader's snapshot.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { startRaftServer } from "@strom/raft/http_transport_handler";
import type { RaftServer } from "@strom/raft/http_transport_handler";
import { createLogger } from "../log.ts";
import type { VoterConfig } from "../config/node_config.ts";
import { canonicalImage, topicByName } from "./image.ts";
import { MetadataQuorum } from "./metadata_quorum.ts";
import type { MetadataQuorumOptions } from "./metadata_quorum.ts";
import type { MetadataRecord } from "./records.ts";

const SECRET = "metadata-quorum-test-secret";
/** Upper bound of any wait in these tests. */
const WAIT_MS_MAX = 15_000;
/** Bytes of the padding config in each test entry: an entry is a little over this. */
const ENTRY_PADDING_BYTES = 2_000;

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One entry: a topic and a padding config, so that its size is known. */
function topicEntry(n: number): MetadataRecord[] {
  const topicId = `id-${n}`;
  return [
    { type: "Topic", name: `topic-${n}`, topicId },
    { type: "Config", topicId, key: "padding", value: "x".repeat(ENTRY_PADDING_BYTES) },
  ];
}

/**
 * Three quorum members. Each listens on a fixed port for its whole life, so
 * a member can be closed and reopened from its directory without the others
 * learning a new address; while it is closed its listener answers 503.
 */
class Cluster {
  readonly members: (MetadataQuorum | undefined)[] = [undefined, undefined, undefined];
  readonly logLines: string[][] = [[], [], []];
  readonly #servers: RaftServer[] = [];
  readonly #voters: VoterConfig[] = [];
  readonly #root: string;

  private constructor(
    root: string,
    readonly snapshotOptions: Pick<
      MetadataQuorumOptions,
      "snapshotEveryEntries" | "snapshotEveryBytes"
    >,
  ) {
    this.#root = root;
    for (let i = 0; i < 3; i++) {
      const server = startRaftServer((req) => {
        const member = this.members[i];
        return member
          ? member.handleRaftRequest(req)
          : Promise.resolve(new Response("closed", { status: 503 }));
      });
      this.#servers.push(server);
      this.#voters.push({ id: i + 1, internalUrl: server.url, clientUrl: server.url });
    }
  }

  static async start(snapshotOptions: Cluster["snapshotOptions"]): Promise<Cluster> {
    const cluster = new Cluster(await Deno.makeTempDir({ prefix: "strom-mq-" }), snapshotOptions);
    try {
      for (let i = 0; i < 3; i++) await cluster.open(i);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** Opens member `i` from its directory (without starting it). */
  async open(i: number): Promise<MetadataQuorum> {
    const member = await MetadataQuorum.open({
      nodeId: i + 1,
      voters: this.#voters,
      dir: `${this.#root}/node-${i + 1}`,
      secret: SECRET,
      tickMs: 20,
      // Long enough that a loaded CI machine does not depose the leader mid-test: a proposal
      // refused then may still commit, and proposing it again would repeat a topic.
      electionTimeoutMs: 1_000,
      logger: createLogger({ sink: (line) => this.logLines[i].push(line) }),
      ...this.snapshotOptions,
    });
    this.members[i] = member;
    return member;
  }

  startAll(): void {
    for (const m of this.members) m?.start();
  }

  async closeMember(i: number): Promise<void> {
    const member = this.members[i];
    this.members[i] = undefined;
    await member?.close();
  }

  async leader(): Promise<MetadataQuorum> {
    let found: MetadataQuorum | undefined;
    await waitFor(() => {
      found = this.members.find((m) => m?.status().role === "leader");
      return found !== undefined;
    }, "a metadata leader");
    return found!;
  }

  /** Proposes `count` entries on the leader, one at a time; returns the last offset. */
  async propose(from: number, count: number): Promise<number> {
    let offset = 0;
    for (let n = from; n < from + count; n++) {
      offset = await (await this.leader()).propose(topicEntry(n));
    }
    return offset;
  }

  async waitApplied(offset: number, members: number[]): Promise<void> {
    await waitFor(
      () => members.every((i) => (this.members[i]?.image.offset ?? 0) >= offset),
      `members ${members} applying offset ${offset}`,
    );
  }

  async stop(): Promise<void> {
    for (let i = 0; i < 3; i++) await this.closeMember(i);
    for (const s of this.#servers) await s.shutdown();
    await Deno.remove(this.#root, { recursive: true });
  }
}

Deno.test("metadata quorum: a snapshot is taken after snapshotEveryBytes of entries, and a restarted node rebuilds its image from it", async () => {
  // About 8 entries' worth of bytes; the entry count alone would never trigger.
  const cluster = await Cluster.start({
    snapshotEveryEntries: 1_000_000,
    snapshotEveryBytes: 8 * ENTRY_PADDING_BYTES,
  });
  try {
    cluster.startAll();
    const last = await cluster.propose(0, 30);
    await cluster.waitApplied(last, [0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      const status = cluster.members[i]!.status();
      ok(
        status.firstIndex > 8,
        `node ${i + 1} compacted its log (first index ${status.firstIndex})`,
      );
      ok(
        last - status.firstIndex + 1 <= 10,
        `node ${i + 1} keeps at most ~8 entries after its snapshot (${
          last - status.firstIndex + 1
        } kept)`,
      );
      ok(cluster.logLines[i].some((l) => l.includes("metadata snapshot taken")));
    }
    // A follower restarts: its image comes from its own snapshot, then from the log after it.
    const leaderId = (await cluster.leader()).status().id;
    const follower = [0, 1, 2].find((i) => i + 1 !== leaderId)!;
    const snapshotIndex = cluster.members[follower]!.status().firstIndex - 1;
    await cluster.closeMember(follower);
    const reopened = await cluster.open(follower);
    strictEqual(reopened.image.offset, snapshotIndex, "the image starts at the snapshot");
    ok(topicByName(reopened.image, `topic-${snapshotIndex - 3}`) !== undefined);
    reopened.start();
    const after = await cluster.propose(30, 3);
    await cluster.waitApplied(after, [0, 1, 2]);
    const images = cluster.members.map((m) => canonicalImage(m!.image));
    deepStrictEqual(images[follower], images[leaderId - 1], "the same image as the leader's");
    ok(topicByName(reopened.image, "topic-32") !== undefined);
  } finally {
    await cluster.stop();
  }
});

Deno.test("metadata quorum: a node that was down while the others compacted installs the leader's snapshot", async () => {
  const cluster = await Cluster.start({ snapshotEveryEntries: 5 });
  try {
    cluster.startAll();
    const first = await cluster.propose(0, 2);
    await cluster.waitApplied(first, [0, 1, 2]);
    const leaderId = (await cluster.leader()).status().id;
    const down = [0, 1, 2].find((i) => i + 1 !== leaderId)!;
    await cluster.closeMember(down);
    // The two others go on and compact past everything the closed node has.
    const last = await cluster.propose(2, 20);
    const leader = await cluster.leader();
    ok(leader.status().firstIndex > first + 1, "the leader compacted past the closed node's log");
    await cluster.open(down);
    cluster.members[down]!.start();
    await cluster.waitApplied(last, [0, 1, 2]);
    ok(
      cluster.logLines[down].some((l) => l.includes("installed metadata snapshot from the leader")),
      "the returning node installed a snapshot",
    );
    const leaderImage = canonicalImage((await cluster.leader()).image);
    strictEqual(canonicalImage(cluster.members[down]!.image), leaderImage);
    // A restart builds on the installed snapshot (or a later one of its own), not on an empty log.
    const installedAt = cluster.members[down]!.status().firstIndex - 1;
    ok(installedAt > first, "the returning node's log starts after a snapshot");
    await cluster.closeMember(down);
    const again = await cluster.open(down);
    strictEqual(again.image.offset, installedAt);
    again.start();
    const end = await cluster.propose(22, 1);
    await cluster.waitApplied(end, [0, 1, 2]);
    strictEqual(again.image.topics.size, 23);
  } finally {
    await cluster.stop();
  }
});
