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
import { join } from "node:path";
import { getHeapStatistics } from "node:v8";
import { H2Client } from "@strom/client";
import { RAFT_HTTP_PATH } from "@strom/raft/http_transport_handler";
import { AdminService } from "./admin/admin_service.ts";
import { readJsonBody } from "./api/json_body.ts";
import { RequestGate } from "./api/request_gate.ts";
import { ControllerClient } from "./controller/controller_client.ts";
import { ControllerService } from "./controller/controller_service.ts";
import { DEFAULT_CONTROLLER_CONFIG, QuorumController } from "./controller/quorum_controller.ts";
import { QuorumMembershipService } from "./controller/quorum_membership_service.ts";
import { BrokerLifecycle } from "./metadata/broker_lifecycle.ts";
import { MetadataQuorum } from "./metadata/metadata_quorum.ts";
import {
  hasBrokerRole,
  QUORUM_NODE_PATH,
  QuorumAnnouncer,
  quorumNodeView,
  startMembership,
} from "./metadata/node_roles.ts";
import { createClientApp } from "./api/client_app.ts";
import { createInternalApp } from "./api/internal_app.ts";
import { formatOrVerifyDataDir } from "./config/data_dir.ts";
import type { DataDirMeta } from "./config/data_dir.ts";
import type { ListenerConfig, NodeConfig } from "./config/node_config.ts";
import type { Logger } from "./log.ts";
import { readSecretFile, SECRET_HEADER } from "./security/cluster_secret.ts";
import { controllerBlockSource, ProducerIdManager } from "./producer_ids/mod.ts";
import type { ReplicaManager } from "./replica_manager/mod.ts";
import { GroupCoordinatorRuntime, groupRuntimeConfig } from "./group_coordinator/mod.ts";
import {
  failIfBlocked,
  FaultyH2Client,
  mountNetFaultRoutes,
  NetFaults,
  testFaultsEnabled,
} from "./fault_injection/mod.ts";
import {
  createNodeReplicaManager,
  mountReplicaRoutes,
  ReplicaFetchHttpClient,
  startNodeReplicaManager,
} from "./replica_manager/mod.ts";

/** A listener could not be opened; the message names the port and what to do. */
export class ListenerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ListenerError";
  }
}

/** Length of one metadata Raft tick. */
export const RAFT_TICK_MS = 50;
/**
 * How often the controller moves leadership back to the preferred replicas
 * of imbalanced brokers (Kafka's `leader.imbalance.check.interval.seconds`,
 * 300 s). Leaderless partitions are elected every 5 s regardless.
 */
export const PREFERRED_LEADER_INTERVAL_MS = 300_000;

/** The subsystems of a running node, stopped in reverse order. */
interface Parts {
  readonly http: H2Client;
  /** Follower fetches (HTTP/1.1, see {@link ReplicaFetchHttpClient}); connects on first use. */
  readonly replicaHttp: ReplicaFetchHttpClient;
  readonly quorum: MetadataQuorum;
  readonly controller: ControllerService;
  readonly membership: QuorumMembershipService;
  readonly announcer: QuorumAnnouncer;
  /** Absent on a controller-only node: it never registers as a broker. */
  readonly lifecycle: BrokerLifecycle | undefined;
  readonly admin: AdminService;
  /** Partition replicas and the data plane; absent on a node without the broker role. */
  readonly replicas: ReplicaManager | undefined;
  /** Group coordinators of the `__consumer_offsets` partitions led here; with the broker role only. */
  readonly groups: GroupCoordinatorRuntime | undefined;
  /** Admits requests on both listeners until the node stops. */
  readonly gate: RequestGate;
}

/** How {@link StromNode.stop} ends the listeners. */
export interface StopOptions {
  /**
   * true (default): `Deno.serve`'s graceful shutdown, which sends HTTP/2
   * GOAWAY — for nodes run inside another process (tests), whose servers
   * must close. false: refuse new requests with SHUTTING_DOWN, wait for
   * those in flight, and leave the sockets for the process exit to close,
   * so no peer receives a GOAWAY (see broker/api/request_gate.ts); the
   * caller must exit the process afterwards.
   */
  readonly closeListeners?: boolean;
}

