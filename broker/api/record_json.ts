/**
 * The JSON form of records, both ways: a JSON produce body becomes the
 * inputs of one record batch, and decoded batches become the JSON records a
 * fetch answers. Keys, values and header values are UTF-8 text or, with
 * `encoding: "base64"`, base64 of the raw bytes; header keys are always text.
 *
 * @module
 */

import { encodeRecordBatchSync, isControl, StromError } from "@strom/client";
import type { DecodedRecordBatch, RecordHeader, RecordInput } from "@strom/client";
import { PRODUCE_JSON_RECORDS_MAX } from "./data_limits.ts";

/** How keys, values and header values are written in JSON. */
export type RecordEncoding = "utf8" | "base64";

/** A record from a JSON produce body, ready to encode, with its explicit partition if any. */
export interface ParsedRecord extends RecordInput {
  readonly partition?: number;
}

/** One record as a JSON fetch answers it. */
export interface JsonRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: { key: string; value: string | null }[];
}

const UTF8 = new TextEncoder();
const UTF8_LENIENT = new TextDecoder("utf-8");

/** Parses an `encoding` field or query parameter (absent means utf8). */
export function parseEncoding(raw: unknown, where: string): RecordEncoding {
  if (raw === undefined || raw === null || raw === "utf8") return "utf8";
  if (raw === "base64") return "base64";
  throw invalid(`${where} must be "utf8" or "base64", not ${JSON.stringify(raw)}`);
}

/**
 * Validates a JSON produce body `{"records": [...], "encoding"?}` and turns
 * it into record inputs. `partition` is accepted only when `allowPartition`
 * (topic-level produce). Throws INVALID_REQUEST naming the offending field.
 */
export function parseProduceBody(
  body: unknown,
  options: { allowPartition: boolean },
): ParsedRecord[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid(`the body must be a JSON object {"records": [...]}`);
  }
  const { records, encoding: rawEncoding } = body as Record<string, unknown>;
  const encoding = parseEncoding(rawEncoding, `"encoding"`);
  if (!Array.isArray(records) || records.length === 0) {
    throw invalid(`"records" must be a non-empty list of {"key"?, "value", "headers"?}`);
  }
  if (records.length > PRODUCE_JSON_RECORDS_MAX) {
    throw new StromError(
      "RECORD_LIST_TOO_LARGE",
      `${records.length} records in one request; at most ${PRODUCE_JSON_RECORDS_MAX} are accepted`,
    );
  }
  return records.map((r, i) => parseRecord(r, `records[${i}]`, encoding, options.allowPartition));
}

function parseRecord(
  raw: unknown,
  where: string,
  encoding: RecordEncoding,
  allowPartition: boolean,
): ParsedRecord {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalid(`${where} must be an object {"key"?, "value", "headers"?}`);
  }
  const r = raw as Record<string, unknown>;
  if (!("value" in r)) throw invalid(`${where} has no "value" (use null for a tombstone)`);
  const record: { -readonly [K in keyof ParsedRecord]: ParsedRecord[K] } = {
    key: r.key === undefined ? null : bytesOf(r.key, `${where}.key`, encoding),
    value: bytesOf(r.value, `${where}.value`, encoding),
  };
  if (r.headers !== undefined) record.headers = parseHeaders(r.headers, where, encoding);
  if (r.timestamp !== undefined) {
    if (!Number.isSafeInteger(r.timestamp) || (r.timestamp as number) < 0) {
      throw invalid(`${where}.timestamp must be milliseconds since the epoch (an integer ≥ 0)`);
    }
    record.timestamp = r.timestamp as number;
  }
  if (r.partition !== undefined) {
    if (!allowPartition) {
      throw invalid(`${where}.partition is only accepted by POST /v1/topics/{topic}/records`);
    }
    if (!Number.isSafeInteger(r.partition) || (r.partition as number) < 0) {
      throw invalid(`${where}.partition must be an integer ≥ 0`);
    }
    record.partition = r.partition as number;
  }
  return record;
}

function parseHeaders(raw: unknown, where: string, encoding: RecordEncoding): RecordHeader[] {
  if (!Array.isArray(raw)) {
    throw invalid(`${where}.headers must be a list of {"key": "k", "value": "v" | null}`);
  }
  return raw.map((h, j) => {
    const at = `${where}.headers[${j}]`;
    if (typeof h !== "object" || h === null || typeof h.key !== "string") {
      throw invalid(`${at} must be {"key": "k", "value": "v" | null} with a string key`);
    }
    return { key: h.key, value: bytesOf(h.value ?? null, `${at}.value`, encoding) };
  });
}

function bytesOf(raw: unknown, where: string, encoding: RecordEncoding): Uint8Array | null {
  if (raw === null) return null;
  if (typeof raw !== "string") throw invalid(`${where} must be a string or null`);
  if (encoding === "utf8") return UTF8.encode(raw);
  try {
    return Uint8Array.fromBase64(raw);
  } catch (e) {
    throw invalid(`${where} is not valid base64: ${(e as Error).message}`);
  }
}

/**
 * The JSON records of decoded batches, dropping records below `fromOffset`
 * (the first batch may start before it) and control batches (transaction
 * markers are not data).
 */
export function recordsToJson(
  batches: readonly DecodedRecordBatch[],
  fromOffset: number,
  encoding: RecordEncoding,
): JsonRecord[] {
  const text = (b: Uint8Array | null) =>
    b === null ? null : encoding === "base64" ? b.toBase64() : UTF8_LENIENT.decode(b);
  const out: JsonRecord[] = [];
  for (const batch of batches) {
    if (isControl(batch.header.attributes)) continue;
    for (const r of batch.records) {
      if (r.offset < fromOffset) continue;
      out.push({
        offset: r.offset,
        timestamp: r.timestamp,
        key: text(r.key),
        value: text(r.value),
        headers: r.headers.map((h) => ({ key: h.key, value: text(h.value) })),
      });
    }
  }
  return out;
}

/**
 * One uncompressed batch (producer id -1) of `records`, in order. Records
 * without a timestamp get `nowMs`, the time the broker received them.
 */
export function encodeJsonBatch(records: readonly ParsedRecord[], nowMs: number): Uint8Array {
  try {
    return encodeRecordBatchSync({
      records: records.map(({ partition: _partition, ...input }) => ({
        ...input,
        timestamp: input.timestamp ?? nowMs,
      })),
    });
  } catch (e) {
    throw new StromError(
      "MESSAGE_TOO_LARGE",
      `these records do not fit in one record batch: ${(e as Error).message}`,
    );
  }
}

function invalid(message: string): StromError {
  return new StromError("INVALID_REQUEST", message);
}
