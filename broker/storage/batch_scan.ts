/**
 * Walks the batches of a segment file in large reads, using the codec's
 * header parser. Recovery uses it with CRC checks to find where a torn or
 * corrupt tail begins; lookups use it without, reading headers only.
 *
 * @module
 */

import {
  BATCH_HEADER_BYTES,
  type BatchHeader,
  batchSizeBytes,
  CorruptBatchError,
  readBatchHeader,
} from "@strom/client";
import { verifyBatchCrcFast } from "./batch_crc.ts";
import { type DiskFile, readExactly } from "./disk.ts";

/** Bytes read per step while scanning. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

/** One batch seen by the scan. */
export interface ScannedBatch {
  /** Where the batch starts in the file. */
  readonly position: number;
  readonly header: BatchHeader;
  /** Whole batch size in bytes. */
  readonly sizeBytes: number;
  /** Offset of the batch's last record. */
  readonly lastOffset: number;
}

/**
 * What a visitor answers: nothing to go on, "stop" to end the scan here (the
 * batch is not consumed), or a reason to treat the batch as corrupt.
 */
export type VisitVerdict = void | "stop" | { corrupt: string };

/** How a scan ended. */
export interface ScanResult {
  /** Position after the last batch accepted: the valid length when scanning to the end. */
  readonly endPosition: number;
  /** Why the scan stopped before `endPosition` of the request, if it hit bad bytes. */
  readonly corruption?: string;
}

/** Options of {@link scanBatches}. */
export interface ScanOptions {
  readonly startPosition: number;
  /** Scan up to here (exclusive): the file's logical size. */
  readonly endPosition: number;
  /** Verify each batch's CRC (reads whole batches) or read headers only. */
  readonly verifyCrc: boolean;
  readonly chunkBytes?: number;
}

/**
 * Calls `visit` for each whole, valid batch from `startPosition`, stopping at
 * the first torn or invalid one (reported as `corruption`, not thrown).
 */
export async function scanBatches(
  file: DiskFile,
  options: ScanOptions,
  visit: (batch: ScannedBatch, bytes: Uint8Array | undefined) => VisitVerdict,
): Promise<ScanResult> {
  const chunkBytes = options.chunkBytes ?? SCAN_CHUNK_BYTES;
  const end = options.endPosition;
  let position = options.startPosition;
  let chunk: Uint8Array = new Uint8Array(0);
  let chunkStart = position;
  while (position < end) {
    if (end - position < BATCH_HEADER_BYTES) {
      return {
        endPosition: position,
        corruption: `torn batch header: ${end - position} bytes at ${position}`,
      };
    }
    if (position + BATCH_HEADER_BYTES > chunkStart + chunk.length || position < chunkStart) {
      chunk = await readExactly(file, position, Math.min(chunkBytes, end - position));
      chunkStart = position;
      if (chunk.length < BATCH_HEADER_BYTES) {
        return {
          endPosition: position,
          corruption: `file ends inside a batch header at ${position}`,
        };
      }
    }
    let header: BatchHeader;
    try {
      header = readBatchHeader(chunk, position - chunkStart);
    } catch (error) {
      return { endPosition: position, corruption: describe(error, position) };
    }
    const sizeBytes = batchSizeBytes(header);
    if (position + sizeBytes > end) {
      return {
        endPosition: position,
        corruption: `torn batch at ${position}: needs ${sizeBytes} bytes, ${end - position} remain`,
      };
    }
    let bytes: Uint8Array | undefined;
    if (options.verifyCrc) {
      const inChunk = position + sizeBytes <= chunkStart + chunk.length;
      bytes = inChunk
        ? chunk.subarray(position - chunkStart, position - chunkStart + sizeBytes)
        : await readExactly(file, position, sizeBytes);
      if (bytes.length < sizeBytes) {
        return { endPosition: position, corruption: `file ends inside the batch at ${position}` };
      }
      try {
        verifyBatchCrcFast(bytes);
      } catch (error) {
        return { endPosition: position, corruption: describe(error, position) };
      }
    }
    const batch = {
      position,
      header,
      sizeBytes,
      lastOffset: header.baseOffset + header.lastOffsetDelta,
    };
    const verdict = visit(batch, bytes);
    if (verdict === "stop") return { endPosition: position };
    if (verdict) {
      return { endPosition: position, corruption: `batch at ${position}: ${verdict.corrupt}` };
    }
    position += sizeBytes;
  }
  return { endPosition: position };
}

function describe(error: unknown, position: number): string {
  if (error instanceof CorruptBatchError) return `invalid batch at ${position}: ${error.message}`;
  throw error;
}
