/**
 * The shared cluster secret that authenticates traffic between nodes.
 *
 * Every request to a node's internal listener (Raft, replication, controller
 * RPCs) carries it in the {@link SECRET_HEADER} header. It lives in a file
 * readable by its owner only; a node refuses a secret file that others can
 * read, because anyone holding the secret can act as a member of the cluster.
 *
 * @module
 */

import { writeFileAtomic } from "../fs/atomic_write.ts";

/** The request header that carries the cluster secret: the one the Raft transport uses. */
// One header name and one constant-time comparison for every internal
// listener: the Raft transport's, so the broker cannot drift from it.
export { SECRET_HEADER, secretMatches as secretsEqual } from "@strom/raft/http_transport_handler";

/** Shortest secret accepted, in characters (128 bits as hex is 32). */
export const SECRET_CHARS_MIN = 32;

/** A secret file that cannot be used; the message says how to fix it. */
export class SecretFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretFileError";
  }
}

/** Creates a new random secret file with mode 0600, unless one exists. Returns the secret. */
export async function ensureSecretFile(path: string): Promise<string> {
  try {
    return await readSecretFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await writeFileAtomic(path, new TextEncoder().encode(secret + "\n"), { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return secret;
}

/** Reads and checks a secret file: owner-only permissions and at least 32 characters. */
export async function readSecretFile(path: string): Promise<string> {
  const info = await Deno.stat(path);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new SecretFileError(
      `cluster secret file ${path} is readable by other users (mode ${
        (info.mode & 0o777).toString(8)
      }); run: chmod 600 ${path}`,
    );
  }
  const secret = (await Deno.readTextFile(path)).trim();
  if (secret.length < SECRET_CHARS_MIN || /\s/.test(secret)) {
    throw new SecretFileError(
      `cluster secret file ${path} must hold one token of at least ${SECRET_CHARS_MIN} characters without spaces; generate one with: openssl rand -hex 32 > ${path}`,
    );
  }
  return secret;
}
