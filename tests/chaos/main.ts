/**
 * `deno task chaos`: runs one chaos test against a cluster of its own and
 * prints the report. Exit codes: 0 no violation, 1 violations (or the run
 * failed), 2 bad flags. Ctrl-C ends the fault phase early; the run still
 * heals, checks and stops everything it started.
 *
 * @module
 */

import { historyToLines } from "./history.ts";
import { formatSummary } from "./report.ts";
import { runChaos } from "./run.ts";
import { CHAOS_USAGE, ChaosUsageError, parseChaosArgs } from "./options.ts";

async function main(): Promise<number> {
  let options;
  try {
    options = parseChaosArgs(Deno.args);
  } catch (e) {
    if (e instanceof ChaosUsageError) {
      console.error(`chaos: ${e.message}\n${CHAOS_USAGE}`);
      return 2;
    }
    throw e;
  }
  if (!options) {
    console.log(CHAOS_USAGE);
    return 0;
  }
  const interrupt = new AbortController();
  const onSignal = () => {
    console.error("chaos: interrupted; healing, checking and stopping (Ctrl-C again to force)");
    if (interrupt.signal.aborted) Deno.exit(130);
    interrupt.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const { report, history } = await runChaos(
      options,
      (line) => console.log(line),
      interrupt.signal,
    );
    console.log(formatSummary(report));
    if (options.reportFile) {
      await Deno.writeTextFile(options.reportFile, JSON.stringify(report, null, 2) + "\n");
      console.log(`chaos: report written to ${options.reportFile}`);
    }
    if (!report.valid && options.reportFile) {
      // The history lets the checker be run again offline on exactly what the clients saw.
      await Deno.writeTextFile(`${options.reportFile}.history.jsonl`, historyToLines(history));
      console.log(`chaos: history written to ${options.reportFile}.history.jsonl`);
    }
    if (!report.valid) {
      console.log(`chaos: fault schedule of seed ${report.seed}:`);
      for (const e of report.faultSchedule ?? []) console.log(`  ${JSON.stringify(e)}`);
    }
    return report.valid ? 0 : 1;
  } catch (e) {
    console.error(`chaos: the run failed (seed ${options.seed}): ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
