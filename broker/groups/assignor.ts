/**
 * The server-side assignor interface and the choice of assignor for a group.
 *
 * An assignor is a pure function from the group's members (with the existing
 * topics each subscribes to), the subscribed topics' partition counts and the
 * previous target assignment, to the new target assignment. Every partition of
 * a subscribed topic goes to exactly one member subscribed to its topic, or to
 * nobody when no member subscribes to it.
 *
 * @module
 */

import type { Assignment } from "./assignment.ts";
import type { AssignorName } from "./config.ts";
import { ASSIGNOR_NAMES } from "./config.ts";
import type { MemberMetadata } from "./group_state.ts";
import { rangeAssign } from "./range_assignor.ts";
import { uniformAssign } from "./uniform_assignor.ts";

/** A member as the assignor sees it. */
export interface AssignmentMember {
  readonly memberId: string;
  readonly instanceId: string | null;
  /** Existing topics it subscribes to. */
  readonly topics: readonly string[];
}

/** What an assignor decides from. */
export interface AssignmentInput {
  readonly members: readonly AssignmentMember[];
  /** Subscribed topic → partition count. */
  readonly topics: ReadonlyMap<string, number>;
  /** The previous target assignment, to stay close to. */
  readonly previous: ReadonlyMap<string, Assignment>;
}

/** member id → target assignment (members with nothing map to an empty assignment). */
export type AssignmentOutput = Map<string, Assignment>;

/** Runs the named assignor. */
export function runAssignor(name: AssignorName, input: AssignmentInput): AssignmentOutput {
  return name === "range" ? rangeAssign(input) : uniformAssign(input);
}

/**
 * The assignor a group uses: the one most members ask for (ties go to the
 * earlier in {@link ASSIGNOR_NAMES}), or `fallback` when none asks.
 */
export function chooseAssignor(
  members: Iterable<MemberMetadata>,
  fallback: AssignorName,
): AssignorName {
  const votes = new Map<AssignorName, number>();
  for (const m of members) {
    if (m.serverAssignor) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
  }
  let best: AssignorName = fallback;
  let bestVotes = 0;
  for (const name of ASSIGNOR_NAMES) {
    const v = votes.get(name) ?? 0;
    if (v > bestVotes) [best, bestVotes] = [name, v];
  }
  return best;
}
