// Genesis neurons: the subnet owner registered as uid 0 and validators registered and staked at
// genesis (the devnet node's validator, whose weights are the consensus), as burned_register +
// add_stake would, decided once and recorded in the genesis event.
import { describe, expect, it } from "vitest";
import { nextBlock, replayOf } from "../../../test/support/chain-log.ts";
import { report } from "../invariants/report.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import type { EventDraft } from "../machine/event.ts";
import { execute } from "../machine/execute.ts";
import { createState, type State, stateHash } from "../machine/state.ts";
import type { Extrinsic } from "./block.ts";
import { account, type ChainGenesis, DEFAULT_CHAIN_PARAMS, DEFAULT_POOL_RAO, encodeChainGenesis, genesisCosts, key } from "./chain-state.ts";
import type { Effect } from "./effects.ts";
import { swapTaoForAlpha } from "./pool.ts";

const TAO_RAO = 1_000_000_000n;
const OWNER = "5owner";
const OWNER_COLD = "5ownercold";
const VAL = "5val";
const VAL_COLD = "5valcold";
const VAL2 = "5val2";
const MINER = "5miner";
const BOB = "5bob";
const ROOT = "5root";
const BURN = DEFAULT_CHAIN_PARAMS.registrationBurnRao;

function genesisOf(validators: Array<{ hotkey: string; coldkey: string; stake_rao: bigint }>, tempo = 9): ChainGenesis {
  return { root: ROOT, tempo, subnets: [{ netuid: 1, ownerHotkey: OWNER, ownerColdkey: OWNER_COLD, registerOwner: true, validators }] };
}

function start(chain: ChainGenesis, valEndowment = 10_000n * TAO_RAO): { state: State; log: EventDraft[] } {
  const state = createState({ strict: true });
  const r = execute(state, {
    kind: "genesis",
    endowments: [
      { owner: VAL_COLD, amount_rao: valEndowment },
      { owner: BOB, amount_rao: 1_000_000n * TAO_RAO },
    ],
    chain,
  });
  expect(r.error).toBeUndefined();
  return { state, log: [...r.events] };
}


function expectInvariantsHold(state: State): void {
  const r = report(state);
  expect(r.invariants.length).toBeGreaterThan(0);
  expect(r.invariants.filter((row) => !row.ok)).toEqual([]);
  expect(r.unresolved_violations).toEqual([]);
}

