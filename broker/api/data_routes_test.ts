import assert from "node:assert/strict";
import {
  decodeRecordBatch,
  decodeRecordBatches,
  encodeRecordBatch,
  encodeRecordBatchSync,
  partitionForKey,
  StromError,
} from "@strom/client";
import type { H2Request, H2Response } from "@strom/client";
import { createLogger } from "../log.ts";
import type { MetadataImage } from "../metadata/image.ts";
import { EMPTY_IMAGE } from "../metadata/image.ts";
import { createClientApp } from "./client_app.ts";
import type { AdminApi } from "./client_app.ts";
import { PRODUCE_REQUEST_BYTES_MAX } from "./data_limits.ts";
import type {
  DataPlane,
  FetchRequest,
  FetchResult,
  OffsetSpec,
  ProduceRequest,
  ProduceResult,
} from "./data_plane.ts";
import type { DataRouteDeps } from "./data_routes.ts";

const quiet = createLogger({ sink: () => {} });
const text = new TextEncoder();
const BATCH = "application/vnd.strom.batch";

/** An image with topic `t` of `partitions` partitions; partition p is led by `leaders[p]`. */
function imageWith(leaders: number[]): MetadataImage {
  const broker = (id: number) => ({
    id,
    incarnationId: "i",
    directoryId: "d",
    epoch: 1,
    clientUrl: `http://broker-${id}`,
    internalUrl: `http://internal-${id}`,
    rack: null,
    fenced: false,
    inControlledShutdown: false,
    registeredAtOffset: 0,
  });
  return {
    ...EMPTY_IMAGE,
    brokers: new Map([1, 2, 3].map((id) => [id, broker(id)])),
    topicIdsByName: new Map([["t", "tid"]]),
    topics: new Map([["tid", {
      name: "t",
      topicId: "tid",
      configs: {},
      partitions: leaders.map((leader) => ({
        replicas: [1, 2, 3],
        isr: [1, 2, 3],
        leader,
        leaderEpoch: 0,
        partitionEpoch: 0,
      })),
    }]]),
  };
}

/** A DataPlane that keeps one in-memory log per partition and records every call. */
class FakeDataPlane implements DataPlane {
  readonly produced: ProduceRequest[] = [];
  readonly fetches: FetchRequest[] = [];
  readonly logs = new Map<number, Uint8Array[]>();
  fail = new Map<number, StromError>();
  fetchAnswer: Uint8Array = new Uint8Array(0);

  produce(request: ProduceRequest): Promise<ProduceResult> {
    this.produced.push(request);
    const error = this.fail.get(request.partition);
    if (error) return Promise.reject(error);
    const log = this.logs.get(request.partition) ?? [];
    this.logs.set(request.partition, log);
    const baseOffset = log.length * 100;
    log.push(request.batches);
    return Promise.resolve({
      baseOffset,
      lastOffset: baseOffset + 9,
      count: 10,
      logAppendTime: -1,
      duplicate: false,
    });
  }

  fetch(request: FetchRequest): Promise<FetchResult> {
    this.fetches.push(request);
    return Promise.resolve({
      batches: this.fetchAnswer,
      highWatermark: 42,
      logStartOffset: 3,
      logEndOffset: 50,
      nextOffset: 40,
    });
  }

  listOffset(_topic: string, _partition: number, at: OffsetSpec) {
    return Promise.resolve({
      offset: at === "earliest" ? 0 : at === "latest" ? 42 : 7,
      timestamp: typeof at === "object" ? at.timestampMs : null,
      leaderEpoch: 4,
    });
  }

  replicaDiagnostics(upTo: number): Promise<unknown> {
    return Promise.resolve([{ topic: "t", partition: 0, checksum: { upTo, crc32c: 1 } }]);
  }
}

