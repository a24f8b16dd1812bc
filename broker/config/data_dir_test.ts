import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DataDirMismatchError,
  formatOrVerifyDataDir,
  META_FILE,
  newClusterId,
  newDirectoryId,
} from "./data_dir.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("formatOrVerifyDataDir() formats an empty dir once and then verifies it", async () => {
  await withTempDir(async (dir) => {
    const clusterId = newClusterId();
    const first = await formatOrVerifyDataDir(join(dir, "n1"), { clusterId, nodeId: 1 });
    assert.equal(first.formatted, true);
    assert.match(first.meta.directoryId, /^[A-Za-z0-9_-]{22}$/);
    const second = await formatOrVerifyDataDir(join(dir, "n1"), { clusterId, nodeId: 1 });
    assert.equal(second.formatted, false);
    assert.deepEqual(second.meta, first.meta, "the directory id survives restarts");
  });
});

Deno.test("formatOrVerifyDataDir() refuses a dir of another cluster", async () => {
  await withTempDir(async (dir) => {
    await formatOrVerifyDataDir(dir, { clusterId: newClusterId(), nodeId: 1 });
    await assert.rejects(
      formatOrVerifyDataDir(dir, { clusterId: newClusterId(), nodeId: 1 }),
      (e: unknown) => e instanceof DataDirMismatchError && /belongs to cluster/.test(e.message),
    );
  });
});

Deno.test("formatOrVerifyDataDir() refuses a dir of another node", async () => {
  await withTempDir(async (dir) => {
    const clusterId = newClusterId();
    await formatOrVerifyDataDir(dir, { clusterId, nodeId: 1 });
    await assert.rejects(
      formatOrVerifyDataDir(dir, { clusterId, nodeId: 2 }),
      /belongs to node 1, but this node is configured as node 2/,
    );
  });
});

Deno.test("formatOrVerifyDataDir() refuses a damaged identity file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, META_FILE), "cluster.id=x\n");
    await assert.rejects(
      formatOrVerifyDataDir(dir, { clusterId: newClusterId(), nodeId: 1 }),
      /is damaged/,
    );
  });
});

Deno.test("newClusterId() returns distinct 22-character ids", () => {
  const ids = new Set(Array.from({ length: 50 }, newClusterId));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
});

Deno.test("directory and cluster ids never start with a dash (a CLI would take them for an option)", () => {
  // 1 in 64 base64url ids would; 5,000 draws of each would all but surely include some.
  for (let i = 0; i < 5_000; i++) {
    for (const id of [newDirectoryId(), newClusterId()]) {
      assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  }
});
