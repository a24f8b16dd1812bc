/**
 * Corruption of a stopped follower's log: SIGKILL a follower of a random
 * partition, then either flip one bit of the last batch in its last segment
 * file or tear the file inside that batch, and restart it. The node must find
 * the bad batch by its CRC or framing when it opens the log, say so in its
 * log (the storage layer's `recovery truncated a torn or corrupt log tail`
 * warning, naming the partition's directory, the byte position and the
 * reason), truncate there and fetch the rest from the leader. The fault
 * waits for that line and records `detected`; the run's final replica
 * checksums show that the bad bytes reached no other replica.
 *
 * Where the damage goes: a tear always cuts inside the last batch (a cut on a
 * batch boundary leaves a valid, shorter log, indistinguishable from a write
 * lost in a crash, so there would be nothing to detect). A flip hits a byte
 * the record batch v2 format protects: the length, the magic byte, the CRC
 * itself and everything the CRC covers. It never hits the base offset or the
 * partition leader epoch: the format leaves those two outside the CRC so a
 * leader can assign them without recomputing it (as in Kafka), and a changed
 * base offset or epoch is a well-formed batch that no check can tell apart.
 *
 * @module
 */

import { join } from "node:path";
import { BATCH_FIELD_OFFSETS, scanValidBatches } from "@strom/client";
import { type ChaosContext, partitionsOf, pick, sleep } from "../cluster_view.ts";
import type { ChaosNodes } from "../nodes.ts";
import type { FaultEvent, FaultSlot } from "./fault.ts";

/** Most bytes a torn tail removes (always fewer than the last batch holds). */
export const TEAR_BYTES_MAX = 200;
/** Largest segment file the fault reads whole to find its last batch. */
export const SEGMENT_READ_BYTES_MAX = 256 * 1024 * 1024;
/** How long the restarted node has to report the damage. */
export const DETECTION_WAIT_MS = 30_000;

/** Where the last whole, valid batch of a segment file lies. */
export interface BatchSpan {
  readonly start: number;
  readonly end: number;
}

/** The damage to do to one batch. */
export type Damage =
  | { readonly kind: "tear"; readonly cutAt: number }
  | { readonly kind: "flip"; readonly position: number; readonly bit: number };

/** The last whole, CRC-valid batch at the start of `bytes`, or undefined if there is none. */
export function lastBatchSpan(bytes: Uint8Array): BatchSpan | undefined {
  const scan = scanValidBatches(bytes);
  const last = scan.batches[scan.batches.length - 1];
  return last === undefined
    ? undefined
    : { start: scan.validBytes - last.length, end: scan.validBytes };
}

/**
 * Chooses the damage from a PRNG draw: a tear cuts strictly inside the batch
 * (1 to {@link TEAR_BYTES_MAX} bytes, never the whole batch); a flip picks a
 * byte of the length field or from the magic byte on (see the module doc).
 */
export function planDamage(span: BatchSpan, tear: boolean, draw: number): Damage {
  const size = span.end - span.start;
  if (tear) {
    const bytes = 1 + (draw % Math.min(TEAR_BYTES_MAX, size - 1));
    return { kind: "tear", cutAt: span.end - bytes };
  }
  // The 4 bytes of the length field, then every byte from the magic byte to the batch's end.
  const lengthBytes = 4;
  const index = draw % (lengthBytes + size - BATCH_FIELD_OFFSETS.magic);
  const within = index < lengthBytes
    ? BATCH_FIELD_OFFSETS.batchLength + index
    : BATCH_FIELD_OFFSETS.magic + index - lengthBytes;
  return { kind: "flip", position: span.start + within, bit: (draw >>> 8) % 8 };
}

/** Whether a recovery log line names the directory of `topic`-`partition`. */
export function namesPartitionDir(line: string, topic: string, partition: number): boolean {
  const dir = `${topic}-${partition}`;
  let at = line.indexOf(dir);
  while (at >= 0) {
    const before = line[at - 1];
    const after = line[at + dir.length];
    if ((before === "/" || before === "\\") && (after === undefined || /[\s"]/.test(after))) {
      return true;
    }
    at = line.indexOf(dir, at + 1);
  }
  return false;
}

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
  let damaged = false;
  if (segment !== undefined) {
    const size = (await Deno.stat(segment)).size;
    const span = size <= SEGMENT_READ_BYTES_MAX
      ? lastBatchSpan(await Deno.readFile(segment))
      : undefined;
    if (span !== undefined) {
      const damage = planDamage(span, tear, draw);
      if (damage.kind === "tear") {
        await Deno.truncate(segment, damage.cutAt);
        Object.assign(detail, { sizeBefore: size, batchAt: span.start, cutAt: damage.cutAt });
      } else {
        await flipBit(segment, damage.position, damage.bit);
        Object.assign(detail, {
          size,
          batchAt: span.start,
          position: damage.position,
          bit: damage.bit,
        });
      }
      damaged = true;
    }
  }
  // Processes started from here on open the damaged file; the end of the run looks at them again.
  detail.processesBefore = ctx.nodes.started;
  ctx.nodes.restart(follower);
  const detection = damaged ? await awaitDetection(ctx, follower, partition.partition) : undefined;
  if (detection !== undefined) detail.detection = detection;
  return {
    kind: "corrupt",
    index: slot.index,
    atMs: atMs - slot.runStartMs,
    variant: !damaged ? "no-batch" : tear ? "torn-tail" : "flipped-bit",
    nodes: [follower],
    heldMs: Date.now() - atMs,
    detail,
    ...(damaged ? { detected: detection !== undefined } : {}),
  };
}

/**
 * For corrupt faults not detected within {@link DETECTION_WAIT_MS}: looks
 * again, once the run has healed, at everything the damaged node's processes
 * printed since the damage. A node that was slow to open the log (one seed
 * restarted it right after its data dir was wiped and the controller killed,
 * and it took longer than 30 s to register) reported it late, which is not a
 * miss; a node that opened the log and said nothing still counts as one.
 */
export function recheckDetections(
  nodes: Pick<ChaosNodes, "recoveryLinesSince">,
  topic: string,
  events: readonly FaultEvent[],
): FaultEvent[] {
  return events.map((e) => {
    if (e.kind !== "corrupt" || e.detected !== false || e.detail === undefined) return e;
    const partition = e.detail.partition as number;
    const since = e.detail.processesBefore as number;
    const line = nodes.recoveryLinesSince(e.nodes[0], since)
      .find((l) => namesPartitionDir(l, topic, partition));
    if (line === undefined) return e;
    return { ...e, detected: true, detail: { ...e.detail, detection: line, detectedLate: true } };
  });
}

/** The restarted node's log line reporting the damage, or undefined after {@link DETECTION_WAIT_MS}. */
async function awaitDetection(
  ctx: ChaosContext,
  node: number,
  partition: number,
): Promise<string | undefined> {
  const deadline = Date.now() + DETECTION_WAIT_MS;
  while (Date.now() < deadline) {
    const line = ctx.nodes.recoveryLines(node)
      .find((l) => namesPartitionDir(l, ctx.topic, partition));
    if (line !== undefined) return line;
    await sleep(100);
  }
  return undefined;
}