/** A fake peer broker: answers forwarded produce requests as the test says. */
class FakePeers {
  readonly requests: { origin: string; req: H2Request }[] = [];
  answer: (origin: string, req: H2Request) => H2Response = () =>
    json(200, {
      baseOffset: 500,
      lastOffset: 509,
      count: 10,
      logAppendTime: -1,
    });
  request(origin: string, req: H2Request): Promise<H2Response> {
    this.requests.push({ origin, req });
    return Promise.resolve(this.answer(origin, req));
  }
}

function json(status: number, body: unknown): H2Response {
  return { status, headers: {}, body: text.encode(JSON.stringify(body)) };
}

function setup(options: { leaders?: number[]; random?: () => number } = {}) {
  const dataPlane = new FakeDataPlane();
  const peers = new FakePeers();
  let nextId = 100;
  const image = imageWith(options.leaders ?? [1, 1, 1, 1]);
  const data: DataRouteDeps = {
    nodeId: 1,
    dataPlane,
    image: () => image,
    http: peers,
    producerIds: { next: () => Promise.resolve({ producerId: nextId++, producerEpoch: 0 }) },
    ...(options.random ? { random: options.random } : {}),
  };
  const app = createClientApp({
    nodeId: 1,
    readiness: () => ({ ready: true, reasons: [] }),
    admin: {} as AdminApi,
    data,
  }, quiet);
  return { app, dataPlane, peers };
}

function postJson(body: unknown, query = "") {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    query,
  };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return (await res.json()).error;
}

const PRODUCE_P0 = "/v1/topics/t/partitions/0/records";

Deno.test("partition produce encodes JSON records into one batch with keys, nulls and headers", async () => {
  const { app, dataPlane } = setup();
  const res = await app.request(
    PRODUCE_P0 + "?acks=1&timeoutMs=1000",
    postJson({
      records: [
        { key: "k1", value: "v1", headers: [{ key: "h", value: "x" }, { key: "h", value: null }] },
        { value: null, timestamp: 1_700_000_000_000 },
        { key: null, value: "ü" },
      ],
    }),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    baseOffset: 0,
    lastOffset: 9,
    count: 10,
    logAppendTime: -1,
  });
  const req = dataPlane.produced[0];
  assert.equal(req.acks, "1");
  assert.equal(req.timeoutMs, 1000);
  const { header, records } = await decodeRecordBatch(req.batches);
  assert.equal(header.producerId, -1, "JSON produce builds a non-idempotent batch");
  assert.equal(records.length, 3);
  const dec = (b: Uint8Array | null) => b === null ? null : new TextDecoder().decode(b);
  assert.equal(dec(records[0].key), "k1");
  assert.equal(dec(records[0].value), "v1");
  assert.deepEqual(records[0].headers.map((h) => [h.key, dec(h.value)]), [["h", "x"], ["h", null]]);
  assert.equal(records[1].key, null);
  assert.equal(records[1].value, null);
  assert.equal(records[1].timestamp, 1_700_000_000_000);
  assert.equal(dec(records[2].value), "ü");
  assert.ok(Math.abs(records[0].timestamp - Date.now()) < 60_000, "missing timestamps are now");
});

Deno.test("partition produce decodes base64 keys, values and header values", async () => {
  const { app, dataPlane } = setup();
  const raw = new Uint8Array([0, 255, 1, 254]);
  const res = await app.request(
    PRODUCE_P0,
    postJson({
      encoding: "base64",
      records: [{
        key: raw.toBase64(),
        value: raw.toBase64(),
        headers: [{ key: "h", value: "AQ==" }],
      }],
    }),
  );
  assert.equal(res.status, 200);
  const { records } = await decodeRecordBatch(dataPlane.produced[0].batches);
  assert.deepEqual(records[0].key, raw);
  assert.deepEqual(records[0].value, raw);
  assert.deepEqual(records[0].headers[0].value, new Uint8Array([1]));
  assert.equal(dataPlane.produced[0].acks, "all", "acks defaults to all");
  assert.equal(dataPlane.produced[0].timeoutMs, 30_000);
});

