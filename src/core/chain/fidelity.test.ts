/**
 * Where the devnet differed from Subtensor in who gets paid: weights masked by registration, the
 * parameter bounds that keep Yuma in range, collateral only for an owned hotkey, undistributable
 * pending emission recycled, and the TAO split by the EMA of net TAO flow (reference §2.3).
 */
import { describe, expect, it } from "vitest";
import { nextBlock, replayOf } from "../../../test/support/chain-log.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import type { EventDraft } from "../machine/event.ts";
import { execute } from "../machine/execute.ts";
import { createState, exportState, importState, type State, stateHash } from "../machine/state.ts";
import type { Extrinsic } from "./block.ts";
import { account, head, key, type SubnetGenesis } from "./chain-state.ts";
import type { Effect } from "./effects.ts";
import { FLOW_EMA_SMOOTHING_FACTOR, I64_MAX } from "./emission.ts";
import { MAX_NEURONS } from "./yuma.ts";
import { TAO_RAO as ONE_TAO, world } from "../../../test/support/trading-world.ts";

const TAO_RAO = 1_000_000_000n;
const ALICE = "5alice";
const BOB = "5bob";
const ROOT = "5root";

type Chain = { state: State; log: EventDraft[] };

function chain(options: { subnets?: Array<Partial<SubnetGenesis> & { netuid: number }>; tempo?: number } = {}): Chain {
  const state = createState({ strict: true });
  const r = execute(state, {
    kind: "genesis",
    endowments: [
      { owner: ALICE, amount_rao: 1_000_000n * TAO_RAO },
      { owner: BOB, amount_rao: 1_000_000n * TAO_RAO },
    ],
    chain: {
      root: ROOT,
      tempo: options.tempo,
      subnets: (options.subnets ?? [{ netuid: 1 }]).map((s) => ({ ownerHotkey: `5owner${s.netuid}`, ownerColdkey: ALICE, ...s })),
    },
  });
  expect(r.error).toBeUndefined();
  return { state, log: [...r.events] };
}


type EpochEffect = Extract<Effect, { k: "epoch" }>;

function untilEpoch(s: Chain, netuid = 1): EpochEffect {
  for (let i = 0; i < 1_000; i++) {
    const e = nextBlock(s).find((x) => x.k === "epoch" && x.netuid === netuid);
    if (e) return e as EpochEffect;
  }
  throw new Error("no epoch");
}

const failures = (effects: Effect[]) => effects.filter((e) => e.k === "failed").map((e) => (e.k === "failed" ? e.code : ""));
const reg = (hotkey: string, coldkey: string, netuid = 1): Extrinsic => ({ call: "subtensor.burned_register", signer: coldkey, args: { netuid, hotkey } });
const setParam = (name: string, value: number | string): Extrinsic => ({ call: "root.set_parameter", signer: ROOT, args: { name, value } });
const addStake = (coldkey: string, hotkey: string, tao: bigint, netuid = 1): Extrinsic => ({
  call: "subtensor.add_stake",
  signer: coldkey,
  args: { netuid, hotkey, amount_rao: tao.toString() },
});
const setWeights = (hotkey: string, uids: number[], weights: number[]): Extrinsic => ({ call: "subtensor.set_weights", signer: hotkey, args: { netuid: 1, uids, weights } });
const incentiveOf = (epoch: EpochEffect, uid: number) => BigInt(epoch.pays.find(([u]) => u === uid)?.[1] ?? 0n);
const taoParts = (effects: Effect[]) =>
  new Map(effects.flatMap((e) => (e.k === "coinbase" ? [[e.netuid, BigInt(e.tao_in) + BigInt(e.excess)]] : e.k === "paused_recycle" ? [[e.netuid, BigInt(e.tao)]] : [])));

