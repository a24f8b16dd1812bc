/**
 * Test-only fault hooks of a node, enabled by `STROM_TEST_FAULTS=1`.
 *
 * @module
 */

export * from "./net_faults.ts";
