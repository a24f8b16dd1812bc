import { deepStrictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { decodeMessages, encodeMessages } from "./message_codec.ts";
import { RaftError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { Entry } from "./types.ts";

const node = fc.integer({ min: 1, max: 1000 });
const num = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat({ max: 300 }));
const bytes = fc.uint8Array({ maxLength: 40 });
const header = fc.record({ from: node, to: node, term: num });

function entriesAfter(index: number): fc.Arbitrary<Entry[]> {
  return fc.array(
    fc.record({
      term: fc.integer({ min: 1, max: 1 << 30 }),
      kind: fc.constantFrom("normal", "noop", "config" as const),
      data: bytes,
    }),
    { maxLength: 5 },
  ).map((es) => es.map((e, i) => ({ ...e, index: index + 1 + i } as Entry)));
}

const config = fc.uniqueArray(node, { maxLength: 6 }).map((ids) => {
  const sorted = [...ids].sort((a, b) => a - b);
  return { voters: sorted.filter((_, i) => i % 2 === 0), learners: sorted.filter((_, i) => i % 2) };
});

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.tuple(header, fc.nat({ max: 1 << 30 }), num, num).chain(([h, index, logTerm, commit]) =>
    entriesAfter(index).map((entries) =>
      ({ ...h, type: "app", index, logTerm, commit, entries }) as Message
    )
  ),
  fc.record({
    h: header,
    index: num,
    reject: fc.boolean(),
    rejectHint: num,
    logTerm: num,
  }).map(({ h, ...m }) => ({ ...h, type: "appResp", ...m }) as Message),
  fc.tuple(header, num, num).map(([h, commit, readSeq]) =>
    ({ ...h, type: "heartbeat", commit, readSeq }) as Message
  ),
  fc.tuple(header, num).map(([h, readSeq]) =>
    ({ ...h, type: "heartbeatResp", readSeq }) as Message
  ),
  fc.tuple(header, num, num, fc.boolean()).map(([h, index, logTerm, transfer]) =>
    ({ ...h, type: "vote", index, logTerm, transfer }) as Message
  ),
  fc.tuple(header, fc.boolean()).map(([h, reject]) =>
    ({ ...h, type: "voteResp", reject }) as Message
  ),
  fc.tuple(header, num, num).map(([h, index, logTerm]) =>
    ({ ...h, type: "preVote", index, logTerm }) as Message
  ),
  fc.tuple(header, fc.boolean()).map(([h, reject]) =>
    ({ ...h, type: "preVoteResp", reject }) as Message
  ),
  fc.tuple(header, num, num, config, bytes, fc.nat({ max: 100 }), fc.nat({ max: 100 })).map(
    ([h, index, term, cfg, data, offset, extra]) =>
      ({
        ...h,
        type: "snapshot",
        meta: { index, term, config: cfg },
        totalBytes: offset + data.byteLength + extra,
        offset,
        data,
      }) as Message,
  ),
  fc.tuple(header, num, num).map(([h, index, nextOffset]) =>
    ({ ...h, type: "snapshotResp", index, nextOffset }) as Message
  ),
  header.map((h) => ({ ...h, type: "timeoutNow" }) as Message),
  fc.tuple(header, bytes).map(([h, context]) => ({ ...h, type: "readIndex", context }) as Message),
  fc.tuple(header, num, bytes).map(([h, index, context]) =>
    ({ ...h, type: "readIndexResp", index, context }) as Message
  ),
  fc.tuple(header, fc.array(bytes, { maxLength: 4 })).map(([h, data]) =>
    ({ ...h, type: "propose", data }) as Message
  ),
);

Deno.test("decodeMessages(encodeMessages(ms)) returns ms for every message type", () => {
  fc.assert(
    fc.property(fc.array(message, { maxLength: 8 }), (ms) => {
      deepStrictEqual(decodeMessages(encodeMessages(ms)), ms);
    }),
    { numRuns: 300 },
  );
});

Deno.test("decodeMessages() throws CORRUPT_MESSAGE on every truncation of a valid batch", () => {
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 3 }), (ms) => {
      const bytes = encodeMessages(ms);
      for (let cut = 0; cut < bytes.length; cut++) {
        throws(
          () => decodeMessages(bytes.subarray(0, cut)),
          (e: unknown) => e instanceof RaftError && e.code === "CORRUPT_MESSAGE",
        );
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("decodeMessages() either decodes or throws CORRUPT_MESSAGE on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try {
        decodeMessages(Uint8Array.of(1, ...junk));
      } catch (e) {
        if (!(e instanceof RaftError) || e.code !== "CORRUPT_MESSAGE") throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decodeMessages() refuses trailing bytes, unknown versions and huge lengths", () => {
  const ok = encodeMessages([{ type: "timeoutNow", from: 1, to: 2, term: 3 }]);
  const corrupt = (bytes: Uint8Array) =>
    throws(
      () => decodeMessages(bytes),
      (e: unknown) => e instanceof RaftError && e.code === "CORRUPT_MESSAGE",
    );
  corrupt(Uint8Array.of(...ok, 0));
  corrupt(Uint8Array.of(9, ...ok.subarray(1)));
  corrupt(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0x0f));
  corrupt(Uint8Array.of(1, 1, 11, 1, 2, 3, 0xff, 0xff, 0xff, 0xff, 0x0f));
  corrupt(Uint8Array.of(1, 1, 10, 0, 2, 3));
});

Deno.test("encodeMessages() refuses numbers that are not non-negative safe integers", () => {
  throws(() => encodeMessages([{ type: "timeoutNow", from: 1, to: 2, term: -1 }]), RaftError);
  throws(
    () => encodeMessages([{ type: "timeoutNow", from: 1, to: 2, term: 0.5 }]),
    RaftError,
  );
});

Deno.test("encodeMessages() writes a large append into one buffer of about its size", () => {
  const data = new Uint8Array(1_500_000).fill(7);
  const app: Message = {
    type: "app",
    from: 1,
    to: 2,
    term: 3,
    index: 41,
    logTerm: 3,
    commit: 40,
    entries: [{ index: 42, term: 3, kind: "normal", data }],
  };
  const encoded = encodeMessages([app]);
  deepStrictEqual(decodeMessages(encoded), [app]);
  // A view of one buffer sized from the messages (it used to double from 256 B up to 2 MiB and
  // then copy the result out); small batches are still copied out of a larger buffer.
  const unused = encoded.buffer.byteLength - encoded.byteLength;
  deepStrictEqual(unused >= 0 && unused <= 128, true, `${unused} bytes unused`);
  const heartbeat = encodeMessages([{
    type: "heartbeat",
    from: 1,
    to: 2,
    term: 3,
    commit: 7,
    readSeq: 0,
  }]);
  deepStrictEqual(heartbeat.buffer.byteLength, heartbeat.byteLength);
});
