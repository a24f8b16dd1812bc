/**
 * Assertions that stay on in production (STYLE 9). A failed one means a bug
 * in the replica logic or a broken storage promise, never bad client input:
 * client input is answered with a {@link StromError} instead.
 *
 * @module
 */

/** Thrown when an invariant of a replica-state core does not hold. */
export class ReplicaInvariantError extends Error {
  constructor(message: string) {
    super(`replica invariant violated: ${message}`);
    this.name = "ReplicaInvariantError";
  }
}

/** Throws {@link ReplicaInvariantError} unless `condition` holds. */
export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new ReplicaInvariantError(message());
}
