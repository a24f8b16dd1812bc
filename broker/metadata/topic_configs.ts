/**
 * Per-topic configuration: the keys Strom knows, their defaults and their
 * validation. Names and defaults follow Kafka's topic configs, so settings
 * from Kafka tutorials carry over. Only explicitly set keys are stored in the
 * metadata image; {@link effectiveTopicConfig} fills in the defaults.
 *
 * @module
 */

/** The typed configuration a topic runs with. */
export interface TopicConfig {
  readonly cleanupPolicy: readonly ("delete" | "compact")[];
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly segmentBytes: number;
  readonly segmentMs: number;
  readonly maxMessageBytes: number;
  readonly minInsyncReplicas: number;
  readonly uncleanLeaderElectionEnable: boolean;
  readonly deleteRetentionMs: number;
  /** fsync after this many messages; `null` = leave flushing to the OS (rely on replication). */
  readonly flushMessages: number | null;
  /** fsync at least this often; `null` = leave flushing to the OS. */
  readonly flushMs: number | null;
  readonly messageTimestampType: "CreateTime" | "LogAppendTime";
}

interface KeySpec {
  readonly default: string | null;
  /** Returns an error message, or null when the value is fine. */
  readonly check: (value: string) => string | null;
}

const DAY_MS = 86_400_000;

function longAtLeast(min: number): (v: string) => string | null {
  return (v) =>
    /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) && Number(v) >= min
      ? null
      : `must be an integer ≥ ${min}`;
}

/** Every topic config key Strom accepts. */
export const TOPIC_CONFIG_KEYS: Readonly<Record<string, KeySpec>> = {
  "cleanup.policy": {
    default: "delete",
    check: (v) =>
      /^(delete|compact)(,(delete|compact))?$/.test(v.replaceAll(" ", ""))
        ? null
        : `must be "delete", "compact" or "compact,delete"`,
  },
  "retention.ms": { default: String(7 * DAY_MS), check: longAtLeast(-1) },
  "retention.bytes": { default: "-1", check: longAtLeast(-1) },
  "segment.bytes": { default: String(1024 * 1024 * 1024), check: longAtLeast(1024) },
  "segment.ms": { default: String(7 * DAY_MS), check: longAtLeast(1) },
  "max.message.bytes": { default: String(1024 * 1024), check: longAtLeast(0) },
  "min.insync.replicas": { default: "2", check: longAtLeast(1) },
  "unclean.leader.election.enable": {
    default: "false",
    check: (v) => (v === "true" || v === "false" ? null : `must be "true" or "false"`),
  },
  "delete.retention.ms": { default: String(DAY_MS), check: longAtLeast(0) },
  "flush.messages": { default: null, check: longAtLeast(1) },
  "flush.ms": { default: null, check: longAtLeast(0) },
  "message.timestamp.type": {
    default: "CreateTime",
    check: (v) =>
      v === "CreateTime" || v === "LogAppendTime" ? null : `must be CreateTime or LogAppendTime`,
  },
};

/** One message per bad key or value; empty when all are fine. */
export function validateTopicConfigs(configs: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(configs)) {
    const spec = TOPIC_CONFIG_KEYS[key];
    if (!spec) {
      problems.push(
        `unknown topic config "${key}" (known: ${Object.keys(TOPIC_CONFIG_KEYS).join(", ")})`,
      );
      continue;
    }
    if (value === null) continue; // removal
    if (typeof value !== "string") {
      problems.push(`topic config "${key}" must be given as a string (got ${typeof value})`);
      continue;
    }
    const why = spec.check(value);
    if (why) problems.push(`topic config "${key}" ${why} (got ${JSON.stringify(value)})`);
  }
  return problems;
}

/** The configuration a topic runs with: its explicit settings over the defaults. */
export function effectiveTopicConfig(explicit: Readonly<Record<string, string>>): TopicConfig {
  const get = (key: string): string | null => explicit[key] ?? TOPIC_CONFIG_KEYS[key].default;
  const num = (key: string): number => Number(get(key));
  const optionalNum = (key: string): number | null => {
    const v = get(key);
    return v === null ? null : Number(v);
  };
  return {
    cleanupPolicy: get("cleanup.policy")!.replaceAll(" ", "").split(",") as (
      | "delete"
      | "compact"
    )[],
    retentionMs: num("retention.ms"),
    retentionBytes: num("retention.bytes"),
    segmentBytes: num("segment.bytes"),
    segmentMs: num("segment.ms"),
    maxMessageBytes: num("max.message.bytes"),
    minInsyncReplicas: num("min.insync.replicas"),
    uncleanLeaderElectionEnable: get("unclean.leader.election.enable") === "true",
    deleteRetentionMs: num("delete.retention.ms"),
    flushMessages: optionalNum("flush.messages"),
    flushMs: optionalNum("flush.ms"),
    messageTimestampType: get("message.timestamp.type") as TopicConfig["messageTimestampType"],
  };
}
