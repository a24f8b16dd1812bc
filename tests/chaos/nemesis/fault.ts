/**
 * What every fault module returns: one entry of the fault schedule as run.
 *
 * @module
 */

import type { Prng } from "@strom/raft";
import type { FaultKind } from "../options.ts";

/** One injected fault, as the report lists it. */
export interface FaultEvent {
  readonly kind: FaultKind;
  /** Position in the schedule (0-based). */
  readonly index: number;
  /** ms since the run started, when the fault began. */
  readonly atMs: number;
  /** How it was aimed, e.g. "controller", "isolate", "flip-bit". */
  readonly variant: string;
  /** The node(s) it hit. */
  readonly nodes: readonly number[];
  /** How long it lasted until healed, in ms. */
  readonly heldMs: number;
  /** Extra facts (file, offsets, refusal output...). */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** For a kill: the partitions the victim led when killed, and when (epoch ms). */
  readonly ledPartitions?: readonly number[];
  readonly killedAtMs?: number;
  /**
   * For a corrupt fault that damaged a batch: whether the restarted node
   * logged finding it (CRC or framing failure, tail cut) on opening the log.
   */
  readonly detected?: boolean;
  /** A check the fault made itself failed (e.g. a wiped voter was not refused). */
  readonly violation?: string;
}

/** What a fault module gets: its own PRNG (seeded from the schedule) and its slot. */
export interface FaultSlot {
  readonly index: number;
  readonly prng: Prng;
  /** Epoch ms the run started. */
  readonly runStartMs: number;
}