describe("weights set before a uid's current neuron registered do not count (Subtensor's registration mask)", () => {
  it("a neuron that takes over a pruned uid earns nothing from the old weights, and from weights set after it registered it does", () => {
    const s = chain({ tempo: 9 }); // subnet 1 epochs at blocks 8, 18, 28 ((b + 2) % 10 == 0)
    nextBlock(s, [setParam("maxNeurons", 2)]);
    nextBlock(s, [reg("5val", ALICE), reg("5old", BOB)]);
    nextBlock(s, [addStake(ALICE, "5val", 100n * TAO_RAO), setWeights("5val", [1], [65_535])]);
    // Full: the new hotkey replaces the least-staked neuron, uid 1.
    nextBlock(s, [reg("5new", BOB)]);
    expect(s.state.chain.neurons.get(key.neuron(1, 1))?.hotkey).toBe("5new");
    const first = untilEpoch(s);
    expect(incentiveOf(first, 1)).toBe(0n);
    // Every rao drained is still paid (to the validator, by stake) or recycled: nothing lost.
    nextBlock(s, [setWeights("5val", [1], [65_535])]);
    const second = untilEpoch(s);
    expect(incentiveOf(second, 1)).toBeGreaterThan(0n);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });

  it("records the block a validator set its weights", () => {
    const s = chain();
    nextBlock(s, [reg("5val", ALICE)]);
    nextBlock(s, [setWeights("5val", [0], [1])]);
    expect(s.state.chain.weights.get(key.neuron(1, 0))).toEqual({ uids: [0], values: [1], block: 2 });
  });
});

describe("root.set_parameter is bounded so that Yuma and the recount stay in range", () => {
  it.each([
    ["maxNeurons", 0],
    ["maxNeurons", MAX_NEURONS + 1],
    ["tempo", 0],
    ["defaultTempo", 65_536],
    ["recountPerBlock", 0],
    ["recountPerBlock", 257],
    ["maxNeurons", 1.5],
    ["registrationBurnRao", "21000000000000001"],
    ["minStakeRao", "21000000000000001"],
    ["noSuchParameter", 1],
  ] as Array<[string, number | string]>)("refuses %s = %s", (name, value) => {
    const s = chain();
    const before = { ...s.state.chain.params.get("params") };
    expect(failures(nextBlock(s, [setParam(name, value)]))).toEqual(["VALIDATION_FAILED"]);
    expect(s.state.chain.params.get("params")).toEqual(before);
  });

  it.each([
    ["maxNeurons", 1],
    ["maxNeurons", MAX_NEURONS],
    ["tempo", 1],
    ["tempo", 65_535],
    ["recountPerBlock", 256],
    ["registrationBurnRao", "0"],
    ["minStakeRao", "21000000000000000"],
  ] as Array<[string, number | string]>)("accepts %s = %s", (name, value) => {
    const s = chain();
    expect(failures(nextBlock(s, [setParam(name, value)]))).toEqual([]);
  });

  it("an epoch over more neurons than Yuma supports is skipped and recorded, the pending emission kept; the block does not throw", () => {
    const s = chain({ tempo: 4 }); // epochs at 3, 8 ((b + 2) % 5 == 0)
    nextBlock(s);
    // A subnet that somehow holds more uids than Yuma takes (state from before the bound).
    const s1 = s.state.chain.subnets.get(1) as NonNullable<ReturnType<typeof s.state.chain.subnets.get>>;
    s.state.chain.subnets.set(1, { ...s1, neuronCount: MAX_NEURONS + 1 });
    const pending = () => s.state.ledger.balanceOf(alpha(1), account.pendingServer(1));
    const epoch = untilEpoch(s);
    expect(epoch.skipped).toMatch(/4097 neurons/);
    expect(epoch.pays).toEqual([]);
    expect(pending()).toBe(3n * 410_002_289n); // blocks 1..3, none drained
  });
});

describe("collateral only for a hotkey the depositor owns", () => {
  it("refuses a deposit for an unowned hotkey (register it first) and claims nothing", () => {
    const s = chain();
    const refused = nextBlock(s, [{ call: "collateral.deposit", signer: BOB, args: { hotkey: "5fresh", amount_rao: "1" } }]);
    expect(refused.find((e) => e.k === "failed")).toMatchObject({ code: "NOT_A_NEURON", message: expect.stringMatching(/register/) });
    expect(s.state.chain.owners.has("5fresh")).toBe(false);
    expect(s.state.ledger.balanceOf(TAO, account.collateral("5fresh"))).toBe(0n);
  });
});

