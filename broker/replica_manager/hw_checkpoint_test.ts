import assert from "node:assert/strict";
import { SimDisk } from "../storage/sim_disk.ts";
import { HW_CHECKPOINT_FILE } from "./config.ts";
import { readHighWatermarks, writeHighWatermarks } from "./hw_checkpoint.ts";

Deno.test("the HW checkpoint reads back what was written, in Kafka's text format", async () => {
  const disk = new SimDisk();
  await disk.mkdirp("/data");
  assert.equal((await readHighWatermarks(disk, "/data")).highWatermarks.size, 0, "missing file");
  await writeHighWatermarks(disk, "/data", [
    { topic: "orders", partition: 0, highWatermark: 1500 },
    { topic: "my-topic", partition: 12, highWatermark: 7 },
  ]);
  const { highWatermarks, problem } = await readHighWatermarks(disk, "/data");
  assert.equal(problem, undefined);
  assert.deepEqual([...highWatermarks], [["orders-0", 1500], ["my-topic-12", 7]]);
});

Deno.test("a damaged HW checkpoint reads as empty, with the reason", async () => {
  const disk = new SimDisk();
  await disk.mkdirp("/data");
  const file = await disk.open(`/data/${HW_CHECKPOINT_FILE}`, { create: true });
  await file.write(0, new TextEncoder().encode("0\n2\norders 0 15\n"));
  file.close();
  const { highWatermarks, problem } = await readHighWatermarks(disk, "/data");
  assert.equal(highWatermarks.size, 0);
  assert.match(problem!, /count 2/);
});
