import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, EpistulaVerifier } from "../epistula/epistula.ts";
import { RateLimits } from "../api/rate-limit.ts";
import { SignaturePool } from "../epistula/signature-pool.ts";
import { buildServer } from "../api/server.ts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { forwardedByPeer, installForwarding } from "../api/forward-writes.ts";
import type { ClusterMember } from "../node/cluster/cluster-member.ts";
import type { LogFormat, LogLevel } from "../api/logging.ts";
import { NodeLog } from "../node/node-log.ts";
import { type ConnectionLimitOptions, connectionLimitsFromEnv } from "../api/connection-limits.ts";
import type { Endowment } from "../core/machine/commands.ts";
import { cryptoReady, devAccounts, isSs58, KeyError, loadKey, loadOrCreateNodeKey } from "../keys/keys.ts";
import { BlockProducer } from "../node/block-producer.ts";
import { devnetWeights, WeightSetter } from "../node/weight-setter.ts";
import { Demo, DEMO_PAYOUT_PERIOD, DEMO_TEMPO } from "../node/demo.ts";
import { logPath, PropnetNode } from "../node/node.ts";
import { LogIntegrityError } from "../store/stored-event.ts";
import { isMothership, streamHead } from "../core/sync/sync-state.ts";
import { signMessage, verifySignature } from "../epistula/epistula.ts";
import { HttpSyncTransport } from "../node/sync/http-sync-transport.ts";
import { verifyRotation } from "../node/sync/rotation-authorization.ts";
import { SyncAgent } from "../node/sync/sync-agent.ts";
import { DataDirectoryLocked, DataDirLock } from "../store/data-dir-lock.ts";
import { CODE_VERSION } from "../version.ts";
import type { ChainGenesis } from "../core/chain/chain-state.ts";
import type { PayoutPeriod } from "../core/debt/payout-period.ts";
import { GenesisFileError, readGenesisFile } from "./genesis-file.ts";
import type { SubtensorOptions } from "./serve-subtensor.ts";
import { isLoopback } from "./serve-options.ts";
import { startedByNpm, watchParent } from "./parent-watch.ts";

export interface ServeOptions {
  host: string;
  port: number;
  data: string;
  demo: boolean;
  strict: boolean;
  blockTime: number;
  store: "sqlite" | "postgres";
  pgUrl?: string;
  /** `--pg-schema`: the schema holding the log (default propnet). */
  pgSchema?: string;
  root?: string;
  oracle?: string;
  mothership?: string;
  key?: string;
  peers: string[];
  rateLimit: "on" | "off";
  snapshotEvery: number;
  genesis?: string;
  /** `--payout-period`: month (calendar month UTC, the default) or 1d, 1h, 10m, 1m. */
  payoutPeriod?: PayoutPeriod;
  /** `--min-free-mb`: free space kept on the data directory's filesystem; below it writes get 503 STORAGE_FULL. */
  minFreeMb?: number;
  /** `--chain`: the devnet (default) or a real Subtensor subnet to follow. */
  chain?: "devnet" | "subtensor";
  chainUrl?: string;
  archiveUrl?: string;
  netuid?: number;
  weightsVersionKey?: number;
  /** `--log-level` and `--log-format`: the structured log on stdout (`say` lines stay on stderr). */
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

const TAO_RAO = 1_000_000_000n;
export const DEV_ENDOWMENT_RAO = 1_000_000n * TAO_RAO;
/** The node's own key at genesis: enough for its registration burn and its stake, with room to spare. */
export const NODE_ENDOWMENT_RAO = 10_000n * TAO_RAO;
/** The node's validator stake at genesis: alone on the devnet, its weights are the consensus. */
export const NODE_STAKE_RAO = 1_000n * TAO_RAO;

class ServeRefused extends Error {}

/** One thread per core beyond the event loop's (at least one); PROPNET_SIGNATURE_THREADS overrides. */
function signatureThreads(): number {
  const configured = Number(process.env.PROPNET_SIGNATURE_THREADS);
  if (Number.isInteger(configured) && configured > 0) return configured;
  return Math.max(1, availableParallelism() - 1);
}

function say(message: string): void {
  process.stderr.write(`propnet: ${message}\n`);
}

/**
 * The devnet genesis: the development accounts endowed, subnet 1 owned by Alice with her hotkey as
 * uid 0, and the node's key endowed and registered as a validator with stake. A node whose key is
 * Alice's (`--key //Alice`) is the owner and the validator at once, on uid 0; a development key
 * already holds far more than it needs. `tempo` (the demo's short one) replaces the chain's default.
 */
export function devGenesis(dev: Map<string, string>, root: string, alice: string, node: string, tempo?: number): { endowments: Endowment[]; chain: ChainGenesis } {
  const endowments: Endowment[] = [...dev.values()].map((owner) => ({ owner, amount_rao: DEV_ENDOWMENT_RAO }));
  if (![...dev.values()].includes(node)) endowments.push({ owner: node, amount_rao: NODE_ENDOWMENT_RAO });
  const validators = [{ hotkey: node, coldkey: node, stake_rao: NODE_STAKE_RAO }];
  return {
    endowments,
    chain: { root, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice, registerOwner: node !== alice, validators, ...(tempo !== undefined ? { tempo } : {}) }] },
  };
}

