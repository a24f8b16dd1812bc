import { strictEqual } from "node:assert/strict";
import { classifyAttempts } from "./admin_ops.ts";

const OK = { status: 200 };
const TIMEOUT = { status: 0, code: "NETWORK" };
const NOT_CONTROLLER = { status: 421, code: "NOT_CONTROLLER" };
const REJECTED = { status: 400, code: "INVALID_REPLICATION_FACTOR" };

Deno.test("an operation whose last attempt succeeded is ok", () => {
  strictEqual(classifyAttempts([OK]), "ok");
  strictEqual(classifyAttempts([TIMEOUT, NOT_CONTROLLER, OK]), "ok");
});

Deno.test("a rejection on the only attempt is a definite failure", () => {
  strictEqual(classifyAttempts([REJECTED]), "fail");
  strictEqual(classifyAttempts([{ status: 404, code: "UNKNOWN_TOPIC_OR_PARTITION" }]), "fail");
});

Deno.test("a rejection after an attempt that may have applied the operation is unknown", () => {
  strictEqual(classifyAttempts([TIMEOUT, REJECTED]), "unknown");
  strictEqual(classifyAttempts([NOT_CONTROLLER, REJECTED]), "unknown");
});

Deno.test("timeouts, retriable errors, server errors and TOPIC_ALREADY_EXISTS are unknown", () => {
  strictEqual(classifyAttempts([TIMEOUT]), "unknown");
  strictEqual(classifyAttempts([NOT_CONTROLLER, NOT_CONTROLLER]), "unknown");
  strictEqual(classifyAttempts([{ status: 500, code: "UNKNOWN_SERVER_ERROR" }]), "unknown");
  strictEqual(classifyAttempts([{ status: 409, code: "TOPIC_ALREADY_EXISTS" }]), "unknown");
  strictEqual(classifyAttempts([]), "unknown");
});
