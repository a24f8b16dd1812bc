/**
 * Reaches the active controller from any node: runs an operation locally
 * when this node is the active controller, otherwise posts it to the Raft
 * leader's internal listener, following NOT_CONTROLLER hints and retrying
 * retriable failures until a deadline.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { H2Client } from "@strom/client";
import type { VoterConfig } from "../config/node_config.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";
import type { ControllerService } from "./controller_service.ts";
import { decideFor } from "./controller_ops.ts";
import type { ControllerOpName } from "./controller_ops.ts";

/** Pause between attempts while no controller answers. */
const RETRY_BACKOFF_MS = 100;

/** The answer of a controller operation. */
export interface ControllerAnswer<R> {
  readonly response: R;
  /** The metadata offset at which its records were applied. */
  readonly offset: number;
}

/** Runs an operation on this node when it is the active controller. */
export type LocalControllerOp = (
  op: ControllerOpName,
  body: unknown,
) => Promise<ControllerAnswer<unknown>>;

/** Sends controller operations to whichever node is the active controller. */
export class ControllerClient {
  /** The leader named by the last NOT_CONTROLLER answer (an observer may not know it yet). */
  #hintedLeader = 0;
  /** Which configured voter to ask next while no leader is known. */
  #nextVoter = 0;

  constructor(
    private readonly quorum: MetadataQuorum,
    private readonly service: ControllerService,
    private readonly voters: readonly VoterConfig[],
    private readonly http: H2Client,
    private readonly local: LocalControllerOp = (op, body) =>
      service.run(decideFor(service.logic, op, body)),
  ) {}

  /** Runs `op` on the active controller; retries until `timeoutMs` while none is reachable. */
  async call<R>(
    op: ControllerOpName,
    body: unknown,
    timeoutMs: number,
  ): Promise<ControllerAnswer<R>> {
    const deadline = Date.now() + timeoutMs;
    let attempt = 0;
    for (;;) {
      try {
        return await this.#once<R>(op, body, Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (e instanceof StromError && e.code === "NOT_CONTROLLER") {
          this.#hintedLeader = e.leader?.id ?? 0;
        }
        // Only errors that mean "not executed" are retried; a timeout may
        // have executed, and a retried create would then fail confusingly.
        // SHUTTING_DOWN comes from a stopping node's request gate, before any route ran.
        const retriable = e instanceof StromError &&
          (e.code === "NOT_CONTROLLER" || e.code === "NETWORK_EXCEPTION" ||
            e.code === "SHUTTING_DOWN");
        if (!retriable) throw e;
        if (Date.now() + RETRY_BACKOFF_MS >= deadline) {
          // Say what the whole call waited for, not the last attempt's sliver.
          throw new StromError(
            "REQUEST_TIMED_OUT",
            `the controller did not complete "${op}" within ${timeoutMs} ms (${
              attempt + 1
            } attempts; last: ${
              (e as Error).message
            }); check that a majority of controllers is up (GET /v1/cluster)`,
          );
        }
      }
      attempt++;
      await new Promise((r) => setTimeout(r, Math.min(RETRY_BACKOFF_MS * attempt, 500)));
    }
  }

  async #once<R>(
    op: ControllerOpName,
    body: unknown,
    timeoutMs: number,
  ): Promise<ControllerAnswer<R>> {
    if (this.service.active) {
      return await this.local(op, body) as ControllerAnswer<R>;
    }
    const leaderId = this.quorum.status().leaderId || this.#hintedLeader;
    // An observer not yet replicated to knows no leader: any voter answers with a hint.
    const leader = leaderId !== 0
      ? this.quorum.endpoints(leaderId)
      : this.voters[this.#nextVoter++ % this.voters.length];
    if (!leader) throw new StromError("NOT_CONTROLLER", "no active controller is known yet");
    return await this.http.json<ControllerAnswer<R>>(leader.internalUrl, {
      method: "POST",
      path: `/internal/controller/${op}`,
      body,
      timeoutMs,
    });
  }
}
