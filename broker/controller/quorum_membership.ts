/**
 * Decisions about who belongs to the metadata quorum (KIP-853's shape,
 * without the I/O): which node may announce itself with which data
 * directory, and what removing or adding a voter writes.
 *
 * Two logs describe membership. The Raft configuration (voters and
 * learners, in Raft `config` entries) is what counts for elections and
 * commits. The metadata image keeps, per node, its directory id, its URLs
 * and whether the controller last recorded it as a voter — Kafka keeps
 * voters' directory ids in the log for the same reason: a voter that comes
 * back with another directory forgot what it voted for and which entries it
 * acknowledged, so it must not vote again under its old id until an
 * operator removed it and added it back.
 *
 * Order of writes, so that a crash between the two logs fails safe:
 * - remove: first forget the directory (metadata), then remove from Raft;
 *   a crash in between leaves a voter that the next `remove-voter` finishes
 *   removing;
 * - add: first promote in Raft, then record the new directory as a voter's;
 *   a crash in between leaves a voter recorded as an observer, which the
 *   next `add-voter` or the node's next announcement corrects.
 *
 * Observers (broker-only nodes, and removed or new controllers before they
 * are added) are made Raft learners by the active controller as soon as
 * they announce themselves: like KRaft observers, they only need to reach
 * the leader to start following the log.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { ClusterConfig } from "@strom/raft";
import type { MetadataImage } from "../metadata/image.ts";
import type { MetadataRecord } from "../metadata/records.ts";
import type { ControllerResult } from "./quorum_controller.ts";

/** A node announcing itself to the quorum at start. */
export interface RegisterQuorumNodeRequest {
  readonly nodeId: number;
  readonly directoryId: string;
  readonly internalUrl: string;
  readonly clientUrl: string;
}

/** `remove-voter`: the voter's id and, as KIP-853 asks, the directory id it is known by. */
export interface RemoveVoterRequest {
  readonly nodeId: number;
  /** When given, must match the directory id the quorum knows (guards against removing the wrong incarnation). */
  readonly directoryId?: string;
}

/** What a removal does: metadata records first, then the Raft change (if still a voter there). */
export interface RemoveVoterPlan
  extends ControllerResult<{ nodeId: number; directoryId: string | null }> {
  readonly removeFromRaft: boolean;
}

/**
 * The operator message for a node that came back with another directory:
 * what happened, and the exact commands that re-add it (KIP-853's procedure).
 */
export function wipedVoterMessage(nodeId: number, given: string, known: string): string {
  return `node ${nodeId} came back with data directory id ${given}, but the cluster knows node ${nodeId} by directory id ${known}: its data dir was wiped or replaced. It must not rejoin as the same voter (it would have forgotten votes and log entries it acknowledged). Restore its original data dir; or re-add it empty: (1) remove the old voter with \`deno task cli quorum remove-voter --id ${nodeId} --directory-id=${known}\` (or DELETE /v1/quorum/voters/${nodeId}?directoryId=${known}) on any running node, (2) start this node again: it joins as an observer and copies the metadata log, (3) add it back with \`deno task cli quorum add-voter --id ${nodeId}\` (or POST /v1/quorum/voters {"id": ${nodeId}}) once \`deno task cli quorum describe\` lists it among the observers`;
}

/**
 * A node announces its directory id and URLs. A node recorded as a voter
 * must come back with the same directory id (INCONSISTENT_VOTER_SET with
 * the re-add procedure otherwise); observers may come back empty.
 */