Deno.test("partition produce passes binary batches through byte for byte", async () => {
  const { app, dataPlane } = setup();
  const a = await encodeRecordBatch({
    records: [{ value: text.encode("a") }],
    compression: "zstd",
    producerId: 9,
    producerEpoch: 0,
    baseSequence: 0,
  });
  const b = encodeRecordBatchSync({ records: [{ value: text.encode("b") }] });
  const body = new Uint8Array([...a, ...b]);
  const res = await app.request(PRODUCE_P0, {
    method: "POST",
    headers: { "content-type": BATCH },
    body,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(dataPlane.produced[0].batches, body);
});

Deno.test("produce answers duplicate: true when the data plane recognised a retry", async () => {
  const { app, dataPlane } = setup();
  dataPlane.produce = () =>
    Promise.resolve({ baseOffset: 5, lastOffset: 5, count: 1, logAppendTime: -1, duplicate: true });
  const res = await app.request(PRODUCE_P0, postJson({ records: [{ value: "x" }] }));
  assert.equal((await res.json()).duplicate, true);
});

Deno.test("produce refuses bad query parameters with INVALID_REQUEST naming them", async () => {
  const { app, dataPlane } = setup();
  for (
    const [query, name] of [
      ["acks=2", "acks"],
      ["acks=-1", "acks"],
      ["timeoutMs=-5", "timeoutMs"],
      ["timeoutMs=abc", "timeoutMs"],
      ["timeoutMs=300001", "timeoutMs"],
    ]
  ) {
    const res = await app.request(
      `${PRODUCE_P0}?${query}`,
      postJson({ records: [{ value: "x" }] }),
    );
    assert.equal(res.status, 400, query);
    const e = await errorOf(res);
    assert.equal(e.code, "INVALID_REQUEST");
    assert.match(e.message, new RegExp(`"${name}"`));
  }
  const badPartition = await app.request("/v1/topics/t/partitions/x/records", postJson({}));
  assert.match((await errorOf(badPartition)).message, /"partition"/);
  assert.equal(dataPlane.produced.length, 0);
});

Deno.test("produce refuses malformed JSON bodies with messages that point at the field", async () => {
  const { app } = setup();
  const cases: [unknown, RegExp][] = [
    ["{nope", /not valid JSON/],
    ["", /needs a JSON body/],
    [[], /JSON object/],
    [{ records: [] }, /non-empty list/],
    [{ records: [{ key: "k" }] }, /records\[0\] has no "value"/],
    [{ records: [{ value: 5 }] }, /records\[0\]\.value must be a string or null/],
    [{ records: [{ value: "x", headers: {} }] }, /headers must be a list/],
    [{ records: [{ value: "x", headers: [{ value: "v" }] }] }, /string key/],
    [{ records: [{ value: "x", timestamp: -1 }] }, /timestamp/],
    [
      { records: [{ value: "x", partition: 1 }] },
      /only accepted by POST \/v1\/topics\/\{topic\}\/records/,
    ],
    [{ encoding: "hex", records: [{ value: "x" }] }, /"encoding" must be/],
    [
      { encoding: "base64", records: [{ value: "not base64!" }] },
      /records\[0\]\.value is not valid base64/,
    ],
  ];
  for (const [body, message] of cases) {
    const res = await app.request(PRODUCE_P0, postJson(body));
    assert.equal(res.status, 400, JSON.stringify(body));
    const e = await errorOf(res);
    assert.equal(e.code, "INVALID_REQUEST");
    assert.match(e.message, message);
  }
});

Deno.test("produce answers 415 for a content type it does not take", async () => {
  const { app } = setup();
  for (const type of ["text/plain", "application/octet-stream", undefined]) {
    const res = await app.request(PRODUCE_P0, {
      method: "POST",
      ...(type ? { headers: { "content-type": type } } : {}),
      body: new Uint8Array([1, 2, 3]),
    });
    assert.equal(res.status, 415, String(type));
    assert.equal((await errorOf(res)).code, "UNSUPPORTED_MEDIA_TYPE");
  }
  const binaryToTopic = await app.request("/v1/topics/t/records", {
    method: "POST",
    headers: { "content-type": BATCH },
    body: new Uint8Array([1]),
  });
  assert.equal(binaryToTopic.status, 415);
  assert.match((await errorOf(binaryToTopic)).message, /takes application\/json,/);
});

Deno.test("an oversized produce body is refused without reading it whole", async () => {
  const { app, dataPlane } = setup();
  const declared = await app.request(PRODUCE_P0, {
    method: "POST",
    headers: { "content-type": BATCH, "content-length": String(PRODUCE_REQUEST_BYTES_MAX + 1) },
    body: new Uint8Array(10),
  });
  assert.equal(declared.status, 413);
  assert.equal((await errorOf(declared)).code, "RECORD_LIST_TOO_LARGE");
  // Without a content-length: a stream that would go on far past the limit.
  let pulledBytes = 0;
  const chunk = new Uint8Array(1024 * 1024);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulledBytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const streamed = await app.request(PRODUCE_P0, {
    method: "POST",
    headers: { "content-type": BATCH },
    body: stream,
  });
  assert.equal(streamed.status, 413);
  assert.match((await errorOf(streamed)).message, /larger than 67108864 bytes/);
  assert.ok(pulledBytes <= PRODUCE_REQUEST_BYTES_MAX + 4 * chunk.length, `pulled ${pulledBytes}`);
  assert.equal(dataPlane.produced.length, 0);
});

Deno.test("data plane errors keep their code, status and leader hint", async () => {
  const { app, dataPlane } = setup();
  dataPlane.fail.set(
    0,
    new StromError("NOT_LEADER_OR_FOLLOWER", "broker 2 leads t-0", {
      leader: { id: 2, url: "http://broker-2" },
    }),
  );
  const res = await app.request(PRODUCE_P0, postJson({ records: [{ value: "x" }] }));
  assert.equal(res.status, 421);
  assert.deepEqual((await res.json()).error.leader, { id: 2, url: "http://broker-2" });
  dataPlane.fail.set(
    0,
    new StromError("REQUEST_TIMED_OUT", "not replicated in time", {
      details: { outcome: "unknown" },
    }),
  );
  const timedOut = await app.request(PRODUCE_P0, postJson({ records: [{ value: "x" }] }));
  assert.equal(timedOut.status, 504);
  assert.equal((await timedOut.json()).error.details.outcome, "unknown");
});

Deno.test("fetch answers JSON records from offset on, in utf8 or base64, with headers", async () => {
  const { app, dataPlane } = setup();
  const first = encodeRecordBatchSync({
    baseOffset: 38,
    records: [
      { value: text.encode("skipped") },
      { value: text.encode("skipped too") },
      {
        key: text.encode("k"),
        value: new Uint8Array([0xff]),
        headers: [{ key: "h", value: null }],
      },
    ],
    baseTimestamp: 1000,
  });
  const control = encodeRecordBatchSync({
    baseOffset: 41,
    records: [{ value: null }],
    control: true,
  });
  dataPlane.fetchAnswer = new Uint8Array([...first, ...control]);
  const res = await app.request("/v1/topics/t/partitions/0/records?offset=40");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    records: [{
      offset: 40,
      timestamp: 1000,
      key: "k",
      value: "\ufffd",
      headers: [{ key: "h", value: null }],
    }],
    highWatermark: 42,
    logStartOffset: 3,
    nextOffset: 40,
  });
  const b64 = await app.request("/v1/topics/t/partitions/0/records?offset=40&encoding=base64");
  const body = await b64.json();
  assert.equal(body.records[0].key, "aw==");
  assert.equal(body.records[0].value, "/w==");
  assert.deepEqual(dataPlane.fetches[0], {
    topic: "t",
    partition: 0,
    offset: 40,
    maxBytes: 1024 * 1024,
    maxWaitMs: 500,
    minBytes: 1,
    signal: dataPlane.fetches[0].signal,
  });
  assert.ok(dataPlane.fetches[0].signal instanceof AbortSignal);
});

