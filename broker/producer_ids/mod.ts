/**
 * Producer ids for idempotent producers, from controller-allocated blocks.
 *
 * @module
 */

export * from "./producer_id_manager.ts";
export * from "./controller_blocks.ts";
