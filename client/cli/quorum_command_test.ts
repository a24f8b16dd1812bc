import assert from "node:assert/strict";
import { runCli } from "./main.ts";

interface Seen {
  url: string;
  method: string;
  body: string | null;
}

function io(answer: (seen: Seen) => Response) {
  const out: string[] = [];
  const err: string[] = [];
  const seen: Seen[] = [];
  return {
    out,
    err,
    seen,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        const s = {
          url: String(input),
          method: init?.method ?? "GET",
          body: typeof init?.body === "string" ? init.body : null,
        };
        seen.push(s);
        return await Promise.resolve(answer(s));
      }) as typeof fetch,
    },
  };
}

const STATUS = {
  leaderId: 1,
  epoch: 4,
  highWatermark: 120,
  voters: [
    { id: 1, directoryId: "dir-1", logEndOffset: 120, lag: 0 },
    { id: 2, directoryId: "dir-2", logEndOffset: 118, lag: 2 },
  ],
  observers: [{ id: 3, directoryId: "dir-3", logEndOffset: 100, lag: 20 }],
};

Deno.test("strom quorum describe prints leader, voters and observers with lag", async () => {
  const t = io(() => Response.json(STATUS));
  const code = await runCli(["quorum", "describe", "--bootstrap-server", "http://h:1"], t.io);
  assert.equal(code, 0, t.err.join("\n"));
  assert.equal(t.seen[0].url, "http://h:1/v1/quorum");
  const text = t.out.join("\n");
  assert.match(text, /LeaderId: 1 {2}LeaderEpoch: 4 {2}HighWatermark: 120/);
  assert.match(text, /^1 +Leader +dir-1 +120 +0$/m);
  assert.match(text, /^3 +Observer +dir-3 +100 +20$/m);
});

Deno.test("strom quorum remove-voter sends the id and directory id", async () => {
  const t = io(() => Response.json(STATUS));
  const code = await runCli(
    [
      "quorum",
      "remove-voter",
      "--id",
      "3",
      "--directory-id",
      "a b",
      "--bootstrap-server",
      "http://h:1",
    ],
    t.io,
  );
  assert.equal(code, 0, t.err.join("\n"));
  assert.equal(t.seen[0].method, "DELETE");
  assert.equal(t.seen[0].url, "http://h:1/v1/quorum/voters/3?directoryId=a%20b");
  assert.match(t.out[0], /Removed voter 3/);
});

Deno.test("strom quorum remove-voter takes a directory id that starts with a dash in the --directory-id=D form", async () => {
  // Ids made before randomId() stopped drawing them can start with "-"; the message a refused
  // node prints gives the command in this form.
  const t = io(() => Response.json(STATUS));
  const code = await runCli(
    [
      "quorum",
      "remove-voter",
      "--id",
      "3",
      "--directory-id=-Xy_9",
      "--bootstrap-server",
      "http://h:1",
    ],
    t.io,
  );
  assert.equal(code, 0, t.err.join("\n"));
  assert.equal(t.seen[0].url, "http://h:1/v1/quorum/voters/3?directoryId=-Xy_9");
});

Deno.test("strom quorum add-voter posts the id and reports a refusal with its code", async () => {
  const t = io(() =>
    Response.json({
      error: {
        code: "VOTER_NOT_FOUND",
        message: "node 4 is not an observer of the metadata quorum yet",
      },
    }, { status: 404 })
  );
  const code = await runCli([
    "quorum",
    "add-voter",
    "--id",
    "4",
    "--bootstrap-server",
    "http://h:1",
  ], t.io);
  assert.equal(code, 1);
  assert.equal(t.seen[0].method, "POST");
  assert.deepEqual(JSON.parse(t.seen[0].body!), { id: 4 });
  assert.match(t.err[0], /VOTER_NOT_FOUND: node 4 is not an observer/);
});

Deno.test("strom quorum rejects a missing id and an unknown subcommand as usage errors", async () => {
  const t = io(() => Response.json(STATUS));
  assert.equal(await runCli(["quorum", "add-voter"], t.io), 2);
  assert.match(t.err[0], /add-voter needs --id N/);
  assert.equal(await runCli(["quorum", "promote", "--id", "2"], t.io), 2);
  assert.match(t.err[1], /unknown subcommand "promote"/);
  assert.equal(t.seen.length, 0);
});
