import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { blockApplyFails } from "../../test/support/faulty-handlers.ts";
import { BlockProducer } from "./block-producer.ts";
import { NodeClock } from "./clock.ts";
import { PropnetNode } from "./node.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the block producer of a node that stopped writing", () => {
  it("owes no more blocks, settles at once, and refuses extrinsics with the writer's reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-producer-"));
    dirs.push(dir);
    const node = await PropnetNode.open({
      dataDir: dir,
      // Every block with an extrinsic fails to apply: the node stops writing and stays up.
      handlers: blockApplyFails((c) => c.extrinsics.length > 0),
      genesis: [{ owner: "alice", amount_rao: 1_000_000_000_000n }],
      chainGenesis: { root: "alice", subnets: [{ netuid: 1, ownerHotkey: "alice", ownerColdkey: "alice" }] },
      onFault: () => {},
    });
    const producer = new BlockProducer(node, 5);
    producer.start();
    try {
      const faulting = producer.include({ call: "balances.transfer", signer: "alice", args: { dest: "bob", amount_rao: "1" } }, { now: true });
      await expect(faulting).rejects.toMatchObject({ code: "UNAVAILABLE" });
      expect(node.writable).toBe(false);
      const head = node.head.seq;
      await new Promise((r) => setTimeout(r, 100));
      // On main, every tick owed an empty block, and every chain read tried to log them (and failed).
      expect(producer.owed).toBe(0);
      await producer.settle();
      expect(node.head.seq).toBe(head);
      await expect(producer.include({ call: "balances.transfer", signer: "alice", args: { dest: "bob", amount_rao: "1" } })).rejects.toMatchObject({
        code: "UNAVAILABLE",
        message: node.writer.refusal,
      });
      expect(node.writer.refusal).toMatch(/restart/);
    } finally {
      await producer.stop();
      await node.close({ snapshot: false });
    }
  });
});

describe("challenges that run out of time", () => {
  it("are failed on the next block time, with no price needed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-producer-"));
    dirs.push(dir);
    let wall = 1_767_225_600_000;
    const node = await PropnetNode.open({
      dataDir: dir,
      clock: new NodeClock(() => wall),
      genesis: [{ owner: "cold", amount_rao: 1_000_000_000_000_000n }],
      chainGenesis: { root: "cold", subnets: [{ netuid: 1, ownerHotkey: "owner", ownerColdkey: "cold" }] },
    });
    const run = async (command: Parameters<typeof node.submit>[0]["command"]) => {
      const outcome = await node.submit({ command });
      if (!outcome.ok) throw outcome.error;
    };
    await run({ kind: "block", ts: wall, extrinsics: [{ call: "subtensor.burned_register", signer: "cold", args: { netuid: 1, hotkey: "entity" } }] });
    await run({ kind: "block", ts: wall, extrinsics: [{ call: "collateral.deposit", signer: "cold", args: { hotkey: "entity", amount_rao: "100000000000" } }] });
    await run({ kind: "register_entity", ts: wall, hotkey: "entity" });
    await run({ kind: "create_subaccount", ts: wall, entity: "entity", uuid: "u-0" });
    const producer = new BlockProducer(node, 5);
    producer.start();
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(node.state.entities.subaccounts.get("entity_0")?.status).toBe("active");
      wall += 90 * 86_400_000 + 1;
      await new Promise((r) => setTimeout(r, 100));
      expect(node.state.entities.subaccounts.get("entity_0")?.status).toBe("eliminated");
      expect(node.state.trading.traders.get("entity_0")?.elimination?.reason).toBe("FAILED_CHALLENGE_PERIOD_TIME");
      const types = (await node.store.read(0, 1_000)).map((r) => r.type);
      expect(types.filter((t) => t.startsWith("ChallengesSwept@"))).toHaveLength(1);
    } finally {
      await producer.stop();
      await node.close({ snapshot: false });
    }
  });
});

describe("extrinsics waiting when the node stops writing", () => {
  it("are refused with the writer's reason on the next tick, not left hanging", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-producer-"));
    dirs.push(dir);
    const node = await PropnetNode.open({
      dataDir: dir,
      genesis: [{ owner: "alice", amount_rao: 1_000_000_000_000n }],
      chainGenesis: { root: "alice", subnets: [{ netuid: 1, ownerHotkey: "alice", ownerColdkey: "alice" }] },
    });
    const producer = new BlockProducer(node, 10);
    try {
      // Queued for the next tick (the producer has not started ticking yet)...
      const waiting = producer.include({ call: "balances.transfer", signer: "alice", args: { dest: "bob", amount_rao: "1" } });
      // ...when something else stops writes.
      node.writer.halt(new Error("test"), "writes are refused: test");
      producer.start();
      await expect(waiting).rejects.toMatchObject({ code: "UNAVAILABLE", message: "writes are refused: test" });
      expect(producer.owed).toBe(0);
    } finally {
      await producer.stop();
      await node.close({ snapshot: false });
    }
  });
});
