/**
 * The partition log settings of a topic: Kafka's topic config keys (as the
 * metadata image stores them) turned into {@link LogConfig} fields.
 *
 * @module
 */

import { type LogConfig, resolveLogConfig } from "../storage/config.ts";
import type { TopicConfig } from "../metadata/topic_configs.ts";
import { effectiveTopicConfig } from "../metadata/topic_configs.ts";

/**
 * Kafka counts `max.message.bytes` without the 12-byte log overhead (base
 * offset and length) of a batch; the log compares whole batches.
 */
const LOG_OVERHEAD_BYTES = 12;

/** The log config for a topic's explicit settings (defaults filled in). */
export function logConfigForTopic(explicit: Readonly<Record<string, string>>): Partial<LogConfig> {
  return logConfigFrom(effectiveTopicConfig(explicit));
}

/** The log config for a resolved topic config. */
export function logConfigFrom(t: TopicConfig): Partial<LogConfig> {
  const policy = t.cleanupPolicy.includes("compact")
    ? (t.cleanupPolicy.includes("delete") ? "compact,delete" : "compact")
    : "delete";
  return {
    segmentBytesMax: t.segmentBytes,
    segmentAgeMsMax: t.segmentMs,
    retentionMs: t.retentionMs,
    retentionBytes: t.retentionBytes,
    cleanupPolicy: policy,
    deleteRetentionMs: t.deleteRetentionMs,
    maxMessageBytes: t.maxMessageBytes + LOG_OVERHEAD_BYTES,
    flushIntervalMessages: t.flushMessages ?? Infinity,
    flushIntervalMs: t.flushMs ?? Infinity,
  };
}

/** A topic's configs in the two forms its replicas use. */
export interface ResolvedTopicConfigs {
  /** For the partition logs (resolved and frozen). */
  readonly log: LogConfig;
  readonly topic: TopicConfig;
}

/**
 * The resolved configs of each topic, shared by all of its partitions. With
 * 10,000 partitions on a broker, a copy of both per replica was ~500 bytes of
 * heap each, and every metadata change resolved them all again. Keyed by the
 * metadata image's configs object, which the image replaces (never edits)
 * when a topic's configs change, so an entry can never go stale.
 */
export class TopicConfigsMemo {
  readonly #byExplicit = new WeakMap<object, ResolvedTopicConfigs>();

  /**
   * The resolved configs for a topic's explicit settings.
   *
   * @throws {StromError} INVALID_CONFIG if the settings make an invalid log config.
   */
  get(explicit: Readonly<Record<string, string>>): ResolvedTopicConfigs {
    let resolved = this.#byExplicit.get(explicit);
    if (resolved === undefined) {
      const topic = effectiveTopicConfig(explicit);
      resolved = { log: resolveLogConfig(logConfigFrom(topic)), topic };
      this.#byExplicit.set(explicit, resolved);
    }
    return resolved;
  }
}
