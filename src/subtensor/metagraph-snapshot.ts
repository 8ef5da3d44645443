import type { ApiPromise } from "@polkadot/api";
import type { ApiDecoration } from "@polkadot/api/types";
import type { Codec } from "@polkadot/types/types";
import { optionValue, runtimeCall } from "./chain-access.ts";
import { SubtensorError } from "./subtensor-error.ts";

/**
 * One subnet's metagraph at one block, read in a single runtime call
 * (`SubnetInfoRuntimeApi.get_selective_mechagraph`, mechanism 0, every field), as plain values.
 * Amounts are rao (1e9 rao = 1 alpha or 1 TAO); per-uid arrays are indexed by uid.
 */
export interface MetagraphSnapshot {
  netuid: number;
  /** The block the chain computed this metagraph at. */
  block: number;
  blockHash: string;
  numUids: number;
  maxUids: number;
  ownerHotkey: string | null;
  ownerColdkey: string | null;
  hotkeys: string[];
  coldkeys: string[];
  /** hotkey -> uid: the registration check (a hotkey without an entry is not registered here). */
  uidByHotkey: Record<string, number>;
  alphaStakeRao: bigint[];
  taoStakeRao: bigint[];
  totalStakeRao: bigint[];
  /** Alpha the last epoch allocated to each uid (`Emission`: miner and validator share together). */
  emissionRao: bigint[];
  /** Block of each uid's last weights (the rate limit counts from it). */
  lastUpdate: number[];
  blockAtRegistration: number[];
  validatorPermit: boolean[];
  pool: { subnetTaoRao: bigint; subnetAlphaInRao: bigint; subnetAlphaOutRao: bigint };
  /** `LastMechansimStepBlock`: the block of the last epoch. */
  lastStepBlock: number;
  blocksSinceLastStep: number;
  /** What the weight setter needs, as the metagraph reports it at this block. */
  tempo: number;
  weightsVersionKey: bigint;
  weightsSetRateLimit: number;
  commitRevealWeightsEnabled: boolean;
}

/** A runtime-call result field: unwraps the `Option` the selective call puts around every field. */
function field(m: Record<string, unknown>, name: string): Codec | undefined {
  const value = m[name] as Codec | undefined;
  return value === undefined ? undefined : optionValue(value);
}

function need(m: Record<string, unknown>, name: string): Codec {
  const value = field(m, name);
  if (value === undefined) throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `the metagraph has no ${name}`);
  return value;
}

function big(c: Codec): bigint {
  return BigInt(c.toString());
}

function num(c: Codec): number {
  const n = Number(c.toString());
  if (!Number.isSafeInteger(n)) throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `${c.toString()} is not a safe integer`);
  return n;
}

function list(m: Record<string, unknown>, name: string): Codec[] {
  return [...(need(m, name) as unknown as Iterable<Codec>)];
}

function account(c: Codec | undefined): string | null {
  return c === undefined ? null : c.toString();
}

/**
 * The metagraph call at a decorated block: the selective mechagraph (mechanism 0) asking for every
 * field the runtime's type declares, else the older selective metagraph, else the full one.
 */
async function metagraphCall(at: ApiDecoration<"promise">, netuid: number): Promise<Record<string, unknown> | null> {
  const mechagraph = runtimeCall(at, "subnetInfoRuntimeApi", "getSelectiveMechagraph");
  const selective = runtimeCall(at, "subnetInfoRuntimeApi", "getSelectiveMetagraph");
  const full = runtimeCall(at, "subnetInfoRuntimeApi", "getMetagraph");
  let result: Codec;
  if (mechagraph) result = await mechagraph(netuid, 0, allFieldIndexes(at, mechagraph.meta.type.toString()));
  else if (selective) result = await selective(netuid, allFieldIndexes(at, selective.meta.type.toString()));
  else if (full) result = await full(netuid);
  else throw new SubtensorError("UNEXPECTED_CHAIN_DATA", "the runtime has no SubnetInfoRuntimeApi metagraph call");
  return (optionValue(result) as unknown as Record<string, unknown> | undefined) ?? null;
}

