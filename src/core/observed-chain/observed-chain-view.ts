import { type ChainView, devnetChain } from "../chain/chain-view.ts";
import type { State } from "../machine/state.ts";
import { followsChain } from "./observed-chain-state.ts";

/**
 * The chain entities and debts read: the devnet's own state, or, on a log that follows a real
 * subnet, the facts recorded from it. Whatever netuid is asked, the observed view answers for the
 * one subnet the log follows (core calls it the prop-trading subnet, PROP_NETUID).
 */
export function chainViewOf(state: State): ChainView {
  return followsChain(state.observed) ? observedChain(state) : devnetChain(state);
}

export function observedChain(state: State): ChainView {
  const { hotkeys, uids, latest } = state.observed;
  return {
    uidOf: (_netuid, hotkey) => uids.get(hotkey),
    hotkeyOf: (_netuid, uid) => hotkeys.get(uid),
    neuronCount: () => hotkeys.size,
    ownerHotkey: () => latest.get("e")?.ownerHotkey ?? undefined,
    pool: () => {
      const e = latest.get("e");
      return { taoRao: e?.subnetTaoRao ?? 0n, alphaInRao: e?.alphaInRao ?? 0n };
    },
    minerAlphaPerBlock: () => latest.get("e")?.minerAlphaPerBlockRao ?? 0n,
  };
}