Deno.test("fetch answers stored batches byte for byte when asked for binary", async () => {
  const { app, dataPlane } = setup();
  const stored = await encodeRecordBatch({
    baseOffset: 7,
    records: [{ value: text.encode("z") }],
    compression: "gzip",
  });
  dataPlane.fetchAnswer = stored;
  const res = await app.request(
    "/v1/topics/t/partitions/0/records?offset=7&maxBytes=100&maxWaitMs=0&minBytes=0",
    { headers: { accept: BATCH } },
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), BATCH);
  assert.equal(res.headers.get("x-strom-high-watermark"), "42");
  assert.equal(res.headers.get("x-strom-log-start-offset"), "3");
  assert.equal(res.headers.get("x-strom-next-offset"), "40");
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), stored);
  const f = dataPlane.fetches[0];
  assert.deepEqual([f.maxBytes, f.maxWaitMs, f.minBytes], [100, 0, 0]);
  assert.equal((await decodeRecordBatches(stored)).length, 1);
});

Deno.test("fetch refuses bad parameters with INVALID_REQUEST naming them", async () => {
  const { app, dataPlane } = setup();
  for (
    const [query, name] of [
      ["", "offset"],
      ["offset=-1", "offset"],
      ["offset=1.5", "offset"],
      ["offset=0&maxBytes=-1", "maxBytes"],
      ["offset=0&maxBytes=67108865", "maxBytes"],
      ["offset=0&maxWaitMs=30001", "maxWaitMs"],
      ["offset=0&minBytes=x", "minBytes"],
      ["offset=0&encoding=hex", "encoding"],
    ]
  ) {
    const res = await app.request(`/v1/topics/t/partitions/0/records?${query}`);
    assert.equal(res.status, 400, query);
    const e = await errorOf(res);
    assert.equal(e.code, "INVALID_REQUEST");
    assert.match(e.message, new RegExp(`"${name}"`), query);
  }
  assert.equal(dataPlane.fetches.length, 0);
});

