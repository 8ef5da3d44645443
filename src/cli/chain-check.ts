import type { ApiPromise } from "@polkadot/api";
import { type Command, InvalidArgumentError, Option } from "commander";
import { cryptoReady, isSs58, KeyError, loadKey } from "../keys/keys.ts";
import { hasStorageItem, storageItem } from "../subtensor/chain-access.ts";
import { apiEpochReader } from "../subtensor/epoch-reader.ts";
import { type MetagraphSnapshot, readMetagraphSnapshot, uidInSnapshot } from "../subtensor/metagraph-snapshot.ts";
import { readSubnetHyperparameters, type SubnetHyperparameters } from "../subtensor/subnet-hyperparameters.ts";
import { errorMessage, isStateUnavailable, SubtensorError } from "../subtensor/subtensor-error.ts";

/**
 * `propnet chain check --chain-url URL --netuid N [--key FILE]`: reads a real Subtensor chain
 * (metagraph, hyperparameters, the runtime's epoch scheduler) and prints what a validator node
 * would do there, sending nothing. It is how an operator verifies, against a live node, what the
 * offline tests cannot. Exit codes: 0 read, 1 refused (no such subnet, a bad key, an answer this
 * adapter does not understand), 2 the chain could not be reached.
 */

/** The commit-reveal version this node's commits carry (commit_timelocked_weights). */
const NODE_COMMIT_REVEAL_VERSION = 4;

export interface ChainCheckOptions {
  chainUrl: string;
  netuid: number;
  /** The node's signing key (a key file, or //Uri): its hotkey is looked up. */
  key?: string;
  /** Or just a hotkey to look up. */
  hotkey?: string;
  json?: boolean;
  /** How long to wait for the chain, ms. */
  timeoutMs?: number;
}

export interface ChainCheckIo {
  /** An API already connected (tests: the recorded mainnet replay); left open. */
  api?: ApiPromise;
  out?: (text: string) => void;
  err?: (text: string) => void;
}

export interface ChainCheckReport {
  chain: { url: string; name: string; genesisHash: string; specName: string; specVersion: number; block: number; blockHash: string };
  subnet: { netuid: number; neurons: number; maxUids: number; ownerHotkey: string | null };
  pool: { subnetTaoRao: string; subnetAlphaInRao: string; alphaPriceTao: number | null };
  epochs: {
    tempo: number;
    lastEpochBlock: number;
    blocksSinceLastEpoch: number;
    /** "dynamic" when the runtime has LastEpochBlock (v3.4.8 and later), else "fixed". */
    scheduler: "dynamic" | "fixed";
    /** LastEpochBlock(netuid), on a dynamic-tempo runtime. */
    schedulerLastEpochBlock: number | null;
    /** Whether LastMechansimStepBlock agrees with the scheduler (see `propnet chain check` in the README). */
    consistent: boolean;
    nextEpochBlock: number | null;
    alphaPaidSource: "IncentiveAlphaEmittedToMiners" | "Emission";
    /** The last epoch read as the node's observer reads it (its state may be pruned on a lite node). */
    lastEpochRead:
      | { ok: true; block: number; timestampMs: number; uids: number; source: "IncentiveAlphaEmittedToMiners" | "Emission"; alphaPaidRao: string }
      | { ok: false; reason: string };
  };
  node: { hotkey: string | null; uid: number | null; registered: boolean | null; validatorPermit: boolean | null; stakeRao: string | null; lastWeightsBlock: number | null };
  weights: {
    path: "set_weights" | "commit_timelocked_weights";
    commitRevealWeightsEnabled: boolean;
    commitRevealVersion: { node: number; chain: number };
    revealPeriodEpochs: number;
    rateLimitBlocks: number;
    versionKey: string;
    /** Blocks until this node's uid may set weights again (0: now); null without a registered hotkey. */
    blocksUntilAllowed: number | null;
  };
  warnings: string[];
  sent: "nothing";
}

