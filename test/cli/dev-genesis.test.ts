// `propnet serve`'s default devnet genesis: Alice owns subnet 1 on uid 0 and the node's own key is
// its staked validator, whatever key the node runs with.
import { beforeAll, describe, expect, it } from "vitest";
import { key } from "../../src/core/chain/chain-state.ts";
import { report } from "../../src/core/invariants/report.ts";
import { TAO } from "../../src/core/ledger/asset.ts";
import { execute } from "../../src/core/machine/execute.ts";
import { createState } from "../../src/core/machine/state.ts";
import { DEV_ENDOWMENT_RAO, devGenesis, NODE_ENDOWMENT_RAO, NODE_STAKE_RAO } from "../../src/cli/serve.ts";
import { cryptoReady, devAccounts, loadKey } from "../../src/keys/keys.ts";

let dev: Map<string, string>;
let alice: string;
/** A node key of its own (not a development account). */
let FRESH: string;

beforeAll(async () => {
  await cryptoReady();
  dev = devAccounts();
  alice = dev.get("Alice") as string;
  FRESH = loadKey("//propnet-test-node").address;
  expect([...dev.values()]).not.toContain(FRESH);
});

function started(node: string) {
  const g = devGenesis(dev, alice, alice, node);
  const state = createState({ strict: true });
  const r = execute(state, { kind: "genesis", endowments: g.endowments, chain: g.chain });
  expect(r.error).toBeUndefined();
  expect(report(state).invariants.filter((row) => !row.ok)).toEqual([]);
  return { g, state };
}

describe("the default devnet genesis", () => {
  it("endows a fresh node key with 10,000 TAO, registers it on uid 1 after Alice and stakes 1,000 TAO", () => {
    const { g, state } = started(FRESH);
    expect(g.endowments).toContainEqual({ owner: FRESH, amount_rao: NODE_ENDOWMENT_RAO });
    expect(state.chain.uids.get(key.hotkey(1, alice))).toBe(0);
    expect(state.chain.uids.get(key.hotkey(1, FRESH))).toBe(1);
    expect(state.chain.pools.get(key.hotkey(1, FRESH))?.value).toBeGreaterThan(0n);
    expect(state.ledger.balanceOf(TAO, FRESH)).toBe(NODE_ENDOWMENT_RAO - 1_000_000_000n - NODE_STAKE_RAO);
  });

  it("a development key as the node key is not endowed twice; Bob is uid 1", () => {
    const bob = dev.get("Bob") as string;
    const { g, state } = started(bob);
    expect(g.endowments.filter((e) => e.owner === bob)).toEqual([{ owner: bob, amount_rao: DEV_ENDOWMENT_RAO }]);
    expect(state.chain.uids.get(key.hotkey(1, bob))).toBe(1);
  });

  it("with Alice's key the node is the owner and the validator at once, on uid 0", () => {
    const { state } = started(alice);
    expect(state.chain.subnets.get(1)?.neuronCount).toBe(1);
    expect(state.chain.uids.get(key.hotkey(1, alice))).toBe(0);
    expect(state.chain.pools.get(key.hotkey(1, alice))?.value).toBeGreaterThan(0n);
  });
});
