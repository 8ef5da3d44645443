import { attributeEpoch, applyAttribution } from "../debt/attribute-epoch.ts";
import { PROP_NETUID } from "../entities/entity-commands.ts";
import { DomainError, ValidationError } from "../errors/errors.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { observedChain } from "./observed-chain-view.ts";

/**
 * The node follows a real Subtensor subnet (`serve --chain subtensor`): recorded once, first in
 * the log, in place of a devnet genesis. A log holds one or the other, never both.
 */
export type FollowChain = { kind: "follow_chain"; ts: number; netuid: number; genesis_hash: string };

/**
 * What the chain said at one epoch (the block where LastMechansimStepBlock changed): its uid ->
 * hotkey map, the alpha it paid each uid, its pool. Recorded as a fact; the entities' share of it
 * is decided here, as the devnet's epoch step decides it, so attribution and debts run unchanged.
 */
export type ObserveChainEpoch = {
  kind: "observe_chain_epoch";
  ts: number;
  netuid: number;
  block: number;
  block_hash: string;
  timestamp_ms: number;
  owner_hotkey: string | null;
  /** index = uid */
  hotkeys: string[];
  /** alpha rao paid to each uid (decimal strings), index = uid */
  alpha_paid: string[];
  source: "IncentiveAlphaEmittedToMiners" | "Emission";
  subnet_tao_rao: string;
  subnet_alpha_in_rao: string;
};

/** Epochs the node could not observe (down, disconnected, no archive): recorded as a gap, never invented. */
export type RecordChainGap = { kind: "record_chain_gap"; ts: number; netuid: number; after_block: number; before_block: number; reason: string };

const DECIMAL = /^(0|[1-9][0-9]{0,38})$/;

function sourceOf(state: State, netuid: number) {
  const source = state.observed.source.get("s");
  if (!source) throw new DomainError("VALIDATION_FAILED", "this log does not follow a chain (it is a devnet log)");
  if (source.netuid !== netuid) throw new ValidationError(`this log follows subnet ${source.netuid}, not ${netuid}`);
  return source;
}

export function followChainCommand(state: State, c: FollowChain): EventDraft {
  if (!Number.isInteger(c.netuid) || c.netuid < 0 || c.netuid > 65_535) throw new ValidationError("netuid must be an integer in [0, 65535]");
  if (!/^0x[0-9a-f]{64}$/.test(c.genesis_hash)) throw new ValidationError("genesis_hash must be 0x and 64 lowercase hex digits");
  const existing = state.observed.source.get("s");
  if (existing) {
    const same = existing.netuid === c.netuid && existing.genesisHash === c.genesis_hash;
    throw new DomainError("VALIDATION_FAILED", same ? "this log already follows that chain" : `this log follows subnet ${existing.netuid} of chain ${existing.genesisHash}`, {
      unchanged: same,
    });
  }
  if (state.chain.params.size > 0) throw new DomainError("VALIDATION_FAILED", "this log holds a devnet chain: a log follows a real chain from its start or never");
  const payload = { netuid: c.netuid, genesis_hash: c.genesis_hash, ts: c.ts };
  applyChainFollowed(state, payload);
  return { type: "ChainFollowed", version: 1, payload };
}

export function applyChainFollowed(state: State, p: JsonObject): void {
  state.observed.source.set("s", { netuid: p.netuid as number, genesisHash: p.genesis_hash as string, followedAtMs: p.ts as number, gaps: 0 });
}