describe("genesis neurons", () => {
  it("registers the owner as uid 0 and the validator as uid 1, staked with exactly add_stake's pool math; invariants hold; replay agrees", () => {
    const stake = 1_000n * TAO_RAO;
    const s = start(genesisOf([{ hotkey: VAL, coldkey: VAL_COLD, stake_rao: stake }]));
    const { ledger, chain } = s.state;
    const expected = swapTaoForAlpha({ tao: DEFAULT_POOL_RAO, alpha: DEFAULT_POOL_RAO }, stake);

    expect(chain.subnets.get(1)?.neuronCount).toBe(2);
    expect(chain.neurons.get(key.neuron(1, 0))).toMatchObject({ uid: 0, hotkey: OWNER, coldkey: OWNER_COLD });
    expect(chain.neurons.get(key.neuron(1, 1))).toMatchObject({ uid: 1, hotkey: VAL, coldkey: VAL_COLD });
    expect(chain.uids.get(key.hotkey(1, VAL))).toBe(1);
    // The stake is what the pool sells for 1,000 TAO (fee kept in the pool), held by the coldkey.
    expect(expected.alphaOut).toBeGreaterThan(0n);
    expect(chain.pools.get(key.hotkey(1, VAL))?.value).toBe(expected.alphaOut);
    expect(ledger.balanceOf(alpha(1), account.stake(VAL))).toBe(expected.alphaOut);
    expect(ledger.balanceOf(TAO, account.subnetTao(1))).toBe(expected.reserves.tao);
    expect(ledger.balanceOf(alpha(1), account.alphaIn(1))).toBe(expected.reserves.alpha);
    expect(chain.subnets.get(1)).toMatchObject({ alphaOut: expected.alphaOut, stakedAlpha: expected.alphaOut, taoFlow: DEFAULT_POOL_RAO + stake });
    // The owner registers free (the lock paid for it); the validator's coldkey pays the burn and the stake.
    expect(ledger.balanceOf(TAO, VAL_COLD)).toBe(10_000n * TAO_RAO - BURN - stake);
    expect(ledger.totals(TAO).burned).toBe(BURN);
    expect(chain.pools.get(key.hotkey(1, OWNER))?.value ?? 0n).toBe(0n);

    expectInvariantsHold(s.state);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });

  it("records the effects in the genesis event, so replay never recomputes them", () => {
    const s = start(genesisOf([{ hotkey: VAL, coldkey: VAL_COLD, stake_rao: 1_000n * TAO_RAO }]));
    const chainPayload = s.log[0]?.payload.chain as unknown as { subnets: Array<{ k: string }> };
    expect(chainPayload.subnets.map((e) => e.k)).toEqual(["subnet", "register", "register", "stake_added"]);
  });

  it("a second validator buys on the pool the first one left, and gets the next uid", () => {
    const a = 1_000n * TAO_RAO;
    const b = 500n * TAO_RAO;
    const s = start(
      genesisOf([
        { hotkey: VAL, coldkey: VAL_COLD, stake_rao: a },
        { hotkey: VAL2, coldkey: VAL_COLD, stake_rao: b },
      ]),
    );
    const first = swapTaoForAlpha({ tao: DEFAULT_POOL_RAO, alpha: DEFAULT_POOL_RAO }, a);
    const second = swapTaoForAlpha(first.reserves, b);
    expect(s.state.chain.uids.get(key.hotkey(1, VAL2))).toBe(2);
    expect(s.state.chain.pools.get(key.hotkey(1, VAL2))?.value).toBe(second.alphaOut);
    expect(s.state.ledger.balanceOf(TAO, VAL_COLD)).toBe(10_000n * TAO_RAO - 2n * BURN - a - b);
    expect(genesisCosts(genesisOf([{ hotkey: VAL, coldkey: VAL_COLD, stake_rao: a }, { hotkey: VAL2, coldkey: VAL_COLD, stake_rao: b }]))).toEqual(
      new Map([[VAL_COLD, 2n * BURN + a + b]]),
    );
    expectInvariantsHold(s.state);
  });

  it("an epoch pays the genesis validator dividends, and its weights make the miner's incentive", () => {
    const s = start(genesisOf([{ hotkey: VAL, coldkey: VAL_COLD, stake_rao: 1_000n * TAO_RAO }]));
    const reg: Extrinsic = { call: "subtensor.burned_register", signer: BOB, args: { netuid: 1, hotkey: MINER } };
    nextBlock(s, [reg]);
    expect(s.state.chain.uids.get(key.hotkey(1, MINER))).toBe(2); // the next uid after the genesis neurons
    nextBlock(s, [{ call: "subtensor.set_weights", signer: VAL, args: { netuid: 1, uids: [2], weights: [65_535] } }]);
    let epoch: Effect | undefined;
    while (!epoch) epoch = nextBlock(s).find((e) => e.k === "epoch");
    if (epoch.k !== "epoch") throw new Error("unreachable");
    expect(epoch.skipped).toBeUndefined();
    const pays = new Map(epoch.pays.map(([uid, incentive, take, shared]) => [uid, { incentive: BigInt(incentive), dividends: BigInt(take) + BigInt(shared) }]));
    // All of the miners' emission goes to the miner the validator weighted; the validator earns the dividends.
    expect(pays.get(2)?.incentive).toBe(BigInt(epoch.drained_server));
    expect(pays.get(1)?.dividends).toBe(BigInt(epoch.drained_validator));
    expect(BigInt(epoch.drained_validator)).toBeGreaterThan(0n);
    const stats = s.state.chain.stats.get(1);
    expect(stats?.incentive[2]).toBe(1);
    expect(stats?.dividends[1]).toBe(1);
    expectInvariantsHold(s.state);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });

  it("refuses a genesis whose endowments do not pay the burn and the stake, changing nothing", () => {
    const state = createState({ strict: true });
    const r = execute(state, {
      kind: "genesis",
      endowments: [{ owner: VAL_COLD, amount_rao: 1_000n * TAO_RAO }],
      chain: genesisOf([{ hotkey: VAL, coldkey: VAL_COLD, stake_rao: 1_000n * TAO_RAO }]),
    });
    expect(r.error?.code).toBe("VALIDATION_FAILED");
    expect(r.error?.message).toMatch(/5valcold.*need/);
    expect(state.ledger.totals(TAO).minted).toBe(0n);
    expect(state.chain.params.size).toBe(0);
  });

  it("refuses a hotkey registered twice, one given two coldkeys, and a stake below the minimum", () => {
    const refused = (chain: ChainGenesis) => {
      const state = createState({ strict: true });
      const r = execute(state, { kind: "genesis", endowments: [{ owner: VAL_COLD, amount_rao: 10_000n * TAO_RAO }], chain });
      return r.error?.message ?? "";
    };
    expect(refused(genesisOf([{ hotkey: OWNER, coldkey: OWNER_COLD, stake_rao: TAO_RAO }]))).toMatch(/registered twice/);
    // The owner's hotkey belongs to its coldkey even when the owner is not registered.
    const unregistered = genesisOf([{ hotkey: OWNER, coldkey: VAL_COLD, stake_rao: TAO_RAO }]);
    expect(refused({ ...unregistered, subnets: unregistered.subnets.map((x) => ({ ...x, registerOwner: false })) })).toMatch(/two coldkeys/);
    expect(refused(genesisOf([{ hotkey: VAL, coldkey: VAL_COLD, stake_rao: 1n }]))).toMatch(/at least/);
  });

  it("a subnet without genesis neurons encodes exactly as before (old logs and the golden fixture unchanged)", () => {
    const encoded = encodeChainGenesis({ root: ROOT, subnets: [{ netuid: 1, ownerHotkey: OWNER, ownerColdkey: OWNER_COLD }] });
    expect(encoded.subnets).toEqual([
      { k: "subnet", netuid: 1, tempo: 360, owner_hotkey: OWNER, owner_coldkey: OWNER_COLD, pool_tao: DEFAULT_POOL_RAO.toString(), pool_alpha: DEFAULT_POOL_RAO.toString() },
    ]);
    expect(Object.keys(encoded.subnets[0] ?? {})).toEqual(["k", "netuid", "tempo", "owner_hotkey", "owner_coldkey", "pool_tao", "pool_alpha"]);
  });
});