describe("pending emission nobody can be paid is recycled at the epoch", () => {
  it("a subnet with no neurons and no stake: pending goes to zero, the amount recycled is recorded; invariants hold", () => {
    const s = chain({ tempo: 4 });
    const a = alpha(1);
    const recycledBefore = s.state.ledger.totals(a).recycled;
    const epoch = untilEpoch(s); // block 3
    const { ledger, chain: c } = s.state;
    expect(ledger.balanceOf(a, account.pendingServer(1))).toBe(0n);
    expect(ledger.balanceOf(a, account.pendingValidator(1))).toBe(0n);
    expect(ledger.balanceOf(a, account.pendingOwnerCut(1))).toBe(0n);
    expect(epoch.pays).toEqual([]);
    expect(BigInt(epoch.drained_server)).toBe(3n * 410_002_289n);
    expect(BigInt(epoch.drained_validator)).toBe(3n * 410_002_289n);
    expect(BigInt(epoch.recycled ?? 0n)).toBe(6n * 410_002_289n);
    expect(ledger.totals(a).recycled - recycledBefore).toBe(6n * 410_002_289n);
    // The owner cut still goes to the owner's hotkey; what was recycled left AlphaOut.
    expect(c.subnets.get(1)?.alphaOut).toBe(c.subnets.get(1)?.stakedAlpha);
    expect(ledger.recount()).toEqual([]);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });
});

describe("TAO is split across subnets by the EMA of net TAO flow (get_shares_flow)", () => {
  const F = FLOW_EMA_SMOOTHING_FACTOR;
  const D = I64_MAX;

  it("a single subnet takes the whole block emission from block 1 (genesis records its pool TAO as inflow)", () => {
    const s = chain();
    expect(taoParts(nextBlock(s))).toEqual(new Map([[1, TAO_RAO]]));
    expect(s.state.chain.subnets.get(1)?.taoFlowEma).toBeGreaterThan(0n);
  });

  it("splits by flow, not by pool price", () => {
    // Subnet 2 is priced at 10 (1000 TAO / 100 alpha), subnet 1 at 1; both had 1000 TAO flow in.
    const s = chain({ subnets: [{ netuid: 1 }, { netuid: 2, poolAlphaRao: 100n * TAO_RAO }] });
    expect(taoParts(nextBlock(s))).toEqual(new Map([[1, TAO_RAO / 2n], [2, TAO_RAO / 2n]]));
  });

  it("a large stake does not move the split of its own block, and moves the next by its weight in the EMA only", () => {
    const s = chain({ subnets: [{ netuid: 1 }, { netuid: 2 }] });
    const genesis = 1_000n * TAO_RAO;
    expect(taoParts(nextBlock(s))).toEqual(new Map([[1, TAO_RAO / 2n], [2, TAO_RAO / 2n]]));
    const stake = 1_000n * TAO_RAO; // doubles subnet 2's pool TAO and quadruples its price
    const same = nextBlock(s, [addStake(ALICE, "5owner2", stake, 2)]);
    // The coinbase runs before the block's extrinsics: this block's split is as before.
    expect(taoParts(same)).toEqual(new Map([[1, TAO_RAO / 2n], [2, TAO_RAO / 2n]]));
    // ema_i at block 3 (exact, in rao / D^3): genesis inflow at block 1, nothing at 2, the stake at 3.
    const e1 = (D - F) * (D - F) * F * genesis;
    const e2 = e1 + F * stake * D * D;
    const next = taoParts(nextBlock(s));
    const exact2 = (TAO_RAO * e2) / (e1 + e2);
    expect(next.get(2) as bigint).toBeGreaterThanOrEqual(exact2 - 1n);
    expect(next.get(2) as bigint).toBeLessThanOrEqual(exact2 + 1n);
    // About 2/3, where a split by price would give 4/5.
    expect(Number(next.get(2)) / 1e9).toBeCloseTo(2 / 3, 4);
    expect((next.get(1) as bigint) + (next.get(2) as bigint)).toBe(TAO_RAO);
  });

  it("follows the net flow over blocks: an unstake takes back what its stake added", () => {
    const s = chain({ subnets: [{ netuid: 1 }, { netuid: 2 }] });
    // The net flow each block's coinbase takes in: genesis inflows at block 1, then the flow of the block before.
    const flows: Array<[bigint, bigint]> = [[1_000n * TAO_RAO, 1_000n * TAO_RAO], [0n, 0n]];
    nextBlock(s);
    const added = nextBlock(s, [addStake(BOB, "5owner2", 500n * TAO_RAO, 2)]).find((e) => e.k === "stake_added");
    flows.push([0n, BigInt((added as Extract<Effect, { k: "stake_added" }>).tao)]);
    const alphaHeld = BigInt((added as Extract<Effect, { k: "stake_added" }>).alpha);
    const removed = nextBlock(s, [{ call: "subtensor.remove_stake", signer: BOB, args: { netuid: 2, hotkey: "5owner2", amount_alpha: alphaHeld.toString() } }]).find(
      (e) => e.k === "stake_removed",
    );
    flows.push([0n, -BigInt((removed as Extract<Effect, { k: "stake_removed" }>).tao)]);
    const parts = taoParts(nextBlock(s));
    // Exact EMAs as rationals over D^k: ema <- ((D - F)·ema + F·flow·D^(k-1)) per block, block 1 first.
    let [n1, n2, den] = [0n, 0n, 1n];
    for (const [f1, f2] of flows) {
      [n1, n2, den] = [(D - F) * n1 + F * f1 * den, (D - F) * n2 + F * f2 * den, den * D];
    }
    const z1 = n1 > 0n ? n1 : 0n;
    const z2 = n2 > 0n ? n2 : 0n;
    const exact2 = (TAO_RAO * z2) / (z1 + z2);
    expect(parts.get(2) as bigint).toBeGreaterThanOrEqual(exact2 - 1n);
    expect(parts.get(2) as bigint).toBeLessThanOrEqual(exact2 + 1n);
    expect((parts.get(1) as bigint) + (parts.get(2) as bigint)).toBe(TAO_RAO);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
    // The flow and its EMA are state: in the hash and through a snapshot as bigints.
    const restored = importState(JSON.parse(JSON.stringify(exportState(s.state))));
    expect(restored.chain.subnets.get(2)).toEqual(s.state.chain.subnets.get(2));
    expect(stateHash(restored)).toBe(stateHash(s.state));
  });

  it("a block in which no subnet has a positive share mints no TAO; alpha is still emitted; invariants hold", () => {
    const s = chain({ subnets: [{ netuid: 1, poolTaoRao: 0n }] });
    const issuance = s.state.ledger.totals(TAO).issuance;
    for (let b = 0; b < 3; b++) {
      const effects = nextBlock(s);
      expect(taoParts(effects)).toEqual(new Map([[1, 0n]]));
      expect(effects.find((e) => e.k === "coinbase")).toMatchObject({ alpha_out: TAO_RAO });
    }
    expect(s.state.ledger.totals(TAO).issuance).toBe(issuance);
    // The head still shows the schedule's block emission.
    expect(head(s.state.chain).emission).toBe(TAO_RAO);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });

  it("gives nothing to a subnet with no inflow next to one with inflow", () => {
    const s = chain({ subnets: [{ netuid: 1 }, { netuid: 2, poolTaoRao: 0n }] });
    expect(taoParts(nextBlock(s))).toEqual(new Map([[1, TAO_RAO], [2, 0n]]));
  });
});

