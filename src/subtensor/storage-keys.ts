import type { ApiPromise } from "@polkadot/api";
import { storageItem } from "./chain-access.ts";

/** The storage keys this adapter reads for one subnet, built offline from the metadata (no node). */
export interface SubnetStorageKeys {
  lastMechansimStepBlock: string;
  blocksSinceLastStep: string;
  emission: string;
  subnetTao: string;
  subnetAlphaIn: string;
  tempo: string;
  commitRevealWeightsEnabled: string;
  weightsSetRateLimit: string;
  weightsVersionKey: string;
  revealPeriodEpochs: string;
  commitRevealWeightsVersion: string;
  timestampNow: string;
  systemEvents: string;
  /** `Uids(netuid, hotkey)`. */
  uid(hotkey: string): string;
  /** `Keys(netuid, uid)`: the hotkey on a uid. */
  hotkey(uid: number): string;
}

export function subnetStorageKeys(api: ApiPromise, netuid: number): SubnetStorageKeys {
  const st = (item: string) => storageItem(api, "subtensorModule", item);
  return {
    // (sic) the chain's spelling
    lastMechansimStepBlock: st("lastMechansimStepBlock").key(netuid),
    blocksSinceLastStep: st("blocksSinceLastStep").key(netuid),
    emission: st("emission").key(netuid),
    subnetTao: st("subnetTAO").key(netuid),
    subnetAlphaIn: st("subnetAlphaIn").key(netuid),
    tempo: st("tempo").key(netuid),
    commitRevealWeightsEnabled: st("commitRevealWeightsEnabled").key(netuid),
    weightsSetRateLimit: st("weightsSetRateLimit").key(netuid),
    weightsVersionKey: st("weightsVersionKey").key(netuid),
    revealPeriodEpochs: st("revealPeriodEpochs").key(netuid),
    commitRevealWeightsVersion: st("commitRevealWeightsVersion").key(),
    timestampNow: storageItem(api, "timestamp", "now").key(),
    systemEvents: storageItem(api, "system", "events").key(),
    uid: (hotkey) => st("uids").key(netuid, hotkey),
    hotkey: (uid) => st("keys").key(netuid, uid),
  };
}
