import type { ApiPromise } from "@polkadot/api";
import type { Codec } from "@polkadot/types/types";
import { storageItem } from "./chain-access.ts";
import { SubtensorError } from "./subtensor-error.ts";

/** What the weight setter needs to know about a subnet, read from `SubtensorModule` storage. */
export interface SubnetHyperparameters {
  netuid: number;
  /** `CommitRevealWeightsEnabled`: commit_timelocked_weights when true, set_weights when false. */
  commitRevealWeightsEnabled: boolean;
  /** `CommitRevealWeightsVersion` (a chain-wide value): the version a commit must carry. */
  commitRevealVersion: number;
  /** `RevealPeriodEpochs`: epochs between a commit and its reveal. */
  revealPeriodEpochs: number;
  /** `WeightsSetRateLimit`: blocks a uid waits after its last weights (LastUpdate) before the next. */
  weightsSetRateLimit: number;
  /** `WeightsVersionKey`: weights are accepted with a version_key at least this (or any when 0). */
  weightsVersionKey: bigint;
  /** `Tempo`: blocks per epoch (the scheduler may move epochs; observe them, do not compute them). */
  tempo: number;
}

function asNumber(c: Codec, name: string): number {
  const n = Number(c.toString());
  if (!Number.isSafeInteger(n)) throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `${name} is ${c.toString()}, not a safe integer`);
  return n;
}

/** The weight-relevant hyperparameters of `netuid` at `blockHash` (default: the latest state). */
export async function readSubnetHyperparameters(api: ApiPromise, netuid: number, blockHash?: string): Promise<SubnetHyperparameters> {
  const source = blockHash ? await api.at(blockHash) : api;
  const item = (name: string) => storageItem(source, "subtensorModule", name);
  const [enabled, version, revealPeriod, rateLimit, versionKey, tempo] = await Promise.all([
    item("commitRevealWeightsEnabled")(netuid),
    item("commitRevealWeightsVersion")(),
    item("revealPeriodEpochs")(netuid),
    item("weightsSetRateLimit")(netuid),
    item("weightsVersionKey")(netuid),
    item("tempo")(netuid),
  ]);
  return {
    netuid,
    commitRevealWeightsEnabled: enabled.toString() === "true",
    commitRevealVersion: asNumber(version, "CommitRevealWeightsVersion"),
    revealPeriodEpochs: asNumber(revealPeriod, "RevealPeriodEpochs"),
    weightsSetRateLimit: asNumber(rateLimit, "WeightsSetRateLimit"),
    weightsVersionKey: BigInt(versionKey.toString()),
    tempo: asNumber(tempo, "Tempo"),
  };
}
