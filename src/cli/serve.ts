import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, EpistulaVerifier } from "../api/epistula.ts";
import { RateLimits } from "../api/rate-limit.ts";
import { SignaturePool } from "../api/signature-pool.ts";
import { buildServer } from "../api/server.ts";
import type { Endowment } from "../core/machine/commands.ts";
import { cryptoReady, devAccounts, isSs58, KeyError, loadKey, loadOrCreateNodeKey } from "../keys/keys.ts";
import { BlockProducer } from "../node/block-producer.ts";
import { devnetWeights, WeightSetter } from "../node/weight-setter.ts";
import { Demo } from "../node/demo.ts";
import { logPath, PropnetNode } from "../node/node.ts";
import { LogIntegrityError } from "../store/stored-event.ts";
import { CODE_VERSION } from "../version.ts";
import type { ChainGenesis } from "../core/chain/chain-state.ts";
import type { PayoutPeriod } from "../core/debt/payout-period.ts";
import { GenesisFileError, readGenesisFile } from "./genesis-file.ts";
import { isLoopback } from "./serve-options.ts";

export interface ServeOptions {
  host: string;
  port: number;
  data: string;
  demo: boolean;
  strict: boolean;
  blockTime: number;
  store: "sqlite" | "postgres";
  pgUrl?: string;
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
 * already holds far more than it needs.
 */
export function devGenesis(dev: Map<string, string>, root: string, alice: string, node: string): { endowments: Endowment[]; chain: ChainGenesis } {
  const endowments: Endowment[] = [...dev.values()].map((owner) => ({ owner, amount_rao: DEV_ENDOWMENT_RAO }));
  if (![...dev.values()].includes(node)) endowments.push({ owner: node, amount_rao: NODE_ENDOWMENT_RAO });
  const validators = [{ hotkey: node, coldkey: node, stake_rao: NODE_STAKE_RAO }];
  return {
    endowments,
    chain: { root, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice, registerOwner: node !== alice, validators }] },
  };
}

/** `propnet serve`: the node, its store and its HTTP interface. Resolves with the exit code. */
export async function runServe(options: ServeOptions): Promise<number> {
  try {
    return await serve(options);
  } catch (error) {
    if (error instanceof ServeRefused || error instanceof KeyError || error instanceof GenesisFileError) {
      say(error.message);
      return 2;
    }
    if (error instanceof LogIntegrityError) {
      say(
        `refusing to start: ${error.message} (seq ${error.seq}). Run \`propnet verify --data ${options.data} --full\` for details.`,
      );
      return 3;
    }
    throw error;
  }
}

async function serve(options: ServeOptions): Promise<number> {
  if (options.store === "postgres") {
    throw new ServeRefused("--store postgres is not available in this version yet; use the default embedded SQLite store");
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
  const nodeKey = options.key ? loadKey(options.key) : loadOrCreateNodeKey(options.data);
  // The default devnet genesis, unless a genesis file says otherwise (applied to an empty log only):
  // Alice owns subnet 1 and its uid 0 (where what debts do not need goes); the node's own key is
  // its validator, registered and staked, so the weights it sets are the consensus.
  const { endowments: genesis, chain: chainGenesis } = chainGenesisFile ?? devGenesis(dev, root, alice, nodeKey.address);

  let node: PropnetNode | null = null;
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
  const epistula = new EpistulaVerifier({ pool: signatures });
  const app = buildServer({
    node: () => node,
    producer: () => producer,
    startupStatus: () => status,
    version: CODE_VERSION,
    root,
    oracle,
    // With --mothership naming another key this node follows it (peer sync is not built yet).
    mothership: options.mothership !== undefined && options.mothership !== nodeKey.address ? { hotkey: options.mothership, url: null } : undefined,
    epistula,
    limits: new RateLimits({ enabled: options.rateLimit === "on" }),
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "EADDRINUSE" ? "address already in use" : code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new ServeRefused(`cannot listen on ${options.host}:${options.port}: ${why}`);
  }
  // Nothing is written while the log replays, so a stop request then can simply exit.
  const stopDuringStart = (signal: string) => {
    say(`${signal} during startup: exiting`);
    process.exit(0);
  };
  process.once("SIGTERM", stopDuringStart);
  process.once("SIGINT", stopDuringStart);
  const address = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
  say(`listening on ${address} (health: ${address}/healthz); node hotkey ${nodeKey.address}; data in ${join(options.data)}`);

  const opened = await PropnetNode.open({
    dataDir: options.data,
    strict: options.strict,
    genesis,
    // Subnet 1, the prop-trading subnet, exists at genesis and receives emission from block 1.
    chainGenesis,
    payoutPeriod: options.payoutPeriod ?? "month",
    snapshotEvery: options.snapshotEvery,
    say,
    onProgress: (seq) => {
      status = `replaying the event log (at seq ${seq})`;
    },
    // A failed commit exits (the node's default); an execution fault keeps the node up read-only
    // (the node says so in /healthz): nothing here should go on trying to write.
    onFault: () => void stopWriters().catch((error: unknown) => say(`stopping writers failed: ${(error as Error).message}`)),
  }).catch(async (error: unknown) => {
    await app.close();
    throw error;
  });
  // Uuids of writes acknowledged just before a restart stay used (a timestamp may be 2 s ahead).
  for (const [uuid, ts] of await opened.requestUuidsSince(epistula.startedAt - EPISTULA_PAST_MS - EPISTULA_FUTURE_MS)) {
    epistula.remember(uuid, ts + EPISTULA_FUTURE_MS);
  }
  producer = new BlockProducer(opened, options.blockTime);
  producer.start();
  // The node's validator scores and sets weights once per tempo (the devnet default genesis
  // registers and stakes it; on a chain where its hotkey holds no uid it says so and retries).
  weights = new WeightSetter(opened, devnetWeights(producer), nodeKey.address, options.blockTime > 0 ? options.blockTime : 12_000, say);
  weights.start();
  node = opened;
  process.removeListener("SIGTERM", stopDuringStart);
  process.removeListener("SIGINT", stopDuringStart);
  say(`ready at seq ${opened.head.seq}; ${options.blockTime > 0 ? `a block every ${options.blockTime} ms` : "a block when an extrinsic arrives"}`);
  demo = options.demo ? new Demo(opened, producer, say) : null;
  const demoStarted = demo?.start().catch((error: unknown) => say(`demo not started: ${(error as Error).message}`));

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
        await app.close();
        await demoStarted;
        await demo?.stop();
        weights?.stop();
        await producer?.stop();
        await opened.close();
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
