/**
 * Limits and defaults of the replica manager (the shell around the replica
 * cores), in one place (STYLE 8). Every queue, waiter set and batch of work
 * has a named maximum here, checked where items are added.
 *
 * @module
 */

/**
 * Default `replica.lag.time.max.ms` of the broker. Kafka's is 30,000 ms (10,000
 * before 2.5); the local cluster runs three processes on one machine where a
 * follower long-polls every {@link REPLICA_FETCH_WAIT_MS} ms, so 5,000 ms is
 * ten missed fetch rounds: long enough to ride out a GC pause or a slow
 * fsync, short enough that acks=all writes stall at most ~5 s when a follower
 * hangs.
 */
export const REPLICA_LAG_TIME_MS_MAX_DEFAULT = 5_000;

/**
 * Most partition replicas one broker hosts; more are refused (logged) instead
 * of opened. Issue 10's 10,000-partition topic puts 10,000 on each broker of
 * a 3-node cluster: room is left for other topics (and `__consumer_offsets`).
 * Each replica keeps one file open (its active segment).
 */
export const REPLICAS_PER_BROKER_MAX = 12_000;

/** Logs opened at once during reconciliation (start-up recovery scans CRCs; keep the loop live). */
export const LOG_OPENS_CONCURRENT_MAX = 16;

/**
 * Replicas closed, snapshotted, diagnosed or given a new state at once: each
 * may open files beside its log's own handle (one per replica), so 10,000 at
 * once would run out of file descriptors.
 */
export const REPLICA_FILE_OPS_CONCURRENT_MAX = 64;

/** Segments with open files across all logs of the broker (one shared segment cache). */
export const OPEN_SEGMENT_FILES_MAX = 256;

/** Operations (appends, follower writes, role changes) queued per partition. */
export const PARTITION_QUEUE_MAX = 1_000;

/** How long a follower fetch long-polls on the leader. */
export const REPLICA_FETCH_WAIT_MS = 500;

/**
 * How long a follower fetch of only idle ("cold") partitions long-polls. The
 * leader answers at once when one of them gets records, changes leader or
 * changes its ISR, so this only sets how often idle partitions are asked for
 * again. With 10,000 partitions, asking every 500 ms cost each broker about a
 * tenth of a core; every 2 s, a JS heap that swung between its live size and
 * about three times that, from the garbage of the parked fetches (each
 * partition's entry in a parked request lives as long as the wait, long
 * enough to be promoted out of the young generation): an idle broker's RSS was
 * 266–357 MiB at 2 s, 192–231 MiB at 8 s. A follower outside the ISR fetches in
 * the short-wait rounds instead (replica_fetcher.ts), so the wait does not
 * delay its return.
 */
export const REPLICA_FETCH_COLD_WAIT_MS = 10_000;

/**
 * How soon a parked follower fetch is answered when only the high watermark
 * moved (no new records): followers learn the HW at most this late when the
 * partition goes quiet, and with the next records' answer under load.
 */
export const FOLLOWER_HW_PROPAGATION_DELAY_MS = 20;

/** Partitions in one follower fetch request (more go in other requests, in flight at once). */
export const REPLICA_FETCH_PARTITIONS_MAX = 1_000;

/**
 * Follower fetch requests one fetcher keeps in flight to its leader: enough
 * for {@link REPLICAS_PER_BROKER_MAX} partitions in full requests, plus room
 * for the rounds of busy ("hot") partitions.
 */
export const REPLICA_FETCH_ROUNDS_MAX = 32;

/** Of those, the rounds of partitions with recent records ("hot", see replica_fetcher.ts). */
export const REPLICA_FETCH_HOT_ROUNDS_MAX = 12;

/** Bytes of batches one partition contributes to a follower fetch (first batch always whole). */
export const REPLICA_FETCH_PARTITION_BYTES_MAX = 1024 * 1024;

/** Bytes of batches in one follower fetch response. */
export const REPLICA_FETCH_RESPONSE_BYTES_MAX = 16 * 1024 * 1024;

/** Follower fetch requests the leader lets long-poll at once; past it they answer at once. */
export const REPLICA_FETCH_WAITERS_MAX = 1_000;

/**
 * Longest a produce request waits for the batch before its own (an
 * idempotent batch that starts past its producer's next sequence) before it
 * is refused with OUT_OF_ORDER_SEQUENCE_NUMBER. A producer's in-flight
 * requests to one partition travel as concurrent HTTP/2 streams, and a later
 * one can reach the partition first (Kafka's broker reads a connection's
 * requests in order, so it never sees this). Refusing it made the producer
 * back off and re-send: at 85,000 records/s a few times a run, each a
 * 100–190 ms stall of that partition. Long enough for a retried earlier
 * batch to arrive after the producer's first backoff (100 ms).
 */
export const SEQUENCE_GAP_WAIT_MS_MAX = 500;

/** Produce requests per partition waiting for an earlier batch; past it they are refused at once. */
export const SEQUENCE_GAP_WAITERS_MAX = 64;

/** Pause after a failed follower fetch (transport error or retriable partition error). */
export const REPLICA_FETCH_BACKOFF_MS = 100;

/** Deadline of a follower fetch over the network, beyond its long-poll wait. */
export const REPLICA_FETCH_TIMEOUT_MARGIN_MS = 2_000;

/** Period of the manager's tick: ISR lag checks, purgatory deadlines, AlterPartition retries. */
export const REPLICA_TICK_MS = 50;

/** How often high watermarks (and producer state snapshots) are checkpointed (Kafka: 5 s). */
export const HW_CHECKPOINT_INTERVAL_MS = 5_000;

/** How often every log deletes segments past its retention (Kafka's `log.retention.check.interval.ms`). */
export const RETENTION_CHECK_INTERVAL_MS = 300_000;

/** Deadline of one AlterPartition call to the controller. */
export const ALTER_PARTITION_TIMEOUT_MS = 5_000;

/**
 * Partitions in one AlterPartition request (at most the controller's
 * `ALTER_PARTITIONS_ITEMS_MAX`; ~100 bytes each, well inside a request body).
 */
export const ALTER_PARTITION_BATCH_MAX = 2_000;

/** ISR changes waiting for the next AlterPartition request; more are refused (NOT_READY). */
export const ALTER_PARTITION_QUEUE_MAX = 2 * REPLICAS_PER_BROKER_MAX;

/** Bytes read at a time when checksumming or replaying a log. */
export const LOG_SCAN_CHUNK_BYTES = 1024 * 1024;

/** Name of the high watermark checkpoint file in the data directory (Kafka's name). */
export const HW_CHECKPOINT_FILE = "replication-offset-checkpoint";

/** Name of the producer state snapshot in a partition directory. */
export const PRODUCER_SNAPSHOT_FILE = "producer-state.snapshot";
