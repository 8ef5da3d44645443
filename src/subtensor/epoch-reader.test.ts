import type { ApiPromise } from "@polkadot/api";
import type { Codec } from "@polkadot/types/types";
import { u8aToHex } from "@polkadot/util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEventRecords, openReplayApi, ReplayProvider } from "../../test/support/subtensor-replay.ts";
import { EpochObserver } from "./epoch-observer.ts";
import { apiEpochReader } from "./epoch-reader.ts";
import type { EpochObservation } from "./observed-epoch.ts";
import { subnetStorageKeys } from "./storage-keys.ts";

// The recorded chain: mainnet subnet 1 at block 6,852,690, whose metagraph says the last epoch
// was at block 6,852,597. The blocks after it, their heads, epoch markers, timestamps and events
// are scripted; the metagraph itself is always the recorded one (runtime calls ignore the block).
const E1 = 6_852_597;
const E2 = 6_852_697;
const E_MISSED = 6_853_047;
const E3 = 6_853_397;
const TAO_IN = "22079400556774";
const ALPHA_IN = "2316467425363654";

function hashOf(block: number): string {
  return `0x${block.toString(16).padStart(64, "e")}`;
}

interface Chain {
  provider: ReplayProvider;
  api: ApiPromise;
  u64(n: number | bigint): string;
  head(block: number): void;
}

async function recordedChain(blocks: number[]): Promise<Chain> {
  const provider = new ReplayProvider("metagraph");
  for (const number of blocks) provider.addBlock({ number, hash: hashOf(number), parentHash: hashOf(number - 1) });
  const api = await openReplayApi("metagraph", provider);
  return {
    provider,
    api,
    u64: (n) => u8aToHex(api.createType("u64", n).toU8a()),
    head: (block) => provider.setHead(hashOf(block)),
  };
}

/** IncentiveAlphaEmittedToMiners for `netuid`: uid i was paid `base + i` rao. */
function incentive(netuid: number, base: number) {
  return { pallet: "SubtensorModule", event: "IncentiveAlphaEmittedToMiners", args: [netuid, Array.from({ length: 1_024 }, (_, i) => base + i)] };
}

function paid(base: number): string[] {
  return Array.from({ length: 1_024 }, (_, i) => String(base + i));
}

function blocksOf(observations: EpochObservation[]): string[] {
  return observations.map((o) => (o.kind === "epoch" ? `epoch ${o.epoch.block} ${o.epoch.source}` : `gap ${o.gap.afterBlock}..${o.gap.beforeBlock}`));
}

