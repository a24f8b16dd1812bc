/**
 * Quorum membership on the client listener (KIP-853's operations, as
 * `kafka-metadata-quorum add-controller` / `remove-controller` offer them):
 *
 * - `GET /v1/quorum`: leader, epoch, high watermark, voters and observers
 *   with their directory ids, log end offsets and lag;
 * - `POST /v1/quorum/voters` `{"id": N}`: promote observer N to voter;
 * - `DELETE /v1/quorum/voters/{id}?directoryId=D`: remove voter N (whose
 *   directory id must be D when given).
 *
 * Any node answers; the change runs on the active controller.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { Hono } from "hono";
import { readJsonBody } from "./json_body.ts";

/** What the routes need (implemented by AdminService). */
export interface QuorumApi {
  describeQuorum(): Promise<unknown>;
  addVoter(nodeId: number): Promise<unknown>;
  removeVoter(nodeId: number, directoryId?: string): Promise<unknown>;
}

/** Mounts the quorum routes on `app`. */
export function mountQuorumRoutes(app: Hono, quorum: QuorumApi): void {
  app.get("/v1/quorum", async (c) => c.json(await quorum.describeQuorum()));
  app.post("/v1/quorum/voters", async (c) => {
    const body = await readJsonBody(c.req.raw) as { id?: unknown } | null;
    return c.json(await quorum.addVoter(nodeIdOf(body?.id, `body field "id"`)));
  });
  app.delete("/v1/quorum/voters/:id", async (c) => {
    const id = nodeIdOf(Number(c.req.param("id")), "the voter id in the path");
    const directoryId = c.req.query("directoryId");
    return c.json(await quorum.removeVoter(id, directoryId || undefined));
  });
}

function nodeIdOf(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
  throw new StromError("INVALID_REQUEST", `${what} must be a positive integer node id`);
}
