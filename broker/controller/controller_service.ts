/**
 * The active controller's shell: it runs {@link QuorumController}
 * operations one at a time on the Raft leader, commits their records
 * through the metadata quorum, and answers once they are applied.
 *
 * One at a time is what keeps decisions correct: each operation decides on
 * the image that includes every earlier operation's records, so two creates
 * of one topic, or two ISR changes of one partition, cannot both pass.
 *
 * The controller becomes active only once the no-op entry of its Raft term
 * is applied: from then on its image holds every record any earlier
 * controller committed.
 *
 * Periodic work on the active controller: fence brokers whose session
 * expired (every tick), elect leaders for leaderless partitions
 * (`balanceIntervalMs`), move leadership back to preferred replicas of
 * imbalanced brokers (`preferredLeaderIntervalMs`, Kafka's
 * `leader.imbalance.check.interval.seconds`), and write a NoOp record
 * (`noOpIntervalMs`) so followers see the log advance.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { Logger } from "../log.ts";
import type { MetadataImage } from "../metadata/image.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";
import type { ControllerResult, QuorumController } from "./quorum_controller.ts";

/** Most operations waiting to run on the controller. */
export const CONTROLLER_QUEUE_MAX = 1_000;
/** How long an operation waits for its records to commit. */
export const CONTROLLER_COMMIT_TIMEOUT_MS = 10_000;
/**
 * A gap between two periodic checks (due every `checkIntervalMs`, 100 ms on
 * a node) longer than this means the controller itself was not running; the
 * brokers' sessions are extended by the gap (see QuorumController.extendSessions).
 */
export const CONTROLLER_STALL_GAP_MS = 500;

/** Timing of the periodic work. */
export interface ControllerServiceTiming {
  readonly checkIntervalMs: number;
  readonly balanceIntervalMs: number;
  /** Default: every balance check. */
  readonly preferredLeaderIntervalMs?: number;
  readonly noOpIntervalMs: number;
}

interface QueuedOp {
  readonly decide: (image: MetadataImage, nowMs: number) => ControllerResult<unknown>;
  readonly resolve: (v: { response: unknown; offset: number }) => void;
  readonly reject: (e: unknown) => void;
}

/** Runs controller operations on the active controller. */
export class ControllerService {
  #active = false;
  #activationOffset = Infinity;
  #isLeader = false;
  readonly #queue: QueuedOp[] = [];
  #draining = false;
  /** A fencing operation is queued or running. */
  #fencing = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastBalanceMs = 0;
  #lastPreferredMs = 0;
  #lastWriteMs = 0;
  /** When the periodic check last ran while active; undefined while not active. */
  #lastPeriodicMs: number | undefined;
  #stopped = false;

