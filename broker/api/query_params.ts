/**
 * Integer query and path parameters, validated with messages that name the
 * parameter, its allowed range and what was sent.
 *
 * @module
 */

import { StromError } from "@strom/client";

/** Bounds and default of one integer parameter. */
export interface IntParamSpec {
  readonly min: number;
  readonly max: number;
  /** Used when the parameter is absent; without one the parameter is required. */
  readonly fallback?: number;
}

/** Parses `raw` (the parameter's text, or undefined when absent) as an integer in range. */
export function intParam(name: string, raw: string | undefined, spec: IntParamSpec): number {
  if (raw === undefined || raw === "") {
    if (spec.fallback !== undefined) return spec.fallback;
    throw new StromError("INVALID_REQUEST", `the query parameter "${name}" is required`);
  }
  const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
    throw new StromError(
      "INVALID_REQUEST",
      `"${name}" must be an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
