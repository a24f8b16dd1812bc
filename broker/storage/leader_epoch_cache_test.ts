import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { decodeEpochCheckpoint, LeaderEpochCache } from "./leader_epoch_cache.ts";
import { SimDisk } from "./sim_disk.ts";

Deno.test("assign() ignores older epochs and replaces entries a new epoch overlaps", () => {
  const cache = new LeaderEpochCache([], () => 100);
  strictEqual(cache.assign(1, 0), true);
  strictEqual(cache.assign(1, 5), false);
  strictEqual(cache.assign(0, 7), false);
  cache.assign(2, 10);
  cache.assign(3, 20);
  cache.assign(4, 10); // a leader that truncated below epoch 2's start
  deepStrictEqual(cache.entries(), [{ epoch: 1, startOffset: 0 }, { epoch: 4, startOffset: 10 }]);
});

Deno.test("truncateFromStart() keeps the epoch spanning the new start, starting there", () => {
  const cache = new LeaderEpochCache([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 10 }, {
    epoch: 3,
    startOffset: 20,
  }], () => 30);
  cache.truncateFromStart(15);
  deepStrictEqual(cache.entries(), [{ epoch: 2, startOffset: 15 }, { epoch: 3, startOffset: 20 }]);
  cache.truncateFromEnd(20);
  deepStrictEqual(cache.entries(), [{ epoch: 2, startOffset: 15 }]);
  deepStrictEqual(cache.endOffsetFor(2), { epoch: 2, endOffset: 30 });
});

Deno.test("the checkpoint round-trips in Kafka's text format and bad files are refused", async () => {
  const disk = new SimDisk();
  const cache = new LeaderEpochCache([], () => 0);
  cache.assign(3, 0);
  cache.assign(7, 42);
  await cache.persist(disk, "/d");
  strictEqual(
    new TextDecoder().decode(disk.fileBytes("/d/leader-epoch-checkpoint")),
    "0\n2\n3 0\n7 42\n",
  );
  const { cache: loaded, problem } = await LeaderEpochCache.load(disk, "/d", () => 0);
  strictEqual(problem, undefined);
  deepStrictEqual(loaded.entries(), cache.entries());
  const bytes = (text: string) => new TextEncoder().encode(text);
  throws(() => decodeEpochCheckpoint(bytes("1\n0\n")));
  throws(() => decodeEpochCheckpoint(bytes("0\n2\n3 0\n")));
  throws(() => decodeEpochCheckpoint(bytes("0\n2\n3 5\n2 9\n")));
});
