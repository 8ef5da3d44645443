import type { ApiPromise } from "@polkadot/api";
import { optionValue, storageItem } from "./chain-access.ts";

/**
 * The uid `hotkey` holds on `netuid` (`SubtensorModule.Uids`), or null when it is not registered
 * there: the registration check for one hotkey without reading the whole metagraph.
 */
export async function lookupUid(api: ApiPromise, netuid: number, hotkey: string, blockHash?: string): Promise<number | null> {
  const source = blockHash ? await api.at(blockHash) : api;
  const uid = optionValue(await storageItem(source, "subtensorModule", "uids")(netuid, hotkey));
  return uid === undefined ? null : Number(uid.toString());
}
