/**
 * The data-path routes of the client API: produce (to a partition's leader,
 * or to a topic from any broker), fetch, list offsets, producer ids and the
 * replica diagnostics tests compare. They parse and validate, call the
 * {@link DataPlane} (or route to the leader) and translate results; the wire
 * contract is `./README.md`.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { decodeRecordBatches, StromError } from "@strom/client";
import { bytesResponse } from "./bytes_response.ts";
import { readBodyBytes } from "./body_bytes.ts";
import {
  BATCH_MEDIA_TYPE,
  FETCH_BYTES_DEFAULT,
  FETCH_BYTES_MAX,
  FETCH_WAIT_MS_DEFAULT,
  FETCH_WAIT_MS_MAX,
  PRODUCE_REQUEST_BYTES_MAX,
  PRODUCE_TIMEOUT_MS_DEFAULT,
  PRODUCE_TIMEOUT_MS_MAX,
} from "./data_limits.ts";
import type { Acks, DataPlane, OffsetSpec, ProducerIdSource } from "./data_plane.ts";
import { parseJsonBytes } from "./json_body.ts";
import { intParam } from "./query_params.ts";
import { encodeJsonBatch, parseEncoding, parseProduceBody, recordsToJson } from "./record_json.ts";
import { produceToTopic } from "./topic_produce.ts";
import type { TopicProduceDeps } from "./topic_produce.ts";

/** What the data routes need from the node. */
export interface DataRouteDeps extends TopicProduceDeps {
  readonly dataPlane: DataPlane;
  readonly producerIds: ProducerIdSource;
}

const INT32_MAX = 0x7fffffff;
/** The body of `POST /v1/producers` is `{}`; anything bigger is a mistake. */
const PRODUCERS_BODY_BYTES_MAX = 1024;

/** Mounts the data-path routes on the client app. */
export function mountDataRoutes(app: Hono, deps: DataRouteDeps): void {
  app.post("/v1/topics/:topic/partitions/:partition/records", async (c) => {
    const topic = c.req.param("topic");
    const partition = partitionParam(c);
    const { acks, timeoutMs } = produceParams(c);
    const kind = bodyKind(c.req.header("content-type"), true);
    const bytes = await readBodyBytes(c.req.raw, PRODUCE_REQUEST_BYTES_MAX);
    let batches: Uint8Array;
    if (kind === "json") {
      const records = parseProduceBody(parseJsonBytes(bytes), { allowPartition: false });
      batches = encodeJsonBatch(records, Date.now());
    } else {
      if (bytes.length === 0) {
        throw new StromError("CORRUPT_MESSAGE", "the request body holds no record batch");
      }
      batches = bytes;
    }
    const r = await deps.dataPlane.produce({ topic, partition, batches, acks, timeoutMs });
    return c.json({
      baseOffset: r.baseOffset,
      lastOffset: r.lastOffset,
      count: r.count,
      logAppendTime: r.logAppendTime,
      ...(r.duplicate ? { duplicate: true } : {}),
    });
  });

  app.post("/v1/topics/:topic/records", async (c) => {
    const topic = c.req.param("topic");
    const options = produceParams(c);
    bodyKind(c.req.header("content-type"), false);
    const body = parseJsonBytes(await readBodyBytes(c.req.raw, PRODUCE_REQUEST_BYTES_MAX));
    const records = parseProduceBody(body, { allowPartition: true });
    return c.json({ offsets: await produceToTopic(deps, topic, records, options) });
  });

  app.get("/v1/topics/:topic/partitions/:partition/records", async (c) => {
    const topic = c.req.param("topic");
    const partition = partitionParam(c);
    const offset = intParam("offset", c.req.query("offset"), {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
    });
    const maxBytes = intParam("maxBytes", c.req.query("maxBytes"), {
      min: 0,
      max: FETCH_BYTES_MAX,
      fallback: FETCH_BYTES_DEFAULT,
    });
    const maxWaitMs = intParam("maxWaitMs", c.req.query("maxWaitMs"), {
      min: 0,
      max: FETCH_WAIT_MS_MAX,
      fallback: FETCH_WAIT_MS_DEFAULT,
    });
    const minBytes = intParam("minBytes", c.req.query("minBytes"), {
      min: 0,
      max: FETCH_BYTES_MAX,
      fallback: 1,
    });
    const binary = (c.req.header("accept") ?? "").toLowerCase().includes(BATCH_MEDIA_TYPE);
    const encoding = parseEncoding(c.req.query("encoding"), `"encoding"`);
    const r = await deps.dataPlane.fetch({
      topic,
      partition,
      offset,
      maxBytes,
      maxWaitMs,
      minBytes,
      signal: c.req.raw.signal,
    });
    if (binary) {
      return bytesResponse([r.batches], {
        headers: {
          "content-type": BATCH_MEDIA_TYPE,
          "x-strom-high-watermark": String(r.highWatermark),
          "x-strom-log-start-offset": String(r.logStartOffset),
          "x-strom-next-offset": String(r.nextOffset),
        },
      });
    }
    return c.json({
      records: recordsToJson(await decodeRecordBatches(r.batches), offset, encoding),
      highWatermark: r.highWatermark,
      logStartOffset: r.logStartOffset,
      nextOffset: r.nextOffset,
    });
  });

  app.get("/v1/topics/:topic/partitions/:partition/offsets", async (c) => {
    const partition = partitionParam(c);
    const at = offsetSpec(c.req.query("at"));
    return c.json(await deps.dataPlane.listOffset(c.req.param("topic"), partition, at));
  });

  app.post("/v1/producers", async (c) => {
    const bytes = await readBodyBytes(c.req.raw, PRODUCERS_BODY_BYTES_MAX);
    if (bytes.length > 0) {
      const body = parseJsonBytes(bytes);
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new StromError("INVALID_REQUEST", "the body must be {} (or empty)");
      }
    }
    const { producerId, producerEpoch } = await deps.producerIds.next();
    return c.json({ producerId, producerEpoch });
  });

  app.get("/v1/diagnostics/replicas", async (c) => {
    const upTo = intParam("upTo", c.req.query("upTo"), {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      fallback: Number.MAX_SAFE_INTEGER,
    });
    const answer = await deps.dataPlane.replicaDiagnostics(upTo);
    return c.json(Array.isArray(answer) ? { replicas: answer } : answer as object);
  });
}

