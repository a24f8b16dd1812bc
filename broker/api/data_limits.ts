/**
 * Named maxima and defaults of the data-path routes, in one place. The wire
 * contract (`./README.md`) states the same numbers.
 *
 * @module
 */

/**
 * Largest produce request body, JSON or binary. Well above a topic's
 * `max.message.bytes` (1 MiB by default), so that several maximal batches fit
 * in one request, and equal to the codec's hard batch ceiling. The replica
 * manager still checks every batch against the topic's own limit.
 */
export const PRODUCE_REQUEST_BYTES_MAX = 64 * 1024 * 1024;

/** Most records one JSON produce request may carry. */
export const PRODUCE_JSON_RECORDS_MAX = 100_000;

/** How long acks=all waits for the high watermark when the request does not say. */
export const PRODUCE_TIMEOUT_MS_DEFAULT = 30_000;

/** Longest `timeoutMs` a produce request may ask for. */
export const PRODUCE_TIMEOUT_MS_MAX = 300_000;

/** A fetch's byte budget when the request does not say. */
export const FETCH_BYTES_DEFAULT = 1024 * 1024;

/** Largest `maxBytes` a fetch may ask for. */
export const FETCH_BYTES_MAX = 64 * 1024 * 1024;

/** A fetch's long-poll when the request does not say. */
export const FETCH_WAIT_MS_DEFAULT = 500;

/** Longest `maxWaitMs` a fetch may ask for. */
export const FETCH_WAIT_MS_MAX = 30_000;

/**
 * Extra time a forwarding broker gives the partition leader beyond the
 * produce `timeoutMs`, so the leader's own REQUEST_TIMED_OUT (with its
 * "outcome unknown" detail) arrives before the forwarder gives up.
 */
export const FORWARD_TIMEOUT_MARGIN_MS = 5_000;

/** Media type of raw record batch bodies. */
export const BATCH_MEDIA_TYPE = "application/vnd.strom.batch";
