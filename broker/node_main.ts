/**
 * `deno task node --config FILE`: runs one Strom node until SIGINT or
 * SIGTERM, then drains in-flight requests and exits 0.
 *
 * Exit codes: 0 clean stop, 2 bad command line or config, 1 any other start
 * failure (data dir of another node, port in use, unreadable secret).
 *
 * With `--exit-on-stdin-close` the node also stops when its standard input
 * closes: the launcher holds that pipe, so if the launcher itself is killed
 * its nodes do not live on as orphans.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError, loadNodeConfig } from "./config/node_config.ts";
import { DataDirMismatchError } from "./config/data_dir.ts";
import { createLogger } from "./log.ts";
import { ListenerError, StromNode, WipedVoterError } from "./node.ts";
import { SecretFileError } from "./security/cluster_secret.ts";

const USAGE = `usage: deno task node --config FILE [--exit-on-stdin-close]

Runs one Strom node from a JSON config file (see README.md, "Configuration").`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      options: {
        config: { type: "string" },
        "exit-on-stdin-close": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`strom node: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.config) {
    console.error(`strom node: --config FILE is required\n${USAGE}`);
    return 2;
  }

  const logger = createLogger();
  let node: StromNode;
  try {
    const config = await loadNodeConfig(args.config);
    node = await StromNode.start(config, logger);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`strom node: ${e.message}`);
      return 2;
    }
    if (
      e instanceof ListenerError || e instanceof DataDirMismatchError ||
      e instanceof WipedVoterError ||
      e instanceof SecretFileError || e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      console.error(`strom node: cannot start: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }

  const stopRequested = Promise.withResolvers<string>();
  const onSignal = (signal: Deno.Signal) => () => stopRequested.resolve(signal);
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, onSignal(s)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  if (args["exit-on-stdin-close"]) {
    watchStdinClose().then(() => stopRequested.resolve("stdin closed"));
  }

  const reason = await stopRequested.promise;
  logger.info("stop requested", { reason });
  // Leave the listeners to the exit below: a graceful close would send peers an HTTP/2 GOAWAY.
  await node.stop({ closeListeners: false });
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  return 0;
}

async function watchStdinClose(): Promise<void> {
  const buf = new Uint8Array(256);
  try {
    while ((await Deno.stdin.read(buf)) !== null) {
      // The launcher never writes; anything read is ignored.
    }
  } catch {
    // A broken pipe means the launcher is gone, same as EOF.
  }
}

if (import.meta.main) Deno.exit(await main());
