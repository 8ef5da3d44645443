import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ChainFollower, type EpochFeed, type FeedEpoch, type FeedObservation } from "./chain-follower.ts";
import { PropnetNode } from "./node.ts";

const GENESIS = `0x${"ab".repeat(32)}`;
const HOTKEYS = ["owner", "validator", "entity", "miner"];

/** A feed that hands over what the test scripts, after the block the follower says it has. */
class ScriptedFeed implements EpochFeed {
  after: number | null = null;
  deliver: ((o: FeedObservation) => Promise<void>) | null = null;
  start(afterBlock: number | null, deliver: (o: FeedObservation) => Promise<void>): void {
    this.after = afterBlock;
    this.deliver = deliver;
  }
  async stop(): Promise<void> {}
  status() {
    return { url: "ws://scripted", connected: true, head: 7_000, lastError: null };
  }
}

const epoch = (block: number, entityAlpha = "0"): FeedObservation => ({
  kind: "epoch",
  epoch: {
    netuid: 8,
    block,
    blockHash: `0x${block.toString(16).padStart(64, "0")}`,
    timestampMs: 1_760_000_000_000 + block,
    ownerHotkey: "owner",
    hotkeys: HOTKEYS,
    alphaPaid: ["0", "0", entityAlpha, "5"],
    source: "IncentiveAlphaEmittedToMiners",
    subnetTaoRao: "1000000000000",
    subnetAlphaInRao: "2000000000000",
  } satisfies FeedEpoch,
});

describe("the chain follower", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("records each epoch and gap as facts, attributes the entities' alpha, and resumes after the last one recorded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-follower-"));
    dirs.push(dir);
    let node = await PropnetNode.open({ dataDir: dir, follow: { netuid: 8, genesisHash: GENESIS } });
    let feed = new ScriptedFeed();
    const epochs: number[] = [];
    let follower = new ChainFollower(node, feed, 8, () => {}, (block) => epochs.push(block));
    await follower.start();
    expect(feed.after).toBeNull();
    await feed.deliver?.(epoch(100));
    expect((await node.submit({ command: { kind: "register_entity", ts: node.clock.now(), hotkey: "entity" } })).ok).toBe(true);
    await feed.deliver?.(epoch(460, "9000"));
    // Seen again after a reconnect: already recorded, nothing more.
    await feed.deliver?.(epoch(460, "9000"));
    await feed.deliver?.({ kind: "gap", gap: { netuid: 8, afterBlock: 460, beforeBlock: 1_540, reason: "no archive" } });
    expect(epochs).toEqual([100, 460]);
    expect(follower.status()).toMatchObject({ lastEpochBlock: 460, lagBlocks: 7_000 - 460, epochs: 2, gaps: 1, connected: true });
    expect(follower.problem()).toBeNull();
    const types = (await node.store.read(0, 100)).map((r) => r.type.split("@")[0]);
    // The entity's alpha was shared right after its epoch (no subaccount owes anything: unattributed).
    expect(types).toEqual(["ChainFollowed", "ChainEpochObserved", "EntityRegistered", "ChainEpochObserved", "EmissionAttributed", "ChainEpochGap"]);
    const entity = await node.read((s) => s.debt.entities.get("entity"));
    expect(entity).toMatchObject({ paidAlphaRao: 9_000n, unattributedAlphaRao: 9_000n, pendingAlphaRao: 0n });
    await follower.stop();
    await node.close();

    node = await PropnetNode.open({ dataDir: dir, follow: { netuid: 8, genesisHash: GENESIS } });
    feed = new ScriptedFeed();
    follower = new ChainFollower(node, feed, 8);
    await follower.start();
    expect(feed.after).toBe(460);
    expect(follower.status()).toMatchObject({ epochs: 2, gaps: 1 });
    await node.close();
  });

  it("a fact the log refuses is reported, never retried into a loop", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-follower-"));
    dirs.push(dir);
    const node = await PropnetNode.open({ dataDir: dir, follow: { netuid: 8, genesisHash: GENESIS } });
    const feed = new ScriptedFeed();
    const said: string[] = [];
    const follower = new ChainFollower(node, feed, 8, (m) => said.push(m));
    await follower.start();
    const broken = epoch(100);
    if (broken.kind === "epoch") broken.epoch.alphaPaid = ["0"];
    await feed.deliver?.(broken);
    await vi.waitFor(() => expect(follower.problem()).toMatch(/epoch at block 100 not recorded: 4 hotkeys but 1 amounts/));
    expect(said).toHaveLength(1);
    await node.close();
  });

  it("refuses to bind a log to another chain than the one it follows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-follower-"));
    dirs.push(dir);
    const node = await PropnetNode.open({ dataDir: dir, follow: { netuid: 8, genesisHash: GENESIS } });
    await node.close();
    await expect(PropnetNode.open({ dataDir: dir, follow: { netuid: 9, genesisHash: GENESIS } })).rejects.toThrow(/cannot follow subnet 9 .*follows subnet 8/);
  });
});
