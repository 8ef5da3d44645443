import { describe, expect, it } from "vitest";
import { AssertionFailure } from "../errors/errors.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import { type Command, HANDLERS, type Handlers } from "../machine/commands.ts";
import { type EventDraft, encodePayload } from "../machine/event.ts";
import { applyEvent, execute } from "../machine/execute.ts";
import { createState, type State, stateHash } from "../machine/state.ts";
import { type BlockHooks, CHAIN_RULES_VERSION, type Extrinsic, produceBlock } from "./block.ts";
import { account, head, isEpochBlock, key } from "./chain-state.ts";
import type { Effect } from "./effects.ts";

const TAO_RAO = 1_000_000_000n;
const ALICE = "5alice";
const BOB = "5bob";
const ROOT = "5root";

function chain(options: { strict?: boolean; subnets?: number[]; tempo?: number } = {}): { state: State; log: EventDraft[] } {
  const state = createState({ strict: options.strict ?? true });
  const log: EventDraft[] = [];
  const r = execute(state, {
    kind: "genesis",
    endowments: [
      { owner: ALICE, amount_rao: 1_000_000n * TAO_RAO },
      { owner: BOB, amount_rao: 1_000_000n * TAO_RAO },
    ],
    chain: {
      root: ROOT,
      tempo: options.tempo,
      subnets: (options.subnets ?? [1]).map((netuid) => ({ netuid, ownerHotkey: `5owner${netuid}`, ownerColdkey: ALICE })),
    },
  });
  expect(r.error).toBeUndefined();
  log.push(...r.events);
  return { state, log };
}

function block(s: { state: State; log: EventDraft[] }, extrinsics: Extrinsic[] = [], hooks?: BlockHooks): Effect[] {
  const handlers: Handlers = hooks ? { ...HANDLERS, block: (st, c) => produceBlock(st, c, hooks) } : HANDLERS;
  const ts = (head(s.state.chain).block + 1) * 12_000;
  const r = execute(s.state, { kind: "block", ts, extrinsics } as Command, handlers);
  expect(r.error).toBeUndefined();
  s.log.push(...r.events);
  return r.events[0]?.payload.effects as unknown as Effect[];
}

/** An event as the log gives it back: its payload written and read as the store does. */
function stored(e: EventDraft): EventDraft {
  return { type: e.type, version: e.version, payload: JSON.parse(encodePayload(e)) };
}

function replayOf(log: EventDraft[]): State {
  const state = createState({ strict: true });
  for (const e of log) applyEvent(state, stored(e));
  return state;
}

describe("block emission (hand-computed)", () => {
  it("block 1 on one subnet priced at 1: 1 TAO in, 1 alpha in, 1 alpha out split 18% / 41% / 41%", () => {
    const s = chain();
    const effects = block(s);
    // Pool 1000 TAO / 1000 alpha, price 1: alpha_in = E * A / T = 1e9, under the cap min(1e9, 1e9).
    // Owner cut floor(1e9 * 11796 / 65535) = 179_995_422; the rest 820_004_578 halves exactly.
    expect(effects.map((e) => JSON.parse(JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))).find((e) => e.k === "coinbase")).toEqual({
      k: "coinbase",
      netuid: 1,
      tao_in: "1000000000",
      alpha_in: "1000000000",
      excess: "0",
      bought: "0",
      alpha_out: "1000000000",
      owner_cut: "179995422",
      server: "410002289",
      validator: "410002289",
      // The genesis inflow (1000 TAO) in the flow EMA: floor(F · 1e12 · 2^64 / i64::MAX), F = 29_597_889_189_277.
      flow_ema: "59195778378554000006418019",
    });
    const { ledger, chain: c } = s.state;
    expect(ledger.balanceOf(TAO, account.subnetTao(1))).toBe(1_001n * TAO_RAO);
    expect(ledger.balanceOf(alpha(1), account.alphaIn(1))).toBe(1_001n * TAO_RAO);
    expect(c.subnets.get(1)?.alphaOut).toBe(TAO_RAO);
    expect(ledger.totals(TAO).issuance).toBe(2_000_000n * TAO_RAO + 1_000n * TAO_RAO + TAO_RAO);
    expect(head(c)).toEqual({ block: 1, timestampMs: 12_000, emission: TAO_RAO });
  });

  it("runs epochs when (block + netuid + 1) % (tempo + 1) == 0", () => {
    expect(isEpochBlock(359, 1, 360)).toBe(true);
    expect(isEpochBlock(720, 1, 360)).toBe(true);
    expect(isEpochBlock(358, 2, 360)).toBe(true);
    expect(isEpochBlock(360, 1, 360)).toBe(false);
    expect(isEpochBlock(5, 1, 0)).toBe(false);
    const s = chain({ tempo: 4 });
    const epochs: number[] = [];
    for (let b = 1; b <= 12; b++) if (block(s).some((e) => e.k === "epoch")) epochs.push(b);
    expect(epochs).toEqual([3, 8]); // (b + 2) % 5 == 0
  });
});