function partitionParam(c: Context): number {
  return intParam("partition", c.req.param("partition"), { min: 0, max: INT32_MAX });
}

function produceParams(c: Context): { acks: Acks; timeoutMs: number } {
  const raw = c.req.query("acks") ?? "all";
  if (raw !== "0" && raw !== "1" && raw !== "all") {
    throw new StromError(
      "INVALID_REQUEST",
      `"acks" must be 0, 1 or all, got ${JSON.stringify(raw)}`,
    );
  }
  const timeoutMs = intParam("timeoutMs", c.req.query("timeoutMs"), {
    min: 0,
    max: PRODUCE_TIMEOUT_MS_MAX,
    fallback: PRODUCE_TIMEOUT_MS_DEFAULT,
  });
  return { acks: raw, timeoutMs };
}

/** Which body a produce request carries; UNSUPPORTED_MEDIA_TYPE for anything else. */
function bodyKind(contentType: string | undefined, binaryAllowed: boolean): "json" | "binary" {
  const media = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (media === "application/json") return "json";
  if (media === BATCH_MEDIA_TYPE && binaryAllowed) return "binary";
  const accepted = binaryAllowed ? `application/json or ${BATCH_MEDIA_TYPE}` : "application/json";
  throw new StromError(
    "UNSUPPORTED_MEDIA_TYPE",
    `this route takes ${accepted}, not ${
      media === "" ? "a body without content-type" : JSON.stringify(media)
    }`,
  );
}

function offsetSpec(raw: string | undefined): OffsetSpec {
  if (raw === "earliest" || raw === "latest") return raw;
  if (raw !== undefined && /^\d+$/.test(raw) && Number.isSafeInteger(Number(raw))) {
    return { timestampMs: Number(raw) };
  }
  throw new StromError(
    "INVALID_REQUEST",
    `"at" must be earliest, latest or a timestamp in ms since the epoch, got ${
      JSON.stringify(raw ?? null)
    }`,
  );
}
