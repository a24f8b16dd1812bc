/**
 * Limits and defaults of the group coordinator, in one place (STYLE 8):
 * every table the coordinator grows has a named maximum here, checked where
 * items are added.
 *
 * @module
 */

/** Settings of one coordinator (one `__consumer_offsets` partition). */
export interface GroupCoordinatorConfig {
  /** A member silent this long is removed and its partitions are released. */
  readonly sessionTimeoutMs: number;
  /** How often members are told to heartbeat. */
  readonly heartbeatIntervalMs: number;
  /**
   * Committed offsets of an empty group are deleted this long after the
   * group emptied or the offset was committed, whichever is later (KIP-211).
   */
  readonly offsetsRetentionMs: number;
  /** Used when no member names a server assignor. */
  readonly defaultAssignor: AssignorName;
}

/** The server-side assignors (Kafka's `uniform` and `range`). */
export type AssignorName = "uniform" | "range";

/** Every assignor the coordinator knows, in order of preference on ties. */
export const ASSIGNOR_NAMES: readonly AssignorName[] = ["uniform", "range"];

/**
 * Defaults. Kafka's KIP-848 defaults are a 45 s session and a 5 s heartbeat,
 * sized for large deployments; Strom's local clusters want a killed consumer's
 * partitions to move within seconds, so the session is 10 s and members
 * heartbeat every second (ten missed heartbeats before removal).
 */
export const DEFAULT_GROUP_COORDINATOR_CONFIG: GroupCoordinatorConfig = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  offsetsRetentionMs: 7 * 24 * 3_600_000,
  defaultAssignor: "uniform",
};

/** Most groups one coordinator partition holds (new ones get TOO_MANY_GROUPS). */
export const GROUPS_MAX = 10_000;
/** Most members one group holds (Kafka's `group.consumer.max.size`). */
export const MEMBERS_PER_GROUP_MAX = 1_000;
/** Most topic names one member may subscribe to. */
export const SUBSCRIBED_TOPICS_MAX = 1_000;
/** Most partitions one group's subscriptions may cover (bounds assignor work). */
export const PARTITIONS_PER_GROUP_MAX = 100_000;
/** Longest subscription regex, in characters. */
export const SUBSCRIPTION_REGEX_LENGTH_MAX = 1_000;
/** Compiled subscription regexes the coordinator caches. */
export const REGEX_CACHE_MAX = 1_000;
/** Longest group id, member id, instance id, rack id or client id, in characters. */
export const ID_LENGTH_MAX = 255;
/** Most partitions one offset commit (or reset) may carry. */
export const OFFSETS_PER_COMMIT_MAX = 10_000;
/** Most committed partitions one group keeps. */
export const OFFSETS_PER_GROUP_MAX = 100_000;
/** Longest metadata string of a committed offset (Kafka's `offset.metadata.max.bytes`). */
export const OFFSET_METADATA_CHARS_MAX = 4_096;
/** Most records one periodic operation (member or offset expiry) writes; the rest wait. */
export const RECORDS_PER_OPERATION_MAX = 5_000;
/** Longest a member may take to revoke partitions before it is removed. */
export const REBALANCE_TIMEOUT_MS_MAX = 10 * 60_000;
/** Used when a member does not say how long it needs to revoke (Kafka's max.poll.interval.ms). */
export const REBALANCE_TIMEOUT_MS_DEFAULT = 300_000;