describe("extrinsics and an epoch", () => {
  it("registers neurons, stakes, sets weights, and pays the epoch exactly; replay agrees", () => {
    const s = chain({ tempo: 9 });
    const reg = (hotkey: string, coldkey: string): Extrinsic => ({ call: "subtensor.burned_register", signer: coldkey, args: { netuid: 1, hotkey } });
    block(s, [reg("5val", ALICE), reg("5minerA", BOB), reg("5minerB", BOB)]);
    block(s, [
      { call: "subtensor.add_stake", signer: ALICE, args: { netuid: 1, hotkey: "5val", amount_rao: (100n * TAO_RAO).toString() } },
      { call: "subtensor.set_weights", signer: "5val", args: { netuid: 1, uids: [1, 2], weights: [30_000, 10_000] } },
    ]);
    const { ledger, chain: c } = s.state;
    expect(c.subnets.get(1)?.neuronCount).toBe(3);
    const stakedBefore = c.subnets.get(1)?.stakedAlpha as bigint;
    let epoch: Effect | undefined;
    while (!epoch) epoch = block(s).find((e) => e.k === "epoch");
    if (epoch.k !== "epoch") throw new Error("unreachable");
    // Every rao drained from pending was paid to someone.
    const paid = epoch.pays.reduce((sum, [, i, t, r]) => sum + BigInt(i) + BigInt(t) + BigInt(r), 0n);
    expect(paid).toBe(BigInt(epoch.drained_server) + BigInt(epoch.drained_validator));
    const byUid = new Map(epoch.pays.map(([uid, i]) => [uid, BigInt(i)]));
    expect((byUid.get(1) as bigint) > (byUid.get(2) as bigint)).toBe(true); // weighted 3:1
    expect(c.subnets.get(1)?.stakedAlpha).toBe(stakedBefore + paid + BigInt(epoch.owner_cut));
    expect(ledger.balanceOf(alpha(1), account.pendingServer(1))).toBe(0n);
    expect(c.stats.get(1)?.incentive.length).toBe(3);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });

  it("a failing extrinsic is undone alone and recorded; the block goes on", () => {
    const s = chain();
    const before = s.state.ledger.balanceOf(TAO, BOB);
    const effects = block(s, [
      { call: "balances.transfer", signer: BOB, args: { dest: "5carol", amount_rao: (2_000_000n * TAO_RAO).toString() } },
      { call: "balances.transfer", signer: BOB, args: { dest: "5carol", amount_rao: "5" } },
      { call: "subtensor.add_stake", signer: BOB, args: { netuid: 1, hotkey: "5nobody", amount_rao: "3000000" } },
      { call: "root.set_parameter", signer: BOB, args: { name: "tempo", value: 5 } },
      { call: "no.such_call", signer: BOB, args: {} },
    ]);
    expect(effects.filter((e) => e.k === "failed").map((e) => (e.k === "failed" ? [e.index, e.code] : null))).toEqual([
      [0, "INSUFFICIENT_BALANCE"],
      [2, "NOT_FOUND"],
      [3, "FORBIDDEN"],
      [4, "VALIDATION_FAILED"],
    ]);
    expect(s.state.ledger.balanceOf(TAO, BOB)).toBe(before - 5n);
    expect(s.state.ledger.balanceOf(TAO, "5carol")).toBe(5n);
  });
});

