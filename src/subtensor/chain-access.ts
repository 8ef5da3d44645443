import type { Codec } from "@polkadot/types/types";
import { SubtensorError } from "./subtensor-error.ts";

// polkadot-js decorates storage and runtime calls from the chain's metadata at run time; these
// look one up by name and say plainly when the runtime lacks it (no augmented types are installed
// for Subtensor, and none are hand-written).

export interface StorageItem {
  (...args: unknown[]): Promise<Codec>;
  key(...args: unknown[]): string;
  /** The value in the state after block `hash` (the api's own registry, no re-decoration). */
  at(hash: string, ...args: unknown[]): Promise<Codec>;
}

export interface RuntimeCall {
  (...args: unknown[]): Promise<Codec>;
  meta: { type: { toString(): string } };
}

/** `api.query[pallet][item]` (or at a block: `(await api.at(hash)).query...`). */
export function storageItem(source: { query: object }, pallet: string, item: string): StorageItem {
  const entry = (source.query as Record<string, Record<string, StorageItem | undefined> | undefined>)[pallet]?.[item];
  if (!entry) throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `the runtime has no storage ${pallet}.${item}`);
  return entry;
}

/** Whether the runtime declares that storage item. */
export function hasStorageItem(source: { query: object }, pallet: string, item: string): boolean {
  return (source.query as Record<string, Record<string, unknown> | undefined>)[pallet]?.[item] !== undefined;
}

/** `api.call[section][method]` if the runtime declares it. */
export function runtimeCall(source: { call: object }, section: string, method: string): RuntimeCall | undefined {
  return (source.call as Record<string, Record<string, RuntimeCall | undefined> | undefined>)[section]?.[method];
}

/** Unwraps an `Option` codec: its value, or undefined for None. */
export function optionValue(c: Codec): Codec | undefined {
  const option = c as Codec & { isSome?: boolean; unwrap?: () => Codec };
  if (typeof option.isSome === "boolean" && typeof option.unwrap === "function") return option.isSome ? option.unwrap() : undefined;
  return c;
}