/** A running node. Create it with {@link StromNode.start}. */
export class StromNode {
  #stopping: Promise<void> | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly dataDir: DataDirMeta,
    readonly clientServer: Deno.HttpServer<Deno.NetAddr>,
    readonly internalServer: Deno.HttpServer<Deno.NetAddr>,
    private readonly parts: Parts,
    private readonly logger: Logger,
  ) {}

  /** Verifies the data dir, reads the secret, opens the metadata quorum and both listeners. */
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
    const httpOptions = {
      headers: { [SECRET_HEADER]: secret },
      timeoutMs: config.timeouts.requestTimeoutMs,
    };
    // Only chaos tests set STROM_TEST_FAULTS=1: then peers can be cut off through the internal API.
    const netFaults = testFaultsEnabled() ? new NetFaults() : undefined;
    const http = netFaults ? new FaultyH2Client(netFaults, httpOptions) : new H2Client(httpOptions);
    if (netFaults) logger.warn("test network faults enabled (STROM_TEST_FAULTS=1)");
    const replicaHttp = new ReplicaFetchHttpClient({
      headers: httpOptions.headers,
      ...(netFaults ? { beforeSend: (origin: string) => failIfBlocked(netFaults, origin) } : {}),
    });
    const quorum = await MetadataQuorum.open({
      nodeId: config.nodeId,
      voters: config.voters,
      dir: join(config.dataDir, METADATA_DIR),
      secret,
      tickMs: RAFT_TICK_MS,
      electionTimeoutMs: config.timeouts.electionTimeoutMs,
      logger,
      // An empty log may belong to a wiped voter (refused) or to one the operator removed (observer).
      initialConfigIfEmpty: () =>
        startMembership({ config, directoryId: meta.directoryId, http, logger }),
      ...(netFaults ? { peerBlocked: (peer: number) => netFaults.blocksId(peer) } : {}),
    }).catch(async (e) => {
      await http.close();
      throw e;
    });
    const controller = new ControllerService(
      quorum,
      new QuorumController(
        { ...DEFAULT_CONTROLLER_CONFIG, sessionTimeoutMs: config.timeouts.sessionTimeoutMs },
        () => crypto.randomUUID(),
      ),
      {
        checkIntervalMs: 100,
        balanceIntervalMs: 5_000,
        preferredLeaderIntervalMs: PREFERRED_LEADER_INTERVAL_MS,
        noOpIntervalMs: 1_000,
      },
      logger,
    );
    const membership = new QuorumMembershipService(quorum, controller, logger);
    const controllerClient = new ControllerClient(
      quorum,
      controller,
      config.voters,
      http,
      (op, body) => membership.run(op, body),
    );
    const announcer = new QuorumAnnouncer(
      {
        nodeId: config.nodeId,
        directoryId: meta.directoryId,
        internalUrl: config.listeners.internal.advertisedUrl,
        clientUrl: config.listeners.client.advertisedUrl,
      },
      controllerClient,
      quorum,
      logger,
      (e) => {
        // A voter with another directory must not take part: stop rather than vote with a blank memory.
        logger.error("the metadata quorum refused this node; stopping", { error: e.message });
        queueMicrotask(() => Deno.exit(1));
      },
    );
    const lifecycle = hasBrokerRole(config)
      ? new BrokerLifecycle(
        {
          brokerId: config.nodeId,
          directoryId: meta.directoryId,
          clientUrl: config.listeners.client.advertisedUrl,
          internalUrl: config.listeners.internal.advertisedUrl,
          rack: config.rack,
          heartbeatIntervalMs: config.timeouts.heartbeatIntervalMs,
        },
        controllerClient,
        quorum,
        logger,
      )
      : undefined;
    const admin = new AdminService(config, quorum, controller, controllerClient, http);
    const replicas = lifecycle
      ? createNodeReplicaManager({
        nodeId: config.nodeId,
        dataDir: config.dataDir,
        quorum,
        controller: controllerClient,
        brokerEpoch: () => lifecycle.brokerEpoch,
        replicaHttp,
        logger,
      })
      : undefined;
    const groups = replicas
      ? new GroupCoordinatorRuntime({
        nodeId: config.nodeId,
        image: () => quorum.image,
        replicas,
        createTopic: (body) => admin.createTopic(body),
        logger,
        config: groupRuntimeConfig(config.groups),
      })
      : undefined;
    const parts: Parts = {
      http,
      replicaHttp,
      quorum,
      controller,
      membership,
      announcer,
      lifecycle,
      admin,
      replicas,
      groups,
      gate: new RequestGate(config.nodeId),
    };

    const clientApp = createClientApp({
      nodeId: config.nodeId,
      readiness: () => readiness(parts),
      admin,
      quorum: admin,
      data: replicas && lifecycle
        ? {
          nodeId: config.nodeId,
          dataPlane: replicas,
          producerIds: new ProducerIdManager({
            allocateBlock: controllerBlockSource(controllerClient, {
              brokerId: config.nodeId,
              brokerEpoch: () => lifecycle.brokerEpoch,
            }),
          }),
          image: () => quorum.image,
          http,
        }
        : undefined,
      groups: groups && replicas
        ? { nodeId: config.nodeId, groups, image: () => quorum.image, http, dataPlane: replicas }
        : undefined,
    }, logger);
    const internalApp = createInternalApp({
      secret,
      nodeId: config.nodeId,
      logger,
      routes: (app) => {
        mountInternalRoutes(app, parts);
        if (netFaults) mountNetFaultRoutes(app, netFaults);
      },
    });

    let internalServer: Deno.HttpServer<Deno.NetAddr>;
    try {
      internalServer = serve(
        internalApp,
        parts.gate,
        config.listeners.internal,
        "internal",
        logger,
      );
    } catch (e) {
      await quorum.close();
      await http.close();
      throw e;
    }
    let clientServer: Deno.HttpServer<Deno.NetAddr>;
    try {
      clientServer = serve(clientApp, parts.gate, config.listeners.client, "client", logger);
    } catch (e) {
      await internalServer.shutdown();
      await quorum.close();
      await http.close();
      throw e;
    }
    if (replicas && lifecycle) {
      await startNodeReplicaManager(
        replicas,
        quorum,
        logger,
        (image) => image.brokers.get(config.nodeId)?.incarnationId === lifecycle.incarnationId,
      );
    }
    groups?.start();
    quorum.start();
    controller.start();
    membership.start();
    announcer.start();
    lifecycle?.start();
    logger.info("node started", {
      nodeId: config.nodeId,
      clusterId: config.clusterId,
      client: config.listeners.client.advertisedUrl,
      internal: config.listeners.internal.advertisedUrl,
      // What the process was started with: old space (`--max-old-space-size`, the launcher's
      // `--heap-max-mb`) plus three semi-spaces (`--max-semi-space-size`).
      jsHeapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 1_048_576),
    });
    return new StromNode(config, meta, clientServer, internalServer, parts, logger);
  }

  /**
   * Stops cleanly: a controlled shutdown moves leaderships away, listeners
   * stop accepting and drain in-flight requests (at most
   * `shutdownGraceMs`), then the quorum and connections close.
   *
   * A node that runs as its own process stops with `closeListeners: false`
   * and exits right after: its peers then never receive an HTTP/2 GOAWAY,
   * which can crash a Deno 2.9 `node:http2` client (denoland/deno#36788).
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.closeListeners ?? true);
    return this.#stopping;
  }

  async #stop(closeListeners: boolean): Promise<void> {
    const graceMs = this.config.timeouts.shutdownGraceMs;
    this.logger.info("node stopping: controlled shutdown, then draining requests", { graceMs });
    await this.parts.lifecycle?.shutdown(Math.min(5_000, graceMs));
    this.parts.announcer.stop();
    this.parts.gate.close();
    const drained = closeListeners
      ? Promise.all([this.clientServer.shutdown(), this.internalServer.shutdown()])
      : this.parts.gate.drained(graceMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([drained.then(() => "drained" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.logger.warn("shutdown grace period over; abandoning requests still in flight");
    }
    await this.parts.groups?.stop();
    // After the controlled shutdown moved leaderships away: flush logs, checkpoint HWs, close files.
    await this.parts.replicas?.stop();
    this.parts.replicaHttp.close();
    this.parts.membership.stop();
    this.parts.controller.stop();
    await this.parts.quorum.close();
    // Closing our own sessions also walks nghttp2's stream map (the path that can crash);
    // a process about to exit leaves them to the exit.
    if (closeListeners) await this.parts.http.close();
    this.logger.info("node stopped", { nodeId: this.config.nodeId });
  }
}

/** The metadata log's directory inside the data dir (Kafka's name for it). */
export const METADATA_DIR = "__cluster_metadata-0";