describe("empty blocks as ranges", () => {
  it("a range is one event and leaves exactly the state the same blocks one by one would", () => {
    const one = chain({ tempo: 9 });
    const many = chain({ tempo: 9 });
    for (let b = 1; b <= 6; b++) block(one);
    const r = execute(many.state, { kind: "block_range", ts: [1, 2, 3, 4, 5, 6].map((b) => b * 12_000) });
    expect(r.error).toBeUndefined();
    expect(r.events.map((e) => e.type)).toEqual(["BlocksProduced"]);
    expect(r.events[0]?.payload).toEqual({ from: 1, ts: [12_000, 24_000, 36_000, 48_000, 60_000, 72_000], rules: CHAIN_RULES_VERSION });
    many.log.push(...r.events);
    expect(stateHash(many.state)).toBe(stateHash(one.state));
    expect(stateHash(replayOf(many.log))).toBe(stateHash(one.state));
    expect(JSON.stringify(r.events[0]).length).toBeLessThan(200);
  });

  it("refuses a range in which a block finds a violation: such blocks are logged with their effects", () => {
    const s = chain({ strict: false, subnets: [1, 2] });
    block(s);
    const s2 = s.state.chain.subnets.get(2) as NonNullable<ReturnType<typeof s.state.chain.subnets.get>>;
    s.state.chain.subnets.set(2, { ...s2, alphaOut: s2.alphaOut + 1n }); // corruption outside any command
    const before = stateHash(s.state);
    const r = execute(s.state, { kind: "block_range", ts: [24_000, 36_000] });
    expect(r.error?.message).toMatch(/violation effect: it cannot be in a range/);
    expect(stateHash(s.state)).toBe(before);
  });

  it("refuses a range that would hold an epoch block, changing nothing", () => {
    const s = chain({ tempo: 9 });
    const before = stateHash(s.state);
    // Subnet 1, tempo 9: (b + 2) % 10 == 0 at block 8.
    const r = execute(s.state, { kind: "block_range", ts: Array.from({ length: 8 }, (_, i) => (i + 1) * 12_000) });
    expect(r.error?.code).toBe("VALIDATION_FAILED");
    expect(stateHash(s.state)).toBe(before);
  });
});