  constructor(
    private readonly quorum: MetadataQuorum,
    private readonly controller: QuorumController,
    private readonly timing: ControllerServiceTiming,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    quorum.onLeadership((s) => {
      this.#isLeader = s.isLeader;
      if (!s.isLeader) {
        if (this.#active) logger.info("no longer the active controller", { leader: s.leaderId });
        this.#active = false;
        this.#activationOffset = Infinity;
        return;
      }
      this.#activationOffset = s.firstIndexOfTerm;
      this.#maybeActivate(quorum.image);
    });
    quorum.onImage((image) => this.#maybeActivate(image));
  }

  /** Whether this node is the active controller now. */
  get active(): boolean {
    return this.#active;
  }

  /** Starts the periodic work. */
  start(): void {
    this.#timer = setInterval(() => this.#periodic(), this.timing.checkIntervalMs);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const op of this.#queue.splice(0)) {
      op.reject(
        new StromError("NOT_CONTROLLER", "the controller is stopping; retry on another node"),
      );
    }
  }

  /**
   * Runs an operation: decides on the current image, commits the records,
   * resolves with the response and the offset the records were applied at.
   */
  run<R>(
    decide: (image: MetadataImage, nowMs: number) => ControllerResult<R>,
  ): Promise<{ response: R; offset: number }> {
    return this.#enqueue(decide, false);
  }

  /** Queues an operation, at the front when `first` (fencing). */
  #enqueue<R>(
    decide: (image: MetadataImage, nowMs: number) => ControllerResult<R>,
    first: boolean,
  ): Promise<{ response: R; offset: number }> {
    if (!this.#active) return Promise.reject(this.quorum.notControllerError());
    if (this.#queue.length >= CONTROLLER_QUEUE_MAX) {
      return Promise.reject(
        new StromError(
          "REQUEST_TIMED_OUT",
          `the controller has ${CONTROLLER_QUEUE_MAX} operations queued; retry later`,
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<
      { response: unknown; offset: number }
    >();
    if (first) this.#queue.unshift({ decide, resolve, reject });
    else this.#queue.push({ decide, resolve, reject });
    this.#drain();
    return promise as Promise<{ response: R; offset: number }>;
  }

  /** Registration, heartbeat and friends: the controller's own logic, for the routes. */
  get logic(): QuorumController {
    return this.controller;
  }

  #maybeActivate(image: MetadataImage): void {
    if (this.#active || !this.#isLeader || image.offset < this.#activationOffset) return;
    this.#active = true;
    this.controller.activate(image, this.clock());
    this.#lastBalanceMs = this.clock();
    this.#lastPreferredMs = this.clock();
    this.logger.info("became the active controller", { offset: image.offset });
    this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const op = this.#queue.shift()!;
        if (!this.#active) {
          op.reject(this.quorum.notControllerError());
          continue;
        }
        try {
          const image = this.quorum.image;
          const result = op.decide(image, this.clock());
          if (result.records.length === 0) {
            op.resolve({ response: result.response, offset: image.offset });
            continue;
          }
          const offset = await withTimeout(
            this.quorum.propose(result.records),
            CONTROLLER_COMMIT_TIMEOUT_MS,
          );
          this.#lastWriteMs = this.clock();
          op.resolve({ response: result.response, offset });
        } catch (e) {
          op.reject(e);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #periodic(): void {
    if (!this.#active || this.#stopped) {
      this.#lastPeriodicMs = undefined;
      return;
    }
    // Each check decides when it runs, on the image of that moment.
    const now = this.clock();
    const c = this.controller;
    const gapMs = now - (this.#lastPeriodicMs ?? now);
    this.#lastPeriodicMs = now;
    if (gapMs > CONTROLLER_STALL_GAP_MS) {
      c.extendSessions(gapMs);
      this.logger.warn("the controller was stalled; broker sessions extended by the stall", {
        stallMs: gapMs,
      });
    }
    // Fencing goes ahead of whatever is queued: with thousands of partitions the queue is
    // rarely empty (batched ISR changes, heartbeats), and waiting for a gap in it kept a dead
    // broker leading its partitions for 8 s.
    if (!this.#fencing && c.hasExpiredBrokers(this.quorum.image, now)) {
      this.#fencing = true;
      this.#enqueue((image, t) => c.fenceExpiredBrokers(image, t), true).then(({ response }) => {
        if (response.length > 0) {
          this.logger.warn("fenced brokers whose session expired", { brokers: response.join(",") });
        }
      }, (e) => this.logger.warn("fencing failed", { error: String(e) })).finally(() => {
        this.#fencing = false;
      });
      return;
    }
    if (this.#draining || this.#queue.length > 0) return;
    if (now - this.#lastBalanceMs >= this.timing.balanceIntervalMs) {
      this.#lastBalanceMs = now;
      const preferred = now - this.#lastPreferredMs >=
        (this.timing.preferredLeaderIntervalMs ?? this.timing.balanceIntervalMs);
      if (preferred) this.#lastPreferredMs = now;
      if (c.balanceLeaders(this.quorum.image, preferred).records.length > 0) {
        this.run((image) => c.balanceLeaders(image, preferred)).then(({ response }) => {
          this.logger.info("moved leaders to preferred or available replicas", {
            partitions: response,
          });
        }, (e) => this.logger.warn("leader balancing failed", { error: String(e) }));
        return;
      }
    }
    if (now - this.#lastWriteMs >= this.timing.noOpIntervalMs) {
      this.#lastWriteMs = now;
      this.run(() => ({ records: [{ type: "NoOp" }], response: null })).catch(() => {});
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StromError(
            "REQUEST_TIMED_OUT",
            `metadata change not committed within ${ms} ms; its outcome is unknown`,
          ),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