export function registerQuorumNode(
  image: MetadataImage,
  req: RegisterQuorumNodeRequest,
  raft: ClusterConfig,
): ControllerResult<{ voter: boolean }> {
  const existing = image.quorumNodes.get(req.nodeId);
  if (existing?.voter && existing.directoryId !== req.directoryId) {
    throw new StromError(
      "INCONSISTENT_VOTER_SET",
      wipedVoterMessage(req.nodeId, req.directoryId, existing.directoryId),
    );
  }
  const voter = raft.voters.includes(req.nodeId);
  if (
    existing && existing.directoryId === req.directoryId && existing.voter === voter &&
    existing.internalUrl === req.internalUrl && existing.clientUrl === req.clientUrl
  ) {
    return { records: [], response: { voter } };
  }
  return {
    records: [{
      type: "RegisterQuorumNode",
      nodeId: req.nodeId,
      directoryId: req.directoryId,
      internalUrl: req.internalUrl,
      clientUrl: req.clientUrl,
      voter,
    }],
    response: { voter },
  };
}

/** Checks a removal and says what to write. */
export function planRemoveVoter(
  image: MetadataImage,
  raft: ClusterConfig,
  req: RemoveVoterRequest,
): RemoveVoterPlan {
  const known = image.quorumNodes.get(req.nodeId);
  const inRaft = raft.voters.includes(req.nodeId);
  if (!inRaft && !known?.voter) {
    throw new StromError(
      "VOTER_NOT_FOUND",
      `node ${req.nodeId} is not a voter of the metadata quorum (voters: ${
        raft.voters.join(", ")
      })`,
    );
  }
  if (req.directoryId !== undefined && known && known.directoryId !== req.directoryId) {
    throw new StromError(
      "INCONSISTENT_VOTER_SET",
      `voter ${req.nodeId} has directory id ${known.directoryId}, not ${req.directoryId}; check the id with GET /v1/cluster (quorum.voters[].directoryId)`,
    );
  }
  if (inRaft && raft.voters.length === 1) {
    throw new StromError(
      "INVALID_REQUEST",
      `node ${req.nodeId} is the last voter; a quorum cannot lose its last voter`,
    );
  }
  const records: MetadataRecord[] = known
    ? [{ type: "UnregisterQuorumNode", nodeId: req.nodeId }]
    : [];
  return {
    records,
    removeFromRaft: inRaft,
    response: { nodeId: req.nodeId, directoryId: known?.directoryId ?? null },
  };
}

/** Checks that `nodeId` may be promoted: it is an observer (a Raft learner) that announced itself. */
export function checkAddVoter(image: MetadataImage, raft: ClusterConfig, nodeId: number): void {
  if (raft.voters.includes(nodeId)) {
    throw new StromError("DUPLICATE_VOTER", `node ${nodeId} is already a voter`);
  }
  if (!raft.learners.includes(nodeId) || !image.quorumNodes.has(nodeId)) {
    throw new StromError(
      "VOTER_NOT_FOUND",
      `node ${nodeId} is not an observer of the metadata quorum yet: start it, wait until GET /v1/cluster lists it in quorum.observers, then add it`,
    );
  }
}

/** The records that complete {@link checkAddVoter} once Raft promoted the node. */
export function recordVoterAdded(
  image: MetadataImage,
  nodeId: number,
): ControllerResult<{ nodeId: number; directoryId: string }> {
  const q = image.quorumNodes.get(nodeId);
  if (!q) {
    throw new StromError("VOTER_NOT_FOUND", `node ${nodeId} is no longer registered`);
  }
  return {
    records: q.voter ? [] : [{
      type: "RegisterQuorumNode",
      nodeId,
      directoryId: q.directoryId,
      internalUrl: q.internalUrl,
      clientUrl: q.clientUrl,
      voter: true,
    }],
    response: { nodeId, directoryId: q.directoryId },
  };
}

/** Announced observers that Raft does not replicate to yet: the controller adds them as learners. */
export function learnersToAdd(image: MetadataImage, raft: ClusterConfig): number[] {
  return [...image.quorumNodes.values()]
    .filter((q) => !q.voter && !raft.voters.includes(q.id) && !raft.learners.includes(q.id))
    .map((q) => q.id)
    .sort((a, b) => a - b);
}
