import type { ApiPromise } from "@polkadot/api";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { Extrinsic } from "@polkadot/types/interfaces";
import { u8aToHex } from "@polkadot/util";
import { blake2AsU8a, cryptoWaitReady, signatureVerify } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openReplayApi, SUBTENSOR_GENESIS_HASH } from "../../test/support/subtensor-replay.ts";
import { COMMIT_REVEAL_VERSION, weightsCalls } from "./set-weights-call.ts";

let api: ApiPromise;
let hotkey: KeyringPair;

beforeAll(async () => {
  await cryptoWaitReady();
  api = await openReplayApi();
  hotkey = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice");
});

afterAll(async () => {
  await api.disconnect();
});

/** Whether the extrinsic's signature signs its own payload (era, nonce, tip, versions, genesis) for its signer. */
function signatureVerifies(xt: Extrinsic): boolean {
  const payload = api.registry.createType("ExtrinsicPayload", {
    method: xt.method.toHex(),
    era: xt.era,
    nonce: xt.nonce,
    tip: xt.tip,
    specVersion: api.runtimeVersion.specVersion,
    transactionVersion: api.runtimeVersion.transactionVersion,
    genesisHash: SUBTENSOR_GENESIS_HASH,
    blockHash: SUBTENSOR_GENESIS_HASH,
    mode: 0,
  });
  const bytes = payload.toU8a({ method: true });
  // Substrate signs the blake2-256 of a payload longer than 256 bytes.
  const message = bytes.length > 256 ? blake2AsU8a(bytes, 256) : bytes;
  return signatureVerify(message, xt.signature, xt.signer.toString()).isValid;
}

describe("weights extrinsics, built from mainnet metadata and signed offline", () => {
  it("set_weights decodes back to the same call, signer, nonce and era, and its signature verifies", async () => {
    const tx = weightsCalls.setWeights(api, 8, { uids: [0, 5, 17], values: [65_535, 1_234, 7] }, 9_012_001n);
    await tx.signAsync(hotkey, { nonce: 42, era: 0 });

    const xt = api.registry.createType("Extrinsic", tx.toHex());
    expect(xt.isSigned).toBe(true);
    expect(xt.method.section).toBe("subtensorModule");
    expect(xt.method.method).toBe("setWeights");
    // pallet 7, call 0 (reference §3)
    expect(u8aToHex(xt.method.callIndex)).toBe("0x0700");
    const [netuid, dests, weights, versionKey] = xt.method.args;
    expect(netuid?.toJSON()).toBe(8);
    expect(dests?.toJSON()).toEqual([0, 5, 17]);
    expect(weights?.toJSON()).toEqual([65_535, 1_234, 7]);
    expect(versionKey?.toString()).toBe("9012001");
    expect(xt.signer.toString()).toBe(hotkey.address);
    expect(xt.nonce.toNumber()).toBe(42);
    expect(xt.era.isImmortalEra).toBe(true);
    expect(signatureVerifies(xt)).toBe(true);
  });

  it("a tampered set_weights no longer verifies", async () => {
    const tx = weightsCalls.setWeights(api, 8, { uids: [1], values: [65_535] }, 1n);
    await tx.signAsync(hotkey, { nonce: 0, era: 0 });
    const other = weightsCalls.setWeights(api, 8, { uids: [2], values: [65_535] }, 1n);
    const forged = api.registry.createType("Extrinsic", tx.toHex());
    const xt = api.registry.createType("Extrinsic", { method: other.method, signature: forged.inner.signature });
    expect(xt.method.args[1]?.toJSON()).toEqual([2]);
    expect(signatureVerifies(xt)).toBe(false);
  });

  it("commit_timelocked_weights carries the commit bytes, reveal round and version 4", async () => {
    const commit = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    const tx = weightsCalls.commitTimelockedWeights(api, 8, commit, 24_808_079);
    await tx.signAsync(hotkey, { nonce: 3, era: 0 });

    const xt = api.registry.createType("Extrinsic", tx.toHex());
    expect(xt.method.method).toBe("commitTimelockedWeights");
    expect(u8aToHex(xt.method.callIndex)).toBe(`0x07${(113).toString(16)}`); // call 113 (reference §3)
    const [netuid, sent, round, version] = xt.method.args;
    expect(netuid?.toJSON()).toBe(8);
    expect(u8aToHex(sent?.toU8a(true))).toBe(u8aToHex(commit));
    expect(round?.toString()).toBe("24808079");
    expect(version?.toJSON()).toBe(COMMIT_REVEAL_VERSION);
    expect(signatureVerifies(xt)).toBe(true);
  });
});
