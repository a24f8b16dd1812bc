/**
 * Limits and defaults of the replica-state cores, in one place (STYLE 8):
 * every queue, purgatory and per-partition table has a named maximum here,
 * and the code checks it where items are added.
 *
 * @module
 */

/**
 * How long a follower may go without catching up before the leader asks the
 * controller to drop it from the ISR.
 *
 * Kafka's default is 30,000 ms, sized for WAN-ish clusters and long GC
 * pauses. Strom's default cluster runs three processes on one machine or a
 * LAN, where a follower long-polls the leader with a fetch wait of a few
 * hundred milliseconds: 3,000 ms is several missed fetch rounds, long enough
 * to ride out a slow disk flush, and short enough that acks=all produce
 * requests stall for at most ~3 s when a follower dies (instead of 30 s).
 */
export const REPLICA_LAG_TIME_MS_MAX_DEFAULT = 3_000;

/** Kafka's `min.insync.replicas` default. */
export const MIN_INSYNC_REPLICAS_DEFAULT = 1;

/** Most acks=all produce requests one partition's purgatory holds at once. */
export const PRODUCE_PURGATORY_REQUESTS_MAX = 1_000;

/** Most bytes of record batches one partition's produce purgatory holds at once. */
export const PRODUCE_PURGATORY_BYTES_MAX = 64 * 1024 * 1024;

/** Most long-poll fetches (consumers and followers) one partition's fetch purgatory holds. */
export const FETCH_PURGATORY_REQUESTS_MAX = 1_000;

/** Longest a fetch may wait in the purgatory, whatever it asks for. */
export const FETCH_WAIT_MS_MAX = 30_000;

/** Batches remembered per producer id for duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN). */
export const PRODUCER_BATCHES_RETAINED = 5;

/**
 * Most producer ids tracked per partition. Past it, the least recently
 * written producer is forgotten; if it comes back it is treated as unknown
 * (any sequence is accepted, see producer_state.ts).
 */
export const PRODUCERS_PER_PARTITION_MAX = 10_000;

/** Kafka's `producer.id.expiration.ms` default (one day). */
export const PRODUCER_ID_EXPIRATION_MS_DEFAULT = 86_400_000;

/** Largest sequence number; the next one after it is 0 (Kafka wraps at Int32 max). */
export const SEQUENCE_MAX = 2_147_483_647;
