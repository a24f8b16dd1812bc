/**
 * Test support for the controller: committing a decision's records into an
 * image, a cluster of registered brokers, and a fake metadata quorum for
 * driving a {@link ControllerService} without Raft.
 *
 * @module
 */

import type { MetadataImage } from "../metadata/image.ts";
import { EMPTY_IMAGE, replay } from "../metadata/image.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";
import type { MetadataRecord } from "../metadata/records.ts";
import type { Logger } from "../log.ts";
import { ControllerService } from "./controller_service.ts";
import type { ControllerResult, QuorumController } from "./quorum_controller.ts";

/** Commits a result's records (as the shell does) and returns the new image. */
export function commit<R>(image: MetadataImage, result: ControllerResult<R>): MetadataImage {
  return result.records.length === 0 ? image : replay(image, result.records, image.offset + 1);
}

/** Broker `id`'s heartbeat at `nowMs` (caught up, not shutting down), committed. */
export function heartbeatAt(
  c: QuorumController,
  image: MetadataImage,
  id: number,
  nowMs: number,
): MetadataImage {
  return commit(
    image,
    c.heartbeat(image, {
      brokerId: id,
      brokerEpoch: image.brokers.get(id)!.epoch,
      metadataOffset: image.offset,
      wantShutdown: false,
    }, nowMs),
  );
}

/** Brokers 1..count registered with directory `dir-{id}` and unfenced, at `nowMs`. */
export function registeredBrokers(
  c: QuorumController,
  count: number,
  nowMs = 0,
  racks?: readonly string[],
): MetadataImage {
  let image = EMPTY_IMAGE;
  for (let id = 1; id <= count; id++) {
    image = commit(
      image,
      c.registerBroker(image, {
        brokerId: id,
        incarnationId: `inc-${id}`,
        directoryId: `dir-${id}`,
        clientUrl: `http://b${id}:9092`,
        internalUrl: `http://b${id}:19092`,
        rack: racks?.[id - 1] ?? null,
      }, nowMs),
    );
  }
  for (let id = 1; id <= count; id++) image = heartbeatAt(c, image, id, nowMs);
  return image;
}

type LeadershipListener = (
  s: { leaderId: number; isLeader: boolean; term: number; firstIndexOfTerm: number },
) => void;

/**
 * Just enough of a MetadataQuorum for the service: leadership on
 * {@link lead}; proposals commit at once, or, with `hold`, only when the
 * test calls {@link commitOne} (a busy, slow metadata log).
 */
export class FakeQuorum {
  image: MetadataImage;
  readonly committed: MetadataRecord[][] = [];
  readonly #hold: boolean;
  readonly #held: (() => void)[] = [];
  readonly #leadership: LeadershipListener[] = [];

  constructor(image: MetadataImage, options: { hold?: boolean } = {}) {
    this.image = image;
    this.#hold = options.hold ?? false;
  }

  onImage(_listener: (image: MetadataImage) => void): void {}

  onLeadership(listener: LeadershipListener): void {
    this.#leadership.push(listener);
  }

  /** Makes this node the Raft leader, as of the current image. */
  lead(): void {
    for (const l of this.#leadership) {
      l({ leaderId: 1, isLeader: true, term: 1, firstIndexOfTerm: this.image.offset });
    }
  }

  propose(records: MetadataRecord[]): Promise<number> {
    return new Promise((resolve) => {
      const apply = () => {
        this.committed.push(records);
        this.image = replay(this.image, records, this.image.offset + 1);
        resolve(this.image.offset);
      };
      if (this.#hold) this.#held.push(apply);
      else apply();
    });
  }

  /** Commits the oldest held proposal; false when none is held. */
  commitOne(): boolean {
    const next = this.#held.shift();
    next?.();
    return next !== undefined;
  }

  notControllerError(): Error {
    return new Error("not the controller");
  }
}

/** A service over `quorum` whose periodic check runs every 10 ms (balancing and no-ops off). */
export function serviceOver(
  quorum: FakeQuorum,
  c: QuorumController,
  logger: Logger,
  clock: () => number,
): ControllerService {
  return new ControllerService(
    quorum as unknown as MetadataQuorum,
    c,
    { checkIntervalMs: 10, balanceIntervalMs: 1_000_000, noOpIntervalMs: 1_000_000 },
    logger,
    clock,
  );
}
