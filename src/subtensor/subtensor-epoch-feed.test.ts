import { u8aToHex } from "@polkadot/util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeEventRecords, PlannedProvider, recordedMetadataV15, ReplayProvider, SUBTENSOR_GENESIS_HASH } from "../../test/support/subtensor-replay.ts";
import type { EpochFeed } from "../node/chain-follower.ts";
import type { EpochObservationWithOwner } from "./observed-epoch.ts";
import { subnetStorageKeys } from "./storage-keys.ts";
import { connectSubtensor, type SubtensorConnection } from "./subtensor-connection.ts";
import { subtensorEpochFeed } from "./subtensor-epoch-feed.ts";

const METADATA = { [`${SUBTENSOR_GENESIS_HASH}-343`]: recordedMetadataV15() };
const E1 = 6_852_597;
const E2 = 6_852_697;

function hashOf(block: number): string {
  return `0x${block.toString(16).padStart(64, "c")}`;
}

describe("the epoch feed over a reconnecting node", () => {
  let connection: SubtensorConnection | null = null;
  afterEach(async () => {
    await connection?.close();
  });

  it("delivers each epoch once across a drop and a reconnection, and says why it is not connected", async () => {
    const replay = new ReplayProvider("metagraph");
    for (const n of [E1, E2, E2 - 1, 6_852_600, 6_852_700]) replay.addBlock({ number: n, hash: hashOf(n), parentHash: hashOf(n - 1) });
    replay.setHead(hashOf(6_852_600));
    const provider = new PlannedProvider(["accept"], replay);
    connection = connectSubtensor("ws://node.example", { createProvider: () => provider, metadata: METADATA, headPollMs: 40, backoff: { initialMs: 40 } });
    const api = await connection.ready(5_000);
    const k = subnetStorageKeys(api, 1);
    const u64 = (n: number) => u8aToHex(api.createType("u64", n).toU8a());
    replay.scriptStorage(k.lastMechansimStepBlock, [u64(E1)]);
    replay.setStorage(k.timestampNow, u64(1_760_000_000_000));
    replay.setStorage(k.systemEvents, encodeEventRecords(api, [{ pallet: "SubtensorModule", event: "IncentiveAlphaEmittedToMiners", args: [1, Array(1_024).fill(7)] }]));

    const feed = subtensorEpochFeed({ netuid: 1, connection, pollMs: 40 });
    // The node's chain follower takes this feed as it is.
    const asTheNodeSeesIt: EpochFeed = feed;
    void asTheNodeSeesIt;
    const delivered: EpochObservationWithOwner[] = [];
    feed.start(null, async (o) => {
      delivered.push(o);
    });
    await vi.waitFor(() => expect(delivered).toHaveLength(1), { timeout: 5_000 });
    const first = delivered[0];
    expect(first?.kind === "epoch" && first.epoch).toMatchObject({ block: E1, ownerHotkey: "5HCFWvRqzSHWRPecN7q8J6c7aKQnrCZTMHstPv39xL1wgDHh", alphaPaid: Array(1_024).fill("7") });
    await vi.waitFor(() => expect(connection?.status()).toMatchObject({ headBlock: 6_852_600, observedBlock: 6_852_600, lagBlocks: 0 }));
    expect(feed.status()).toEqual({ url: "ws://node.example", connected: true, head: 6_852_600, lastError: null });

    // The node goes away for a while: nothing is delivered, nothing invented, the status says why.
    provider.plan.push("refuse", "refuse");
    provider.drop();
    expect(feed.status()).toMatchObject({ connected: false, lastError: "the connection closed" });
    await new Promise((r) => setTimeout(r, 100));
    expect(delivered).toHaveLength(1);

    // Back, with one new epoch since.
    replay.setHead(hashOf(6_852_700));
    replay.scriptStorage(k.lastMechansimStepBlock, [u64(E2), u64(E1), u64(E2)]);
    await vi.waitFor(() => expect(delivered).toHaveLength(2), { timeout: 5_000 });
    expect(delivered[1]?.kind === "epoch" && delivered[1].epoch.block).toBe(E2);
    expect(connection.status().reconnects).toBe(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(delivered).toHaveLength(2);
    await feed.stop();
  });
});
