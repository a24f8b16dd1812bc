/**
 * Leader election and ISR changes for one partition, as pure functions.
 *
 * Rules (Kafka's):
 * - a leader is only ever elected from the ISR, among active brokers
 *   (registered, unfenced, not shutting down), in replica order, so the
 *   preferred leader (first replica) wins when it can;
 * - an unclean election (an out-of-sync replica becomes leader, losing what
 *   only the old ISR had) happens only if the topic enables it;
 * - removing a broker from an ISR never empties it: the last member stays,
 *   leaderless, so that when it returns it can lead with every acknowledged
 *   record (instead of an unclean election) — unless that broker came back
 *   with an empty data dir (a new directory id). It holds nothing, and as
 *   leader it would make every replica that does hold the data truncate to
 *   nothing: it leaves the ISR even as the last member, and the partition
 *   stays leaderless (offline) rather than lose what was acknowledged, until
 *   an unclean election is allowed;
 * - every change bumps the partition epoch; a leader change bumps the
 *   leader epoch.
 *
 * @module
 */

import type { PartitionState } from "../metadata/image.ts";
import type { PartitionChangeRecord } from "../metadata/records.ts";
import { NO_LEADER } from "../metadata/records.ts";

/** The leader and ISR a partition should have. */
export interface LeaderAndIsr {
  readonly leader: number;
  readonly isr: readonly number[];
}

/** The record that moves `old` to `next`, or null when nothing changes. */
export function partitionChange(
  topicId: string,
  partition: number,
  old: PartitionState,
  next: LeaderAndIsr,
): PartitionChangeRecord | null {
  const sameIsr = old.isr.length === next.isr.length && old.isr.every((b, i) => b === next.isr[i]);
  if (old.leader === next.leader && sameIsr) return null;
  return {
    type: "PartitionChange",
    topicId,
    partition,
    leader: next.leader,
    isr: [...next.isr],
    leaderEpoch: old.leader === next.leader ? old.leaderEpoch : old.leaderEpoch + 1,
    partitionEpoch: old.partitionEpoch + 1,
  };
}

/**
 * Leader and ISR after `broker` stops being usable (fenced or shutting
 * down): it leaves the ISR unless it is the last member (or, with
 * `dataLost`, even then), and if it led, the next active ISR member in
 * replica order leads (or nobody; or, with `unclean`, the first active
 * out-of-sync replica).
 */
export function withoutBroker(
  p: PartitionState,
  broker: number,
  isActive: (id: number) => boolean,
  unclean: boolean,
  dataLost = false,
): LeaderAndIsr {
  const remaining = p.isr.filter((b) => b !== broker);
  const isr = remaining.length > 0 || dataLost ? remaining : p.isr;
  if (p.leader !== broker && p.leader !== NO_LEADER) return { leader: p.leader, isr };
  return electLeader({ ...p, isr, leader: NO_LEADER }, isActive, unclean);
}

/**
 * Elects a leader for a partition without a usable one: the first active
 * ISR member in replica order; else, if `unclean`, the first active replica
 * with the ISR reset to it; else no leader.
 */
export function electLeader(
  p: PartitionState,
  isActive: (id: number) => boolean,
  unclean: boolean,
): LeaderAndIsr {
  if (p.leader !== NO_LEADER && isActive(p.leader) && p.isr.includes(p.leader)) {
    return { leader: p.leader, isr: p.isr };
  }
  const clean = p.replicas.find((r) => p.isr.includes(r) && isActive(r));
  if (clean !== undefined) return { leader: clean, isr: p.isr };
  if (unclean) {
    const any = p.replicas.find(isActive);
    if (any !== undefined) return { leader: any, isr: [any] };
  }
  return { leader: NO_LEADER, isr: p.isr };
}
