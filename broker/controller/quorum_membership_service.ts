/**
 * The active controller's side of quorum membership: announcements from
 * nodes, `add-voter` and `remove-voter` from operators, and making announced
 * observers Raft learners. Decisions are the pure functions of
 * quorum_membership.ts; metadata records go through the controller service
 * (one operation at a time, like every other controller write) and Raft
 * membership changes through the quorum, one at a time.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { Logger } from "../log.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";
import type { ControllerAnswer } from "./controller_client.ts";
import { decideFor } from "./controller_ops.ts";
import type { ControllerService } from "./controller_service.ts";
import {
  checkAddVoter,
  learnersToAdd,
  planRemoveVoter,
  recordVoterAdded,
  registerQuorumNode,
} from "./quorum_membership.ts";
import type { RemoveVoterPlan } from "./quorum_membership.ts";

/** The operations this service answers (the rest are plain controller operations). */
export const MEMBERSHIP_OPS = ["register-quorum-node", "add-voter", "remove-voter"] as const;

/** How often the active controller checks for observers to add as learners. */
export const LEARNER_CHECK_INTERVAL_MS = 200;

type Body = Record<string, unknown>;

/** Runs membership operations on the active controller. */
export class QuorumMembershipService {
  #timer: ReturnType<typeof setInterval> | undefined;
  #changing = false;

  constructor(
    private readonly quorum: MetadataQuorum,
    private readonly controller: ControllerService,
    private readonly logger: Logger,
  ) {}

  /** Starts adding announced observers as learners (while this node is the active controller). */
  start(): void {
    this.#timer = setInterval(() => this.#addLearners(), LEARNER_CHECK_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Runs any controller operation by name on this node (which must be the active controller). */
  async run(op: string, raw: unknown): Promise<ControllerAnswer<unknown>> {
    if (!this.controller.active) throw this.quorum.notControllerError();
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new StromError("INVALID_REQUEST", "the request body must be a JSON object");
    }
    const body = raw as Body;
    switch (op) {
      case "register-quorum-node": {
        const req = {
          nodeId: int(body, "nodeId"),
          directoryId: str(body, "directoryId"),
          internalUrl: str(body, "internalUrl"),
          clientUrl: str(body, "clientUrl"),
        };
        return await this.controller.run((image) =>
          registerQuorumNode(image, req, this.quorum.status().config)
        );
      }
      case "remove-voter": {
        const directoryId = body.directoryId === undefined || body.directoryId === null
          ? undefined
          : str(body, "directoryId");
        return await this.#removeVoter(int(body, "nodeId"), directoryId);
      }
      case "add-voter":
        return await this.#addVoter(int(body, "nodeId"));
      default:
        return await this.controller.run(decideFor(this.controller.logic, op, body));
    }
  }

  async #removeVoter(
    nodeId: number,
    directoryId: string | undefined,
  ): Promise<ControllerAnswer<unknown>> {
    return await this.#exclusive(async () => {
      let plan: RemoveVoterPlan | undefined;
      const forgotten = await this.controller.run((image) => {
        plan = planRemoveVoter(image, this.quorum.status().config, {
          nodeId,
          ...(directoryId === undefined ? {} : { directoryId }),
        });
        return plan;
      });
      let offset = forgotten.offset;
      if (plan?.removeFromRaft) {
        offset = await this.quorum.proposeConfigChange({ type: "removeNode", nodeId });
      }
      this.logger.warn("removed a voter from the metadata quorum", { nodeId, offset });
      return { response: forgotten.response, offset };
    });
  }

  async #addVoter(nodeId: number): Promise<ControllerAnswer<unknown>> {
    return await this.#exclusive(async () => {
      checkAddVoter(this.quorum.image, this.quorum.status().config, nodeId);
      await this.quorum.proposeConfigChange({ type: "addVoter", nodeId });
      const recorded = await this.controller.run((image) => recordVoterAdded(image, nodeId));
      this.logger.info("added a voter to the metadata quorum", { nodeId });
      return recorded;
    });
  }

  /** One membership change at a time: Raft allows one uncommitted change, and so do operators. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#changing) {
      throw new StromError(
        "REQUEST_TIMED_OUT",
        "another quorum membership change is in progress; retry shortly",
      );
    }
    this.#changing = true;
    try {
      return await fn();
    } finally {
      this.#changing = false;
    }
  }

  #addLearners(): void {
    if (!this.controller.active || this.#changing) return;
    const [nodeId] = learnersToAdd(this.quorum.image, this.quorum.status().config);
    if (nodeId === undefined) return;
    this.#exclusive(() => this.quorum.proposeConfigChange({ type: "addLearner", nodeId }))
      .then(
        (offset) => this.logger.info("added an observer as a Raft learner", { nodeId, offset }),
        (e) =>
          this.logger.debug("adding a learner failed; will retry", { nodeId, error: String(e) }),
      );
  }
}

function int(body: Body, key: string): number {
  const v = body[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new StromError("INVALID_REQUEST", `"${key}" must be a positive integer node id`);
  }
  return v;
}

function str(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== "string" || v.length === 0 || v.length > 4096) {
    throw new StromError("INVALID_REQUEST", `"${key}" must be a non-empty string`);
  }
  return v;
}