Deno.test("offsets answer earliest, latest and by timestamp, and refuse anything else", async () => {
  const { app } = setup();
  const at = async (q: string) =>
    await (await app.request(`/v1/topics/t/partitions/0/offsets?${q}`)).json();
  assert.deepEqual(await at("at=earliest"), { offset: 0, timestamp: null, leaderEpoch: 4 });
  assert.deepEqual(await at("at=latest"), { offset: 42, timestamp: null, leaderEpoch: 4 });
  assert.deepEqual(await at("at=1700000000000"), {
    offset: 7,
    timestamp: 1700000000000,
    leaderEpoch: 4,
  });
  for (const q of ["", "at=soon", "at=-3"]) {
    const res = await app.request(`/v1/topics/t/partitions/0/offsets?${q}`);
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /"at" must be earliest, latest or a timestamp/);
  }
});

Deno.test("POST /v1/producers hands out producer ids at epoch 0", async () => {
  const { app } = setup();
  const a = await (await app.request("/v1/producers", postJson({}))).json();
  const b = await (await app.request("/v1/producers", { method: "POST" })).json();
  assert.deepEqual([a, b], [{ producerId: 100, producerEpoch: 0 }, {
    producerId: 101,
    producerEpoch: 0,
  }]);
  const bad = await app.request("/v1/producers", postJson("[1]"));
  assert.equal(bad.status, 400);
});

Deno.test("replica diagnostics pass upTo and wrap the replicas", async () => {
  const { app } = setup();
  const body = await (await app.request("/v1/diagnostics/replicas?upTo=12")).json();
  assert.deepEqual(body, {
    replicas: [{ topic: "t", partition: 0, checksum: { upTo: 12, crc32c: 1 } }],
  });
  const bad = await app.request("/v1/diagnostics/replicas?upTo=-1");
  assert.equal(bad.status, 400);
});

