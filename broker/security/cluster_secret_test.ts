import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ensureSecretFile,
  readSecretFile,
  SecretFileError,
  secretsEqual,
} from "./cluster_secret.ts";

Deno.test("ensureSecretFile() creates an owner-only secret once and then reuses it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "cluster.secret");
    const first = await ensureSecretFile(path);
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(await ensureSecretFile(path), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readSecretFile() refuses a file others can read, and a short secret", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "s");
    await Deno.writeTextFile(path, "x".repeat(40));
    await Deno.chmod(path, 0o644);
    await assert.rejects(readSecretFile(path), (e: unknown) => {
      assert.ok(e instanceof SecretFileError);
      assert.match(e.message, /chmod 600/);
      return true;
    });
    await Deno.chmod(path, 0o600);
    assert.equal(await readSecretFile(path), "x".repeat(40));
    await Deno.writeTextFile(path, "short");
    await assert.rejects(readSecretFile(path), /at least 32 characters/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secretsEqual() matches only the identical secret", () => {
  assert.equal(secretsEqual("abc", "abc"), true);
  assert.equal(secretsEqual("abd", "abc"), false);
  assert.equal(secretsEqual("ab", "abc"), false);
  assert.equal(secretsEqual("abcd", "abc"), false);
  assert.equal(secretsEqual("", "abc"), false);
});
