/**
 * Test support: a coordinator whose records are committed at once, each one
 * passed through the binary encoding on its way into the log, so every test
 * also exercises encode/decode and replay.
 *
 * @module
 */

import { GroupCoordinator } from "./coordinator.ts";
import type { GroupCoordinatorConfig } from "./config.ts";
import type { GroupResult, HeartbeatRequest, HeartbeatResponse } from "./membership.ts";
import type { GroupRecord } from "./records.ts";
import { decodeGroupRecord, encodeGroupRecord } from "./records.ts";
import { GroupCoordinatorState } from "./group_state.ts";
import type { TopicPartitions } from "./assignment.ts";

/** A coordinator plus its log, clock and topics. */
export class TestCoordinator {
  readonly log: GroupRecord[] = [];
  nowMs = 1_000;
  topics = new Map<string, number>([["orders", 6]]);
  #nextId = 0;
  readonly coordinator: GroupCoordinator;

  constructor(config: Partial<GroupCoordinatorConfig> = {}) {
    this.coordinator = new GroupCoordinator({
      config,
      newMemberId: () => `m${++this.#nextId}`,
    });
  }

  /** Commits an operation's records and returns its response. */
  commit<R>(result: GroupResult<R>): R {
    for (const r of result.records) {
      const { key, value } = encodeGroupRecord(r);
      const decoded = decodeGroupRecord(key, value);
      this.log.push(decoded);
      this.coordinator.replay([decoded]);
    }
    return result.response;
  }

  heartbeat(req: Partial<HeartbeatRequest> & { memberId?: string }): HeartbeatResponse {
    return this.commit(this.coordinator.heartbeat(
      { groupId: "g", memberId: "", memberEpoch: 0, ...req },
      { nowMs: this.nowMs, topics: this.topics },
    ));
  }

  /** A joining member subscribed to `topics`. */
  join(topics: string[] = ["orders"], extra: Partial<HeartbeatRequest> = {}): HeartbeatResponse {
    return this.heartbeat({ memberEpoch: 0, subscribedTopicNames: topics, ...extra });
  }

  /** State rebuilt from the log, for comparisons with the live one. */
  rebuilt(): GroupCoordinatorState {
    return GroupCoordinatorState.fromRecords(this.log);
  }
}

/** A member's view, as a well-behaved client keeps it. */
export interface TestMember {
  memberId: string;
  memberEpoch: number;
  owned: TopicPartitions[];
}

/**
 * Heartbeats every member in turn, each reporting the assignment it last
 * received as owned (it revokes at once), until a round changes nothing.
 */
export function settle(t: TestCoordinator, members: TestMember[], roundsMax = 20): number {
  for (let round = 1; round <= roundsMax; round++) {
    let changed = false;
    for (const m of members) {
      const r = t.heartbeat({
        memberId: m.memberId,
        memberEpoch: m.memberEpoch,
        ownedPartitions: m.owned,
      });
      if (
        r.memberEpoch !== m.memberEpoch || JSON.stringify(r.assignment) !== JSON.stringify(m.owned)
      ) {
        changed = true;
      }
      m.memberEpoch = r.memberEpoch;
      m.owned = r.assignment;
    }
    if (!changed) return round;
  }
  throw new Error(`members did not settle in ${roundsMax} rounds`);
}

/** Total partitions in a list. */
export function count(list: readonly TopicPartitions[]): number {
  return list.reduce((n, tp) => n + tp.partitions.length, 0);
}
