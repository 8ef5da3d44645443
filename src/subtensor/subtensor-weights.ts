import type { ApiPromise, SubmittableResult } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import type { u64, Vec } from "@polkadot/types";
import type { Codec } from "@polkadot/types/types";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aEq } from "@polkadot/util";
import { decodeAddress } from "@polkadot/util-crypto";
import type { WeightsChain } from "../node/weight-setter.ts";
import { hasStorageItem, optionValue, storageItem } from "./chain-access.ts";
import { COMMIT_REVEAL_VERSION, MAX_COMMIT_BYTES, weightsCalls } from "./set-weights-call.ts";
import { parseTimelockCiphertext } from "./timelock-ciphertext.ts";
import { timelockEncrypt } from "./timelock-encrypt.ts";
import { encodeWeightsTlockPayload } from "./timelock-payload.ts";
import { type EpochSchedule, firstRevealBlockFixedTempo, firstRevealBlockScheduled, revealRound } from "./timelock-reveal-round.ts";
import { type EmittedWeights, weightsForEmit } from "./weights-for-emit.ts";
import { inclusionOf, refusalFromSubmitError, WeightsRefused } from "./weights-refused.ts";

export type WeightsPath = "set_weights" | "commit_timelocked_weights";

/** What /healthz and the metrics show of the validator's weights on Subtensor. */
export interface WeightsStatus {
  /** The block that holds the last weights (or commit) this node set, null before the first. */
  lastSetBlock: number | null;
  /** When it was included (wall clock, ms), null before the first. */
  lastSetAt: number | null;
  /** Why the last round failed, null when it succeeded (or none ran yet). */
  lastError: { code: string; message: string } | null;
  /** The extrinsic the chain's `CommitRevealWeightsEnabled` selected last time, null before the first read. */
  path: WeightsPath | null;
}

type Tx = SubmittableExtrinsic<"promise">;

/** Signs, submits and watches one extrinsic until a block holds it; throws WeightsRefused otherwise. */
export type SubmitWeights = (tx: Tx, pair: KeyringPair) => Promise<{ blockHash: string; blockNumber: number }>;

export interface SubtensorWeightsOptions {
  api: ApiPromise;
  /** The validator's hotkey: it signs the weights. */
  pair: KeyringPair;
  /** `version_key` to send (config); by default the subnet's `WeightsVersionKey`, the lowest it accepts. */
  versionKey?: bigint;
  /** The chain's nominal block time, for the reveal round (12 s on mainnet). */
  blockTimeSeconds?: number;
  /** Wall clock (ms): the reveal round's "now" and `lastSetAt`. */
  now?: () => number;
  /** How long to wait for a block to hold the extrinsic before giving up on the round. */
  inclusionTimeoutMs?: number;
  /** Replaces the node submission (tests: no node). */
  submit?: SubmitWeights;
  /** Replaces the timelock encryption (tests). */
  encrypt?: (plaintext: Uint8Array, round: number) => Promise<Uint8Array>;
}

const DEFAULT_BLOCK_TIME_SECONDS = 12;
const DEFAULT_INCLUSION_TIMEOUT_MS = 120_000;

/** The subnet's weight settings (SubtensorModule storage of the same names). */
interface WeightsParams {
  commitRevealWeightsEnabled: boolean;
  commitRevealVersion: number;
  revealPeriodEpochs: number;
  weightsSetRateLimit: number;
  weightsVersionKey: bigint;
  tempo: number;
}

/** What the chain says about this validator's next weights, read at one block. */
interface ChainView {
  head: { number: number; hash: string };
  params: WeightsParams;
  uid: number | null;
  lastUpdate: number;
  schedule: EpochSchedule | null;
}

/**
 * The validator's weights on a real Subtensor (issue #13), behind the node's `WeightsChain`: the
 * vector the devnet path computes, normalised as the Python SDK does, sent with `set_weights` when
 * the subnet's `CommitRevealWeightsEnabled` is off and as a drand-timelocked commit
 * (`commit_timelocked_weights`, commit-reveal v4) when on, after checking here what the chain
 * would refuse (rate limit, registration, version key), so that no doomed extrinsic is sent.
 * Everything is asynchronous; the one heavy step (the timelock encryption) runs on a thread.
 */