Deno.test("topic produce puts keyed records on partitionForKey and answers in input order", async () => {
  const { app, dataPlane } = setup({ random: () => 0.99 });
  const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
  const records = keys.map((k) => ({ key: k, value: `v-${k}` }));
  records.splice(3, 0, { key: null as unknown as string, value: "unkeyed-1" });
  records.push({ key: null as unknown as string, value: "unkeyed-2" });
  const res = await app.request("/v1/topics/t/records?acks=1", postJson({ records }));
  assert.equal(res.status, 200);
  const { offsets } = await res.json();
  assert.equal(offsets.length, records.length);
  const expected = records.map((r) => r.key === null ? 3 : partitionForKey(text.encode(r.key), 4));
  assert.deepEqual(offsets.map((o: { partition: number }) => o.partition), expected);
  // Each partition got one batch with its records in input order, numbered from its base offset.
  for (const [partition, log] of dataPlane.logs) {
    assert.equal(log.length, 1);
    const { records: stored } = await decodeRecordBatch(log[0]);
    const mine = records.filter((_, i) => expected[i] === partition);
    assert.deepEqual(
      stored.map((r) => new TextDecoder().decode(r.value!)),
      mine.map((r) => r.value),
    );
    const theirOffsets = offsets.filter((o: { partition: number }) => o.partition === partition)
      .map((o: { offset: number }) => o.offset);
    assert.deepEqual(theirOffsets, mine.map((_, j) => j));
  }
  assert.ok(dataPlane.produced.every((p) => p.acks === "1"));
});

Deno.test("topic produce honours explicit partitions and refuses ones the topic lacks", async () => {
  const { app, dataPlane } = setup();
  const res = await app.request(
    "/v1/topics/t/records",
    postJson({
      records: [{ value: "x", partition: 2 }, { key: "k", value: "y", partition: 2 }],
    }),
  );
  assert.deepEqual((await res.json()).offsets, [{ partition: 2, offset: 0 }, {
    partition: 2,
    offset: 1,
  }]);
  assert.equal(dataPlane.produced.length, 1);
  const missing = await app.request(
    "/v1/topics/t/records",
    postJson({ records: [{ value: "x", partition: 4 }] }),
  );
  assert.equal(missing.status, 404);
  assert.match((await errorOf(missing)).message, /has 4 partitions/);
  const noTopic = await app.request(
    "/v1/topics/nope/records",
    postJson({ records: [{ value: "x" }] }),
  );
  assert.equal((await errorOf(noTopic)).code, "UNKNOWN_TOPIC_OR_PARTITION");
});

Deno.test("topic produce forwards partitions led elsewhere as binary batches to the leader", async () => {
  const { app, dataPlane, peers } = setup({ leaders: [1, 2, 3, 2] });
  const res = await app.request(
    "/v1/topics/t/records?acks=all&timeoutMs=2000",
    postJson({
      records: [0, 1, 2, 3].map((p) => ({ value: `p${p}`, partition: p })),
    }),
  );
  assert.deepEqual((await res.json()).offsets, [
    { partition: 0, offset: 0 },
    { partition: 1, offset: 500 },
    { partition: 2, offset: 500 },
    { partition: 3, offset: 500 },
  ]);
  assert.deepEqual(dataPlane.produced.map((p) => p.partition), [0]);
  const forwarded = peers.requests.map((r) => [r.origin, r.req.path]).sort();
  assert.deepEqual(forwarded, [
    ["http://broker-2", "/v1/topics/t/partitions/1/records?acks=all&timeoutMs=2000"],
    ["http://broker-2", "/v1/topics/t/partitions/3/records?acks=all&timeoutMs=2000"],
    ["http://broker-3", "/v1/topics/t/partitions/2/records?acks=all&timeoutMs=2000"],
  ]);
  const one = peers.requests.find((r) => r.req.path.includes("/partitions/2/"))!;
  assert.equal(one.req.headers?.["content-type"], BATCH);
  const { records } = await decodeRecordBatch(one.req.body as Uint8Array);
  assert.equal(new TextDecoder().decode(records[0].value!), "p2");
});

