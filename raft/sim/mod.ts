/**
 * Testing tools of `@strom/raft`: a scripted cluster for readable edge-case
 * tests ({@link ScenarioEnv}) and the deterministic simulator ({@link runSeed},
 * {@link runSeeds}) with its simulated disk and invariant checker.
 *
 * @example
 * ```ts
 * import { runSeed } from "@strom/raft/sim";
 * const result = runSeed({ seed: 42, faultTicks: 100 });
 * if (!result.ok) throw new Error(`seed 42: ${result.error}`);
 * ```
 *
 * @module
 */

export * from "./scenario_env.ts";
export * from "./simulator.ts";
export * from "./sim_disk.ts";
export * from "./invariants.ts";
export * from "./event_queue.ts";
export * from "./hash.ts";
