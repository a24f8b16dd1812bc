/**
 * The one retry helper of the client: retries only errors the error table
 * calls retriable, with exponential backoff and jitter, within a deadline,
 * and stops at once when the caller's `AbortSignal` fires.
 *
 * @module
 */

import { StromError } from "../errors.ts";

/** How long to wait between attempts. */
export interface BackoffOptions {
  /** Backoff before the second attempt. */
  readonly backoffMs: number;
  /** Largest backoff. */
  readonly backoffMsMax: number;
  /** Uniform random numbers in [0, 1); injectable for tests. Default Math.random. */
  readonly random?: () => number;
}

/**
 * The backoff before attempt `attempt + 1` (attempt counts from 1):
 * `backoffMs · 2^(attempt-1)`, capped at `backoffMsMax`, with ±20 % jitter so
 * that many clients do not retry in step.
 *
 * @example
 * ```ts
 * import { backoffDelayMs } from "@strom/client";
 * const ms = backoffDelayMs(3, { backoffMs: 100, backoffMsMax: 1000, random: () => 0.5 });
 * console.log(ms); // 400
 * ```
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const exp = Math.min(options.backoffMsMax, options.backoffMs * 2 ** Math.max(0, attempt - 1));
  const jitter = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.round(Math.min(options.backoffMsMax, exp * jitter));
}

/**
 * Resolves after `ms`, or rejects with the signal's reason when it aborts
 * first. The timer never outlives the wait.
 *
 * @example
 * ```ts
 * import { sleep } from "@strom/client";
 * await sleep(1);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Whether `error` may succeed when retried unchanged: a retriable
 * {@link StromError} (network failures and timeouts included).
 *
 * @example
 * ```ts
 * import { isRetriable, StromError } from "@strom/client";
 * console.log(isRetriable(new StromError("NETWORK_EXCEPTION", "down"))); // true
 * console.log(isRetriable(new TypeError("bug"))); // false
 * ```
 */
export function isRetriable(error: unknown): boolean {
  return error instanceof StromError && error.retriable;
}

/** Options of {@link withRetries}. */
export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first included. */
  readonly attemptsMax: number;
  /** No retry starts after this time (ms since the epoch, `Date.now()` clock). */
  readonly deadlineMs?: number;
  /** Aborts waiting and further attempts. */
  readonly signal?: AbortSignal;
  /** Which errors to retry; default {@link isRetriable}. */
  readonly shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Called before each backoff, for example to refresh metadata. */
  readonly onRetry?: (error: unknown, attempt: number) => void | Promise<void>;
}

/**
 * Runs `attempt(n)` until it succeeds, fails with an error that is not
 * retriable, runs out of attempts or passes the deadline; then throws the
 * last error.
 *
 * @example
 * ```ts
 * import { StromError, withRetries } from "@strom/client";
 * let calls = 0;
 * const answer = await withRetries(async () => {
 *   if (++calls < 3) throw new StromError("NOT_READY", "starting");
 *   return "ok";
 * }, { attemptsMax: 5, backoffMs: 1, backoffMsMax: 2 });
 * console.log(answer, calls); // ok 3
 * ```
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const shouldRetry = options.shouldRetry ?? isRetriable;
  for (let n = 1;; n++) {
    options.signal?.throwIfAborted();
    try {
      return await attempt(n);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (n >= options.attemptsMax || !shouldRetry(error, n)) throw error;
      const delay = backoffDelayMs(n, options);
      if (options.deadlineMs !== undefined && Date.now() + delay >= options.deadlineMs) throw error;
      await options.onRetry?.(error, n);
      await sleep(delay, options.signal);
    }
  }
}