describe("activity cutoff (upstream's activity_cutoff)", () => {
  /** One validator weighting one miner for 8,000 blocks; the incentive of the last epoch. */
  function lastEpochIncentive(activityCutoff: number | null) {
    const w = world();
    w.block(["5owner", "5validator", "5miner"].map((hotkey) => ({ call: "subtensor.burned_register", signer: "5cold", args: { netuid: 1, hotkey } })));
    w.block([
      { call: "subtensor.add_stake", signer: "5cold", args: { netuid: 1, hotkey: "5validator", amount_rao: (1_000n * ONE_TAO).toString() } },
      ...(activityCutoff === null ? [] : [{ call: "root.set_parameter", signer: "5root", args: { name: "activityCutoff", value: activityCutoff } }]),
    ]);
    const tempo = w.state.chain.subnets.get(1)?.tempo ?? 0;
    let incentive: number[] = [];
    for (let b = head(w.state.chain).block; b < 8_000; b++) {
      if (b % tempo === 0) w.block([{ call: "subtensor.set_weights", signer: "5validator", args: { netuid: 1, uids: [2], weights: [65_535] } }]);
      else w.block();
      const stats = w.state.chain.stats.get(1);
      if (stats && stats.block === head(w.state.chain).block) incentive = stats.incentive;
    }
    const stake = (hotkey: string) => w.state.chain.pools.get(key.hotkey(1, hotkey))?.value ?? 0n;
    // The owner's cut and the miner's incentive, staked and never voting, now outweigh the validator.
    expect(stake("5owner") + stake("5miner")).toBeGreaterThan(stake("5validator"));
    return incentive;
  }

  it("stake that never votes stops counting, so the one validator that sets weights stays the consensus", () => {
    expect(lastEpochIncentive(null)[2]).toBe(1);
  });

  it("without the cutoff (every neuron active for 65,535 blocks) the silent majority zeroes the consensus", () => {
    expect(lastEpochIncentive(65_535)[2]).toBe(0);
  });
});
