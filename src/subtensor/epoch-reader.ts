import type { ApiPromise } from "@polkadot/api";
import type { Codec } from "@polkadot/types/types";
import { optionValue, storageItem } from "./chain-access.ts";
import { readMetagraphAt } from "./metagraph-snapshot.ts";
import type { ObservedEpochWithOwner } from "./observed-epoch.ts";
import { errorMessage, isStateUnavailable, SubtensorError } from "./subtensor-error.ts";

export interface ChainHead {
  number: number;
  hash: string;
}

/**
 * The few reads the epoch observer needs. Methods throw `SubtensorError("STATE_UNAVAILABLE")`
 * when the node no longer holds the block's state (pruned: ask an archive node); any other
 * error is transient (the observer tries again at its next poll).
 */
export interface EpochReader {
  /** The finalized head: epochs are recorded from state that will not be reverted. */
  finalizedHead(): Promise<ChainHead>;
  /** `LastMechansimStepBlock(netuid)` in the state after `block`. */
  lastStepBlock(netuid: number, block: number): Promise<number>;
  /** The epoch facts at `block`, an epoch block of `netuid`. */
  epochAt(netuid: number, block: number): Promise<ObservedEpochWithOwner>;
}

/** Mechanism 0 of a subnet: its storage index is the netuid (NetUidStorageIndex = netuid + mecid * 4096). */
const MECHANISM_0 = 0;

async function classify<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof SubtensorError) throw error;
    if (isStateUnavailable(error)) throw new SubtensorError("STATE_UNAVAILABLE", `${what}: ${errorMessage(error)}`, { cause: error });
    throw error;
  }
}

function asNumber(c: Codec, what: string): number {
  const n = Number(c.toString());
  if (!Number.isSafeInteger(n) || n < 0) throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `${what} is ${c.toString()}`);
  return n;
}

interface EventRecordLike {
  event: { section: string; method: string; data: Codec[] };
}

/** The `EpochReader` over a node (or an archive node) through polkadot-js. */
export function apiEpochReader(api: ApiPromise): EpochReader {
  const blockHash = async (block: number) => {
    const hash = (await api.rpc.chain.getBlockHash(block)).toHex();
    // A node answers the zero hash for a block it does not have.
    if (/^0x0+$/.test(hash)) throw new SubtensorError("STATE_UNAVAILABLE", `the node has no block ${block}`);
    return hash;
  };

  return {
    async finalizedHead() {
      const hash = (await api.rpc.chain.getFinalizedHead()).toHex();
      const header = await api.rpc.chain.getHeader(hash);
      return { number: header.number.toNumber(), hash };
    },

    lastStepBlock(netuid, block) {
      return classify(`LastMechansimStepBlock(${netuid}) at block ${block}`, async () => {
        const hash = await blockHash(block);
        return asNumber(await storageItem(api, "subtensorModule", "lastMechansimStepBlock").at(hash, netuid), "LastMechansimStepBlock");
      });
    },

    epochAt(netuid, block) {
      return classify(`the epoch of subnet ${netuid} at block ${block}`, async () => {
        const hash = await blockHash(block);
        const at = await api.at(hash);
        const [snapshot, now, events] = await Promise.all([
          readMetagraphAt(at, netuid, hash),
          storageItem(at, "timestamp", "now")(),
          storageItem(at, "system", "events")(),
        ]);
        const storageIndex = netuid + MECHANISM_0 * 4096;
        const incentive = [...(events as unknown as Iterable<EventRecordLike>)].find(
          ({ event }) =>
            event.section === "subtensorModule" && event.method === "IncentiveAlphaEmittedToMiners" && Number(event.data[0]?.toString()) === storageIndex,
        );
        const paid = incentive ? [...(incentive.event.data[1] as unknown as Iterable<Codec>)].map((c) => c.toString()) : snapshot.emissionRao.map(String);

        // The epoch ran in this block's on_initialize, before its extrinsics: a uid registered by
        // an extrinsic of this same block was paid as its previous hotkey (or did not exist yet).
        const registeredHere = snapshot.blockAtRegistration.flatMap((b, uid) => (b === block ? [uid] : []));
        let uids = incentive ? paid.length : snapshot.emissionRao.length;
        const hotkeys = [...snapshot.hotkeys];
        if (registeredHere.length > 0) {
          const header = await api.rpc.chain.getHeader(hash);
          const parent = header.parentHash.toHex();
          if (!incentive) uids = asNumber(await storageItem(api, "subtensorModule", "subnetworkN").at(parent, netuid), "SubnetworkN");
          for (const uid of registeredHere.filter((u) => u < uids)) {
            const before = optionValue(await storageItem(api, "subtensorModule", "keys").at(parent, netuid, uid));
            if (before === undefined) throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `no hotkey on uid ${uid} before block ${block}`);
            hotkeys[uid] = before.toString();
          }
        }
        if (paid.length < uids || hotkeys.length < uids) {
          throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `epoch at block ${block}: ${uids} uids, ${paid.length} amounts, ${hotkeys.length} hotkeys`);
        }
        return {
          netuid,
          block,
          blockHash: hash,
          timestampMs: asNumber(now, "Timestamp.Now"),
          hotkeys: hotkeys.slice(0, uids),
          alphaPaid: paid.slice(0, uids),
          source: incentive ? "IncentiveAlphaEmittedToMiners" : "Emission",
          subnetTaoRao: snapshot.pool.subnetTaoRao.toString(),
          subnetAlphaInRao: snapshot.pool.subnetAlphaInRao.toString(),
          ownerHotkey: snapshot.ownerHotkey,
        };
      });
    },
  };
}