/** `--chain subtensor` needs where (`--chain-url`) and which subnet (`--netuid`); the devnet needs neither. */
function subtensorOptions(options: ServeOptions): SubtensorOptions | null {
  if ((options.chain ?? "devnet") === "devnet") {
    for (const [flag, value] of [["--chain-url", options.chainUrl], ["--archive-url", options.archiveUrl], ["--netuid", options.netuid], ["--weights-version-key", options.weightsVersionKey]] as const) {
      if (value !== undefined) throw new ServeRefused(`${flag} is for --chain subtensor; the devnet is its own chain`);
    }
    return null;
  }
  if (!options.chainUrl) throw new ServeRefused("--chain subtensor needs --chain-url (a Subtensor node's ws:// or wss:// URL)");
  if (options.netuid === undefined) throw new ServeRefused("--chain subtensor needs --netuid (the subnet to follow)");
  for (const url of [options.chainUrl, options.archiveUrl]) {
    if (url !== undefined && !/^wss?:\/\/./.test(url)) throw new ServeRefused(`${url} is not a ws:// or wss:// URL`);
  }
  if (options.genesis) throw new ServeRefused("--genesis is a devnet genesis; a node following a real chain takes the chain's own");
  return { url: options.chainUrl, archiveUrl: options.archiveUrl, netuid: options.netuid, versionKey: options.weightsVersionKey };
}

/** `propnet serve`: the node, its store and its HTTP interface. Resolves with the exit code. */
export async function runServe(options: ServeOptions): Promise<number> {
  try {
    return await serve(options);
  } catch (error) {
    if (error instanceof ServeRefused || error instanceof KeyError || error instanceof GenesisFileError || error instanceof DataDirectoryLocked) {
      say(error.message);
      return 2;
    }
    if (error instanceof LogIntegrityError) {
      const { recoveryAdvice } = await import("./verify.ts");
      say(`refusing to start: ${error.message}\n${recoveryAdvice(options.data, error)}`);
      return 3;
    }
    throw error;
  }
}

