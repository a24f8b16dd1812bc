/**
 * A broker's membership in the cluster: it registers with the active
 * controller under a fresh incarnation id, heartbeats every
 * `heartbeatIntervalMs` with the metadata offset it has applied (the
 * controller unfences it once that offset reaches its registration), and
 * registers again if the controller no longer knows its epoch.
 *
 * On shutdown it asks for a controlled shutdown: heartbeats carry
 * `wantShutdown` until the controller says every leadership it could move
 * has moved (or the grace period ends), so a clean restart fails no
 * acks=all write.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { ControllerClient } from "../controller/controller_client.ts";
import type { HeartbeatResponse } from "../controller/quorum_controller.ts";
import type { Logger } from "../log.ts";
import type { MetadataQuorum } from "./metadata_quorum.ts";

/** How long a stopping broker waits for some controller to exist before giving up on a controlled shutdown. */
export const NO_CONTROLLER_GIVE_UP_MS = 1_000;

/** Options of {@link BrokerLifecycle}. */
export interface BrokerLifecycleOptions {
  readonly brokerId: number;
  readonly directoryId: string;
  readonly clientUrl: string;
  readonly internalUrl: string;
  readonly rack: string | null;
  readonly heartbeatIntervalMs: number;
}

/** Registration and heartbeats of this broker. */
export class BrokerLifecycle {
  readonly incarnationId = crypto.randomUUID();
  #epoch: number | undefined;
  #fenced = true;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(
    private readonly options: BrokerLifecycleOptions,
    private readonly controller: ControllerClient,
    private readonly quorum: MetadataQuorum,
    private readonly logger: Logger,
  ) {}

  /** This broker's current epoch, once registered. */
  get brokerEpoch(): number | undefined {
    return this.#epoch;
  }

  /** Whether the controller has this broker fenced (as of the last heartbeat). */
  get fenced(): boolean {
    return this.#fenced;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Controlled shutdown: moves leaderships away, at most `graceMs`, then stops heartbeating. */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    if (this.#epoch === undefined) return;
    const deadline = Date.now() + graceMs;
    // With no controller for a while (the whole cluster is stopping), there is nobody to move
    // leaderships to: stop waiting.
    let noControllerSince: number | undefined;
    while (Date.now() < deadline) {
      if (this.quorum.status().leaderId === 0) {
        noControllerSince ??= Date.now();
        if (Date.now() - noControllerSince > NO_CONTROLLER_GIVE_UP_MS) {
          this.logger.warn(
            "no active controller during shutdown; stopping without moving leaderships",
          );
          return;
        }
      } else noControllerSince = undefined;
      try {
        const r = await this.#heartbeat(true, Math.max(1, deadline - Date.now()));
        if (r.shutdownReady) {
          this.logger.info("controlled shutdown complete: no leaderships left to move");
          return;
        }
      } catch (e) {
        this.logger.warn("controlled shutdown heartbeat failed", { error: (e as Error).message });
      }
      await new Promise((r) => setTimeout(r, Math.min(100, this.options.heartbeatIntervalMs)));
    }
    this.logger.warn("controlled shutdown did not finish in time; stopping anyway");
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#epoch === undefined) await this.#register();
        else await this.#heartbeat(false, this.options.heartbeatIntervalMs * 2);
      } catch (e) {
        if (
          e instanceof StromError &&
          (e.code === "STALE_BROKER_EPOCH" || e.code === "BROKER_ID_NOT_REGISTERED")
        ) {
          this.logger.warn("controller no longer knows this broker epoch; registering again", {
            error: e.message,
          });
          this.#epoch = undefined;
          this.#fenced = true;
          continue;
        }
        this.logger.debug("broker heartbeat failed", { error: (e as Error).message });
      }
      await this.#sleep(this.options.heartbeatIntervalMs);
    }
  }

  async #register(): Promise<void> {
    const { response } = await this.controller.call<{ brokerEpoch: number }>("register", {
      brokerId: this.options.brokerId,
      incarnationId: this.incarnationId,
      directoryId: this.options.directoryId,
      clientUrl: this.options.clientUrl,
      internalUrl: this.options.internalUrl,
      rack: this.options.rack,
    }, this.options.heartbeatIntervalMs * 4);
    this.#epoch = response.brokerEpoch;
    this.logger.info("registered with the controller", { brokerEpoch: response.brokerEpoch });
  }

  async #heartbeat(wantShutdown: boolean, timeoutMs: number): Promise<HeartbeatResponse> {
    const { response } = await this.controller.call<HeartbeatResponse>("heartbeat", {
      brokerId: this.options.brokerId,
      brokerEpoch: this.#epoch,
      metadataOffset: this.quorum.image.offset,
      wantShutdown,
    }, timeoutMs);
    if (this.#fenced !== response.fenced) {
      this.logger.info(response.fenced ? "broker is fenced" : "broker is unfenced");
    }
    this.#fenced = response.fenced;
    return response;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