Deno.test("topic produce follows one NOT_LEADER_OR_FOLLOWER redirect using the hint", async () => {
  const { app, dataPlane, peers } = setup({ leaders: [2] });
  peers.answer = (origin) =>
    origin === "http://broker-2"
      ? json(421, {
        error: {
          code: "NOT_LEADER_OR_FOLLOWER",
          message: "moved",
          leader: { id: 3, url: "http://broker-3" },
        },
      })
      : json(200, { baseOffset: 9, lastOffset: 9, count: 1, logAppendTime: -1 });
  const res = await app.request("/v1/topics/t/records", postJson({ records: [{ value: "x" }] }));
  assert.deepEqual((await res.json()).offsets, [{ partition: 0, offset: 9 }]);
  assert.deepEqual(peers.requests.map((r) => r.origin), ["http://broker-2", "http://broker-3"]);
  // A hint pointing back at this node appends locally.
  peers.requests.length = 0;
  peers.answer = () =>
    json(421, {
      error: {
        code: "NOT_LEADER_OR_FOLLOWER",
        message: "moved",
        leader: { id: 1, url: "http://broker-1" },
      },
    });
  const local = await app.request("/v1/topics/t/records", postJson({ records: [{ value: "x" }] }));
  assert.deepEqual((await local.json()).offsets, [{ partition: 0, offset: 0 }]);
  assert.equal(dataPlane.produced.length, 1);
  // A second redirect is the caller's to retry.
  peers.answer = (origin) =>
    json(421, {
      error: {
        code: "NOT_LEADER_OR_FOLLOWER",
        message: "moved again",
        leader: origin === "http://broker-2"
          ? { id: 3, url: "http://broker-3" }
          : { id: 2, url: "http://broker-2" },
      },
    });
  const twice = await app.request("/v1/topics/t/records", postJson({ records: [{ value: "x" }] }));
  assert.deepEqual((await twice.json()).offsets, [{
    partition: 0,
    error: { code: "NOT_LEADER_OR_FOLLOWER", message: "moved again" },
  }]);
});

Deno.test("one failing partition fails only its own records", async () => {
  const { app, dataPlane, peers } = setup({ leaders: [1, 2, -1, 1] });
  dataPlane.fail.set(3, new StromError("NOT_ENOUGH_REPLICAS", "ISR 1 < 2"));
  peers.answer = () => {
    throw new StromError("NETWORK_EXCEPTION", "cannot reach broker-2");
  };
  const res = await app.request(
    "/v1/topics/t/records",
    postJson({
      records: [0, 1, 2, 3, 0].map((p) => ({ value: "x", partition: p })),
    }),
  );
  assert.equal(res.status, 200);
  const codes = (await res.json()).offsets.map((o: { offset?: number; error?: { code: string } }) =>
    o.error?.code ?? o.offset
  );
  assert.deepEqual(codes, [
    0,
    "NETWORK_EXCEPTION",
    "LEADER_NOT_AVAILABLE",
    "NOT_ENOUGH_REPLICAS",
    1,
  ]);
});

Deno.test("unkeyed records share one sticky partition per request, preferring led partitions", async () => {
  const { app } = setup({ leaders: [-1, 1, -1, 1], random: () => 0.6 });
  const res = await app.request(
    "/v1/topics/t/records",
    postJson({
      records: [{ value: "a" }, { value: "b" }, { value: "c" }],
    }),
  );
  const partitions = (await res.json()).offsets.map((o: { partition: number }) => o.partition);
  assert.deepEqual(partitions, [3, 3, 3]);
});