class ChainCheckFailed extends Error {
  override readonly name = "ChainCheckFailed";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Runs the check; returns the exit code. Output goes to `io.out`, failures to `io.err`. */
export async function runChainCheck(options: ChainCheckOptions, io: ChainCheckIo = {}): Promise<number> {
  const out = io.out ?? ((text: string) => process.stdout.write(text));
  const err = io.err ?? ((text: string) => process.stderr.write(text));
  const timeoutMs = options.timeoutMs ?? 10_000;
  let close: (() => Promise<void>) | null = null;
  try {
    const hotkey = await hotkeyOf(options);
    let api = io.api;
    if (!api) {
      // polkadot-js loads only when the command runs, so the other commands start quickly.
      const { connectSubtensor } = await import("../subtensor/subtensor-connection.ts");
      // One attempt and a short retry: this is a question to the chain, not a node that must stay up.
      const connection = connectSubtensor(options.chainUrl, { maxAttempts: 2, backoff: { initialMs: 250 }, connectTimeoutMs: timeoutMs });
      close = () => connection.close();
      api = await connection.ready(timeoutMs);
    }
    const report = await withTimeout(checkChain(api, options.chainUrl, options.netuid, hotkey), timeoutMs * 3, options.chainUrl);
    out(options.json ? `${JSON.stringify(report)}\n` : describeChainCheck(report));
    return 0;
  } catch (error) {
    const failure = asFailure(error);
    err(`propnet: ${failure.message}\n`);
    return failure.exitCode;
  } finally {
    await close?.();
  }
}

async function hotkeyOf(options: ChainCheckOptions): Promise<string | null> {
  if (options.hotkey !== undefined) {
    if (!isSs58(options.hotkey)) throw new ChainCheckFailed(`--hotkey ${options.hotkey} is not an SS58 address`, 1);
    return options.hotkey;
  }
  if (options.key === undefined) return null;
  await cryptoReady();
  return loadKey(options.key).address;
}

function asFailure(error: unknown): ChainCheckFailed {
  if (error instanceof ChainCheckFailed) return error;
  if (error instanceof KeyError) return new ChainCheckFailed(error.message, 1);
  if (error instanceof SubtensorError) return new ChainCheckFailed(error.message, error.code === "CHAIN_UNREACHABLE" ? 2 : 1);
  return new ChainCheckFailed(`reading the chain failed: ${errorMessage(error)}`, 1);
}

async function withTimeout<T>(work: Promise<T>, ms: number, url: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SubtensorError("CHAIN_UNREACHABLE", `the chain at ${url} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Everything the report says, read at one finalized block. */
export async function checkChain(api: ApiPromise, url: string, netuid: number, hotkey: string | null): Promise<ChainCheckReport> {
  const blockHash = (await api.rpc.chain.getFinalizedHead()).toHex();
  const [snapshot, hyper, chainName] = await Promise.all([
    readMetagraphSnapshot(api, netuid, blockHash),
    readSubnetHyperparameters(api, netuid, blockHash),
    api.rpc.system.chain(),
  ]);
  const warnings = disagreements(snapshot, hyper);
  const epochs = await epochsOf(api, snapshot, blockHash, warnings);
  epochs.lastEpochRead = await lastEpochRead(api, snapshot, warnings);
  const uid = hotkey === null ? undefined : uidInSnapshot(snapshot, hotkey);
  const lastWeightsBlock = uid === undefined ? null : (snapshot.lastUpdate[uid] ?? null);
  const blocksUntilAllowed = lastWeightsBlock === null ? null : Math.max(0, lastWeightsBlock + hyper.weightsSetRateLimit - snapshot.block);
  if (hotkey !== null && uid === undefined) warnings.push(`hotkey ${hotkey} is not registered on subnet ${netuid}: the node would set no weights`);
  if (hyper.commitRevealWeightsEnabled && hyper.commitRevealVersion !== NODE_COMMIT_REVEAL_VERSION) {
    warnings.push(`the chain expects commit-reveal version ${hyper.commitRevealVersion}; this node commits version ${NODE_COMMIT_REVEAL_VERSION}: commits would be refused`);
  }
  const tao = snapshot.pool.subnetTaoRao;
  const alphaIn = snapshot.pool.subnetAlphaInRao;
  const version = api.runtimeVersion;
  return {
    chain: {
      url,
      name: chainName.toString(),
      genesisHash: api.genesisHash.toHex(),
      specName: version.specName.toString(),
      specVersion: version.specVersion.toNumber(),
      block: snapshot.block,
      blockHash,
    },
    subnet: { netuid, neurons: snapshot.numUids, maxUids: snapshot.maxUids, ownerHotkey: snapshot.ownerHotkey },
    pool: { subnetTaoRao: tao.toString(), subnetAlphaInRao: alphaIn.toString(), alphaPriceTao: alphaIn > 0n ? Number(tao) / Number(alphaIn) : null },
    epochs,
    node: {
      hotkey,
      uid: uid ?? null,
      registered: hotkey === null ? null : uid !== undefined,
      validatorPermit: uid === undefined ? null : (snapshot.validatorPermit[uid] ?? null),
      stakeRao: uid === undefined ? null : String(snapshot.totalStakeRao[uid] ?? 0n),
      lastWeightsBlock,
    },
    weights: {
      path: hyper.commitRevealWeightsEnabled ? "commit_timelocked_weights" : "set_weights",
      commitRevealWeightsEnabled: hyper.commitRevealWeightsEnabled,
      commitRevealVersion: { node: NODE_COMMIT_REVEAL_VERSION, chain: hyper.commitRevealVersion },
      revealPeriodEpochs: hyper.revealPeriodEpochs,
      rateLimitBlocks: hyper.weightsSetRateLimit,
      versionKey: hyper.weightsVersionKey.toString(),
      blocksUntilAllowed,
    },
    warnings,
    sent: "nothing",
  };
}

/** The metagraph and the storage items the weight setter reads should say the same. */
function disagreements(snapshot: MetagraphSnapshot, hyper: SubnetHyperparameters): string[] {
  const pairs: Array<[string, unknown, unknown]> = [
    ["Tempo", snapshot.tempo, hyper.tempo],
    ["WeightsSetRateLimit", snapshot.weightsSetRateLimit, hyper.weightsSetRateLimit],
    ["WeightsVersionKey", snapshot.weightsVersionKey, hyper.weightsVersionKey],
    ["CommitRevealWeightsEnabled", snapshot.commitRevealWeightsEnabled, hyper.commitRevealWeightsEnabled],
  ];
  return pairs.filter(([, a, b]) => a !== b).map(([name, a, b]) => `${name}: the metagraph says ${String(a)}, storage says ${String(b)}`);
}

/**
 * Which epoch scheduler the runtime runs and whether LastMechansimStepBlock fits it: the epoch
 * block the observer records. Fixed tempo (before v3.4.8): an epoch runs in block b when
 * (b + netuid + 1) % (tempo + 1) == tempo. Dynamic tempo: LastEpochBlock says where it ran.
 */
async function epochsOf(api: ApiPromise, s: MetagraphSnapshot, blockHash: string, warnings: string[]): Promise<ChainCheckReport["epochs"]> {
  const alphaPaidSource = (api.events as Record<string, Record<string, unknown> | undefined>).subtensorModule?.IncentiveAlphaEmittedToMiners ? "IncentiveAlphaEmittedToMiners" : "Emission";
  const base = {
    tempo: s.tempo,
    lastEpochBlock: s.lastStepBlock,
    blocksSinceLastEpoch: s.blocksSinceLastStep,
    alphaPaidSource,
    lastEpochRead: { ok: false, reason: "not read" },
  } as const;
  if (s.lastStepBlock === 0) {
    warnings.push(`subnet ${s.netuid} has had no epoch yet (LastMechansimStepBlock is 0)`);
  }
  if (hasStorageItem(api, "subtensorModule", "lastEpochBlock")) {
    const scheduled = Number((await storageItem(api, "subtensorModule", "lastEpochBlock").at(blockHash, s.netuid)).toString());
    const consistent = scheduled === s.lastStepBlock;
    if (!consistent) warnings.push(`LastMechansimStepBlock (${s.lastStepBlock}) differs from LastEpochBlock (${scheduled}): epochs would be observed at the wrong blocks`);
    return { ...base, scheduler: "dynamic", schedulerLastEpochBlock: scheduled, consistent, nextEpochBlock: s.tempo > 0 ? scheduled + s.tempo : null };
  }
  const consistent = s.tempo > 0 && (s.lastStepBlock + s.netuid + 1) % (s.tempo + 1) === s.tempo;
  if (!consistent && s.lastStepBlock > 0) {
    warnings.push(`LastMechansimStepBlock (${s.lastStepBlock}) does not fit the fixed-tempo schedule for tempo ${s.tempo} (the tempo may have changed since)`);
  }
  return { ...base, scheduler: "fixed", schedulerLastEpochBlock: null, consistent, nextEpochBlock: s.tempo > 0 ? s.lastStepBlock + s.tempo + 1 : null };
}

/** Reads the last epoch exactly as the observer would record it; a failure is reported, not fatal. */
async function lastEpochRead(api: ApiPromise, s: MetagraphSnapshot, warnings: string[]): Promise<ChainCheckReport["epochs"]["lastEpochRead"]> {
  if (s.lastStepBlock === 0) return { ok: false, reason: "no epoch yet" };
  try {
    const e = await apiEpochReader(api).epochAt(s.netuid, s.lastStepBlock);
    const paid = e.alphaPaid.reduce((sum, a) => sum + BigInt(a), 0n);
    if (e.source === "Emission") warnings.push(`no IncentiveAlphaEmittedToMiners event for subnet ${s.netuid} in block ${s.lastStepBlock}: the node would record Emission (miner and validator share) instead`);
    return { ok: true, block: e.block, timestampMs: e.timestampMs, uids: e.hotkeys.length, source: e.source, alphaPaidRao: paid.toString() };
  } catch (error) {
    const reason = errorMessage(error);
    const pruned = isStateUnavailable(error) ? "; this node has pruned that state: check against an archive node to see it" : "";
    warnings.push(`could not read the last epoch as the node would (${reason})${pruned}`);
    return { ok: false, reason };
  }
}

// ---- text ----------------------------------------------------------------------------------------

const grouped = (n: number | bigint) => n.toLocaleString("en-US");

/** Rao as a whole-and-fraction amount of `unit`, exact. */
function amount(rao: string, unit: string): string {
  const n = BigInt(rao);
  const frac = (n % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${grouped(n / 1_000_000_000n)}${frac ? `.${frac}` : ""} ${unit}`;
}

const short = (hash: string) => `${hash.slice(0, 6)}…${hash.slice(-4)}`;

/** The report as aligned text lines, then its warnings. */
export function describeChainCheck(r: ChainCheckReport): string {
  const { chain, subnet, pool, epochs, node, weights } = r;
  const lines: Array<[string, string]> = [
    ["chain", `${chain.name} at ${chain.url}, genesis ${short(chain.genesisHash)}, runtime ${chain.specName} ${chain.specVersion}`],
    ["at block", `${grouped(chain.block)} (${short(chain.blockHash)}, finalized)`],
    ["subnet", `${subnet.netuid}: ${grouped(subnet.neurons)} neurons of ${grouped(subnet.maxUids)}, owner ${subnet.ownerHotkey ?? "none"}`],
    [
      "pool",
      `SubnetTAO ${amount(pool.subnetTaoRao, "TAO")}, SubnetAlphaIn ${amount(pool.subnetAlphaInRao, "alpha")}` +
        (pool.alphaPriceTao === null ? "" : ` (${pool.alphaPriceTao.toPrecision(6)} TAO per alpha)`),
    ],
    ["last epoch", `block ${grouped(epochs.lastEpochBlock)} (LastMechansimStepBlock), ${grouped(epochs.blocksSinceLastEpoch)} blocks ago; tempo ${epochs.tempo}`],
    [
      "scheduler",
      epochs.scheduler === "dynamic"
        ? `dynamic tempo: LastEpochBlock ${epochs.schedulerLastEpochBlock ?? "-"} ${epochs.consistent ? "agrees" : "DISAGREES"}`
        : `fixed tempo (no LastEpochBlock in this runtime): LastMechansimStepBlock ${epochs.consistent ? "fits" : "does NOT fit"} (block + netuid + 1) % (tempo + 1) == tempo`,
    ],
    ["next epoch", epochs.nextEpochBlock === null ? "unknown" : `expected near block ${grouped(epochs.nextEpochBlock)} (the node observes it, it does not compute it)`],
    ["alpha paid", epochs.alphaPaidSource === "IncentiveAlphaEmittedToMiners" ? "IncentiveAlphaEmittedToMiners events (Emission in a block without one)" : "Emission (this runtime has no IncentiveAlphaEmittedToMiners event)"],
    ["epoch read", lastEpochLine(epochs.lastEpochRead)],
    ["node key", nodeLine(node, subnet.netuid)],
    [
      "weights path",
      weights.path === "commit_timelocked_weights"
        ? `commit_timelocked_weights (CommitRevealWeightsEnabled on; commit-reveal version ${weights.commitRevealVersion.node}, the chain expects ${weights.commitRevealVersion.chain}; revealed after ${weights.revealPeriodEpochs} epoch${weights.revealPeriodEpochs === 1 ? "" : "s"})`
        : "set_weights (CommitRevealWeightsEnabled off)",
    ],
    ["rate limit", `${grouped(weights.rateLimitBlocks)} blocks (WeightsSetRateLimit)${rateLine(node.lastWeightsBlock, weights.blocksUntilAllowed)}`],
    ["version key", `${weights.versionKey} (WeightsVersionKey: weights must carry at least this${weights.versionKey === "0" ? "; 0 accepts any" : ""})`],
    ["sent", "nothing (this command only reads)"],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const text = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  for (const w of r.warnings) text.push(`warning: ${w}`);
  return `${text.join("\n")}\n`;
}

function lastEpochLine(read: ChainCheckReport["epochs"]["lastEpochRead"]): string {
  if (!read.ok) return `the last epoch could not be read as the node would: ${read.reason}`;
  return `block ${grouped(read.block)} at ${new Date(read.timestampMs).toISOString()}: ${grouped(read.uids)} uids, ${amount(read.alphaPaidRao, "alpha")} paid (${read.source}), as the node would record it`;
}

function nodeLine(node: ChainCheckReport["node"], netuid: number): string {
  if (node.hotkey === null) return "none given (--key FILE or --hotkey SS58 to look one up)";
  if (!node.registered) return `${node.hotkey} not registered on subnet ${netuid}`;
  return `${node.hotkey} is uid ${node.uid}, validator permit ${node.validatorPermit ? "yes" : "no"}, stake ${amount(node.stakeRao ?? "0", "alpha")}`;
}

function rateLine(lastWeightsBlock: number | null, blocksUntilAllowed: number | null): string {
  if (lastWeightsBlock === null || blocksUntilAllowed === null) return "";
  return `; this uid last set weights at block ${grouped(lastWeightsBlock)}: ${blocksUntilAllowed === 0 ? "may set weights now" : `may set weights again in ${grouped(blocksUntilAllowed)} blocks`}`;
}

// ---- registration ---------------------------------------------------------------------------------

function netuidArg(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError("must be an integer between 0 and 65535");
  return Number(value);
}

function chainUrlArg(value: string): string {
  if (!/^wss?:\/\/./.test(value)) throw new InvalidArgumentError("must be a ws:// or wss:// URL, e.g. wss://entrypoint-finney.opentensor.ai:443");
  return value;
}

function secondsArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number of seconds");
  return n * 1_000;
}

/** Adds `check` to the `chain` command (creating it when absent). */
export function registerChainCheck(program: Command): void {
  const chain = program.commands.find((c) => c.name() === "chain") ?? program.command("chain").description("the chain");
  chain
    .command("check")
    .description("read a real Subtensor chain and print what the node would do there (weights path, rate limit, version key, epochs); sends nothing")
    .requiredOption("--chain-url <url>", "the Subtensor node's WebSocket URL", chainUrlArg)
    .requiredOption("--netuid <n>", "the subnet", netuidArg)
    .option("--key <file-or-uri>", "this node's signing key (a key file, mode 0600): its hotkey's uid is looked up")
    .option("--hotkey <ss58>", "a hotkey to look up instead of --key")
    .option("--json", "print one JSON object", false)
    .addOption(new Option("--timeout <seconds>", "how long to wait for the chain").argParser(secondsArg).default(10_000, "10"))
    .action(async (options: { chainUrl: string; netuid: number; key?: string; hotkey?: string; json: boolean; timeout: number }) => {
      process.exitCode = await runChainCheck({ ...options, timeoutMs: options.timeout });
    });
}