/** 0..n-1 for the n fields of the call's struct, as this runtime's metadata declares them. */
function allFieldIndexes(at: ApiDecoration<"promise">, returnType: string): number[] {
  const empty = at.registry.createType(returnType) as Codec & { unwrapOrDefault(): Codec & { defKeys: string[] } };
  return Array.from(empty.unwrapOrDefault().defKeys, (_, i) => i);
}

/** A block to read at: its hash, or the finalized head when none is given. */
export async function resolveBlockHash(api: ApiPromise, blockHash?: string): Promise<string> {
  return blockHash ?? (await api.rpc.chain.getFinalizedHead()).toHex();
}

/** The metagraph of `netuid` at `blockHash` (default: the finalized head). */
export async function readMetagraphSnapshot(api: ApiPromise, netuid: number, blockHash?: string): Promise<MetagraphSnapshot> {
  const hash = await resolveBlockHash(api, blockHash);
  return readMetagraphAt(await api.at(hash), netuid, hash);
}

/** The metagraph of `netuid` at an already decorated block (`api.at(blockHash)`). */
export async function readMetagraphAt(at: ApiDecoration<"promise">, netuid: number, blockHash: string): Promise<MetagraphSnapshot> {
  const m = await metagraphCall(at, netuid);
  if (!m) throw new SubtensorError("SUBNET_NOT_FOUND", `subnet ${netuid} does not exist at block ${blockHash}`);
  return snapshotOf(m, netuid, blockHash);
}

function snapshotOf(m: Record<string, unknown>, netuid: number, blockHash: string): MetagraphSnapshot {
  const hotkeys = list(m, "hotkeys").map((c) => c.toString());
  const uidByHotkey: Record<string, number> = {};
  hotkeys.forEach((hotkey, uid) => {
    // A hotkey holds at most one uid per subnet; the first wins if the chain ever said otherwise.
    if (!(hotkey in uidByHotkey)) uidByHotkey[hotkey] = uid;
  });
  const perUidBig = (name: string) => list(m, name).map(big);
  const perUidNum = (name: string) => list(m, name).map(num);
  return {
    netuid,
    block: num(need(m, "block")),
    blockHash,
    numUids: num(need(m, "numUids")),
    maxUids: num(need(m, "maxUids")),
    ownerHotkey: account(field(m, "ownerHotkey")),
    ownerColdkey: account(field(m, "ownerColdkey")),
    hotkeys,
    coldkeys: list(m, "coldkeys").map((c) => c.toString()),
    uidByHotkey,
    alphaStakeRao: perUidBig("alphaStake"),
    taoStakeRao: perUidBig("taoStake"),
    totalStakeRao: perUidBig("totalStake"),
    emissionRao: perUidBig("emission"),
    lastUpdate: perUidNum("lastUpdate"),
    blockAtRegistration: perUidNum("blockAtRegistration"),
    validatorPermit: list(m, "validatorPermit").map((c) => c.toString() === "true"),
    pool: { subnetTaoRao: big(need(m, "taoIn")), subnetAlphaInRao: big(need(m, "alphaIn")), subnetAlphaOutRao: big(need(m, "alphaOut")) },
    lastStepBlock: num(need(m, "lastStep")),
    blocksSinceLastStep: num(need(m, "blocksSinceLastStep")),
    tempo: num(need(m, "tempo")),
    weightsVersionKey: big(need(m, "weightsVersion")),
    weightsSetRateLimit: num(need(m, "weightsRateLimit")),
    commitRevealWeightsEnabled: need(m, "commitRevealWeightsEnabled").toString() === "true",
  };
}

/** The uid `hotkey` holds in the snapshot's subnet, or undefined when it is not registered there. */
export function uidInSnapshot(snapshot: MetagraphSnapshot, hotkey: string): number | undefined {
  return Object.hasOwn(snapshot.uidByHotkey, hotkey) ? snapshot.uidByHotkey[hotkey] : undefined;
}
