import { u8aToHex } from "@polkadot/util";
import { describe, expect, it } from "vitest";
import { openReplayApi, ReplayProvider } from "../../test/support/subtensor-replay.ts";
import { subnetStorageKeys } from "./storage-keys.ts";
import { readSubnetHyperparameters } from "./subnet-hyperparameters.ts";

describe("the hyperparameters the weight setter needs", () => {
  it("reads the recorded Tempo(23) = 1000 and the scripted rest, each from its own storage item", async () => {
    const provider = new ReplayProvider("tempo");
    const api = await openReplayApi("tempo", provider);
    try {
      const k = subnetStorageKeys(api, 23);
      // Distinct values, so that a field read from the wrong item shows (SCALE is little-endian;
      // a codec's toHex() is not).
      provider.setStorage(k.commitRevealWeightsEnabled, u8aToHex(api.createType("bool", false).toU8a()));
      provider.setStorage(k.commitRevealWeightsVersion, u8aToHex(api.createType("u16", 4).toU8a()));
      provider.setStorage(k.revealPeriodEpochs, u8aToHex(api.createType("u64", 3).toU8a()));
      provider.setStorage(k.weightsSetRateLimit, u8aToHex(api.createType("u64", 150).toU8a()));
      provider.setStorage(k.weightsVersionKey, u8aToHex(api.createType("u64", 9_012_001n).toU8a()));
      expect(await readSubnetHyperparameters(api, 23)).toEqual({
        netuid: 23,
        commitRevealWeightsEnabled: false,
        commitRevealVersion: 4,
        revealPeriodEpochs: 3,
        weightsSetRateLimit: 150,
        weightsVersionKey: 9_012_001n,
        tempo: 1_000,
      });
    } finally {
      await api.disconnect();
    }
  });

  it("an unset item takes the runtime's declared default: commit-reveal on, reveal after 1 epoch", async () => {
    const provider = new ReplayProvider("tempo");
    const api = await openReplayApi("tempo", provider);
    try {
      const k = subnetStorageKeys(api, 23);
      for (const key of [k.commitRevealWeightsEnabled, k.commitRevealWeightsVersion, k.revealPeriodEpochs, k.weightsSetRateLimit, k.weightsVersionKey]) provider.setStorage(key, null);
      const h = await readSubnetHyperparameters(api, 23);
      expect(h.commitRevealWeightsEnabled).toBe(true);
      expect(h.revealPeriodEpochs).toBe(1);
      expect(h.weightsSetRateLimit).toBe(100);
      expect(h.weightsVersionKey).toBe(0n);
      expect(h.tempo).toBe(1_000);
    } finally {
      await api.disconnect();
    }
  });
});
