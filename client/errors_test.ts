import assert from "node:assert/strict";
import { ERROR_CODES, isErrorCode, StromError } from "./errors.ts";

Deno.test("StromError carries its code's status and retriable flag", () => {
  const e = new StromError("NOT_LEADER_OR_FOLLOWER", "moved", {
    leader: { id: 2, url: "http://127.0.0.1:9093" },
  });
  assert.equal(e.retriable, true);
  assert.equal(e.httpStatus, 421);
  assert.deepEqual(e.toBody(), {
    error: {
      code: "NOT_LEADER_OR_FOLLOWER",
      message: "moved",
      leader: { id: 2, url: "http://127.0.0.1:9093" },
    },
  });
});

Deno.test("StromError.fromBody() round-trips a wire body", () => {
  const original = new StromError("TOPIC_ALREADY_EXISTS", "topic 'a' exists", {
    details: { topic: "a" },
  });
  const back = StromError.fromBody(original.toBody(), 409);
  assert.equal(back.code, "TOPIC_ALREADY_EXISTS");
  assert.equal(back.message, "topic 'a' exists");
  assert.deepEqual(back.details, { topic: "a" });
});

Deno.test("StromError.fromBody() turns an unknown shape into UNKNOWN_SERVER_ERROR", () => {
  for (const body of [null, "x", {}, { error: { code: "NOPE", message: "m" } }]) {
    const e = StromError.fromBody(body, 500);
    assert.equal(e.code, "UNKNOWN_SERVER_ERROR");
    assert.match(e.message, /HTTP 500/);
  }
});

Deno.test("every error code has an HTTP error status", () => {
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.ok(isErrorCode(code));
    assert.ok(info.httpStatus >= 400 && info.httpStatus < 600, code);
  }
  assert.equal(isErrorCode("toString"), false);
});