export class SubtensorWeights implements WeightsChain {
  readonly #api: ApiPromise;
  readonly #pair: KeyringPair;
  readonly #versionKey: bigint | undefined;
  readonly #blockTimeSeconds: number;
  readonly #now: () => number;
  readonly #submit: SubmitWeights;
  readonly #encrypt: (plaintext: Uint8Array, round: number) => Promise<Uint8Array>;
  #status: WeightsStatus = { lastSetBlock: null, lastSetAt: null, lastError: null, path: null };
  #busy = false;

  constructor(options: SubtensorWeightsOptions) {
    this.#api = options.api;
    this.#pair = options.pair;
    this.#versionKey = options.versionKey;
    this.#blockTimeSeconds = options.blockTimeSeconds ?? DEFAULT_BLOCK_TIME_SECONDS;
    this.#now = options.now ?? Date.now;
    this.#submit = options.submit ?? submitAndWatch(options.api, options.inclusionTimeoutMs ?? DEFAULT_INCLUSION_TIMEOUT_MS);
    this.#encrypt = options.encrypt ?? timelockEncrypt;
  }

  get status(): WeightsStatus {
    return { ...this.#status, lastError: this.#status.lastError ? { ...this.#status.lastError } : null };
  }

  async setWeights(netuid: number, validator: string, uids: number[], weights: number[]): Promise<{ block: number }> {
    if (this.#busy) throw new WeightsRefused("Busy", "local", "a weights round is already in flight");
    this.#busy = true;
    try {
      const { blockNumber } = await this.#round(netuid, validator, uids, weights);
      this.#status = { ...this.#status, lastSetBlock: blockNumber, lastSetAt: this.#now(), lastError: null };
      return { block: blockNumber };
    } catch (error) {
      const refused = asRefusal(error);
      this.#status = { ...this.#status, lastError: { code: refused.code, message: refused.message } };
      throw refused;
    } finally {
      this.#busy = false;
    }
  }

  async #round(netuid: number, validator: string, uids: number[], weights: number[]): Promise<{ blockHash: string; blockNumber: number }> {
    if (!sameKey(validator, this.#pair.address)) {
      throw new WeightsRefused("KeyMismatch", "local", `asked to set weights for ${validator}, but this node signs with ${this.#pair.address}`);
    }
    const emitted = weightsForEmit(uids, weights);
    if (emitted.uids.length === 0) throw new WeightsRefused("EmptyWeights", "local", "every weight is 0: there is nothing to set on chain");

    const view = await this.#read(netuid);
    const path: WeightsPath = view.params.commitRevealWeightsEnabled ? "commit_timelocked_weights" : "set_weights";
    this.#status = { ...this.#status, path };
    const versionKey = this.#checkPermitted(netuid, view);

    const tx = path === "set_weights" ? weightsCalls.setWeights(this.#api, netuid, emitted, versionKey) : await this.#commit(netuid, view, emitted, versionKey);
    return this.#submit(tx, this.#pair);
  }

  /**
   * Head, hyperparameters, the validator's uid and LastUpdate, all at one block. Read with
   * `storage.at(hash)` on the api's own registry: `api.at(hash)` would re-decorate every pallet
   * for the block, 8-13 ms of the event loop each round.
   */
  async #read(netuid: number): Promise<ChainView> {
    try {
      const hash = (await this.#api.rpc.chain.getBlockHash()).toHex();
      const item = (name: string) => storageItem(this.#api, "subtensorModule", name);
      const [header, enabled, version, revealPeriod, rateLimit, versionKey, tempo, uidOption, lastUpdates] = await Promise.all([
        this.#api.rpc.chain.getHeader(hash),
        item("commitRevealWeightsEnabled").at(hash, netuid),
        item("commitRevealWeightsVersion").at(hash),
        item("revealPeriodEpochs").at(hash, netuid),
        item("weightsSetRateLimit").at(hash, netuid),
        item("weightsVersionKey").at(hash, netuid),
        item("tempo").at(hash, netuid),
        item("uids").at(hash, netuid, this.#pair.address),
        // Indexed by NetUidStorageIndex, which is the netuid for mechanism 0.
        item("lastUpdate").at(hash, netuid),
      ]);
      const head = { number: header.number.toNumber(), hash };
      const params: WeightsParams = {
        commitRevealWeightsEnabled: enabled.toString() === "true",
        commitRevealVersion: safeNumber(version, "CommitRevealWeightsVersion"),
        revealPeriodEpochs: safeNumber(revealPeriod, "RevealPeriodEpochs"),
        weightsSetRateLimit: safeNumber(rateLimit, "WeightsSetRateLimit"),
        weightsVersionKey: BigInt(versionKey.toString()),
        tempo: safeNumber(tempo, "Tempo"),
      };
      const uidValue = optionValue(uidOption);
      const uid = uidValue === undefined ? null : safeNumber(uidValue, "Uids");
      const lastUpdate = uid === null ? 0 : ((lastUpdates as Vec<u64>)[uid]?.toNumber() ?? 0);
      const schedule = params.commitRevealWeightsEnabled ? await readSchedule(this.#api, hash, netuid, params.tempo, head.number) : null;
      return { head, params, uid, lastUpdate, schedule };
    } catch (error) {
      if (error instanceof WeightsRefused) throw error;
      throw new WeightsRefused("ChainReadFailed", "read", `could not read subnet ${netuid} from the chain: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** Refuses here what the chain would refuse for certain; returns the version key to send. */
  #checkPermitted(netuid: number, view: ChainView): bigint {
    const { params, uid, lastUpdate, head } = view;
    if (uid === null) {
      throw new WeightsRefused("HotKeyNotRegisteredInNetwork", "local", `${this.#pair.address} holds no uid on subnet ${netuid}: register it before setting weights`);
    }
    const chainKey = params.weightsVersionKey;
    const versionKey = this.#versionKey ?? chainKey;
    if (chainKey !== 0n && versionKey < chainKey) {
      throw new WeightsRefused("IncorrectWeightVersionKey", "local", `the configured version key ${versionKey} is below subnet ${netuid}'s WeightsVersionKey ${chainKey}`);
    }
    // The chain checks in the block that includes the extrinsic, the head's next at the earliest:
    // allowed when LastUpdate is 0 (never set) or block - LastUpdate >= WeightsSetRateLimit.
    const block = head.number + 1;
    if (lastUpdate !== 0 && block - lastUpdate < params.weightsSetRateLimit) {
      const next = lastUpdate + params.weightsSetRateLimit;
      throw new WeightsRefused(
        "RateLimitExceeded",
        "local",
        `uid ${uid} last set weights in block ${lastUpdate}; subnet ${netuid} allows one set every ${params.weightsSetRateLimit} blocks (WeightsSetRateLimit): not before block ${next}, the head is ${head.number}`,
      );
    }
    if (params.commitRevealWeightsEnabled && params.commitRevealVersion !== COMMIT_REVEAL_VERSION) {
      throw new WeightsRefused(
        "IncorrectCommitRevealVersion",
        "local",
        `the chain expects commit-reveal version ${params.commitRevealVersion}; this node writes version ${COMMIT_REVEAL_VERSION} commits only`,
      );
    }
    return versionKey;
  }

  async #commit(netuid: number, view: ChainView, emitted: EmittedWeights, versionKey: bigint): Promise<Tx> {
    const { params, head, schedule } = view;
    // The SDK passes the storage index (netuid + mechanism × 4096; mechanism 0 here) as netuid.
    const firstRevealBlock = schedule
      ? firstRevealBlockScheduled(schedule, params.revealPeriodEpochs)
      : firstRevealBlockFixedTempo({ netuid, tempo: params.tempo, currentBlock: head.number }, params.revealPeriodEpochs);
    const round = revealRound(firstRevealBlock, head.number, this.#blockTimeSeconds, this.#now());
    const plaintext = encodeWeightsTlockPayload({ hotkey: this.#pair.publicKey, uids: emitted.uids, values: emitted.values, versionKey }, this.#api.registry);
    let commit: Uint8Array;
    try {
      commit = await this.#encrypt(plaintext, round);
    } catch (error) {
      throw new WeightsRefused("TimelockFailed", "local", error instanceof Error ? error.message : String(error), { cause: error });
    }
    if (commit.length > MAX_COMMIT_BYTES) {
      throw new WeightsRefused("CommitTooLarge", "local", `the commit is ${commit.length} bytes, over the chain's ${MAX_COMMIT_BYTES} (${emitted.uids.length} weights)`);
    }
    // The shape the chain deserializes at reveal; a malformed commit would be paid for and lost.
    parseTimelockCiphertext(commit);
    return weightsCalls.commitTimelockedWeights(this.#api, netuid, commit, round, COMMIT_REVEAL_VERSION);
  }
}

/** Every failure as a WeightsRefused: this adapter's own errors keep their code (WeightsNotEmittable, RevealBlockNotFound, ...). */
function asRefusal(error: unknown): WeightsRefused {
  if (error instanceof WeightsRefused) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new WeightsRefused(typeof code === "string" ? code : "Unexpected", "local", message, { cause: error });
}

function sameKey(a: string, b: string): boolean {
  try {
    return u8aEq(decodeAddress(a), decodeAddress(b));
  } catch {
    return false;
  }
}

/**
 * The stateful epoch schedule (runtimes from v3.4.8 have `SubnetEpochIndex`, `LastEpochBlock`,
 * `PendingEpochAt`), or null on a runtime without it, whose epochs follow the fixed tempo.
 */
async function readSchedule(api: ApiPromise, hash: string, netuid: number, tempo: number, currentBlock: number): Promise<EpochSchedule | null> {
  const items = ["subnetEpochIndex", "lastEpochBlock", "pendingEpochAt", "blocksSinceLastStep"];
  if (!items.every((name) => hasStorageItem(api, "subtensorModule", name))) return null;
  const [subnetEpochIndex, lastEpochBlock, pendingEpochAt, blocksSinceLastStep] = await Promise.all(
    items.map(async (name) => safeNumber(await storageItem(api, "subtensorModule", name).at(hash, netuid), name)),
  );
  return {
    subnetEpochIndex: subnetEpochIndex as number,
    lastEpochBlock: lastEpochBlock as number,
    pendingEpochAt: pendingEpochAt as number,
    blocksSinceLastStep: blocksSinceLastStep as number,
    tempo,
    currentBlock,
  };
}

function safeNumber(c: Codec, name: string): number {
  const n = Number(c.toString());
  if (!Number.isSafeInteger(n)) throw new WeightsRefused("UnexpectedChainData", "read", `${name} is ${c.toString()}, not a safe integer`);
  return n;
}

/**
 * Signs with the next nonce (counting the pool), submits and follows the extrinsic until a block
 * holds it: the block's number, or WeightsRefused with the pool's or the chain's reason.
 */
export function submitAndWatch(api: ApiPromise, timeoutMs: number): SubmitWeights {
  return (tx, pair) =>
    new Promise((resolve, reject) => {
      let settled = false;
      let stop: (() => void) | null = null;
      const finish = (settle: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stop?.();
        settle();
      };
      const timer = setTimeout(
        () => finish(() => reject(new WeightsRefused("InclusionTimeout", "status", `no block included the extrinsic within ${Math.round(timeoutMs / 1000)} s`))),
        timeoutMs,
      );
      const onStatus = (result: SubmittableResult): void => {
        const outcome = inclusionOf(api.registry, result);
        if (outcome === null) return;
        if ("refused" in outcome) return finish(() => reject(outcome.refused));
        if (outcome.blockNumber !== null) return finish(() => resolve({ blockHash: outcome.blockHash, blockNumber: outcome.blockNumber as number }));
        api.rpc.chain.getHeader(outcome.blockHash).then(
          (header) => finish(() => resolve({ blockHash: outcome.blockHash, blockNumber: header.number.toNumber() })),
          (error: unknown) => finish(() => reject(new WeightsRefused("InclusionUnknown", "status", `included in ${outcome.blockHash}, whose header could not be read: ${String(error)}`))),
        );
      };
      tx.signAndSend(pair, { nonce: -1 }, onStatus).then(
        (unsubscribe) => {
          stop = unsubscribe;
          if (settled) unsubscribe();
        },
        (error: unknown) => finish(() => reject(refusalFromSubmitError(error))),
      );
    });
}