function readiness(parts: Parts): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (parts.quorum.status().leaderId === 0) reasons.push("no metadata quorum leader elected yet");
  if (!parts.announcer.announced) reasons.push("not announced to the metadata quorum yet");
  if (!parts.lifecycle) return { ready: reasons.length === 0, reasons };
  if (parts.lifecycle.brokerEpoch === undefined) {
    reasons.push("not registered with the controller yet");
  } else if (parts.lifecycle.fenced) reasons.push("fenced: catching up with the metadata log");
  return { ready: reasons.length === 0, reasons };
}

export { WipedVoterError } from "./metadata/node_roles.ts";

function mountInternalRoutes(app: Hono, parts: Parts): void {
  app.get(
    `${QUORUM_NODE_PATH}/:id`,
    (c) => c.json(quorumNodeView(parts.quorum, Number(c.req.param("id")))),
  );
  app.post(RAFT_HTTP_PATH, (c) => parts.quorum.handleRaftRequest(c.req.raw));
  app.post("/internal/controller/:op", async (c) => {
    if (!parts.controller.active) throw parts.quorum.notControllerError();
    return c.json(await parts.membership.run(c.req.param("op"), await readJsonBody(c.req.raw)));
  });
  app.get("/internal/quorum", (c) => c.json(parts.admin.localQuorum()));
  mountReplicaRoutes(app, () => parts.replicas);
}

function serve(
  app: Hono,
  gate: RequestGate,
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
    }, gate.wrap(app.fetch));
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