describe("extrinsic edge cases found in review", () => {
  it("collateral only for a hotkey the depositor registered: a deposit claims nothing; nobody else can deposit, register it or withdraw", () => {
    const s = chain({ subnets: [1, 2] });
    const codes = (effects: Effect[]) => effects.filter((e) => e.k === "failed").map((e) => (e.k === "failed" ? e.code : ""));
    const unowned = block(s, [{ call: "collateral.deposit", signer: BOB, args: { hotkey: "5fresh", amount_rao: "1000" } }]);
    expect(codes(unowned)).toEqual(["NOT_A_NEURON"]);
    expect(s.state.chain.owners.has("5fresh")).toBe(false);
    const deposit = block(s, [
      { call: "subtensor.burned_register", signer: BOB, args: { netuid: 1, hotkey: "5fresh" } },
      { call: "collateral.deposit", signer: BOB, args: { hotkey: "5fresh", amount_rao: "1000" } },
    ]);
    expect(deposit.some((e) => e.k === "collateral_deposit")).toBe(true);
    const taken = block(s, [
      { call: "collateral.deposit", signer: ALICE, args: { hotkey: "5fresh", amount_rao: "1000" } },
      { call: "subtensor.burned_register", signer: ALICE, args: { netuid: 2, hotkey: "5fresh" } },
      { call: "collateral.withdraw", signer: ALICE, args: { hotkey: "5fresh", amount_rao: "1000" } },
    ]);
    expect(codes(taken)).toEqual(["FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]);
    const back = block(s, [{ call: "collateral.withdraw", signer: BOB, args: { hotkey: "5fresh", amount_rao: "1000" } }]);
    expect(back.some((e) => e.k === "collateral_withdraw")).toBe(true);
  });

  it("refuses the ledger's internal account names as addresses", () => {
    const s = chain();
    const before = s.state.ledger.balanceOf(TAO, account.subnetTao(1));
    const effects = block(s, [{ call: "balances.transfer", signer: BOB, args: { dest: "subnet:1:tao", amount_rao: "5" } }]);
    expect(effects.find((e) => e.k === "failed")).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(s.state.ledger.balanceOf(TAO, account.subnetTao(1))).toBe(before + TAO_RAO);
  });
});

describe("fault injection: each invariant fires in the block of the fault and pauses only its scope", () => {
  const faults: Array<[string, (st: State) => void, string, number | null]> = [
    [
      "a corrupted running total (SubnetAlphaOut)",
      (st) => {
        const s2 = st.chain.subnets.get(2) as NonNullable<ReturnType<typeof st.chain.subnets.get>>;
        st.chain.subnets.set(2, { ...s2, alphaOut: s2.alphaOut + 1n });
      },
      "alpha_issuance_equals_in_plus_out",
      2,
    ],
    [
      "stake on an unregistered hotkey behind the totals' back",
      (st) => st.ledger.transfer(st.ledger.account(alpha(2), account.alphaIn(2)), st.ledger.account(alpha(2), account.stake("5ghost")), 7n),
      "alpha_issuance_equals_in_plus_out",
      2,
    ],
    [
      "a distribution applied twice (minted again and staked)",
      (st) => {
        st.ledger.deposit(st.ledger.account(alpha(2), account.stake("5owner2")), st.ledger.mint(alpha(2), 1_000n));
        const s2 = st.chain.subnets.get(2) as NonNullable<ReturnType<typeof st.chain.subnets.get>>;
        st.chain.subnets.set(2, { ...s2, stakedAlpha: s2.stakedAlpha + 1_000n, alphaOut: s2.alphaOut + 1_000n });
      },
      "alpha_minted_equals_in_plus_out",
      2,
    ],
    [
      "a dropped deposit (a credit left live)",
      (st) => void st.ledger.withdraw(st.ledger.account(alpha(2), account.pendingServer(2)), 5n),
      "alpha_no_live_credit",
      2,
    ],
    [
      "a skipped recycle (TAO minted and never placed)",
      (st) => void st.ledger.mint(TAO, 11n),
      "tao_minted_equals_emission",
      null,
    ],
  ];

  it.each(faults)("%s", (_name, fault, invariant, netuid) => {
    const s = chain({ strict: false, subnets: [1, 2] });
    block(s);
    const effects = block(s, [], { beforeFinalize: fault });
    const violations = effects.filter((e) => e.k === "violation").map((e) => (e.k === "violation" ? e.invariant : ""));
    expect(violations).toContain(invariant);
    const paused = effects.filter((e) => e.k === "paused").map((e) => (e.k === "paused" ? e.netuid : -1));
    expect(paused).toEqual(netuid === null ? [1, 2] : [netuid]);
    expect(s.state.violations.length).toBeGreaterThan(0);
    // A paused subnet's TAO share is minted and recycled; the other subnet carries on.
    const next = block(s);
    for (const u of netuid === null ? [1, 2] : [2]) expect(next.some((e) => e.k === "paused_recycle" && e.netuid === u)).toBe(true);
    if (netuid !== null) expect(next.some((e) => e.k === "coinbase" && e.netuid === 1)).toBe(true);
  });

  it("throws in strict mode", () => {
    const s = chain({ strict: true, subnets: [1, 2] });
    const hooks = { beforeFinalize: faults[0]?.[1] as (st: State) => void };
    expect(() => execute(s.state, { kind: "block", ts: 12_000, extrinsics: [] }, { ...HANDLERS, block: (st, c) => produceBlock(st, c, hooks) })).toThrow(
      AssertionFailure,
    );
  });

  it("a block with such a fault is kept as its events describe, and says that its execution differed", () => {
    const s = chain({ strict: false, subnets: [1, 2] });
    block(s);
    block(s, [], { beforeFinalize: faults[1]?.[1] as (st: State) => void });
    const last = s.log.at(-1);
    expect(last?.type).toBe("CriticalInvariantViolation");
    expect(last?.payload.invariant).toBe("events_reproduce_effects");
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  });

  it("corruption that persists is found in the next block; only root unpauses, after a full recount passes (or with force)", () => {
    const s = chain({ strict: false, subnets: [1, 2] });
    block(s);
    // Behind everyone's back, outside any command: this stays until someone repairs it.
    const s2 = s.state.chain.subnets.get(2) as NonNullable<ReturnType<typeof s.state.chain.subnets.get>>;
    s.state.chain.subnets.set(2, { ...s2, alphaOut: s2.alphaOut + 1n });
    const found = block(s);
    expect(found.find((e) => e.k === "violation")).toMatchObject({ scope: "subnet:2", invariant: "alpha_issuance_equals_in_plus_out" });
    expect(s.state.chain.subnets.get(2)?.paused).toBe(true);
    const unpause = (signer: string, force = false): Effect[] =>
      block(s, [{ call: "root.unpause_subnet_emission", signer, args: { netuid: 2, force } }]);
    expect(unpause(BOB).find((e) => e.k === "failed")).toMatchObject({ code: "FORBIDDEN" });
    expect(unpause(ROOT).find((e) => e.k === "failed")).toMatchObject({ code: "INVARIANT_STILL_FAILING" });
    // Forcing resumes it, but the corruption is still there: onFinalize finds it and pauses again.
    const forced = unpause(ROOT, true);
    expect(forced.find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: true });
    expect(forced.filter((e) => e.k === "paused")).toEqual([{ k: "paused", netuid: 2 }]);
    // Repaired, a plain unpause passes the full recount and stays unpaused; health clears.
    const broken = s.state.chain.subnets.get(2) as NonNullable<ReturnType<typeof s.state.chain.subnets.get>>;
    s.state.chain.subnets.set(2, { ...broken, alphaOut: broken.alphaOut - 1n });
    expect(unpause(ROOT).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: false });
    expect(s.state.chain.subnets.get(2)?.paused).toBe(false);
    expect(s.state.violations).toEqual([]);
  });
});

