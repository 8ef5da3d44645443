import type { ApiPromise } from "@polkadot/api";
import { u8aToHex } from "@polkadot/util";
import { blake2AsU8a, decodeAddress, xxhashAsHex } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openReplayApi, recordedRpc } from "../../test/support/subtensor-replay.ts";
import { subnetStorageKeys } from "./storage-keys.ts";

/** The storage keys recorded in a seed's state_getStorageAt requests. */
function recordedKeys(seed: string): string[] {
  return Object.keys(recordedRpc()[seed]?.state_getStorageAt ?? {}).map((params) => (JSON.parse(params) as string[])[0]!);
}

/** twox128(pallet) ++ twox128(item): a storage item's prefix, computed here from the names. */
function prefix(pallet: string, item: string): string {
  return xxhashAsHex(pallet, 128) + xxhashAsHex(item, 128).slice(2);
}

function u16Identity(n: number): string {
  return u8aToHex(new Uint8Array([n & 0xff, n >> 8]), -1, false);
}

describe("storage keys built offline from the metadata", () => {
  let api: ApiPromise;
  beforeAll(async () => {
    api = await openReplayApi("metagraph");
  });
  afterAll(async () => {
    await api.disconnect();
  });

  it("Emission(1) is the key the fixture README gives", () => {
    expect(subnetStorageKeys(api, 1).emission).toBe("0x658faa385070e074c85bf6b568cf055593916af563e2313a574d6cd48caec1a50100");
  });

  it("Tempo(23) and Uids(23, hotkey) are the keys the SDK's recordings asked the chain for", () => {
    expect(recordedKeys("tempo")).toContain(subnetStorageKeys(api, 23).tempo);
    for (const seed of ["get_uid_for_hotkey_on_subnet", "is_hotkey_registered_on_subnet"]) {
      const [recorded] = recordedKeys(seed);
      // Blake2_128Concat keeps the hotkey's public key at the end of the key.
      const hotkey = api.createType("AccountId32", `0x${recorded!.slice(-64)}`).toString();
      const netuid = parseInt(recorded!.slice(66, 68), 16) + (parseInt(recorded!.slice(68, 70), 16) << 8);
      expect(subnetStorageKeys(api, netuid).uid(hotkey)).toBe(recorded);
    }
  });

  it("every key the adapter reads is twox128(pallet) ++ twox128(item) ++ its hashed arguments", () => {
    const k = subnetStorageKeys(api, 8);
    const sn8 = u16Identity(8);
    expect(k.lastMechansimStepBlock).toBe(prefix("SubtensorModule", "LastMechansimStepBlock") + sn8);
    expect(k.blocksSinceLastStep).toBe(prefix("SubtensorModule", "BlocksSinceLastStep") + sn8);
    expect(k.subnetTao).toBe(prefix("SubtensorModule", "SubnetTAO") + sn8);
    expect(k.subnetAlphaIn).toBe(prefix("SubtensorModule", "SubnetAlphaIn") + sn8);
    expect(k.emission).toBe(prefix("SubtensorModule", "Emission") + sn8);
    expect(k.tempo).toBe(prefix("SubtensorModule", "Tempo") + sn8);
    expect(k.commitRevealWeightsEnabled).toBe(prefix("SubtensorModule", "CommitRevealWeightsEnabled") + sn8);
    expect(k.weightsSetRateLimit).toBe(prefix("SubtensorModule", "WeightsSetRateLimit") + sn8);
    expect(k.weightsVersionKey).toBe(prefix("SubtensorModule", "WeightsVersionKey") + sn8);
    // RevealPeriodEpochs is the one Twox64Concat map among them.
    expect(k.revealPeriodEpochs).toBe(prefix("SubtensorModule", "RevealPeriodEpochs") + xxhashAsHex(new Uint8Array([8, 0]), 64).slice(2) + sn8);
    expect(k.commitRevealWeightsVersion).toBe(prefix("SubtensorModule", "CommitRevealWeightsVersion"));
    expect(k.timestampNow).toBe(prefix("Timestamp", "Now"));
    expect(k.systemEvents).toBe(prefix("System", "Events"));
    expect(k.hotkey(300)).toBe(prefix("SubtensorModule", "Keys") + sn8 + u16Identity(300));
    const hotkey = "5DkMmXtWf16RNdusZGCrJ7ca7ADPgRnZLVWCWbgA7s7sy1AQ";
    const pub = decodeAddress(hotkey);
    expect(k.uid(hotkey)).toBe(prefix("SubtensorModule", "Uids") + sn8 + u8aToHex(blake2AsU8a(pub, 128), -1, false) + u8aToHex(pub, -1, false));
  });
});
