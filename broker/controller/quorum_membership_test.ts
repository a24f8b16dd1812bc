import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import type { MetadataImage } from "../metadata/image.ts";
import { EMPTY_IMAGE, replay } from "../metadata/image.ts";
import type { ControllerResult } from "./quorum_controller.ts";
import {
  checkAddVoter,
  learnersToAdd,
  planRemoveVoter,
  recordVoterAdded,
  registerQuorumNode,
} from "./quorum_membership.ts";

function commit<R>(image: MetadataImage, result: ControllerResult<R>): MetadataImage {
  return result.records.length === 0 ? image : replay(image, result.records, image.offset + 1);
}

function announce(image: MetadataImage, id: number, dir: string, voters: number[]) {
  return registerQuorumNode(image, {
    nodeId: id,
    directoryId: dir,
    internalUrl: `http://n${id}:19092`,
    clientUrl: `http://n${id}:9092`,
  }, { voters, learners: [] });
}

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StromError, String(e));
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Three voters that announced themselves with directories dir-1..3. */
function threeVoters(): MetadataImage {
  let image = EMPTY_IMAGE;
  for (const id of [1, 2, 3]) image = commit(image, announce(image, id, `dir-${id}`, [1, 2, 3]));
  return image;
}

Deno.test("registerQuorumNode() records voters and observers as Raft has them", () => {
  const image = threeVoters();
  assert.equal(image.quorumNodes.get(2)?.voter, true);
  const observer = commit(image, announce(image, 4, "dir-4", [1, 2, 3]));
  assert.equal(observer.quorumNodes.get(4)?.voter, false);
  assert.deepEqual(learnersToAdd(observer, { voters: [1, 2, 3], learners: [] }), [4]);
  assert.deepEqual(learnersToAdd(observer, { voters: [1, 2, 3], learners: [4] }), []);
});

Deno.test("registerQuorumNode() writes nothing when a node announces itself unchanged", () => {
  const image = threeVoters();
  assert.deepEqual(announce(image, 1, "dir-1", [1, 2, 3]).records, []);
});

Deno.test("registerQuorumNode() refuses a voter with a new directory and names the re-add commands", () => {
  const image = threeVoters();
  expectCode(
    () => announce(image, 3, "wiped", [1, 2, 3]),
    "INCONSISTENT_VOTER_SET",
    /quorum remove-voter --id 3 --directory-id=dir-3.*quorum add-voter --id 3/,
  );
});

Deno.test("registerQuorumNode() lets an observer come back with a new directory", () => {
  let image = threeVoters();
  image = commit(image, announce(image, 4, "dir-4", [1, 2, 3]));
  image = commit(image, announce(image, 4, "dir-4-new", [1, 2, 3]));
  assert.equal(image.quorumNodes.get(4)?.directoryId, "dir-4-new");
});

Deno.test("planRemoveVoter() forgets the directory, then removes from Raft", () => {
  const image = threeVoters();
  const plan = planRemoveVoter(image, { voters: [1, 2, 3], learners: [] }, {
    nodeId: 3,
    directoryId: "dir-3",
  });
  assert.equal(plan.removeFromRaft, true);
  assert.deepEqual(plan.records, [{ type: "UnregisterQuorumNode", nodeId: 3 }]);
  const after = commit(image, plan);
  assert.equal(after.quorumNodes.has(3), false);
  // The wiped node may now announce itself with its new directory, as an observer.
  const back = commit(after, announce(after, 3, "wiped", [1, 2]));
  assert.equal(back.quorumNodes.get(3)?.voter, false);
  assert.deepEqual(learnersToAdd(back, { voters: [1, 2], learners: [] }), [3]);
});

Deno.test("planRemoveVoter() refuses a wrong directory id, a non-voter and the last voter", () => {
  const image = threeVoters();
  const raft = { voters: [1, 2, 3], learners: [] };
  expectCode(
    () => planRemoveVoter(image, raft, { nodeId: 3, directoryId: "other" }),
    "INCONSISTENT_VOTER_SET",
    /voter 3 has directory id dir-3, not other/,
  );
  expectCode(() => planRemoveVoter(image, raft, { nodeId: 9 }), "VOTER_NOT_FOUND");
  const alone = commit(EMPTY_IMAGE, announce(EMPTY_IMAGE, 1, "d", [1]));
  expectCode(
    () => planRemoveVoter(alone, { voters: [1], learners: [] }, { nodeId: 1 }),
    "INVALID_REQUEST",
  );
});

Deno.test("planRemoveVoter() finishes a removal whose Raft step was already done", () => {
  const image = threeVoters();
  const plan = planRemoveVoter(image, { voters: [1, 2], learners: [] }, { nodeId: 3 });
  assert.equal(plan.removeFromRaft, false);
  assert.equal(plan.records.length, 1);
});

Deno.test("checkAddVoter() accepts only an announced learner", () => {
  let image = threeVoters();
  expectCode(
    () => checkAddVoter(image, { voters: [1, 2, 3], learners: [] }, 2),
    "DUPLICATE_VOTER",
  );
  expectCode(
    () => checkAddVoter(image, { voters: [1, 2, 3], learners: [] }, 4),
    "VOTER_NOT_FOUND",
    /not an observer of the metadata quorum yet/,
  );
  image = commit(image, announce(image, 4, "dir-4", [1, 2, 3]));
  checkAddVoter(image, { voters: [1, 2, 3], learners: [4] }, 4);
  const promoted = commit(image, recordVoterAdded(image, 4));
  assert.equal(promoted.quorumNodes.get(4)?.voter, true);
  assert.deepEqual(recordVoterAdded(promoted, 4).records, []);
});
