import { alpha, TAO } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { account, key } from "./chain-state.ts";
import { blockEmission, splitParticipantAlpha } from "./emission.ts";

/**
 * What entities and debt read from a chain (DESIGN.md §2 rule 7): the uid a hotkey holds, the
 * hotkey on a uid, the subnet's owner, its pool, and what its miners earn per block. The devnet
 * answers from its own state; an adapter for the real Subtensor answers from the facts it recorded
 * in the log, so the same debt code runs on both.
 */
export interface ChainView {
  uidOf(netuid: number, hotkey: string): number | undefined;
  hotkeyOf(netuid: number, uid: number): string | undefined;
  neuronCount(netuid: number): number;
  ownerHotkey(netuid: number): string | undefined;
  /** SubnetTAO and SubnetAlphaIn now, in rao. */
  pool(netuid: number): { taoRao: bigint; alphaInRao: bigint };
  /** Alpha the subnet's miners earn per block now (the server half of what the owner's cut leaves). */
  minerAlphaPerBlock(netuid: number): bigint;
}

/** The devnet chain, read from the state. */
export function devnetChain(state: State): ChainView {
  const { chain, ledger } = state;
  return {
    uidOf: (netuid, hotkey) => chain.uids.get(key.hotkey(netuid, hotkey)),
    hotkeyOf: (netuid, uid) => chain.neurons.get(key.neuron(netuid, uid))?.hotkey,
    neuronCount: (netuid) => chain.subnets.get(netuid)?.neuronCount ?? 0,
    ownerHotkey: (netuid) => chain.subnets.get(netuid)?.ownerHotkey,
    pool: (netuid) => ({ taoRao: ledger.balanceOf(TAO, account.subnetTao(netuid)), alphaInRao: ledger.balanceOf(alpha(netuid), account.alphaIn(netuid)) }),
    minerAlphaPerBlock: (netuid) => splitParticipantAlpha(blockEmission(ledger.totals(alpha(netuid)).issuance)).server,
  };
}
