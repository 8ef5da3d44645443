// The core side of bench/subaccounts.ts: entities set up as the devnet would (neurons on subnet 1
// by block extrinsics, 5,000 TAO collateral each, register_entity), then create_subaccount
// commands carrying their request's identity as the API sends them.
import { randomUUID } from "node:crypto";
import { encodeAddress } from "@polkadot/util-crypto";
import type { Command } from "../src/core/machine/commands.ts";

export const TAO_RAO = 1_000_000_000n;
export const COLLATERAL_RAO = 5_000n * TAO_RAO;

/** A real-looking SS58 address (prefix 42) for index `i` of a family: hotkeys as long as real ones. */
export function address(family: number, i: number): string {
  const bytes = new Uint8Array(32);
  bytes[0] = family;
  new DataView(bytes.buffer).setUint32(1, i);
  return encodeAddress(bytes, 42);
}

export const COLDKEY = address(1, 0);
export const ROOT_KEY = address(1, 1);
export const SUBNET_OWNER = address(1, 2);

export function entityHotkeys(n: number): string[] {
  return Array.from({ length: n }, (_, i) => address(2, i));
}

export const genesisEndowments = [{ owner: COLDKEY, amount_rao: 1_000_000n * TAO_RAO }];
export const chainGenesis = { root: ROOT_KEY, subnets: [{ netuid: 1, ownerHotkey: SUBNET_OWNER, ownerColdkey: COLDKEY }] };

/** One block registering every hotkey on subnet 1 and depositing its collateral. */
export function neuronBlock(hotkeys: string[], ts: number): Command {
  return {
    kind: "block",
    ts,
    extrinsics: hotkeys.flatMap((hotkey) => [
      { call: "subtensor.burned_register", signer: COLDKEY, args: { netuid: 1, hotkey } },
      { call: "collateral.deposit", signer: COLDKEY, args: { hotkey, amount_rao: COLLATERAL_RAO.toString() } },
    ]),
  };
}

export function registerEntity(hotkey: string, ts: number): Command {
  return { kind: "register_entity", ts, hotkey, request: { signer: hotkey, uuid: randomUUID() } };
}

/** As POST /v1/entities/{hotkey}/subaccounts submits it (default account size). */
export function createSubaccount(entity: string, ts: number): Command {
  return { kind: "create_subaccount", ts, entity, uuid: randomUUID(), request: { signer: entity, uuid: randomUUID() } };
}