describe("genesis neurons and the registration mask", () => {
  it("weights set in block 1 on a neuron registered at genesis count (it registered at block 0)", () => {
    const state = createState({ strict: true });
    const g = execute(state, {
      kind: "genesis",
      endowments: [
        { owner: "cold", amount_rao: 10n ** 15n },
        { owner: "vcold", amount_rao: 10n ** 15n },
      ],
      chain: { root: "cold", subnets: [{ netuid: 1, ownerHotkey: "owner", ownerColdkey: "cold", tempo: 1, registerOwner: true, validators: [{ hotkey: "val", coldkey: "vcold", stake_rao: 10n ** 12n }] }] },
    });
    expect(g.error).toBeUndefined();
    expect(state.chain.neurons.get("1/0")?.registeredAt).toBe(0);
    let incentive: number[] = [];
    for (let b = 1; b <= 3; b++) {
      const extrinsics = b === 1 ? [{ call: "subtensor.set_weights", signer: "val", args: { netuid: 1, uids: [0], weights: [65_535] } }] : [];
      const r = execute(state, { kind: "block", ts: b * 12_000, extrinsics });
      for (const e of r.events[0]?.payload.effects as unknown as Array<{ k: string; incentive?: number[] }>) if (e.k === "epoch" && b > 1) incentive = e.incentive ?? [];
    }
    // Taken as registered in block 1, the owner masked the weights set in block 1: incentive [0, 0].
    expect(incentive[0]).toBe(1);
  });
});
