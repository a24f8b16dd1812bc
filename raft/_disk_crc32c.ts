/**
 * The checksum of every record the file storage writes: CRC-32C.
 *
 * Re-exported from the record-batch codec's slicing-by-8 implementation so that
 * Strom has one CRC-32C (the same one Kafka batches use), measured there to be
 * several times faster than the byte-at-a-time npm packages. This is the only
 * place `raft/` reaches into another package; if `@strom/raft` is published on
 * its own, copy that one function here.
 *
 * @module
 */

export { crc32c } from "../client/record_batch/crc32c.ts";
