/**
 * The partition log settings of a topic: Kafka's topic config keys (as the
 * metadata image stores them) turned into {@link LogConfig} fields.
 *
 * @module
 */

import type { LogConfig } from "../storage/config.ts";
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
