/**
 * The one table of Strom error codes, shared by the broker (which answers
 * with them) and the client (which decides from them whether to retry).
 *
 * Codes use Kafka's names where Kafka has one, so that operators can search
 * for them. Every code has an HTTP status and a `retriable` flag: a retriable
 * error means the same request may succeed later without change (a leader
 * moved, a replica is catching up); a non-retriable one means the request
 * itself must change.
 *
 * @example
 * ```ts
 * import { ERROR_CODES, StromError } from "@strom/client";
 * const err = new StromError("UNKNOWN_TOPIC_OR_PARTITION", "topic 'orders' does not exist");
 * console.log(err.retriable, ERROR_CODES.UNKNOWN_TOPIC_OR_PARTITION.httpStatus); // false 404
 * ```
 *
 * @module
 */

/** What a code means on the wire and to a retry loop. */
export interface ErrorCodeInfo {
  readonly httpStatus: number;
  readonly retriable: boolean;
}

/** Every error code Strom answers with. */
export const ERROR_CODES = {
  // Request shape and validation: the caller must fix the request.
  INVALID_REQUEST: { httpStatus: 400, retriable: false },
  INVALID_CONFIG: { httpStatus: 400, retriable: false },
  CORRUPT_MESSAGE: { httpStatus: 400, retriable: false },
  INVALID_TOPIC_EXCEPTION: { httpStatus: 400, retriable: false },
  INVALID_PARTITIONS: { httpStatus: 400, retriable: false },
  INVALID_REPLICATION_FACTOR: { httpStatus: 400, retriable: false },
  INVALID_RECORD: { httpStatus: 400, retriable: false },
  MESSAGE_TOO_LARGE: { httpStatus: 413, retriable: false },
  RECORD_LIST_TOO_LARGE: { httpStatus: 413, retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retriable: false },
  NOT_FOUND: { httpStatus: 404, retriable: false },
  METHOD_NOT_ALLOWED: { httpStatus: 405, retriable: false },
  UNAUTHENTICATED: { httpStatus: 401, retriable: false },
  // Cluster state: usually resolves itself.
  UNKNOWN_TOPIC_OR_PARTITION: { httpStatus: 404, retriable: false },
  TOPIC_ALREADY_EXISTS: { httpStatus: 409, retriable: false },
  OFFSET_OUT_OF_RANGE: { httpStatus: 416, retriable: false },
  NOT_LEADER_OR_FOLLOWER: { httpStatus: 421, retriable: true },
  FENCED_LEADER_EPOCH: { httpStatus: 409, retriable: true },
  NOT_CONTROLLER: { httpStatus: 421, retriable: true },
  NOT_ENOUGH_REPLICAS: { httpStatus: 503, retriable: true },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { httpStatus: 503, retriable: true },
  LEADER_NOT_AVAILABLE: { httpStatus: 503, retriable: true },
  REQUEST_TIMED_OUT: { httpStatus: 504, retriable: true },
  NOT_READY: { httpStatus: 503, retriable: true },
  STALE_BROKER_EPOCH: { httpStatus: 409, retriable: false },
  BROKER_ID_NOT_REGISTERED: { httpStatus: 409, retriable: false },
  DUPLICATE_BROKER_REGISTRATION: { httpStatus: 409, retriable: false },
  INVALID_UPDATE_VERSION: { httpStatus: 409, retriable: false },
  INCONSISTENT_VOTER_SET: { httpStatus: 409, retriable: false },
  DUPLICATE_VOTER: { httpStatus: 409, retriable: false },
  VOTER_NOT_FOUND: { httpStatus: 404, retriable: false },
  INELIGIBLE_REPLICA: { httpStatus: 409, retriable: false },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { httpStatus: 409, retriable: false },
  INVALID_PRODUCER_EPOCH: { httpStatus: 409, retriable: false },
  KAFKA_STORAGE_ERROR: { httpStatus: 500, retriable: true },
  SHUTTING_DOWN: { httpStatus: 503, retriable: true },
  NETWORK_EXCEPTION: { httpStatus: 502, retriable: true },
  // Consumer groups (KIP-848): the member rejoins or the caller changes the request.
  NOT_COORDINATOR: { httpStatus: 421, retriable: true },
  COORDINATOR_NOT_AVAILABLE: { httpStatus: 503, retriable: true },
  COORDINATOR_LOAD_IN_PROGRESS: { httpStatus: 503, retriable: true },
  INVALID_GROUP_ID: { httpStatus: 400, retriable: false },
  GROUP_ID_NOT_FOUND: { httpStatus: 404, retriable: false },
  NON_EMPTY_GROUP: { httpStatus: 409, retriable: false },
  UNKNOWN_MEMBER_ID: { httpStatus: 404, retriable: false },
  FENCED_MEMBER_EPOCH: { httpStatus: 409, retriable: false },
  STALE_MEMBER_EPOCH: { httpStatus: 409, retriable: false },
  GROUP_MAX_SIZE_REACHED: { httpStatus: 409, retriable: false },
  UNSUPPORTED_ASSIGNOR: { httpStatus: 400, retriable: false },
  INVALID_REGULAR_EXPRESSION: { httpStatus: 400, retriable: false },
  INVALID_COMMIT_OFFSET_SIZE: { httpStatus: 400, retriable: false },
  OFFSET_METADATA_TOO_LARGE: { httpStatus: 400, retriable: false },
  // No Kafka equivalent: one coordinator partition holds its maximum of groups.
  TOO_MANY_GROUPS: { httpStatus: 503, retriable: false },
  UNKNOWN_SERVER_ERROR: { httpStatus: 500, retriable: false },
  // Raised by the client itself, never answered by a broker.
  BUFFER_EXHAUSTED: { httpStatus: 503, retriable: true },
  CLIENT_CLOSED: { httpStatus: 400, retriable: false },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A stable error code: one of the keys of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Where the right broker for a request is, when the answering one is not it. */
export interface LeaderHint {
  readonly id: number;
  readonly url: string;
}

/** The JSON body of every error answer: `{"error": {...}}`. */
export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly leader?: LeaderHint;
    readonly details?: Record<string, unknown>;
  };
}

