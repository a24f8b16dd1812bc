/**
 * One Strom node: its data directory, its two listeners, and (as later
 * subsystems land) the metadata quorum, replicas and groups it runs.
 *
 * Start-up order matters: the data directory is verified before any port is
 * opened, so a node pointed at the wrong directory never answers anything;
 * the internal listener opens before the client listener, so once clients
 * can reach a node its peers can too.
 *
 * @module
 */

import type { Hono } from "hono";
import { createClientApp } from "./api/client_app.ts";
import { createInternalApp } from "./api/internal_app.ts";
import { formatOrVerifyDataDir } from "./config/data_dir.ts";
import type { DataDirMeta } from "./config/data_dir.ts";
import type { ListenerConfig, NodeConfig } from "./config/node_config.ts";
import type { Logger } from "./log.ts";
import { readSecretFile } from "./security/cluster_secret.ts";

/** A listener could not be opened; the message names the port and what to do. */
export class ListenerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ListenerError";
  }
}

/** A running node. Create it with {@link StromNode.start}. */
export class StromNode {
  #stopping: Promise<void> | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly dataDir: DataDirMeta,
    readonly clientServer: Deno.HttpServer<Deno.NetAddr>,
    readonly internalServer: Deno.HttpServer<Deno.NetAddr>,
    private readonly logger: Logger,
  ) {}

  /** Verifies the data dir, reads the secret, and opens both listeners. */
  static async start(config: NodeConfig, logger: Logger): Promise<StromNode> {
    const { meta, formatted } = await formatOrVerifyDataDir(config.dataDir, {
      clusterId: config.clusterId,
      nodeId: config.nodeId,
    });
    if (formatted) {
      logger.info("formatted data dir", {
        dataDir: config.dataDir,
        clusterId: meta.clusterId,
        directoryId: meta.directoryId,
      });
    }
    const secret = await readSecretFile(config.clusterSecretFile);

    let ready = false;
    const nodes = config.voters.map((v) => ({
      id: v.id,
      clientUrl: v.clientUrl,
      internalUrl: v.internalUrl,
    }));
    const clientApp = createClientApp({
      clusterId: config.clusterId,
      nodeId: config.nodeId,
      nodes,
      readiness: () =>
        ready ? { ready, reasons: [] } : { ready, reasons: ["listeners are starting"] },
    }, logger);
    const internalApp = createInternalApp({ secret, nodeId: config.nodeId, logger });

    const internalServer = serve(internalApp, config.listeners.internal, "internal", logger);
    let clientServer: Deno.HttpServer<Deno.NetAddr>;
    try {
      clientServer = serve(clientApp, config.listeners.client, "client", logger);
    } catch (e) {
      await internalServer.shutdown();
      throw e;
    }
    ready = true;
    logger.info("node started", {
      nodeId: config.nodeId,
      clusterId: config.clusterId,
      client: config.listeners.client.advertisedUrl,
      internal: config.listeners.internal.advertisedUrl,
    });
    return new StromNode(config, meta, clientServer, internalServer, logger);
  }

  /**
   * Stops accepting connections and waits for in-flight requests to finish,
   * at most `shutdownGraceMs`; then closes what is left.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.logger.info("node stopping: draining in-flight requests", {
      graceMs: this.config.timeouts.shutdownGraceMs,
    });
    const drained = Promise.all([this.clientServer.shutdown(), this.internalServer.shutdown()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.config.timeouts.shutdownGraceMs);
    });
    const outcome = await Promise.race([drained.then(() => "drained" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.logger.warn("shutdown grace period over; abandoning requests still in flight");
    }
    this.logger.info("node stopped", { nodeId: this.config.nodeId });
  }
}

function serve(
  app: Hono,
  listener: ListenerConfig,
  name: string,
  logger: Logger,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: listener.host,
      port: listener.port,
      onListen: () => {},
      onError: (err) => {
        logger.error("request handler failed", { listener: name, error: String(err) });
        return new Response("internal error", { status: 500 });
      },
    }, app.fetch);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new ListenerError(
        `the ${name} listener cannot bind ${listener.host}:${listener.port}: the port is already in use. Stop whatever listens there (see: ss -ltnp 'sport = :${listener.port}') or configure another port`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable) {
      throw new ListenerError(
        `the ${name} listener cannot bind ${listener.host}:${listener.port}: that address does not belong to this machine; use one of its addresses (or 0.0.0.0) as the host`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new ListenerError(
        `the ${name} listener may not bind port ${listener.port}: ports below 1024 need privileges; use a port of 1024 or more`,
        { cause: e },
      );
    }
    throw e;
  }
}