export function observeChainEpochCommand(state: State, c: ObserveChainEpoch): EventDraft {
  sourceOf(state, c.netuid);
  if (c.hotkeys.length !== c.alpha_paid.length) throw new ValidationError(`${c.hotkeys.length} hotkeys but ${c.alpha_paid.length} amounts`);
  if (c.hotkeys.length > 65_536) throw new ValidationError("more uids than a subnet holds");
  for (const amount of [...c.alpha_paid, c.subnet_tao_rao, c.subnet_alpha_in_rao]) {
    if (!DECIMAL.test(amount)) throw new ValidationError(`${amount} is not a whole number of rao`);
  }
  if (new Set(c.hotkeys).size !== c.hotkeys.length) throw new ValidationError("a hotkey holds two uids");
  const latest = state.observed.latest.get("e");
  if (latest && c.block <= latest.block) {
    throw new DomainError("VALIDATION_FAILED", `the epoch at block ${c.block} is not after the last one observed (${latest.block})`, { unchanged: c.block === latest.block });
  }
  const payload: JsonObject = {
    netuid: c.netuid,
    block: c.block,
    block_hash: c.block_hash,
    timestamp_ms: c.timestamp_ms,
    owner_hotkey: c.owner_hotkey,
    hotkeys: c.hotkeys,
    alpha_paid: c.alpha_paid,
    source: c.source,
    subnet_tao_rao: c.subnet_tao_rao,
    subnet_alpha_in_rao: c.subnet_alpha_in_rao,
    ts: c.ts,
  };
  recordEpoch(state, payload);
  const paid = c.alpha_paid.map((a, uid) => [uid, BigInt(a)] as [number, bigint]);
  const attributions = attributeEpoch(state, observedChain(state), PROP_NETUID, paid, c.ts);
  return { type: "ChainEpochObserved", version: 1, payload: { ...payload, attributions } };
}

/** Replay: the metagraph and pool as recorded, then each attribution as recorded (never decided again). */
export function applyChainEpochObserved(state: State, p: JsonObject): void {
  recordEpoch(state, p);
  for (const r of p.attributions as JsonObject[]) applyAttribution(state, r, p.ts as number);
}

function recordEpoch(state: State, p: JsonObject): void {
  const { hotkeys, uids, latest } = state.observed;
  const next = p.hotkeys as string[];
  // Only the uids whose hotkey changed are written: a metagraph of 1,024 mostly stays as it was.
  for (let uid = next.length; uid < hotkeys.size; uid++) {
    const old = hotkeys.get(uid);
    if (old !== undefined && uids.get(old) === uid) uids.delete(old);
    hotkeys.delete(uid);
  }
  for (let uid = 0; uid < next.length; uid++) {
    const hotkey = next[uid] as string;
    const old = hotkeys.get(uid);
    if (old === hotkey) continue;
    if (old !== undefined && uids.get(old) === uid) uids.delete(old);
    hotkeys.set(uid, hotkey);
    uids.set(hotkey, uid);
  }
  const previous = latest.get("e");
  const total = (p.alpha_paid as string[]).reduce((sum, a) => sum + BigInt(a), 0n);
  const blocks = previous && !previous.gapAfter ? BigInt((p.block as number) - previous.block) : 0n;
  latest.set("e", {
    block: p.block as number,
    blockHash: p.block_hash as string,
    timestampMs: p.timestamp_ms as number,
    ownerHotkey: (p.owner_hotkey as string | null) ?? null,
    subnetTaoRao: BigInt(p.subnet_tao_rao as string),
    alphaInRao: BigInt(p.subnet_alpha_in_rao as string),
    minerAlphaPerBlockRao: blocks > 0n ? total / blocks : (previous?.minerAlphaPerBlockRao ?? 0n),
    epochs: (previous?.epochs ?? 0) + 1,
    gapAfter: false,
  });
}

export function recordChainGapCommand(state: State, c: RecordChainGap): EventDraft {
  sourceOf(state, c.netuid);
  if (!Number.isInteger(c.after_block) || !Number.isInteger(c.before_block) || c.before_block <= c.after_block) {
    throw new ValidationError("a gap runs from after_block to a later before_block");
  }
  const payload = { netuid: c.netuid, after_block: c.after_block, before_block: c.before_block, reason: c.reason.slice(0, 500), ts: c.ts };
  applyChainGap(state, payload);
  return { type: "ChainEpochGap", version: 1, payload };
}

export function applyChainGap(state: State, _p: JsonObject): void {
  const source = state.observed.source.get("s");
  if (source) state.observed.source.set("s", { ...source, gaps: source.gaps + 1 });
  const latest = state.observed.latest.get("e");
  if (latest) state.observed.latest.set("e", { ...latest, gapAfter: true });
}
