import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { joinPath, writeFileAtomic } from "../storage/disk.ts";
import { PartitionLog } from "../storage/partition_log.ts";
import { SimDisk } from "../storage/sim_disk.ts";
import { makeBatch } from "../storage/_test_util.ts";
import { encodeProducerSnapshot } from "../replica/producer_state.ts";
import { PRODUCER_SNAPSHOT_FILE } from "./config.ts";
import { readProducerSnapshot } from "./producer_state_store.ts";

Deno.test("a producer snapshot that does not fit the log is removed, one that fits is read", async () => {
  const disk = new SimDisk({ seed: 3 });
  const dir = "/data/orders-0";
  const path = joinPath(dir, PRODUCER_SNAPSHOT_FILE);
  const first = await PartitionLog.open({ dir, disk });
  await first.append(makeBatch(), { assignOffsets: true, leaderEpoch: 1 });
  await first.close();
  const write = (endOffset: number) =>
    writeFileAtomic(
      disk,
      dir,
      PRODUCER_SNAPSHOT_FILE,
      encodeProducerSnapshot({ version: 1, endOffset, producers: [] }),
    );
  // Past the log end (a crash cut the log below it): once the log grew back it would seem to fit.
  await write(100);
  const log = await PartitionLog.open({ dir, disk });
  strictEqual(await readProducerSnapshot(log), undefined);
  strictEqual(await disk.sizeOf(path), undefined);
  await write(1);
  deepStrictEqual(await readProducerSnapshot(log), { version: 1, endOffset: 1, producers: [] });
  await log.close();
});