describe("a long run", () => {
  it("10,000 blocks of random extrinsics in strict mode never fire an invariant, and replay agrees", () => {
    const s = chain({ strict: true, subnets: [1, 2, 3], tempo: 99 });
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const coldkeys = [ALICE, BOB];
    const hotkeys = Array.from({ length: 12 }, (_, i) => `5hot${i}`);
    for (let b = 0; b < 10_000; b++) {
      const xs: Extrinsic[] = [];
      if (rand(4) === 0) {
        const netuid = 1 + rand(3);
        const hotkey = hotkeys[rand(hotkeys.length)] as string;
        const coldkey = coldkeys[rand(2)] as string;
        const pick = rand(5);
        if (pick === 0) xs.push({ call: "subtensor.burned_register", signer: coldkey, args: { netuid, hotkey } });
        if (pick === 1) xs.push({ call: "subtensor.add_stake", signer: coldkey, args: { netuid, hotkey, amount_rao: String(1 + rand(50)) + "000000000" } });
        if (pick === 2) {
          const held = s.state.chain.pools.get(key.hotkey(netuid, hotkey))?.holders.has(coldkey);
          if (held) xs.push({ call: "subtensor.remove_stake", signer: coldkey, args: { netuid, hotkey, amount_alpha: String(1 + rand(1_000_000)) } });
        }
        if (pick === 3) {
          const n = s.state.chain.subnets.get(netuid)?.neuronCount ?? 0;
          if (n > 0) xs.push({ call: "subtensor.set_weights", signer: hotkey, args: { netuid, uids: [rand(n)], weights: [1 + rand(65_535)] } });
        }
        if (pick === 4) xs.push({ call: "collateral.deposit", signer: coldkey, args: { hotkey, amount_rao: String(1 + rand(1000)) } });
      }
      block(s, xs);
    }
    expect(s.state.violations).toEqual([]);
    expect(s.state.ledger.recount()).toEqual([]);
    expect(stateHash(replayOf(s.log))).toBe(stateHash(s.state));
  }, 120_000);
});
