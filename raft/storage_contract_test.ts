import { FileStorage } from "./file_storage.ts";
import { MemoryStorage } from "./memory_storage.ts";
import type { DurableRaftStorage } from "./storage.ts";
import { runStorageContract } from "./storage_contract.ts";
import type { ClusterConfig } from "./types.ts";

runStorageContract("FileStorage", async (config: ClusterConfig) => {
  const dir = await Deno.makeTempDir({ prefix: "strom_raft_contract_" });
  // Small segments, so that the suite crosses segment boundaries; no fsync,
  // because durability across crashes is file_storage_test.ts's job.
  const open = () =>
    FileStorage.open(dir, { initialConfig: config, sync: false, segmentBytesMax: 200 });
  let current: DurableRaftStorage = await open();
  return {
    storage: current,
    reopen: async () => {
      await current.close();
      current = await open();
      return current;
    },
    dispose: async () => {
      await current.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

runStorageContract("MemoryStorage", (config: ClusterConfig) => {
  const storage = new MemoryStorage({ config });
  return Promise.resolve({ storage, dispose: () => storage.close() });
});
