import type { ApiPromise } from "@polkadot/api";
import type { Codec } from "@polkadot/types/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openReplayApi, ReplayProvider, recordedRpc } from "../../test/support/subtensor-replay.ts";
import { type MetagraphSnapshot, readMetagraphSnapshot, uidInSnapshot } from "./metagraph-snapshot.ts";
import { SubtensorError } from "./subtensor-error.ts";
import { lookupUid } from "./uid-lookup.ts";

// Mainnet subnet 1 at block 6,852,690 (spec 343), recorded by the Bittensor SDK's tests; the
// known answers are the fixture README's.
const BLOCK = 6_852_690;
const BLOCK_HASH = "0xdb13c066e2c63969f140164fb3bfe7a0aaa7b71407fc0fe525d68e57329ef9d0";

type Fields = Record<string, Codec & { unwrap(): Codec }>;

describe("the metagraph snapshot of recorded mainnet subnet 1", () => {
  let api: ApiPromise;
  let snapshot: MetagraphSnapshot;
  // Decoded here, apart from the adapter: two other runtime calls recorded at the same block.
  let neurons: Array<Record<string, Codec>>;
  let state: Fields;

  beforeAll(async () => {
    api = await openReplayApi("metagraph");
    snapshot = await readMetagraphSnapshot(api, 1);
    neurons = [...((await api.call.neuronInfoRuntimeApi!.getNeuronsLite!(1)) as unknown as Iterable<Record<string, Codec>>)];
    state = ((await api.call.subnetInfoRuntimeApi!.getSubnetState!(1)) as unknown as { unwrap(): Fields }).unwrap();
  });

  afterAll(async () => {
    await api.disconnect();
  });

  it("is at the recorded block, with the README's known answers", () => {
    expect(snapshot.block).toBe(BLOCK);
    expect(snapshot.blockHash).toBe(BLOCK_HASH);
    expect(snapshot.netuid).toBe(1);
    expect(snapshot.numUids).toBe(1_024);
    expect(snapshot.hotkeys).toHaveLength(1_024);
    expect(snapshot.pool).toEqual({ subnetTaoRao: 22_079_400_556_774n, subnetAlphaInRao: 2_316_467_425_363_654n, subnetAlphaOutRao: 924_521_643_526_855n });
  });

  it("agrees uid by uid with get_neurons_lite: hotkey, coldkey, emission, last update, permit", () => {
    expect(neurons).toHaveLength(1_024);
    for (const n of neurons) {
      const uid = Number(n.uid!.toString());
      expect(snapshot.hotkeys[uid], `hotkey of uid ${uid}`).toBe(n.hotkey!.toString());
      expect(snapshot.coldkeys[uid], `coldkey of uid ${uid}`).toBe(n.coldkey!.toString());
      expect(snapshot.emissionRao[uid], `emission of uid ${uid}`).toBe(BigInt(n.emission!.toString()));
      expect(snapshot.lastUpdate[uid], `last update of uid ${uid}`).toBe(Number(n.lastUpdate!.toString()));
      expect(snapshot.validatorPermit[uid], `permit of uid ${uid}`).toBe(n.validatorPermit!.toString() === "true");
    }
  });

  it("agrees uid by uid with get_subnet_state: alpha, TAO and total stake, registration block", () => {
    const column = (name: string) => [...(state[name] as unknown as Iterable<Codec>)].map((c) => c.toString());
    expect(snapshot.alphaStakeRao.map(String)).toEqual(column("alphaStake"));
    expect(snapshot.taoStakeRao.map(String)).toEqual(column("taoStake"));
    expect(snapshot.totalStakeRao.map(String)).toEqual(column("totalStake"));
    expect(snapshot.blockAtRegistration.map(String)).toEqual(column("blockAtRegistration"));
    expect(snapshot.hotkeys).toEqual(column("hotkeys"));
    // uid 0 holds stake, uid 2 none: the columns are not all zero.
    expect(snapshot.alphaStakeRao[0]).toBe(2_557_172_316n);
    expect(snapshot.alphaStakeRao[2]).toBe(0n);
  });

  it("carries what the weight setter needs and the last epoch block", () => {
    expect(snapshot).toMatchObject({ tempo: 99, weightsSetRateLimit: 100, weightsVersionKey: 21_706n, commitRevealWeightsEnabled: true });
    expect(snapshot.lastStepBlock + snapshot.blocksSinceLastStep).toBe(BLOCK);
    expect(snapshot.ownerHotkey).toBe("5HCFWvRqzSHWRPecN7q8J6c7aKQnrCZTMHstPv39xL1wgDHh");
  });

  it("answers the registration check from the snapshot: hotkey -> uid, or not registered", () => {
    for (const uid of [0, 1, 511, 1_023]) expect(uidInSnapshot(snapshot, snapshot.hotkeys[uid]!)).toBe(uid);
    expect(Object.keys(snapshot.uidByHotkey)).toHaveLength(1_024);
    expect(uidInSnapshot(snapshot, "5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM")).toBeUndefined();
    expect(uidInSnapshot(snapshot, "constructor")).toBeUndefined();
  });

  it("says so when the chain has no such subnet", async () => {
    // The same request for subnet 2 (netuid is the first two bytes), answered None.
    const provider = new ReplayProvider("metagraph");
    provider.setStateCall("SubnetInfoRuntimeApi_get_selective_mechagraph", `0200${recordedSelectiveData().slice(4)}`, "0x00");
    const other = await openReplayApi("metagraph", provider);
    try {
      const error = await readMetagraphSnapshot(other, 2).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SubtensorError);
      expect((error as SubtensorError).code).toBe("SUBNET_NOT_FOUND");
    } finally {
      await other.disconnect();
    }
  });
});

/** The data of the recorded selective-mechagraph request (netuid 1, mechanism 0, fields 0..73). */
function recordedSelectiveData(): string {
  const key = Object.keys(recordedRpc().metagraph!.state_call!).find((k) => k.includes("get_selective_mechagraph"))!;
  return (JSON.parse(key) as string[])[1]!.replace(/^0x/, "");
}

describe("Uids lookups (registration checks for one hotkey)", () => {
  it("finds the recorded uid of a registered hotkey, and null for one that is not", async () => {
    // Seed get_uid_for_hotkey_on_subnet recorded Uids(23, hotkey) = 5; its key ends with the hotkey.
    const provider = new ReplayProvider("get_uid_for_hotkey_on_subnet");
    const api = await openReplayApi("get_uid_for_hotkey_on_subnet", provider);
    try {
      const recordedKey = (JSON.parse(Object.keys(recordedRpc().get_uid_for_hotkey_on_subnet!.state_getStorageAt!)[0]!) as string[])[0]!;
      const hotkey = api.createType("AccountId32", `0x${recordedKey.slice(-64)}`).toString();
      expect(await lookupUid(api, 23, hotkey)).toBe(5);
      // A hotkey with no entry: the replay answers "no value" for that key.
      const stranger = "5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM";
      provider.setStorage(api.query.subtensorModule!.uids!.key(23, stranger), null);
      expect(await lookupUid(api, 23, stranger)).toBeNull();
    } finally {
      await api.disconnect();
    }
  });
});
