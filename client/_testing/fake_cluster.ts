/**
 * An in-process fake of a Strom cluster for the client's unit tests: one or
 * more Hono apps on `Deno.serve` (127.0.0.1, port 0) that share in-memory
 * partition logs and implement the data-path contract of
 * `broker/api/README.md` minimally (binary produce with idempotent
 * sequence checks, binary long-poll fetch, list offsets, producer ids) plus
 * the admin routes. Tests inject faults through {@link FakeCluster.faults}
 * and watch requests through {@link FakeCluster.log}.
 *
 * @module
 */

import { Hono } from "hono";
import { StromError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { readBatchHeader, setBaseOffset, splitBatches } from "../record_batch/header.ts";

/** A stored batch and its offsets. */
interface StoredBatch {
  readonly bytes: Uint8Array;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

interface FakePartition {
  leader: number;
  readonly batches: StoredBatch[];
  logEndOffset: number;
  /** Producer id → recent batches by base sequence (at most 5) and the next expected sequence. */
  readonly producers: Map<number, { next: number; recent: Map<number, StoredBatch> }>;
  /** Bumped by every {@link FakeCluster.moveLeader}. */
  leaderEpoch: number;
  /** Resolvers of requests held while the partition is stalled. */
  stalled: (() => void)[] | undefined;
  /** Set by {@link FakeCluster.holdAnswer}: that batch is appended, then answered once `until` settles. */
  heldAnswer?: { readonly baseSequence: number; readonly until: Promise<void> };
}

/** A fault: answer matching requests with an error, `times` times. */
export interface Fault {
  readonly method?: string;
  readonly path: RegExp;
  readonly code: ErrorCode;
  times: number;
  readonly leader?: { id: number; url: string };
  /** Let this many matching requests through first. */
  skip?: number;
  /** Apply the request first (the answer is lost, as after a timeout). */
  readonly afterAppend?: boolean;
}

/** What the fake saw: one line per request. */
export interface LoggedRequest {
  readonly node: number;
  readonly method: string;
  readonly path: string;
  /** Producer id, epoch and base sequence of a binary produce. */
  readonly batch?: { producerId: number; baseSequence: number; recordCount: number };
}

/** A fake Strom cluster of `nodes` brokers. */
export class FakeCluster {
  readonly topics = new Map<string, FakePartition[]>();
  readonly faults: Fault[] = [];
  readonly log: LoggedRequest[] = [];
  /** Produce requests being handled now, and the most seen at once, per partition. */
  readonly inFlight = new Map<string, { now: number; max: number }>();
  /** Delay added to every produce answer. */
  produceDelayMs = 0;
  #servers: Deno.HttpServer[] = [];
  #urls: string[] = [];
  #nextProducerId = 1000;
  #appended: (() => void)[] = [];
  #timers = new Set<ReturnType<typeof setTimeout>>();

  /** Starts `nodes` fake brokers. */
  static start(nodes = 1): FakeCluster {
    const cluster = new FakeCluster();
    for (let id = 1; id <= nodes; id++) {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        cluster.#app(id).fetch,
      );
      cluster.#servers.push(server);
      cluster.#urls.push(`http://127.0.0.1:${server.addr.port}`);
    }
    return cluster;
  }

  /** Client URLs by node (index 0 is node 1). */
  get urls(): readonly string[] {
    return this.#urls;
  }

  /** Creates a topic whose partitions are all led by `leader`. */
  createTopic(name: string, partitions: number, leader = 1): void {
    this.topics.set(
      name,
      Array.from({ length: partitions }, () => ({
        leader,
        leaderEpoch: 0,
        batches: [],
        logEndOffset: 0,
        producers: new Map(),
        stalled: undefined,
      })),
    );
  }

  /** Moves a partition's leadership to a new leader epoch. */
  moveLeader(topic: string, partition: number, leader: number): void {
    const p = this.#partition(topic, partition);
    p.leader = leader;
    p.leaderEpoch++;
  }

  /** Holds produce and fetch requests of a partition until {@link unstall}. */
  stall(topic: string, partition: number): void {
    this.#partition(topic, partition).stalled ??= [];
  }

  /**
   * The produce of the batch with `baseSequence` to the partition is
   * appended at once but answered only when the returned function is called
   * (an answer stuck on the way back).
   */
  holdAnswer(topic: string, partition: number, baseSequence: number): () => void {
    let release!: () => void;
    const until = new Promise<void>((r) => release = r);
    this.#partition(topic, partition).heldAnswer = { baseSequence, until };
    return release;
  }

  /** Releases a stalled partition. */
  unstall(topic: string, partition: number): void {
    const p = this.#partition(topic, partition);
    const held = p.stalled ?? [];
    p.stalled = undefined;
    for (const r of held) r();
  }

  /** The stored batches of a partition. */
  batches(topic: string, partition: number): readonly Uint8Array[] {
    return this.#partition(topic, partition).batches.map((b) => b.bytes);
  }

  /** Appends a batch directly, as if produced (for consumer tests). */
  append(topic: string, partition: number, batch: Uint8Array): number {
    return this.#append(this.#partition(topic, partition), new Uint8Array(batch)).baseOffset;
  }

  /** Stops every server and releases held requests. */
  async close(): Promise<void> {
    for (const ps of this.topics.values()) {
      for (const p of ps) p.stalled?.splice(0).forEach((r) => r());
    }
    for (const t of this.#timers) clearTimeout(t);
    for (const w of this.#appended.splice(0)) w();
    await Promise.all(this.#servers.map((s) => s.shutdown()));
  }

  #partition(topic: string, partition: number): FakePartition {
    const p = this.topics.get(topic)?.[partition];
    if (!p) {
      throw new StromError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${partition} does not exist`);
    }
    return p;
  }

  #append(p: FakePartition, bytes: Uint8Array): StoredBatch {
    const header = readBatchHeader(bytes);
    setBaseOffset(bytes, p.logEndOffset);
    const stored = {
      bytes,
      baseOffset: p.logEndOffset,
      lastOffset: p.logEndOffset + header.lastOffsetDelta,
    };
    p.batches.push(stored);
    p.logEndOffset = stored.lastOffset + 1;
    for (const w of this.#appended.splice(0)) w();
    return stored;
  }

  #fault(method: string, path: string): Fault | undefined {
    const f = this.faults.find((f) =>
      f.times > 0 && (f.method === undefined || f.method === method) && f.path.test(path)
    );
    if (!f) return undefined;
    if (f.skip) {
      f.skip--;
      return undefined;
    }
    f.times--;
    return f;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }

  #app(node: number): Hono {
    const app = new Hono();
    const url = () => this.#urls[node - 1];
    app.use(async (c, next) => {
      this.log.push({ node, method: c.req.method, path: new URL(c.req.url).pathname });
      const f = this.#fault(c.req.method, new URL(c.req.url).pathname);
      if (f && !f.afterAppend) {
        throw new StromError(f.code, `injected ${f.code}`, f.leader ? { leader: f.leader } : {});
      }
      await next();
      if (f?.afterAppend) {
        c.res = errorResponse(new StromError(f.code, `injected ${f.code} after append`));
      }
    });
    app.get("/v1/cluster", (c) =>
      c.json({
        clusterId: "FAKEFAKEFAKEFAKEFAKEFA",
        nodeId: node,
        nodes: this.#urls.map((u, i) => ({ id: i + 1, url: u })),
        brokers: this.#urls.map((u, i) => ({ id: i + 1, url: u, fenced: false, epoch: 1 })),
        controller: { id: 1, url: this.#urls[0] },
        quorum: {
          leaderId: 1,
          epoch: 1,
          highWatermark: 10,
          voters: this.#urls.map((_, i) => ({ id: i + 1, logEndOffset: 10, lag: 0 })),
          observers: [],
        },
      }));
    app.get("/v1/topics", (c) =>
      c.json({
        topics: [...this.topics.entries()].map(([name, ps]) => ({
          name,
          topicId: `id-${name}`,
          partitions: ps.length,
        })),
      }));
    app.post("/v1/topics", async (c) => {
      const body = await c.req.json() as { name: string; partitions?: number };
      if (this.topics.has(body.name)) {
        throw new StromError("TOPIC_ALREADY_EXISTS", `topic '${body.name}' already exists`);
      }
      this.createTopic(body.name, body.partitions ?? 1);
      return c.json(this.#describe(body.name), 201);
    });
    app.get("/v1/topics/:topic", (c) => c.json(this.#describe(c.req.param("topic"))));
    app.delete("/v1/topics/:topic", (c) => {
      this.#describe(c.req.param("topic"));
      this.topics.delete(c.req.param("topic"));
      return c.json({ deleted: c.req.param("topic") });
    });
    app.post("/v1/topics/:topic/partitions", async (c) => {
      const name = c.req.param("topic");
      const { partitions } = await c.req.json() as { partitions: number };
      const ps = this.topics.get(name);
      if (!ps) this.#describe(name);
      while (ps!.length < partitions) {
        ps!.push({
          leader: 1,
          leaderEpoch: 0,
          batches: [],
          logEndOffset: 0,
          producers: new Map(),
          stalled: undefined,
        });
      }
      return c.json(this.#describe(name));
    });
    app.post("/v1/topics/:topic/configs", (c) => c.json(this.#describe(c.req.param("topic"))));
    app.post(
      "/v1/producers",
      (c) => c.json({ producerId: this.#nextProducerId++, producerEpoch: 0 }),
    );
    app.post("/v1/topics/:topic/partitions/:p/records", async (c) => {
      const topic = c.req.param("topic");
      const partition = Number(c.req.param("p"));
      const p = this.#leaderPartition(topic, partition, node);
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      const header = readBatchHeader(bytes);
      const entry = this.log[this.log.length - 1];
      this.log[this.log.length - 1] = {
        ...entry,
        batch: {
          producerId: header.producerId,
          baseSequence: header.baseSequence,
          recordCount: header.recordCount,
        },
      };
      const key = `${topic}-${partition}`;
      const flight = this.inFlight.get(key) ?? { now: 0, max: 0 };
      this.inFlight.set(key, flight);
      flight.now++;
      flight.max = Math.max(flight.max, flight.now);
      try {
        if (p.stalled) await new Promise<void>((r) => p.stalled!.push(r));
        if (this.produceDelayMs > 0) await this.#sleep(this.produceDelayMs);
        const acks = c.req.query("acks") ?? "all";
        const stored = this.#produce(p, bytes);
        const held = p.heldAnswer;
        if (held && held.baseSequence === header.baseSequence) {
          p.heldAnswer = undefined;
          await held.until;
        }
        if (acks === "0") {
          return c.json({ baseOffset: -1, lastOffset: -1, count: 0, logAppendTime: -1 });
        }
        return c.json({
          baseOffset: stored.batch.baseOffset,
          lastOffset: stored.batch.lastOffset,
          count: header.recordCount,
          logAppendTime: -1,
          ...(stored.duplicate ? { duplicate: true } : {}),
        });
      } finally {
        flight.now--;
      }
    });
    app.get("/v1/topics/:topic/partitions/:p/records", async (c) => {
      const topic = c.req.param("topic");
      const partition = Number(c.req.param("p"));
      const p = this.#leaderPartition(topic, partition, node);
      const offset = Number(c.req.query("offset"));
      const maxBytes = Number(c.req.query("maxBytes") ?? 1024 * 1024);
      const maxWaitMs = Number(c.req.query("maxWaitMs") ?? 500);
      if (!(offset >= 0) || offset > p.logEndOffset) {
        throw new StromError("OFFSET_OUT_OF_RANGE", `offset ${offset} is out of range`, {
          details: {
            logStartOffset: 0,
            highWatermark: p.logEndOffset,
            logEndOffset: p.logEndOffset,
          },
        });
      }
      if (offset === p.logEndOffset && maxWaitMs > 0) {
        await Promise.race([
          new Promise<void>((r) => this.#appended.push(r)),
          this.#sleep(maxWaitMs),
        ]);
      }
      const out: Uint8Array[] = [];
      let bytes = 0;
      for (const b of p.batches) {
        if (b.lastOffset < offset) continue;
        if (out.length > 0 && bytes + b.bytes.length > maxBytes) break;
        out.push(b.bytes);
        bytes += b.bytes.length;
      }
      const body = new Uint8Array(bytes);
      let at = 0;
      for (const b of out) {
        body.set(b, at);
        at += b.length;
      }
      return new Response(body, {
        headers: {
          "content-type": "application/vnd.strom.batch",
          "x-strom-high-watermark": String(p.logEndOffset),
          "x-strom-log-start-offset": "0",
          "x-strom-next-offset": String(
            out.length ? readBatchHeader(out[out.length - 1]).baseOffset : offset,
          ),
        },
      });
    });
    app.get("/v1/topics/:topic/partitions/:p/offsets", (c) => {
      const p = this.#leaderPartition(c.req.param("topic"), Number(c.req.param("p")), node);
      const at = c.req.query("at");
      if (at === "earliest") return c.json({ offset: 0, timestamp: null, leaderEpoch: 0 });
      if (at === "latest") {
        return c.json({ offset: p.logEndOffset, timestamp: null, leaderEpoch: 0 });
      }
      for (const b of p.batches) {
        if (readBatchHeader(b.bytes).maxTimestamp >= Number(at)) {
          return c.json({ offset: b.baseOffset, timestamp: null, leaderEpoch: 0 });
        }
      }
      return c.json({ offset: null, timestamp: null, leaderEpoch: 0 });
    });
    app.notFound(() => errorResponse(new StromError("NOT_FOUND", "no such route")));
    app.onError((err) =>
      errorResponse(
        err instanceof StromError ? err : new StromError("UNKNOWN_SERVER_ERROR", String(err)),
      )
    );
    void url;
    return app;
  }

  #leaderPartition(topic: string, partition: number, node: number): FakePartition {
    const p = this.#partition(topic, partition);
    if (p.leader !== node) {
      throw new StromError(
        "NOT_LEADER_OR_FOLLOWER",
        `node ${node} does not lead ${topic}-${partition}`,
        {
          leader: { id: p.leader, url: this.#urls[p.leader - 1] },
        },
      );
    }
    return p;
  }

  #produce(p: FakePartition, bytes: Uint8Array): { batch: StoredBatch; duplicate: boolean } {
    let last: StoredBatch | undefined;
    let duplicate = false;
    for (const one of splitBatches(bytes)) {
      const h = readBatchHeader(one);
      if (h.producerId < 0) {
        last = this.#append(p, new Uint8Array(one));
        continue;
      }
      let state = p.producers.get(h.producerId);
      if (!state) {
        state = { next: 0, recent: new Map() };
        p.producers.set(h.producerId, state);
      }
      const seen = state.recent.get(h.baseSequence);
      if (seen) {
        last = seen;
        duplicate = true;
        continue;
      }
      if (h.baseSequence !== state.next) {
        throw new StromError(
          "OUT_OF_ORDER_SEQUENCE_NUMBER",
          `expected sequence ${state.next}, got ${h.baseSequence}`,
        );
      }
      last = this.#append(p, new Uint8Array(one));
      state.next = h.baseSequence + h.recordCount;
      state.recent.set(h.baseSequence, last);
      if (state.recent.size > 5) state.recent.delete(state.recent.keys().next().value!);
    }
    return { batch: last!, duplicate };
  }

  #describe(name: string) {
    const ps = this.topics.get(name);
    if (!ps) throw new StromError("UNKNOWN_TOPIC_OR_PARTITION", `topic '${name}' does not exist`);
    return {
      name,
      topicId: `id-${name}`,
      replicationFactor: 1,
      configs: {},
      partitions: ps.map((p, partition) => ({
        partition,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: [p.leader],
        isr: [p.leader],
      })),
    };
  }
}

function errorResponse(e: StromError): Response {
  return Response.json(e.toBody(), { status: e.httpStatus });
}
