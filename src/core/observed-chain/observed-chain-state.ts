import { type Journal, JournaledMap } from "../machine/journal.ts";

/**
 * What a real Subtensor chain told this node, as recorded facts (DESIGN.md §2 rule 7): which
 * subnet the log follows, its metagraph at the latest observed epoch (uid <-> hotkey), that
 * epoch's pool and what its miners earned. Empty on the devnet, whose chain lives in `chain`.
 * Replay rebuilds it from the facts alone and never asks the chain.
 */
export interface ObservedChainState {
  /** Set once, by ChainFollowed: the subnet and chain (genesis hash) this log follows. */
  source: JournaledMap<"s", ChainSource>;
  /** uid -> hotkey at the latest observed epoch. */
  hotkeys: JournaledMap<number, string>;
  /** hotkey -> uid, the same map the other way (registration checks read it). */
  uids: JournaledMap<string, number>;
  latest: JournaledMap<"e", LatestEpoch>;
}

export interface ChainSource {
  netuid: number;
  genesisHash: string;
  followedAtMs: number;
  /** Stretches of epochs that could not be observed, recorded as ChainEpochGap. */
  gaps: number;
}

export interface LatestEpoch {
  block: number;
  blockHash: string;
  timestampMs: number;
  ownerHotkey: string | null;
  subnetTaoRao: bigint;
  alphaInRao: bigint;
  /**
   * Alpha paid to all uids at this epoch over the blocks since the one before: 0 at the first, and
   * after a gap the rate from before it (a gap's epochs were paid too, unseen).
   */
  minerAlphaPerBlockRao: bigint;
  epochs: number;
  /** A gap was recorded after this epoch: the next one cannot be divided by the blocks since this. */
  gapAfter: boolean;
}

export function createObservedChainState(journal: Journal): ObservedChainState {
  return { source: new JournaledMap(journal), hotkeys: new JournaledMap(journal), uids: new JournaledMap(journal), latest: new JournaledMap(journal) };
}

/** Whether this log follows a real chain (then collateral is not tracked here and no devnet block is made). */
export function followsChain(observed: ObservedChainState): boolean {
  return observed.source.size > 0;
}

export interface EncodedObservedChain {
  source: ChainSource;
  hotkeys: Array<[number, string]>;
  latest: Omit<LatestEpoch, "subnetTaoRao" | "alphaInRao" | "minerAlphaPerBlockRao"> & { subnetTaoRao: string; alphaInRao: string; minerAlphaPerBlockRao: string } | null;
}

export function exportObservedChain(observed: ObservedChainState): EncodedObservedChain | undefined {
  const source = observed.source.get("s");
  if (!source) return undefined;
  const latest = observed.latest.get("e");
  return {
    source: { ...source },
    hotkeys: observed.hotkeys.sortedEntries(),
    latest: latest
      ? { ...latest, subnetTaoRao: latest.subnetTaoRao.toString(), alphaInRao: latest.alphaInRao.toString(), minerAlphaPerBlockRao: latest.minerAlphaPerBlockRao.toString() }
      : null,
  };
}

export function importObservedChain(encoded: EncodedObservedChain | undefined, journal: Journal): ObservedChainState {
  const observed = createObservedChainState(journal);
  if (!encoded) return observed;
  observed.source.set("s", { ...encoded.source });
  for (const [uid, hotkey] of encoded.hotkeys) {
    observed.hotkeys.set(uid, hotkey);
    observed.uids.set(hotkey, uid);
  }
  const l = encoded.latest;
  if (l) {
    observed.latest.set("e", { ...l, subnetTaoRao: BigInt(l.subnetTaoRao), alphaInRao: BigInt(l.alphaInRao), minerAlphaPerBlockRao: BigInt(l.minerAlphaPerBlockRao) });
  }
  return observed;
}
