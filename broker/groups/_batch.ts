/**
 * The records one operation writes, and the groups as they will be once
 * those records are replayed — so each decision in an operation sees the
 * effect of the ones before it, while the real state stays untouched until
 * the driver replays the committed records.
 *
 * @module
 */

import type { GroupCoordinatorState, GroupState } from "./group_state.ts";
import { cloneGroup, replayGroupRecord } from "./group_state.ts";
import type { GroupRecord } from "./records.ts";

/** Records of one operation plus copy-on-first-touch groups they were replayed into. */
export class GroupBatch {
  readonly records: GroupRecord[] = [];
  readonly #scratch = new Map<string, GroupState>();
  readonly #loaded = new Set<string>();

  /**
   * @param shareOffsets Operations that never write offset records (membership)
   *   share each group's offsets map instead of copying it; writing one then
   *   is a bug and throws.
   */
  constructor(readonly state: GroupCoordinatorState, readonly shareOffsets = false) {}

  /** The group as it will be after this batch so far (undefined if it will not exist). */
  group(groupId: string): GroupState | undefined {
    if (!this.#loaded.has(groupId)) {
      this.#loaded.add(groupId);
      const g = this.state.groups.get(groupId);
      if (g) {
        const copy = this.shareOffsets
          ? { ...cloneGroup({ ...g, offsets: new Map() }), offsets: g.offsets }
          : cloneGroup(g);
        this.#scratch.set(groupId, copy);
      }
    }
    return this.#scratch.get(groupId);
  }

  /** Adds a record and replays it into the batch's view. */
  emit(r: GroupRecord): void {
    const touchesOffsets = r.type === "OffsetCommit" ||
      (r.type === "Tombstone" && r.key.kind === "OffsetCommit");
    if (touchesOffsets && this.shareOffsets) {
      throw new Error("a membership operation tried to write an offset record");
    }
    this.group(r.type === "Tombstone" ? r.key.groupId : r.groupId);
    this.records.push(r);
    replayGroupRecord(this.#scratch, r);
  }
}
