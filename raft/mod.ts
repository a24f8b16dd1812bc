/**
 * `@strom/raft`: a Raft consensus library for Deno with a pure core.
 *
 * The core ({@link RawNode}) performs no I/O. Time enters as `tick()`,
 * randomness through an injected {@link Prng}, messages through `step()`, and
 * work leaves as a {@link Ready} that the driver persists, sends and applies
 * before calling `advance()`. Storage implements {@link DurableRaftStorage}
 * ({@link MemoryStorage} here); transports carry messages encoded with
 * {@link encodeMessages} / {@link decodeMessages}.
 *
 * @example
 * ```ts
 * import { createPrng, MemoryStorage, RawNode } from "@strom/raft";
 * const storage = new MemoryStorage({ config: { voters: [1], learners: [] } });
 * const node = new RawNode({ id: 1, random: createPrng(1) }, storage);
 * node.campaign();
 * const drive = () => {
 *   while (node.hasReady()) {
 *     const rd = node.ready();
 *     storage.saveSync({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
 *     node.advance();
 *   }
 * };
 * drive();
 * node.propose(new TextEncoder().encode("hello"));
 * drive();
 * if (node.status().commit !== 2) throw new Error("the proposal should be committed");
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./storage.ts";
export * from "./errors.ts";
export * from "./prng.ts";
export * from "./message.ts";
export {
  decodeMessages,
  encodeMessages,
  MESSAGE_CODEC_VERSION,
  MESSAGES_PER_BATCH_MAX,
} from "./message_codec.ts";
export * from "./config_change.ts";
export * from "./config.ts";
export * from "./quorum.ts";
export * from "./progress.ts";
export * from "./raft_log.ts";
export type { ProposeResult, ReadState, Role } from "./raft.ts";
export * from "./raw_node.ts";
export * from "./memory_storage.ts";
