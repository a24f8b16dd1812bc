/**
 * Corruption of a stopped follower's log: SIGKILL a follower of a random
 * partition, then either flip one bit in the last bytes of its last segment
 * file or tear the file's tail, and restart it. The node must find the bad
 * batch by its CRC, truncate there and fetch the rest from the leader; the
 * run's final replica checksums show whether it did.
 *
 * @module
 */

import { join } from "node:path";
import { type ChaosContext, partitionsOf, pick } from "../cluster_view.ts";
import type { FaultEvent, FaultSlot } from "./fault.ts";

/** A flipped bit lands within this many bytes of the end of the segment (the last batch). */
export const FLIP_TAIL_BYTES = 64;
/** Most bytes a torn tail removes. */
export const TEAR_BYTES_MAX = 200;

/** The last non-empty `.log` segment of a partition directory, or undefined. */
export async function lastSegment(dir: string): Promise<string | undefined> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".log")) names.push(entry.name);
    }
  } catch {
    return undefined;
  }
  names.sort();
  for (const name of names.reverse()) {
    const path = join(dir, name);
    if ((await Deno.stat(path)).size > 0) return path;
  }
  return undefined;
}

/** Flips bit `bit` (0-7) of the byte at `position`. */
export async function flipBit(path: string, position: number, bit: number): Promise<void> {
  using file = await Deno.open(path, { read: true, write: true });
  await file.seek(position, Deno.SeekMode.Start);
  const one = new Uint8Array(1);
  if ((await file.read(one)) !== 1) throw new Error(`cannot read byte ${position} of ${path}`);
  one[0] ^= 1 << bit;
  await file.seek(position, Deno.SeekMode.Start);
  await file.write(one);
}

/** Corrupts a follower's last segment while it is down, then restarts it. */
export async function injectCorrupt(ctx: ChaosContext, slot: FaultSlot): Promise<FaultEvent> {
  const { prng } = slot;
  const partitions = (await partitionsOf(ctx)).filter((p) =>
    p.replicas.some((r) => r !== p.leader && ctx.nodes.alive(r))
  );
  const atMs = Date.now();
  if (partitions.length === 0) {
    return {
      kind: "corrupt",
      index: slot.index,
      atMs: atMs - slot.runStartMs,
      variant: "skipped",
      nodes: [],
      heldMs: 0,
    };
  }
  const partition = pick(partitions, prng.nextUint32());
  const follower = pick(
    partition.replicas.filter((r) => r !== partition.leader && ctx.nodes.alive(r)),
    prng.nextUint32(),
  );
  const tear = prng.nextInt(2) === 1;
  const draw = prng.nextUint32();
  await ctx.nodes.kill(follower);
  const dir = join(ctx.nodes.node(follower).dataDir, `${ctx.topic}-${partition.partition}`);
  const segment = await lastSegment(dir);
  const detail: Record<string, unknown> = { partition: partition.partition, segment };
  if (segment !== undefined) {
    const size = (await Deno.stat(segment)).size;
    if (tear) {
      const bytes = 1 + (draw % Math.min(TEAR_BYTES_MAX, size));
      await Deno.truncate(segment, size - bytes);
      Object.assign(detail, { sizeBefore: size, tornBytes: bytes });
    } else {
      const position = size - 1 - (draw % Math.min(FLIP_TAIL_BYTES, size));
      const bit = (draw >>> 8) % 8;
      await flipBit(segment, position, bit);
      Object.assign(detail, { size, position, bit });
    }
  }
  ctx.nodes.restart(follower);
  return {
    kind: "corrupt",
    index: slot.index,
    atMs: atMs - slot.runStartMs,
    variant: segment === undefined ? "no-segment" : tear ? "torn-tail" : "flipped-bit",
    nodes: [follower],
    heldMs: Date.now() - atMs,
    detail,
  };
}
