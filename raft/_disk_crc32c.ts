/**
 * The checksum of every record the file storage writes: CRC-32C.
 *
 * Re-exported from `@strom/client`'s CRC-32C (native for large inputs, slicing-by-8
 * for small ones) so that Strom has one CRC-32C, the one Kafka batches use. This
 * is the only dependency of `@strom/raft` on another Strom package.
 *
 * @module
 */

export { crc32c } from "@strom/client";
