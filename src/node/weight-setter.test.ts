import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { head } from "../core/chain/chain-state.ts";
import { BlockProducer } from "./block-producer.ts";
import { PropnetNode } from "./node.ts";
import { devnetWeights, WeightSetter } from "./weight-setter.ts";

const TAO_RAO = 1_000_000_000n;
const TEMPO = 5;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function devnet(validators: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "propnet-weights-"));
  dirs.push(dir);
  const node = await PropnetNode.open({
    dataDir: dir,
    genesis: [{ owner: "cold", amount_rao: 1_000_000n * TAO_RAO }],
    chainGenesis: {
      root: "cold",
      subnets: [{ netuid: 1, ownerHotkey: "owner", ownerColdkey: "cold", tempo: TEMPO, registerOwner: true, validators: validators ? [{ hotkey: "validator", coldkey: "cold", stake_rao: 1_000n * TAO_RAO }] : [] }],
    },
  });
  const producer = new BlockProducer(node, 0);
  const said: string[] = [];
  const setter = new WeightSetter(node, devnetWeights(producer), "validator", 12_000, (m) => said.push(m));
  const blocks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const outcome = await node.submit({ command: { kind: "block", ts: node.clock.now(), extrinsics: [] } });
      if (!outcome.ok) throw outcome.error;
    }
  };
  return { node, producer, setter, said, blocks };
}

describe("the node's validator sets weights once per tempo", () => {
  it("waits a tempo, sets, then waits a tempo again; GET /v1/weights's figures are recorded", async () => {
    const { node, producer, setter, blocks } = await devnet(true);
    try {
      expect(await setter.maybeSet()).toBeNull(); // block 0: not a tempo yet
      await blocks(TEMPO);
      const round = await setter.maybeSet();
      expect(round).toMatchObject({ set: true, uids: [0], weights: [65_535] }); // nothing owed: all to the owner
      expect(await node.read((s) => s.debt.scored.get("last")?.validator)).toBe("validator");
      expect(await setter.maybeSet()).toBeNull();
      await blocks(TEMPO - 1);
      expect(await setter.maybeSet()).toBeNull();
      await blocks(1);
      const again = await setter.maybeSet();
      expect(again?.set).toBe(true);
      expect(again && again.set ? again.block : 0).toBe(await node.read((s) => head(s.chain).block));
    } finally {
      await producer.stop();
      await node.close({ snapshot: false });
    }
  });

  it("a node whose hotkey holds no uid says so once and sets nothing", async () => {
    const { node, producer, setter, said, blocks } = await devnet(false);
    try {
      await blocks(TEMPO);
      expect(await setter.maybeSet()).toBeNull();
      expect(await setter.maybeSet()).toBeNull();
      expect(said).toEqual([expect.stringMatching(/holds no uid on subnet 1; register and stake it/)]);
      expect(setter.problem).toMatch(/holds no uid/);
    } finally {
      await producer.stop();
      await node.close({ snapshot: false });
    }
  });
});
