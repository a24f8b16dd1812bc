/**
 * Turns errors into HTTP answers with the stable body
 * `{"error": {"code", "message", "leader"?}}`. Anything that is not a
 * {@link StromError} is a bug on our side: it is logged with its stack and
 * answered as UNKNOWN_SERVER_ERROR, and the node keeps serving.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { Logger } from "../log.ts";

/** The HTTP answer for a StromError. */
export function errorResponse(error: StromError): Response {
  return Response.json(error.toBody(), { status: error.httpStatus });
}

/** The HTTP answer for anything thrown by a route. */
export function responseForThrown(error: unknown, logger: Logger, route: string): Response {
  if (error instanceof StromError) return errorResponse(error);
  logger.error("unexpected error while serving a request", {
    route,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return errorResponse(
    new StromError(
      "UNKNOWN_SERVER_ERROR",
      "the broker failed to serve this request; it logged the cause and keeps running",
    ),
  );
}

/** The answer for a path no route serves. */
export function notFoundResponse(method: string, path: string): Response {
  return errorResponse(
    new StromError("NOT_FOUND", `no route for ${method} ${path}; see the HTTP API in README.md`),
  );
}
