import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { u8aToHex } from "@polkadot/util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeEventRecords, PlannedProvider, recordedMetadataV15, ReplayProvider, SUBTENSOR_GENESIS_HASH } from "../../test/support/subtensor-replay.ts";
import { cryptoReady, loadKey } from "../keys/keys.ts";
import { PropnetNode } from "../node/node.ts";
import { subnetStorageKeys } from "../subtensor/storage-keys.ts";
import { connectSubtensor } from "../subtensor/subtensor-connection.ts";
import { displayUrl, FollowedSubtensor } from "./serve-subtensor.ts";

const METADATA = { [`${SUBTENSOR_GENESIS_HASH}-343`]: recordedMetadataV15() };
const E1 = 6_852_597;
const E2 = 6_852_697;
const hashOf = (block: number) => `0x${block.toString(16).padStart(64, "c")}`;

/** A mainnet node answering from recorded data (subnet 1 at block 6,852,690, 1,024 uids), scripted epoch by epoch. */
function recordedChain() {
  const replay = new ReplayProvider("metagraph");
  for (const n of [E1, E2, E2 - 1, 6_852_600, 6_852_700]) replay.addBlock({ number: n, hash: hashOf(n), parentHash: hashOf(n - 1) });
  replay.setHead(hashOf(6_852_600));
  const provider = new PlannedProvider(["accept"], replay);
  const connect = (url: string) => connectSubtensor(url, { createProvider: () => provider, metadata: METADATA, headPollMs: 40, backoff: { initialMs: 40 } });
  return { replay, connect };
}

describe("serve --chain subtensor, over recorded mainnet answers", () => {
  const dirs: string[] = [];
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function follow(dir: string, chain: ReturnType<typeof recordedChain>) {
    await cryptoReady();
    const node = await PropnetNode.open({ dataDir: dir });
    const followed = new FollowedSubtensor({ url: "ws://node.example", netuid: 1, connect: chain.connect }, () => {});
    followed.start(node, loadKey("//Bob"));
    stops.push(async () => {
      await followed.stop();
      await node.close({ snapshot: false });
    });
    return { node, followed };
  }

  it("binds the log to the chain, records each epoch once as a fact, and registration checks read its metagraph", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-follow-"));
    dirs.push(dir);
    const chain = recordedChain();
    const { node, followed } = await follow(dir, chain);
    const api = await followed.connection.ready(5_000);
    const k = subnetStorageKeys(api, 1);
    const u64 = (n: number) => u8aToHex(api.createType("u64", n).toU8a());
    chain.replay.scriptStorage(k.lastMechansimStepBlock, [u64(E1)]);
    chain.replay.setStorage(k.timestampNow, u64(1_760_000_000_000));
    chain.replay.setStorage(k.systemEvents, encodeEventRecords(api, [{ pallet: "SubtensorModule", event: "IncentiveAlphaEmittedToMiners", args: [1, Array(1_024).fill(7)] }]));

    await vi.waitFor(() => expect(followed.health().last_epoch_block).toBe(E1), { timeout: 10_000 });
    const facts = (await node.store.read(0, 100)).map((r) => r.type);
    expect(facts).toEqual(["ChainFollowed@1", "ChainEpochObserved@1"]);
    expect(JSON.parse((await node.store.read(0, 1))[0]?.payload ?? "{}")).toMatchObject({ netuid: 1, genesis_hash: SUBTENSOR_GENESIS_HASH });
    expect(node.state.observed.hotkeys.size).toBe(1_024);
    expect(followed.health()).toMatchObject({ kind: "subtensor", connected: true, netuid: 1, last_epoch_block: E1, epochs: 1, gaps: 0 });
    // The validator's key (Bob) holds no uid on subnet 1: the round says so rather than sending anything.
    await vi.waitFor(() => expect(followed.health().weights.problem).toMatch(/holds no uid/));
    const metrics = await node.metrics.registry.metrics();
    expect(metrics).toMatch(/^propnet_chain_connected 1$/m);
    expect(metrics).toMatch(new RegExp(`^propnet_chain_last_epoch_block ${E1}$`, "m"));
    expect(metrics).toMatch(/^propnet_chain_head_block 6852600$/m);

    // A hotkey of the recorded metagraph can register as an entity; one that is not there cannot.
    const hotkey = node.state.observed.hotkeys.get(5) as string;
    expect((await node.submit({ command: { kind: "register_entity", ts: node.clock.now(), hotkey } })).ok).toBe(true);
    const stranger = loadKey("//Ferdie").address;
    const refused = await node.submit({ command: { kind: "register_entity", ts: node.clock.now(), hotkey: stranger } });
    expect(refused.ok === false && refused.error.code).toBe("NOT_A_NEURON");

    // The same epoch seen again after a poll records nothing more.
    await new Promise((r) => setTimeout(r, 200));
    expect((await node.store.read(0, 100)).filter((r) => r.type === "ChainEpochObserved@1")).toHaveLength(1);
  });

  it("a devnet log is never bound to a real chain: the node says so and serves on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-follow-devnet-"));
    dirs.push(dir);
    const devnet = await PropnetNode.open({
      dataDir: dir,
      genesis: [{ owner: "alice", amount_rao: 10n ** 15n }],
      chainGenesis: { root: "root", subnets: [{ netuid: 1, ownerHotkey: "alice", ownerColdkey: "alice" }] },
    });
    await devnet.close({ snapshot: false });
    const { node, followed } = await follow(dir, recordedChain());
    await vi.waitFor(() => expect(node.conditions().map((c) => c.problem).join()).toMatch(/cannot follow subnet 1 .*devnet chain/), { timeout: 10_000 });
    expect(followed.health().epochs).toBe(0);
    expect(node.writable).toBe(true);
  });
});

describe("a chain URL as /healthz and the logs show it", () => {
  it("keeps scheme, host and port; drops credentials, path and query (RPC keys live there)", () => {
    expect(displayUrl("wss://user:secret@rpc.example.com:443/v1/abcdef0123?apikey=xyz")).toBe("wss://rpc.example.com");
    expect(displayUrl("ws://127.0.0.1:9944")).toBe("ws://127.0.0.1:9944");
    expect(displayUrl("not a url")).toBe("(unparseable URL)");
  });
});