/** Whether `code` is a known Strom error code. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/**
 * An error with a stable code, a message that says what to do, and
 * optionally the current leader.
 *
 * @example
 * ```ts
 * import { StromError } from "@strom/client";
 * try {
 *   throw new StromError("NOT_LEADER_OR_FOLLOWER", "broker 2 leads orders-0", {
 *     leader: { id: 2, url: "http://127.0.0.1:9093" },
 *   });
 * } catch (e) {
 *   if (e instanceof StromError && e.retriable) console.log("retry at", e.leader?.url);
 * }
 * ```
 */
export class StromError extends Error {
  readonly code: ErrorCode;
  readonly leader: LeaderHint | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { leader?: LeaderHint; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StromError";
    this.code = code;
    this.leader = options.leader;
    this.details = options.details;
  }

  /** Whether the same request may succeed later. */
  get retriable(): boolean {
    return ERROR_CODES[this.code].retriable;
  }

  /** The HTTP status a broker answers this error with. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  /** The wire form of this error. */
  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.leader ? { leader: this.leader } : {}),
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }

  /** Rebuilds an error from a wire body; unknown shapes become UNKNOWN_SERVER_ERROR. */
  static fromBody(body: unknown, httpStatus: number): StromError {
    const e = (body as { error?: Record<string, unknown> } | null)?.error;
    if (e && isErrorCode(e.code) && typeof e.message === "string") {
      const leader = e.leader as LeaderHint | undefined;
      const details = e.details as Record<string, unknown> | undefined;
      return new StromError(e.code, e.message, {
        ...(leader ? { leader } : {}),
        ...(details ? { details } : {}),
      });
    }
    return new StromError(
      "UNKNOWN_SERVER_ERROR",
      `broker answered HTTP ${httpStatus} without a Strom error body`,
    );
  }
}
