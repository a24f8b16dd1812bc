/**
 * `deno task bench`: Strom's producer/consumer performance tool, in the
 * manner of kafka-producer-perf-test and kafka-consumer-perf-test. See
 * {@link USAGE} and the README's "Performance" section.
 *
 * Exit codes: 0 done, 1 the run failed, 2 bad flags.
 *
 * @module
 */

import { parseBenchArgs, USAGE, UsageError } from "./options.ts";
import { formatResult } from "./result.ts";
import { runBench } from "./run.ts";

if (import.meta.main) {
  let options;
  try {
    options = parseBenchArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`bench: ${e.message}`);
    console.error(USAGE);
    Deno.exit(e.message ? 2 : 0);
  }
  try {
    const result = await runBench(options);
    console.log(options.json ? JSON.stringify(result) : formatResult(result));
  } catch (e) {
    console.error(`bench ${options.command} failed: ${(e as Error)?.stack ?? e}`);
    Deno.exit(1);
  }
}