describe("observing epochs over the recorded chain (ApiPromise, no node)", () => {
  // Decoded apart from the adapter: get_neurons_lite at the same recorded block.
  let hotkeys: string[];
  let emission: string[];
  const opened: ApiPromise[] = [];

  beforeAll(async () => {
    const { api } = await recordedChain([]);
    opened.push(api);
    const neurons = [...((await api.call.neuronInfoRuntimeApi!.getNeuronsLite!(1)) as unknown as Iterable<Record<string, Codec>>)];
    hotkeys = neurons.map((n) => n.hotkey!.toString());
    emission = neurons.map((n) => n.emission!.toString());
  });

  afterAll(async () => {
    for (const api of opened) await api.disconnect();
  });

  it("a changed LastMechansimStepBlock is one epoch, a repeated one none, a jump over pruned state a gap", async () => {
    const heads = [6_852_600, 6_852_650, 6_852_700, 6_853_400];
    const chain = await recordedChain([E1, E2, E2 - 1, E3, E3 - 1, ...heads]);
    opened.push(chain.api);
    const k = subnetStorageKeys(chain.api, 1);
    // LastMechansimStepBlock as each poll reads it: at the head, then just before a new epoch block.
    chain.provider.scriptStorage(k.lastMechansimStepBlock, [E1, E1, E2, E1, E3].map(chain.u64));
    chain.provider.scriptStorage(k.timestampNow, [1_000, 2_000, 3_000].map((s) => chain.u64(1_760_000_000_000 + s)));
    chain.provider.scriptStorage(k.systemEvents, [
      // subnet 2's miners are paid in the same block: not subnet 1's alpha
      encodeEventRecords(chain.api, [incentive(2, 900_000), incentive(1, 1_000)]),
      encodeEventRecords(chain.api, []),
      encodeEventRecords(chain.api, [incentive(1, 3_000)]),
    ]);
    const observer = new EpochObserver({ netuid: 1, reader: apiEpochReader(chain.api) });

    chain.head(heads[0]!);
    const first = await observer.poll();
    expect(first).toEqual([
      {
        kind: "epoch",
        epoch: {
          netuid: 1,
          block: E1,
          blockHash: hashOf(E1),
          timestampMs: 1_760_000_001_000,
          hotkeys,
          alphaPaid: paid(1_000),
          source: "IncentiveAlphaEmittedToMiners",
          subnetTaoRao: TAO_IN,
          subnetAlphaInRao: ALPHA_IN,
          ownerHotkey: "5HCFWvRqzSHWRPecN7q8J6c7aKQnrCZTMHstPv39xL1wgDHh",
        },
      },
    ]);

    chain.head(heads[1]!);
    expect(await observer.poll()).toEqual([]);

    chain.head(heads[2]!);
    const second = await observer.poll();
    expect(blocksOf(second)).toEqual([`epoch ${E2} Emission`]);
    // No miner-incentive event in that block: the alpha paid is Emission(1), uid by uid.
    expect(second[0]?.kind === "epoch" && second[0].epoch.alphaPaid).toEqual(emission);
    expect(second[0]?.kind === "epoch" && second[0].epoch.timestampMs).toBe(1_760_000_002_000);

    // The node went away; back at a head whose state before E3 it has pruned (no archive).
    chain.provider.pruneStateBefore(E3);
    chain.head(heads[3]!);
    const third = await observer.poll();
    expect(blocksOf(third)).toEqual([`gap ${E2}..${E3}`, `epoch ${E3} IncentiveAlphaEmittedToMiners`]);
    expect(third[0]?.kind === "gap" && third[0].gap).toMatchObject({ netuid: 1, reason: expect.stringMatching(/no archive endpoint/) });
    expect(third[1]?.kind === "epoch" && third[1].epoch.alphaPaid).toEqual(paid(3_000));
    expect(observer.lastEpochBlock).toBe(E3);
  });

  it("with an archive endpoint, the epochs the node pruned are read from the archive instead", async () => {
    const node = await recordedChain([E3, E3 - 1, E_MISSED, E_MISSED - 1, 6_853_400]);
    const archive = await recordedChain([E3 - 1, E_MISSED, E_MISSED - 1]);
    opened.push(node.api, archive.api);
    node.provider.pruneStateBefore(E3);
    node.head(6_853_400);
    const nk = subnetStorageKeys(node.api, 1);
    const ak = subnetStorageKeys(archive.api, 1);
    node.provider.scriptStorage(nk.lastMechansimStepBlock, [node.u64(E3)]);
    node.provider.scriptStorage(nk.timestampNow, [node.u64(1_760_000_009_000)]);
    node.provider.setStorage(nk.systemEvents, encodeEventRecords(node.api, [incentive(1, 9_000)]));
    archive.provider.scriptStorage(ak.lastMechansimStepBlock, [E_MISSED, E2].map(archive.u64));
    archive.provider.setStorage(ak.timestampNow, archive.u64(1_760_000_005_000));
    archive.provider.setStorage(ak.systemEvents, encodeEventRecords(archive.api, [incentive(1, 5_000)]));

    // Resumed from a log whose last epoch is E2.
    const observer = new EpochObserver({ netuid: 1, reader: apiEpochReader(node.api), archive: apiEpochReader(archive.api), after: E2 });
    const observations = await observer.poll();
    expect(blocksOf(observations)).toEqual([`epoch ${E_MISSED} IncentiveAlphaEmittedToMiners`, `epoch ${E3} IncentiveAlphaEmittedToMiners`]);
    const [missed, latest] = observations.map((o) => (o.kind === "epoch" ? o.epoch : null));
    expect(missed).toMatchObject({ block: E_MISSED, blockHash: hashOf(E_MISSED), timestampMs: 1_760_000_005_000, alphaPaid: paid(5_000), hotkeys });
    expect(latest).toMatchObject({ block: E3, timestampMs: 1_760_000_009_000, alphaPaid: paid(9_000) });
    // The node was asked for the missed epoch first and refused it as pruned.
    expect(node.provider.requests.some((r) => r.method === "state_call" && r.params[2] === hashOf(E_MISSED))).toBe(true);
  });

  it("a uid registered in the epoch block itself is paid as the hotkey it had before that block", async () => {
    // In the recording uid 695 was registered at block 6,851,699: make that block an epoch.
    const epoch = 6_851_699;
    const chain = await recordedChain([epoch, epoch - 1, 6_851_700]);
    opened.push(chain.api);
    const k = subnetStorageKeys(chain.api, 1);
    const previous = "5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM";
    chain.head(6_851_700);
    chain.provider.setStorage(k.lastMechansimStepBlock, chain.u64(epoch));
    chain.provider.setStorage(k.timestampNow, chain.u64(1_760_000_000_000));
    chain.provider.setStorage(k.systemEvents, encodeEventRecords(chain.api, [incentive(1, 0)]));
    chain.provider.setStorage(k.hotkey(695), u8aToHex(chain.api.createType("AccountId32", previous).toU8a()));
    const [observation] = await new EpochObserver({ netuid: 1, reader: apiEpochReader(chain.api) }).poll();
    const observed = observation?.kind === "epoch" ? observation.epoch : null;
    expect(observed?.hotkeys[695]).toBe(previous);
    expect(hotkeys[695]).not.toBe(previous);
    expect(observed?.hotkeys.filter((h, uid) => h !== hotkeys[uid])).toEqual([previous]);
    // Keys(1, 695) was read in the state before the epoch block.
    const keysRead = chain.provider.requests.find((r) => String(r.params[0]) === k.hotkey(695));
    expect(keysRead?.params[1]).toBe(hashOf(epoch - 1));
  });
});