async function serve(options: ServeOptions): Promise<number> {
  if (options.store === "postgres" && !options.pgUrl) {
    throw new ServeRefused("--store postgres needs --pg-url (e.g. postgres://user@127.0.0.1:5432/dbname)");
  }
  if (options.store !== "postgres" && (options.pgUrl !== undefined || options.pgSchema !== undefined)) {
    throw new ServeRefused("--pg-url and --pg-schema are for --store postgres");
  }
  const subtensor = subtensorOptions(options);
  // Under `npm start`, killing npm must not leave the node running alone: stop as on SIGTERM.
  if (startedByNpm()) {
    watchParent((why) => {
      say(`${why}: stopping`);
      process.kill(process.pid, "SIGTERM");
    });
  }
  await cryptoReady();
  const dev = devAccounts();
  const devAddresses = new Set(dev.values());
  for (const [flag, value] of [
    ["--root", options.root],
    ["--oracle", options.oracle],
    ["--mothership", options.mothership],
  ] as const) {
    if (value !== undefined && !isSs58(value)) throw new ServeRefused(`${flag} ${value} is not an SS58 address (prefix 42)`);
  }
  const root = options.root ?? (dev.get("Alice") as string);
  const oracle = options.oracle ?? root;
  if (!isLoopback(options.host) && (devAddresses.has(root) || devAddresses.has(oracle))) {
    throw new ServeRefused(
      `refusing to listen on ${options.host}: root or oracle is a public development key; pass --root and --oracle with keys of your own, or listen on 127.0.0.1`,
    );
  }
  const alice = dev.get("Alice") as string;
  let chainGenesisFile: { endowments: Endowment[]; chain: ChainGenesis } | null = null;
  if (options.genesis) {
    chainGenesisFile = readGenesisFile(options.genesis, root);
    if (existsSync(logPath(options.data))) say(`--genesis ${options.genesis} ignored: the log in ${options.data} already holds its genesis`);
  }
  const { mkdirSync } = await import("node:fs");
  mkdirSync(options.data, { recursive: true });
  // Held for the process's life (the OS lets it go when the process dies): a second node on this
  // directory is refused here, before it reads a key or opens the log.
  const lock = DataDirLock.acquire(options.data, { address: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}` });
  const nodeKey = options.key ? loadKey(options.key) : loadOrCreateNodeKey(options.data);
  // The default devnet genesis, unless a genesis file says otherwise (applied to an empty log only):
  // Alice owns subnet 1 and its uid 0 (where what debts do not need goes); the node's own key is
  // its validator, registered and staked, so the weights it sets are the consensus.
  // The demo shortens the tempo, so its first epochs come within a minute (a new log's genesis only).
  const demoOn = options.demo && !subtensor;
  const { endowments: genesis, chain: chainGenesis } = chainGenesisFile ?? devGenesis(dev, root, alice, nodeKey.address, demoOn ? DEMO_TEMPO : undefined);
  // On a real chain there is no devnet genesis: the log is bound to the chain's own once it answers.
  // Loaded only here: the devnet never pays for @polkadot/api.
  const followed = subtensor ? new (await import("./serve-subtensor.ts")).FollowedSubtensor(subtensor, say) : null;

  let node: PropnetNode | null = null;
  let sync: SyncAgent | null = null;
  let producer: BlockProducer | null = null;
  let demo: Demo | null = null;
  let weights: WeightSetter | null = null;
  /** After an execution fault: no more demo orders (the block producer stops owing blocks by itself). */
  const stopWriters = async () => {
    weights?.stop();
    await demo?.stop();
  };
  let status = "replaying the event log";
  // Signatures are checked on threads of their own: the event loop keeps the rest of each request.
  const signatures = await SignaturePool.start(signatureThreads());
  // Node time once the node is open (a wall clock jump must not refuse correctly-timed clients); until then nothing is written.
  const epistula = new EpistulaVerifier({ pool: signatures, now: () => node?.clock.now() ?? Date.now() });
  // PROPNET_MAX_CONNECTIONS and PROPNET_MAX_CONNECTIONS_PER_ADDRESS, when set, replace the caps' defaults.
  let connections: ConnectionLimitOptions;
  try {
    connections = connectionLimitsFromEnv(process.env);
  } catch (error) {
    throw new ServeRefused((error as Error).message);
  }
  // Several processes on one PostgreSQL log (issue #11): the one holding the lock writes, the others replicate and forward.
  const address = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
  const cluster = options.store === "postgres" ? await connectCluster(options, address, say).catch((error: unknown) => {
    throw new ServeRefused(`cannot use PostgreSQL at ${redactedUrl(options.pgUrl as string)}: ${(error as Error).message}`);
  }) : null;
  const app = buildServer({
    ...(cluster ? clusterContext(cluster, epistula) : {}),
    node: () => node,
    producer: () => producer,
    startupStatus: () => status,
    version: CODE_VERSION,
    root,
    oracle,
    sync: () => sync,
    epistula,
    limits: new RateLimits({ enabled: options.rateLimit === "on" }),
    chain: followed ? () => followed.health() : undefined,
  }, { connections, logger: { level: options.logLevel ?? "info", format: options.logFormat ?? "json" } });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "EADDRINUSE" ? "address already in use" : code === "EACCES" ? "permission denied" : (error as Error).message;
    await cluster?.close();
    throw new ServeRefused(`cannot listen on ${options.host}:${options.port}: ${why}`);
  }
  // Nothing is written while the log replays, so a stop request then can simply exit.
  const stopDuringStart = (signal: string) => {
    say(`${signal} during startup: exiting`);
    process.exit(0);
  };
  process.once("SIGTERM", stopDuringStart);
  process.once("SIGINT", stopDuringStart);
  say(`listening on ${address} (health: ${address}/healthz); node hotkey ${nodeKey.address}; data in ${join(options.data)}`);

  if (cluster) say(`PostgreSQL log in schema ${options.pgSchema ?? "propnet"}; this process is the ${cluster.role}`);
  const opened = await PropnetNode.open({
    ...(cluster ? { replica: cluster.role === "reader", openStore: cluster.openNodeStore, onCommit: cluster.committed } : {}),
    dataDir: options.data,
    strict: options.strict,
    genesis: followed ? undefined : genesis,
    // Subnet 1, the prop-trading subnet, exists at genesis and receives emission from block 1.
    chainGenesis: followed ? undefined : chainGenesis,
    // The demo's debts become owed within a minute, unless the user chose a period.
    payoutPeriod: options.payoutPeriod ?? (demoOn ? DEMO_PAYOUT_PERIOD : "month"),
    snapshotEvery: options.snapshotEvery,
    // Without --mothership this node is its own: it issues entity facts and pushes them to --peers.
    identity: { hotkey: nodeKey.address, mothership: options.mothership ?? null },
    minFreeBytes: options.minFreeMb !== undefined ? options.minFreeMb * 1024 * 1024 : undefined,
    say,
    onProgress: (seq) => {
      status = `replaying the event log (at seq ${seq})`;
    },
    // A failed commit exits (the node's default); an execution fault keeps the node up read-only
    // (the node says so in /healthz): nothing here should go on trying to write.
    onFault: () => void stopWriters().catch((error: unknown) => say(`stopping writers failed: ${(error as Error).message}`)),
  }).catch(async (error: unknown) => {
    await app.close();
    await cluster?.close();
    throw error;
  });
  // Uuids of writes acknowledged just before a restart stay used (a timestamp may be 2 s ahead).
  epistula.markStarted(opened.clock.now());
  for (const [uuid, ts] of await opened.requestUuidsSince(epistula.startedAt - EPISTULA_PAST_MS - EPISTULA_FUTURE_MS)) {
    epistula.remember(uuid, ts + EPISTULA_FUTURE_MS);
  }
  // Peer sync: pull from every peer now and periodically; a mothership pushes its facts, and first
  // catches up with its peers, issuing nothing (the node is not ready) until it holds all they hold.
  const agent = new SyncAgent({
    node: opened,
    identity: opened.state.identity,
    hotkey: nodeKey.address,
    root,
    sign: (message) => signMessage(nodeKey, message),
    verify: verifySignature,
    verifyRotation,
    peers: options.peers,
    transport: new HttpSyncTransport(nodeKey),
    now: () => opened.clock.now(),
    say,
  });
  sync = agent;
  opened.watch("sync", () => agent.condition());
  opened.metrics.observeSync(() => {
    const { sync } = opened.state;
    return { streamSeq: streamHead(sync).stream_seq, conflicts: sync.conflicts.size, pending: sync.pending.size, refusedBatches: agent.refusedBatches, peers: agent.peerStatus() };
  });
  const mothership = isMothership(opened.state.sync, opened.state.identity);
  // Only the writer produces blocks, sets weights and runs the demo; a reader starts them once it takes over.
  const startWriting = () => {
    if (followed) {
      followed.start(opened, nodeKey);
    } else {
      producer = new BlockProducer(opened, options.blockTime);
      producer.start();
      // The node's validator scores and sets weights once per tempo (the devnet default genesis
      // registers and stakes it; on a chain where its hotkey holds no uid it says so and retries).
      weights = new WeightSetter(opened, devnetWeights(producer), nodeKey.address, options.blockTime > 0 ? options.blockTime : 12_000, say);
      weights.start();
    }
  };
  // Peer sync pulls and pushes through the writer; a cluster reader only serves the stream it replicates.
  if (opened.role === "writer") {
    agent.start();
    if (mothership && options.peers.length > 0) {
      status = `catching up with peers ${options.peers.join(", ")} before issuing anything`;
      say(status);
      await agent.caughtUp();
      say(`caught up with peers at stream_seq ${await opened.read((state) => streamHead(state.sync).stream_seq)}`);
    }
    startWriting();
  }
  node = opened;
  const nodeLog = new NodeLog(opened, app.log);
  process.removeListener("SIGTERM", stopDuringStart);
  process.removeListener("SIGINT", stopDuringStart);
  say(
    `ready at seq ${opened.head.seq}; ${
      followed ? `following subnet ${subtensor?.netuid} at ${followed.where}` : options.blockTime > 0 ? `a block every ${options.blockTime} ms` : "a block when an extrinsic arrives"
    }`,
  );
  // The demo trades on the devnet's own chain; a node following a real one has none. Entity facts
  // are the mothership's: a follower's demo would only be refused.
  if (options.demo && !followed && !mothership) say("the demo runs on the mothership only: this node follows it");
  demo = options.demo && producer && mothership ? new Demo(opened, producer, say) : null;
  let demoStarted = demo?.start().catch((error: unknown) => say(`demo not started: ${(error as Error).message}`));
  await cluster?.start(opened, epistula, async () => {
    // A reader that takes over: its sync agent starts now (issuing nothing until caught up with the peers).
    agent.start();
    startWriting();
    demo = options.demo && producer && isMothership(opened.state.sync, opened.state.identity) ? new Demo(opened, producer, say) : null;
    demoStarted = demo?.start().catch((error: unknown) => say(`demo not started: ${(error as Error).message}`));
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      say(`${signal}: draining the writer, writing a snapshot, exiting`);
      const deadline = setTimeout(() => {
        say("shutdown took longer than 10 s; exiting anyway (restart recovers from the log)");
        resolve(1);
      }, 10_000);
      deadline.unref();
      (async () => {
        agent.stop();
        // First: a stopping reader must not take the writer's lock.
        await cluster?.stopFollowing();
        await app.close();
        await demoStarted;
        await demo?.stop();
        weights?.stop();
        await producer?.stop();
        await followed?.stop();
        await opened.close();
        // After the last commit: the lock goes with the session and another process takes over.
        await cluster?.close();
        // After close: the final snapshot is logged too.
        nodeLog.stop();
        lock.release();
        await signatures.close();
        clearTimeout(deadline);
        say(`stopped at seq ${opened.head.seq}`);
        resolve(0);
      })().catch((error: unknown) => {
        say(`shutdown failed: ${(error as Error).message}`);
        resolve(1);
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

/** Connects this process to the others on the same PostgreSQL log; a lost lock ends a writer (its supervisor restarts it as a reader). */
async function connectCluster(options: ServeOptions, address: string, sayLine: (message: string) => void) {
  const { ClusterMember } = await import("../node/cluster/cluster-member.ts");
  return ClusterMember.connect({
    url: options.pgUrl as string,
    schema: options.pgSchema ?? "propnet",
    address,
    say: sayLine,
    onLockLost: (error) => {
      sayLine(`fatal: ${error.message}; exiting so that this process restarts as a reader (another process takes over the writing)`);
      process.exit(70);
    },
  });
}

/** A connection URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "the given --pg-url";
  }
}

/** What the HTTP layer takes from the cluster: the role, forwarded writes, and who forwards them. */
function clusterContext(cluster: ClusterMember, epistula: EpistulaVerifier) {
  const forwarding = cluster.forwarding(epistula);
  return {
    role: () => cluster.role,
    install: (server: FastifyInstance) => installForwarding(server, forwarding),
    forwardedByPeer: (request: FastifyRequest) => forwardedByPeer(request, forwarding),
  };
}
