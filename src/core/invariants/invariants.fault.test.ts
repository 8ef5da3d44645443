/**
 * Fault injection, one fault per invariant (DESIGN.md §3.6): each test breaks the state the way
 * the invariant exists to catch and shows the violation where it must appear (that invariant, its
 * scope, expected and actual):
 * - `state` and `block` invariants: in the block of the fault (injected through
 *   `BlockHooks.beforeFinalize`), which pauses the scope in that same block (`tao`: every subnet);
 * - `recount` invariants: in the first block whose recount bucket holds the corrupted cell (from
 *   `ledger.bucketOf` or the pool's arrival index), and not one block before it;
 * - `entity` invariants: in the entity command that follows the fault, which freezes the entity;
 * - `command` invariants: in the command itself.
 * The table of faults is keyed by the invariant table: a new invariant without a fault fails here.
 * `npm run mutate:invariants` replaces each invariant's check by "ok" and runs this file: every
 * mutant must be killed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { forgetsLastLeg, liesAboutAmount } from "../../../test/support/faulty-handlers.ts";
import { neurons, ROOT as WORLD_ROOT, type World, world } from "../../../test/support/trading-world.ts";
import { type BlockHooks, type Extrinsic, produceBlock } from "../chain/block.ts";
import { account, head, key, params } from "../chain/chain-state.ts";
import type { Effect } from "../chain/effects.ts";
import { reservedAccount } from "../entities/entity-state.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import { type AssetId, alpha, assetName, TAO } from "../ledger/asset.ts";
import { type AccountHandle, type Ledger, MAX_ISSUANCE, RECOUNT_BUCKETS, recountBucketOf } from "../ledger/ledger.ts";
import { type Command, HANDLERS, type Handlers } from "../machine/commands.ts";
import type { EventDraft } from "../machine/event.ts";
import { execute } from "../machine/execute.ts";
import { createState, type State } from "../machine/state.ts";
import { fullRecount, stateInvariants } from "./chain-invariants.ts";
import { entityViolations, observeEntity, recountEntity } from "./entity-invariants.ts";
import { INVARIANTS, type InvariantName } from "./invariant-table.ts";
import { report } from "./report.ts";

/**
 * The one fault that needs a seam inside the coinbase: a coinbase that loses track of part of the
 * emission it minted (counts `lostRao` less as injected than it minted and placed). Off unless a
 * test sets it.
 */
const coinbaseFault = vi.hoisted(() => ({ lostRao: 0n }));
vi.mock("../chain/coinbase.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../chain/coinbase.ts")>();
  return {
    ...real,
    runCoinbase: (...args: Parameters<typeof real.runCoinbase>) => {
      const totals = real.runCoinbase(...args);
      return coinbaseFault.lostRao === 0n ? totals : { ...totals, injected: totals.injected - coinbaseFault.lostRao };
    },
  };
});

afterEach(() => {
  coinbaseFault.lostRao = 0n;
});

const TAO_RAO = 1_000_000_000n;
const ALICE = "5alice";
const BOB = "5bob";
const ROOT = "5root";
const SUBNETS = [1, 2];

// ---- a devnet with two subnets ---------------------------------------------------------------

interface Chain {
  state: State;
}

function chain(options: { strict?: boolean } = {}): Chain {
  const state = createState({ strict: options.strict ?? false });
  const r = execute(state, {
    kind: "genesis",
    endowments: [
      { owner: ALICE, amount_rao: 1_000_000n * TAO_RAO },
      { owner: BOB, amount_rao: 1_000_000n * TAO_RAO },
    ],
    chain: { root: ROOT, subnets: SUBNETS.map((netuid) => ({ netuid, ownerHotkey: `5owner${netuid}`, ownerColdkey: ALICE })) },
  });
  expect(r.error).toBeUndefined();
  return { state };
}

/** One block through `execute`, as the node runs it; returns the block's effects. */
function block(c: Chain, extrinsics: Extrinsic[] = [], hooks?: BlockHooks): Effect[] {
  const handlers: Handlers = hooks ? { ...HANDLERS, block: (st, cmd) => produceBlock(st, cmd, hooks) } : HANDLERS;
  const ts = (head(c.state.chain).block + 1) * 12_000;
  const r = execute(c.state, { kind: "block", ts, extrinsics } as Command, handlers);
  expect(r.error).toBeUndefined();
  return r.events[0]?.payload.effects as unknown as Effect[];
}

type ViolationEffect = Extract<Effect, { k: "violation" }>;

function violations(effects: Effect[]): ViolationEffect[] {
  return effects.filter((e): e is ViolationEffect => e.k === "violation");
}

function paused(effects: Effect[]): number[] {
  return effects.flatMap((e) => (e.k === "paused" ? [e.netuid] : []));
}

function scopeOf(netuid: number | null): string {
  return netuid === null ? "tao" : `subnet:${netuid}`;
}

const unpause = (c: Chain, netuid: number, force = false): Effect[] =>
  block(c, [{ call: "root.unpause_subnet_emission", signer: ROOT, args: { netuid, force } }]);

function failedCode(effects: Effect[]): string | undefined {
  const f = effects.find((e) => e.k === "failed");
  return f && f.k === "failed" ? f.code : undefined;
}

// ---- writing behind the ledger's back ----------------------------------------------------------

/** A ledger cell by the name `describeCell` gives it: `TAO.issuance`, `ALPHA(2).bucket[7]`. */
function cellNamed(ledger: Ledger, name: string): AccountHandle {
  for (let cell = 0; cell < 1 << 16; cell++) if (ledger.describeCell(cell) === name) return cell as AccountHandle;
  throw new Error(`no ledger cell named ${name}`);
}

/** Adds `delta` to a cell without the ledger knowing (a bug elsewhere, or in the ledger itself). */
function bump(ledger: Ledger, cell: AccountHandle, delta: bigint): void {
  ledger.corruptForTest(cell, ledger.balance(cell) + delta);
}

function counter(ledger: Ledger, asset: AssetId, name: "issuance" | "minted" | "recycled" | "burned" | "balances" | "live"): AccountHandle {
  return cellNamed(ledger, `${assetName(asset)}.${name}`);
}

/** Credits an account and everything that sums it (its bucket total, the balances total): value from nowhere. */
function creditFromNowhere(ledger: Ledger, asset: AssetId, owner: string, amount: bigint): void {
  const h = ledger.account(asset, owner);
  bump(ledger, h, amount);
  bump(ledger, cellNamed(ledger, `${assetName(asset)}.bucket[${ledger.bucketOf(h)}]`), amount);
  bump(ledger, counter(ledger, asset, "balances"), amount);
}

/** A mint that skipped the cap, every running total kept consistent with it. */
function mintPastCap(ledger: Ledger, asset: AssetId, owner: string): bigint {
  const amount = MAX_ISSUANCE - ledger.totals(asset).issuance + 1n;
  creditFromNowhere(ledger, asset, owner, amount);
  bump(ledger, counter(ledger, asset, "issuance"), amount);
  bump(ledger, counter(ledger, asset, "minted"), amount);
  return amount;
}

function subnet(st: State, netuid: number) {
  const s = st.chain.subnets.get(netuid);
  if (!s) throw new Error(`no subnet ${netuid}`);
  return s;
}

function pending(st: State, netuid: number): bigint {
  const a = alpha(netuid);
  return (
    st.ledger.balanceOf(a, account.pendingServer(netuid)) +
    st.ledger.balanceOf(a, account.pendingValidator(netuid)) +
    st.ledger.balanceOf(a, account.pendingOwnerCut(netuid))
  );
}

// ---- recount buckets ---------------------------------------------------------------------------

/**
 * The first block from `from` on whose recount holds `bucket`. onFinalize runs before the block's
 * head is written, so block n recounts buckets ((n - 1) * perBlock + i) % RECOUNT_BUCKETS, i < perBlock.
 */
function dueBlock(from: number, bucket: number, perBlock: number): number {
  for (let n = from; n < from + RECOUNT_BUCKETS + 1; n++) {
    for (let i = 0; i < perBlock; i++) if (((n - 1) * perBlock + i) % RECOUNT_BUCKETS === bucket) return n;
  }
  throw new Error(`bucket ${bucket} is never recounted`);
}

/** Runs empty blocks until the bucket's next recount is at least `gap` blocks away. */
function awayFrom(c: Chain, bucket: number, gap: number): void {
  const perBlock = params(c.state.chain).recountPerBlock;
  while (dueBlock(head(c.state.chain).block + 1, bucket, perBlock) - (head(c.state.chain).block + 1) < gap) block(c);
}

/**
 * Corrupts a cell between blocks, then runs blocks up to the one whose recount bucket holds it:
 * no block before it reports `invariant`, that one does (and pauses the scope).
 */
function expectFoundAtItsBucket(
  c: Chain,
  invariant: InvariantName,
  netuid: number | null,
  bucketOfFault: () => number,
  corrupt: () => void,
  sides: () => { expected: bigint; actual: bigint },
): { effects: Effect[]; at: number; faultAt: number } {
  const bucket = bucketOfFault();
  awayFrom(c, bucket, 5);
  const faultAt = head(c.state.chain).block;
  corrupt();
  const due = dueBlock(faultAt + 1, bucket, params(c.state.chain).recountPerBlock);
  expect(due - faultAt).toBeGreaterThan(5);
  for (let n = faultAt + 1; n < due; n++) {
    const effects = block(c);
    expect(violations(effects).map((v) => v.invariant), `block ${n}, before bucket ${bucket} is due at ${due}`).not.toContain(invariant);
  }
  const effects = block(c);
  expect(head(c.state.chain).block).toBe(due);
  const { expected, actual } = sides();
  expect(violations(effects)).toEqual([
    {
      k: "violation",
      scope: scopeOf(netuid),
      invariant,
      expected: expected.toString(),
      actual: actual.toString(),
    },
  ]);
  expect(paused(effects)).toEqual(netuid === null ? SUBNETS : [netuid]);
  return { effects, at: due, faultAt };
}

/**
 * For a fault no recount bucket holds (a record that is gone): the recount must still find it
 * within one round of buckets, RECOUNT_BUCKETS / recountPerBlock blocks, and pause the scope.
 */
function expectFoundWithinRound(
  c: Chain,
  invariant: InvariantName,
  netuid: number | null,
  corrupt: () => void,
  sides: () => { expected: bigint; actual: bigint },
): void {
  const faultAt = head(c.state.chain).block;
  corrupt();
  const round = Math.ceil(RECOUNT_BUCKETS / params(c.state.chain).recountPerBlock);
  for (let n = faultAt + 1; n <= faultAt + round; n++) {
    const effects = block(c);
    const found = violations(effects).find((v) => v.invariant === invariant);
    if (!found) continue;
    const { expected, actual } = sides();
    expect(found).toEqual({ k: "violation", scope: scopeOf(netuid), invariant, expected: expected.toString(), actual: actual.toString() });
    expect(paused(effects)).toEqual(netuid === null ? SUBNETS : [netuid]);
    return;
  }
  expect.fail(`${invariant}: no block found the fault within a round of ${round} blocks (blocks ${faultAt + 1}..${faultAt + round})`);
}

// ---- entities ----------------------------------------------------------------------------------

const ENTITY = "5entityA";

function entityWorld(maxSubaccounts: number, subaccounts: number): World {
  const w = world({ strict: false });
  neurons(w, [ENTITY]);
  w.ok({ kind: "register_entity", ts: w.now, hotkey: ENTITY, max_subaccounts: maxSubaccounts });
  for (let i = 0; i < subaccounts; i++) w.ok({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: `u-${i}` });
  return w;
}

function entityRecord(w: World) {
  const e = w.state.entities.entities.get(ENTITY);
  if (!e) throw new Error("no entity");
  return e;
}

// ---- one fault per invariant -------------------------------------------------------------------

/** What a block knew before its fault: what the coinbase had minted by then. */
interface BlockContext {
  taoMintedBefore: bigint;
  alphaMintedBefore: Map<number, bigint>;
}

type Sides = { expected: bigint | string; actual: bigint | string };

type Fault =
  | {
      /** Injected inside the block (before onFinalize); found by that block's onFinalize. */
      kind: "in-block";
      netuid: number | null;
      what: string;
      /** The other invariants the same fault necessarily breaks in that block (the block reports exactly these and it). */
      alongside?: InvariantName[];
      /** Breaks the state; returns the two sides the check must report. */
      inject: (st: State, ctx: BlockContext) => Sides;
    }
  | {
      /** Written between blocks behind the ledger's back; found when its recount bucket comes round. */
      kind: "recount";
      netuid: number | null;
      what: string;
      /**
       * Sets the chain up (if need be), returns the bucket of the cell it will corrupt, or null when
       * no bucket holds the fault (a record that is gone): then it must be found within a round.
       */
      prepare: (c: Chain) => number | null;
      corrupt: (c: Chain) => void;
      sides: (c: Chain) => { expected: bigint; actual: bigint };
    }
  | {
      /** The state is broken between commands; the next entity command finds it and freezes the entity. */
      kind: "entity";
      what: string;
      world: () => World;
      corrupt: (w: World) => Sides;
      next: (w: World) => Command;
    }
  | {
      /** A handler with a bug: the command itself records the violation. */
      kind: "command";
      what: string;
      run: () => { events: EventDraft[]; scope: string; sides: Sides };
    };

const GHOST = "5ghost";

/** A pool's recount bucket: placed by its arrival index, as the ledger places accounts. */
function poolBucket(st: State, poolKey: string): number {
  const i = st.chain.pools.keysByArrival().indexOf(poolKey);
  expect(i).toBeGreaterThanOrEqual(0);
  return recountBucketOf(i);
}

/** A validator with stake on subnet 2: its pool, `2/5val2`. */
function stakedOnSubnet2(c: Chain): string {
  block(c, [{ call: "subtensor.burned_register", signer: ALICE, args: { netuid: 2, hotkey: "5val2" } }]);
  block(c, [{ call: "subtensor.add_stake", signer: ALICE, args: { netuid: 2, hotkey: "5val2", amount_rao: (10n * TAO_RAO).toString() } }]);
  const poolKey = key.hotkey(2, "5val2");
  expect(c.state.chain.pools.get(poolKey)?.value ?? 0n).toBeGreaterThan(0n);
  return poolKey;
}

const FAULTS: Record<InvariantName, Fault> = {
  tao_issuance_equals_balances: {
    kind: "in-block",
    netuid: null,
    what: "a deposit without a credit (a balance and the balances total raised, issuance not)",
    inject: (st) => {
      creditFromNowhere(st.ledger, TAO, BOB, 1n);
      const t = st.ledger.totals(TAO);
      return { expected: t.issuance, actual: t.balances + t.live };
    },
  },
  tao_minted_equals_issuance_recycled_burned: {
    kind: "in-block",
    netuid: null,
    what: "a burn counted that never left issuance",
    inject: (st) => {
      bump(st.ledger, counter(st.ledger, TAO, "burned"), 3n);
      const t = st.ledger.totals(TAO);
      return { expected: t.minted, actual: t.issuance + t.recycled + t.burned };
    },
  },
  tao_issuance_cap: {
    kind: "in-block",
    alongside: ["tao_minted_equals_emission", "tao_injected_equals_minted"],
    netuid: null,
    what: "a mint past 21M TAO that skipped the cap (every other total consistent with it)",
    inject: (st) => {
      mintPastCap(st.ledger, TAO, BOB);
      return { expected: MAX_ISSUANCE, actual: st.ledger.totals(TAO).issuance };
    },
  },
  tao_no_live_credit: {
    kind: "in-block",
    netuid: null,
    what: "TAO withdrawn as a credit and never placed",
    inject: (st) => {
      void st.ledger.withdraw(st.ledger.account(TAO, BOB), 5n);
      return { expected: 0n, actual: 5n };
    },
  },
  tao_account_recount: {
    kind: "recount",
    netuid: null,
    what: "1 TAO written into a coldkey's balance behind the ledger's back",
    prepare: (c) => c.state.ledger.bucketOf(c.state.ledger.account(TAO, BOB)),
    corrupt: (c) => {
      const h = c.state.ledger.account(TAO, BOB);
      c.state.ledger.corruptForTest(h, c.state.ledger.balance(h) + TAO_RAO);
    },
    sides: (c) => {
      const { ledger } = c.state;
      const total = ledger.balance(cellNamed(ledger, `TAO.bucket[${ledger.bucketOf(ledger.account(TAO, BOB))}]`));
      return { expected: total, actual: total + TAO_RAO };
    },
  },
  tao_minted_equals_emission: {
    kind: "in-block",
    alongside: ["tao_injected_equals_minted"],
    netuid: null,
    what: "the emission paid twice (minted again and deposited)",
    inject: (st, ctx) => {
      const emission = st.ledger.totals(TAO).minted - ctx.taoMintedBefore;
      st.ledger.deposit(st.ledger.account(TAO, BOB), st.ledger.mint(TAO, 1_000n));
      return { expected: emission, actual: emission + 1_000n };
    },
  },
  tao_injected_equals_minted: {
    kind: "in-block",
    netuid: null,
    what: "a coinbase that loses track of 1 rao of the emission it minted",
    inject: (st, ctx) => {
      // The coinbase ran before this hook, with `coinbaseFault` switched on by runFaultBlock.
      const minted = st.ledger.totals(TAO).minted - ctx.taoMintedBefore;
      return { expected: minted, actual: minted - 1n };
    },
  },
  alpha_issuance_equals_balances: {
    kind: "in-block",
    netuid: 2,
    what: "alpha deposited without a credit (stake of an unknown hotkey and the balances total raised, issuance not)",
    inject: (st) => {
      creditFromNowhere(st.ledger, alpha(2), account.stake(GHOST), 7n);
      const t = st.ledger.totals(alpha(2));
      return { expected: t.issuance, actual: t.balances + t.live };
    },
  },
  alpha_minted_equals_issuance_recycled_burned: {
    kind: "in-block",
    netuid: 2,
    what: "an alpha burn counted that never left issuance",
    inject: (st) => {
      bump(st.ledger, counter(st.ledger, alpha(2), "burned"), 3n);
      const t = st.ledger.totals(alpha(2));
      return { expected: t.minted, actual: t.issuance + t.recycled + t.burned };
    },
  },
  alpha_issuance_cap: {
    kind: "in-block",
    alongside: ["alpha_minted_equals_in_plus_out"],
    netuid: 2,
    what: "alpha minted into the pool past 21M that skipped the cap (every other total consistent with it)",
    inject: (st) => {
      mintPastCap(st.ledger, alpha(2), account.alphaIn(2));
      return { expected: MAX_ISSUANCE, actual: st.ledger.totals(alpha(2)).issuance };
    },
  },
  alpha_no_live_credit: {
    kind: "in-block",
    alongside: ["alpha_out_equals_staked_plus_pending"],
    netuid: 2,
    what: "a dropped deposit (pending alpha withdrawn as a credit and left live)",
    inject: (st) => {
      void st.ledger.withdraw(st.ledger.account(alpha(2), account.pendingServer(2)), 5n);
      return { expected: 0n, actual: 5n };
    },
  },
  alpha_issuance_equals_in_plus_out: {
    kind: "in-block",
    alongside: ["alpha_out_equals_staked_plus_pending"],
    netuid: 2,
    what: "a corrupted running total (SubnetAlphaOut + 1)",
    inject: (st) => {
      const s = subnet(st, 2);
      st.chain.subnets.set(2, { ...s, alphaOut: s.alphaOut + 1n });
      return { expected: st.ledger.totals(alpha(2)).issuance, actual: st.ledger.balanceOf(alpha(2), account.alphaIn(2)) + s.alphaOut + 1n };
    },
  },
  alpha_out_equals_staked_plus_pending: {
    kind: "in-block",
    netuid: 2,
    what: "a corrupted running total (Σ TotalHotkeyAlpha + 1)",
    inject: (st) => {
      const s = subnet(st, 2);
      st.chain.subnets.set(2, { ...s, stakedAlpha: s.stakedAlpha + 1n });
      return { expected: s.alphaOut, actual: s.stakedAlpha + 1n + pending(st, 2) };
    },
  },
  alpha_account_recount: {
    kind: "recount",
    netuid: 2,
    what: "alpha written into an account behind the ledger's back",
    prepare: (c) => c.state.ledger.bucketOf(c.state.ledger.account(alpha(2), GHOST)),
    corrupt: (c) => c.state.ledger.corruptForTest(c.state.ledger.account(alpha(2), GHOST), 7n),
    sides: (c) => {
      const { ledger } = c.state;
      const total = ledger.balance(cellNamed(ledger, `ALPHA(2).bucket[${ledger.bucketOf(ledger.account(alpha(2), GHOST))}]`));
      return { expected: total, actual: total + 7n };
    },
  },
  stake_pool_equals_ledger: {
    kind: "recount",
    netuid: 2,
    what: "a stake pool's value (TotalHotkeyAlpha) changed without the ledger",
    prepare: (c) => poolBucket(c.state, stakedOnSubnet2(c)),
    corrupt: (c) => {
      const poolKey = key.hotkey(2, "5val2");
      const pool = c.state.chain.pools.get(poolKey);
      if (!pool) throw new Error("no pool");
      c.state.chain.pools.set(poolKey, { ...pool, value: pool.value + 1n });
    },
    sides: (c) => {
      const held = c.state.ledger.balanceOf(alpha(2), account.stake("5val2"));
      return { expected: (c.state.chain.pools.get(key.hotkey(2, "5val2"))?.value ?? 0n) as bigint, actual: held };
    },
  },
  staked_alpha_recount: {
    kind: "recount",
    netuid: 2,
    what: "a stake pool dropped from the pools map while its stake stays in the ledger and in Σ TotalHotkeyAlpha",
    // The pool is gone, so no pool bucket holds it any more: found within a round of buckets.
    prepare: (c) => {
      stakedOnSubnet2(c);
      return null;
    },
    corrupt: (c) => c.state.chain.pools.delete(key.hotkey(2, "5val2")),
    sides: (c) => {
      const s = subnet(c.state, 2);
      const sum = c.state.chain.pools
        .sortedKeys()
        .filter((k) => k.startsWith("2/"))
        .reduce((acc, k) => acc + (c.state.chain.pools.get(k)?.value ?? 0n), 0n);
      return { expected: s.stakedAlpha, actual: sum };
    },
  },
  alpha_minted_equals_in_plus_out: {
    kind: "in-block",
    netuid: 2,
    what: "a distribution applied twice (alpha minted again and staked, the counters kept consistent)",
    inject: (st, ctx) => {
      const minted = st.ledger.totals(alpha(2)).minted - (ctx.alphaMintedBefore.get(2) ?? 0n);
      st.ledger.deposit(st.ledger.account(alpha(2), account.stake("5owner2")), st.ledger.mint(alpha(2), 1_000n));
      const s = subnet(st, 2);
      st.chain.subnets.set(2, { ...s, stakedAlpha: s.stakedAlpha + 1_000n, alphaOut: s.alphaOut + 1_000n });
      return { expected: minted, actual: minted + 1_000n };
    },
  },
  active_within_limit: {
    kind: "entity",
    what: "the entity's limit lowered under its active subaccounts; an elimination follows",
    world: () => entityWorld(4, 4),
    corrupt: (w) => {
      w.state.entities.entities.set(ENTITY, { ...entityRecord(w), maxSubaccounts: 2 });
      return { expected: "2", actual: "3" };
    },
    next: (w) => ({ kind: "eliminate_subaccount", ts: w.now, synthetic: syntheticHotkey(ENTITY, 0), by: WORLD_ROOT }),
  },
  ids_below_next_id: {
    kind: "entity",
    what: "next id wound back (an id would be reused); a creation follows",
    world: () => entityWorld(4, 2),
    corrupt: (w) => {
      w.state.entities.entities.set(ENTITY, { ...entityRecord(w), nextId: 1 });
      // After the creation: next id 2, while 3 subaccounts are active.
      return { expected: "2", actual: "3" };
    },
    next: (w) => ({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-again" }),
  },
  reserve_equals_sum_of_reserves: {
    kind: "entity",
    what: "1 rao moved into the reserve account without a subaccount reserving it; a creation follows",
    world: () => entityWorld(4, 1),
    corrupt: (w) => {
      const { ledger } = w.state;
      ledger.transfer(ledger.account(TAO, account.collateral(ENTITY)), ledger.account(TAO, reservedAccount(ENTITY)), 1n);
      const reserved = entityRecord(w).reservedRao * 2n; // one more subaccount of the same default size
      return { expected: reserved.toString(), actual: (reserved + 1n).toString() };
    },
    next: (w) => ({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-next" }),
  },
  deposited_less_withdrawn_and_slashed_equals_free_plus_reserved: {
    kind: "entity",
    what: "1 rao of collateral arriving without a deposit on record; a creation follows",
    world: () => entityWorld(4, 1),
    corrupt: (w) => {
      const { ledger } = w.state;
      ledger.transfer(ledger.account(TAO, "5cold"), ledger.account(TAO, account.collateral(ENTITY)), 1n);
      const flows = w.state.chain.collateral.get(ENTITY);
      const expected = (flows?.deposited ?? 0n) - (flows?.withdrawn ?? 0n) - entityRecord(w).slashedRao;
      return { expected: expected.toString(), actual: (expected + 1n).toString() };
    },
    next: (w) => ({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-next" }),
  },
  attributed_plus_unattributed_equals_paid: {
    kind: "entity",
    what: "alpha paid to the entity's uid attributed once more than it was paid; a creation follows",
    world: () => entityWorld(4, 1),
    corrupt: (w) => {
      const paid = w.state.debt.entities.get(ENTITY) ?? { paidAlphaRao: 0n, attributedAlphaRao: 0n, unattributedAlphaRao: 0n, pendingAlphaRao: 0n };
      const next = { ...paid, paidAlphaRao: paid.paidAlphaRao + 1_000n, attributedAlphaRao: paid.attributedAlphaRao + 700n, unattributedAlphaRao: paid.unattributedAlphaRao + 301n };
      w.state.debt.entities.set(ENTITY, next);
      return { expected: next.paidAlphaRao.toString(), actual: (next.attributedAlphaRao + next.unattributedAlphaRao + next.pendingAlphaRao).toString() };
    },
    next: (w) => ({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-next" }),
  },
  events_reproduce_effects: {
    kind: "command",
    what: "a transfer whose event records one rao more than it moved",
    run: () => {
      const c = chain();
      const alice = c.state.ledger.balanceOf(TAO, ALICE);
      const r = execute(c.state, { kind: "transfer", asset: TAO, from: ALICE, to: BOB, amount_rao: 10n }, liesAboutAmount);
      expect(r.error?.code).toBe("INTERNAL");
      expect(c.state.ledger.balanceOf(TAO, BOB)).toBe(1_000_000n * TAO_RAO); // refused: nothing moved
      // The first cell that differs: the sender's balance, 10 rao moved, 11 recorded.
      const actual = `TAO:${ALICE}: executed ${alice - 10n}, applied ${alice - 11n}`;
      return { events: r.events, scope: "transfer", sides: { expected: "equal effects", actual } };
    },
  },
  no_live_credit: {
    kind: "command",
    what: "a batch transfer that forgets to place its last leg",
    run: () => {
      const c = chain();
      const r = execute(
        c.state,
        {
          kind: "batch_transfer",
          asset: TAO,
          from: ALICE,
          to: [
            { owner: "5x", amount_rao: 30n },
            { owner: "5y", amount_rao: 7n },
          ],
        },
        forgetsLastLeg,
      );
      expect(r.error).toBeUndefined();
      expect(c.state.ledger.totals(TAO).recycled).toBe(7n);
      return { events: r.events, scope: "batch_transfer", sides: { expected: "0", actual: "7 TAO" } };
    },
  },
};

/** Runs one block with `fault` injected before onFinalize; returns its effects and the fault's sides. */
function runFaultBlock(c: Chain, fault: Extract<Fault, { kind: "in-block" }>, name: InvariantName): { effects: Effect[]; sides: Sides } {
  const { ledger } = c.state;
  const ctx: BlockContext = {
    taoMintedBefore: ledger.totals(TAO).minted,
    alphaMintedBefore: new Map(SUBNETS.map((u) => [u, ledger.totals(alpha(u)).minted])),
  };
  // The coinbase runs before the hook: a coinbase fault is switched on before the block starts.
  if (name === "tao_injected_equals_minted") coinbaseFault.lostRao = 1n;
  let sides: Sides | undefined;
  const effects = block(c, [], { beforeFinalize: (st) => (sides = fault.inject(st, ctx)) });
  coinbaseFault.lostRao = 0n;
  if (!sides) throw new Error("the fault was not injected");
  return { effects, sides };
}

describe("fault injection: every invariant fires for the fault it exists for", () => {
  it("the faults cover the invariant table exactly", () => {
    expect(Object.keys(FAULTS).sort()).toEqual(Object.keys(INVARIANTS).sort());
    for (const [name, fault] of Object.entries(FAULTS) as Array<[InvariantName, Fault]>) {
      const { scope, when } = INVARIANTS[name];
      // The kind of fault follows from when the invariant can be evaluated and what it covers.
      const kind = when === "recount" ? "recount" : scope === "entity" ? "entity" : scope === "command" ? "command" : "in-block";
      expect(fault.kind, name).toBe(kind);
      if (fault.kind === "in-block" || fault.kind === "recount") expect(fault.netuid === null ? "tao" : "subnet", name).toBe(scope);
    }
  });

  const cases = (Object.keys(INVARIANTS) as InvariantName[]).map((name) => [name, FAULTS[name]?.what ?? "(no fault)"] as const);

  it.for(cases)("%s fires for: %s", ([name]) => {
    const fault = FAULTS[name];
    expect(fault, `no fault for ${name}`).toBeDefined();
    switch (fault.kind) {
      case "in-block": {
        const c = chain();
        block(c);
        const { effects, sides } = runFaultBlock(c, fault, name);
        expect(violations(effects).map((v) => v.invariant).sort()).toEqual([name, ...(fault.alongside ?? [])].sort());
        expect(violations(effects).find((v) => v.invariant === name)).toEqual({
          k: "violation",
          scope: scopeOf(fault.netuid),
          invariant: name,
          expected: sides.expected.toString(),
          actual: sides.actual.toString(),
        });
        // The scope is paused in the block of the fault, and only it.
        expect(paused(effects)).toEqual(fault.netuid === null ? SUBNETS : [fault.netuid]);
        for (const u of SUBNETS) expect(subnet(c.state, u).paused).toBe(fault.netuid === null || fault.netuid === u);
        expect(c.state.violations).toContainEqual({ scope: scopeOf(fault.netuid), invariant: name, expected: sides.expected.toString(), actual: sides.actual.toString() });
        return;
      }
      case "recount": {
        const c = chain();
        block(c);
        const bucket = fault.prepare(c);
        if (bucket === null) expectFoundWithinRound(c, name, fault.netuid, () => fault.corrupt(c), () => fault.sides(c));
        else
          expectFoundAtItsBucket(
          c,
          name,
          fault.netuid,
          () => bucket,
          () => fault.corrupt(c),
          () => fault.sides(c),
        );
        for (const u of SUBNETS) expect(subnet(c.state, u).paused).toBe(fault.netuid === null || fault.netuid === u);
        // The full recount (unpause, verify) sees it too.
        expect(fullRecount(c.state, fault.netuid).map((v) => v.invariant)).toContain(name);
        return;
      }
      case "entity": {
        const w = fault.world();
        expect(w.state.violations).toEqual([]);
        const sides = fault.corrupt(w);
        const r = w.run(fault.next(w));
        expect(r.error).toBeUndefined();
        const recorded = (r.events[0]?.payload.violations ?? []) as Array<Record<string, string>>;
        const violation = { scope: `entity:${ENTITY}`, invariant: name, expected: sides.expected.toString(), actual: sides.actual.toString() };
        expect(recorded).toEqual([violation]);
        expect(w.state.violations).toEqual([violation]);
        expect(entityRecord(w).frozenByViolation).toBe(true);
        expect(report(w.state).invariants.find((row) => row.scope === `entity:${ENTITY}` && row.name === name)?.ok).toBe(false);
        return;
      }
      case "command": {
        const { events, scope, sides } = fault.run();
        const recorded = events.filter((e) => e.type === "CriticalInvariantViolation");
        expect(recorded.map((e) => e.payload)).toEqual([{ scope, invariant: name, expected: sides.expected, actual: sides.actual }]);
        expect(String(sides.actual)).not.toBe("");
        return;
      }
    }
  });
});

describe("a balance written behind the ledger's back", () => {
  it.each([8, 1])(
    "+1 TAO on one account (recount %i bucket(s) per block): found within RECOUNT_BUCKETS blocks, every subnet paused, unpause refused until the cell is restored",
    (perBlock) => {
      const c = chain();
      block(c, [{ call: "root.set_parameter", signer: ROOT, args: { name: "recountPerBlock", value: perBlock } }]);
      expect(params(c.state.chain).recountPerBlock).toBe(perBlock);
      const { ledger } = c.state;
      const bob = ledger.account(TAO, BOB);
      const honest = ledger.balance(bob);
      const { at, faultAt } = expectFoundAtItsBucket(
        c,
        "tao_account_recount",
        null,
        () => ledger.bucketOf(bob),
        () => ledger.corruptForTest(bob, honest + TAO_RAO),
        () => {
          const total = ledger.balance(cellNamed(ledger, `TAO.bucket[${ledger.bucketOf(bob)}]`));
          return { expected: total, actual: total + TAO_RAO };
        },
      );
      expect(at - faultAt).toBeLessThanOrEqual(RECOUNT_BUCKETS / perBlock);
      for (const u of SUBNETS) expect(subnet(c.state, u).paused).toBe(true);
      // Root's unpause runs the full recount: refused while the cell is wrong, for every subnet.
      for (const u of SUBNETS) {
        const refused = unpause(c, u);
        expect(failedCode(refused)).toBe("INVARIANT_STILL_FAILING");
        expect(refused.find((e) => e.k === "failed")).toMatchObject({ code: "INVARIANT_STILL_FAILING" });
        expect(subnet(c.state, u).paused).toBe(true);
      }
      expect(report(c.state).invariants.find((r) => r.scope === "tao" && r.name === "tao_account_recount")?.ok).toBe(false);
      // Restored, unpause passes the recount and stays unpaused; the violation is resolved once no subnet is paused.
      ledger.corruptForTest(bob, honest);
      for (const u of SUBNETS) expect(unpause(c, u).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: u, forced: false });
      for (const u of SUBNETS) expect(subnet(c.state, u).paused).toBe(false);
      expect(c.state.violations).toEqual([]);
      expect(report(c.state).unresolved_violations).toEqual([]);
      for (let i = 0; i < RECOUNT_BUCKETS / perBlock + 1; i++) expect(violations(block(c))).toEqual([]);
    },
  );
});

describe("a corruption that persists on a paused subnet", () => {
  it("is recorded once over 500 blocks, its later sightings counted as repeats", () => {
    const c = chain();
    block(c);
    // Σ TotalHotkeyAlpha one rao off: only alpha_out_equals_staked_plus_pending sees it, every block.
    const s = subnet(c.state, 2);
    c.state.chain.subnets.set(2, { ...s, stakedAlpha: s.stakedAlpha + 1n });
    const recorded: Array<[number, ViolationEffect]> = [];
    let pauses = 0;
    for (let i = 0; i < 500; i++) {
      const effects = block(c);
      for (const v of violations(effects)) recorded.push([i, v]);
      pauses += paused(effects).length;
    }
    const invariant = "alpha_out_equals_staked_plus_pending";
    expect(recorded).toEqual([[0, { k: "violation", scope: "subnet:2", invariant, expected: expect.any(String), actual: expect.any(String) }]]);
    expect(pauses).toBe(1);
    expect(c.state.violations).toHaveLength(1);
    expect(c.state.violationRepeats.get(`subnet:2|${invariant}`)?.repeats).toBe(499);
    const unresolved = report(c.state).unresolved_violations;
    expect(unresolved).toEqual([{ scope: "subnet:2", invariant, expected: expect.any(String), actual: expect.any(String), repeats: 499 }]);
    expect(BigInt(unresolved[0]?.actual ?? "0") - BigInt(unresolved[0]?.expected ?? "0")).toBe(1n);
    // The latest sighting's values are kept with the count.
    const latest = c.state.violationRepeats.get(`subnet:2|${invariant}`);
    expect(BigInt(latest?.actual ?? "0") - BigInt(latest?.expected ?? "0")).toBe(1n);
    // Subnet 1 was never paused and kept receiving emission.
    expect(subnet(c.state, 1).paused).toBe(false);
    expect(subnet(c.state, 2).paused).toBe(true);
    expect(violations(block(c))).toEqual([]);
  });
});

describe("unpause runs the full recount of its scope", () => {
  /** Subnet 2 paused by a one-off fault (a dropped deposit) that does not persist. */
  function pausedForAnotherReason(): Chain {
    const c = chain();
    block(c);
    const effects = runFaultBlock(c, FAULTS.alpha_no_live_credit as Extract<Fault, { kind: "in-block" }>, "alpha_no_live_credit").effects;
    expect(paused(effects)).toEqual([2]);
    return c;
  }

  it("a one-off fault that left nothing behind: unpause succeeds", () => {
    const c = pausedForAnotherReason();
    stakedOnSubnet2(c);
    expect(unpause(c, 2).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: false });
  });

  it("a stake pool of subnet 2 corrupted while it is paused: refused, though no block has recounted that pool yet", () => {
    const c = pausedForAnotherReason();
    const poolKey = stakedOnSubnet2(c);
    awayFrom(c, poolBucket(c.state, poolKey), 5);
    const pool = c.state.chain.pools.get(poolKey);
    if (!pool) throw new Error("no pool");
    c.state.chain.pools.set(poolKey, { ...pool, value: pool.value + 1n });
    const refused = unpause(c, 2);
    expect(violations(refused)).toEqual([]); // the per-block recount has not reached it
    expect(refused.find((e) => e.k === "failed")).toMatchObject({ code: "INVARIANT_STILL_FAILING" });
    expect(subnet(c.state, 2).paused).toBe(true);
    c.state.chain.pools.set(poolKey, pool);
    expect(unpause(c, 2).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: false });
  });

  it("a stake pool dropped while subnet 2 is paused: refused (staked_alpha_recount)", () => {
    const c = pausedForAnotherReason();
    const poolKey = stakedOnSubnet2(c);
    const pool = c.state.chain.pools.get(poolKey);
    if (!pool) throw new Error("no pool");
    c.state.chain.pools.delete(poolKey);
    expect(fullRecount(c.state, 2).map((v) => v.invariant)).toEqual(["staked_alpha_recount"]);
    expect(failedCode(unpause(c, 2))).toBe("INVARIANT_STILL_FAILING");
    c.state.chain.pools.set(poolKey, pool);
    expect(unpause(c, 2).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: false });
  });

  it("the other subnet's recount does not block it; a TAO recount failure blocks every subnet", () => {
    const c = pausedForAnotherReason();
    // Subnet 1 is not paused: an alpha cell of subnet 1 written behind the ledger's back stays out of subnet 2's scope.
    c.state.ledger.corruptForTest(c.state.ledger.account(alpha(1), account.stake(GHOST)), 5n);
    expect(fullRecount(c.state, 2)).toEqual([]);
    expect(fullRecount(c.state, 1).map((v) => v.invariant)).toContain("alpha_account_recount");
    const bob = c.state.ledger.account(TAO, BOB);
    c.state.ledger.corruptForTest(bob, c.state.ledger.balance(bob) + 1n);
    expect(fullRecount(c.state, 2).map((v) => [v.scope, v.invariant])).toContainEqual(["tao", "tao_account_recount"]);
    expect(failedCode(unpause(c, 2))).toBe("INVARIANT_STILL_FAILING");
  });
});

describe("strict mode", () => {
  it("throws on the violation instead of recording it", () => {
    const c = chain({ strict: true });
    expect(() =>
      block(c, [], {
        beforeFinalize: (st) => {
          const s = subnet(st, 2);
          st.chain.subnets.set(2, { ...s, alphaOut: s.alphaOut + 1n });
        },
      }),
    ).toThrow(/alpha_issuance_equals_in_plus_out in subnet:2/);
  });
});

// ---- found by mutation testing (npm run mutate:stryker): checks that were never made to matter ----

describe("the ledger's own identities (checkTotals and recount, used by verify and recovery)", () => {
  function ledgerWith(owners: number): Ledger {
    const state = createState({ strict: true });
    const { ledger } = state;
    ledger.beginScope("setup");
    for (let i = 0; i < owners; i++) ledger.deposit(ledger.account(TAO, `5owner-${i}`), ledger.mint(TAO, 100n));
    expect(ledger.endScope()).toEqual([]);
    return ledger;
  }

  it("value in flight inside a scope is counted: issuance == balances + live holds, and no_live_credit waits for the scope's end", () => {
    const ledger = ledgerWith(2);
    ledger.beginScope("moving");
    const credit = ledger.withdraw(ledger.account(TAO, "5owner-0"), 40n);
    expect(ledger.totals(TAO).live).toBe(40n);
    expect(ledger.checkTotals()).toEqual([]);
    // Broken while value is in flight: the report counts the credit on the balances' side.
    bump(ledger, counter(ledger, TAO, "issuance"), 1n);
    expect(ledger.checkTotals()).toEqual([
      { asset: TAO, invariant: "issuance_equals_balances", expected: 201n, actual: 200n },
      { asset: TAO, invariant: "minted_equals_issuance_recycled_burned", expected: 200n, actual: 201n },
    ]);
    bump(ledger, counter(ledger, TAO, "issuance"), -1n);
    ledger.deposit(ledger.account(TAO, "5owner-1"), credit);
    // Recycled and burned value both left issuance: minted == issuance + recycled + burned.
    ledger.recycle(ledger.withdraw(ledger.account(TAO, "5owner-1"), 30n));
    ledger.burn(ledger.withdraw(ledger.account(TAO, "5owner-1"), 20n));
    expect(ledger.endScope()).toEqual([]);
    expect(ledger.totals(TAO)).toMatchObject({ minted: 200n, issuance: 150n, recycled: 30n, burned: 20n });
    expect(ledger.checkTotals()).toEqual([]);
    expect(ledger.recount()).toEqual([]);
  });

  it("each O(1) identity is reported on its own", () => {
    const ledger = ledgerWith(2);
    ledger.beginScope("recycle");
    ledger.recycle(ledger.withdraw(ledger.account(TAO, "5owner-0"), 10n));
    expect(ledger.endScope()).toEqual([]);
    bump(ledger, counter(ledger, TAO, "burned"), 3n);
    // minted 200 against issuance 190 + recycled 10 + burned 3.
    expect(ledger.checkTotals()).toEqual([{ asset: TAO, invariant: "minted_equals_issuance_recycled_burned", expected: 200n, actual: 203n }]);
    bump(ledger, counter(ledger, TAO, "burned"), -3n);
    // A credit the ledger forgot to retire: live (and issuance, and minted) 5 outside any scope.
    for (const name of ["live", "issuance", "minted"] as const) bump(ledger, counter(ledger, TAO, name), 5n);
    expect(ledger.checkTotals()).toEqual([{ asset: TAO, invariant: "no_live_credit", expected: 0n, actual: 5n }]);
    ledger.beginScope("inside");
    expect(ledger.checkTotals()).toEqual([]);
    ledger.abort();
  });

  it("the cap: exactly 21M holds, one rao more or a negative issuance does not", () => {
    const ledger = ledgerWith(1);
    const forge = (amount: bigint) => {
      creditFromNowhere(ledger, TAO, "5owner-0", amount);
      bump(ledger, counter(ledger, TAO, "issuance"), amount);
      bump(ledger, counter(ledger, TAO, "minted"), amount);
    };
    forge(MAX_ISSUANCE - 100n);
    expect(ledger.totals(TAO).issuance).toBe(MAX_ISSUANCE);
    expect(ledger.checkTotals()).toEqual([]);
    forge(1n);
    expect(ledger.checkTotals()).toEqual([{ asset: TAO, invariant: "issuance_cap", expected: MAX_ISSUANCE, actual: MAX_ISSUANCE + 1n }]);
    forge(-MAX_ISSUANCE - 2n);
    expect(ledger.checkTotals()).toEqual([{ asset: TAO, invariant: "issuance_cap", expected: MAX_ISSUANCE, actual: -1n }]);
  });

  it("two corruptions that cancel out in the sum are still found, in the first bucket that differs", () => {
    const ledger = ledgerWith(RECOUNT_BUCKETS * 2);
    const a = ledger.account(TAO, "5owner-0");
    const b = ledger.account(TAO, `5owner-${RECOUNT_BUCKETS * 2 - 1}`);
    expect(ledger.bucketOf(a)).not.toBe(ledger.bucketOf(b));
    const [low, high] = ledger.bucketOf(a) < ledger.bucketOf(b) ? [a, b] : [b, a];
    ledger.corruptForTest(low, ledger.balance(low) + 1n);
    ledger.corruptForTest(high, ledger.balance(high) - 1n);
    const lowTotal = ledger.balance(cellNamed(ledger, `TAO.bucket[${ledger.bucketOf(low)}]`));
    const first = [{ asset: TAO, invariant: "recount", expected: lowTotal, actual: lowTotal + 1n }];
    expect(ledger.checkTotals()).toEqual([]);
    expect(ledger.recount()).toEqual(first);
    expect(ledger.recount(TAO)).toEqual(first);
    expect(ledger.recountBucket(ledger.bucketOf(high), TAO)).toHaveLength(1);
  });

  it("refuses a bucket that does not exist", () => {
    const ledger = ledgerWith(1);
    for (const bucket of [-1, RECOUNT_BUCKETS, 0.5]) expect(() => ledger.recountBucket(bucket)).toThrow(/no recount bucket/);
    expect(ledger.recountBucket(RECOUNT_BUCKETS - 1)).toEqual([]);
  });
});

describe("the chain's checks outside a block (verify, unpause, the invariants report)", () => {
  it("stateInvariants: nothing on a healthy chain, nor while a command has value in flight; a broken subnet's identities by name", () => {
    const c = chain();
    block(c);
    expect(stateInvariants(c.state)).toEqual([]);
    const { ledger } = c.state;
    ledger.beginScope("in flight");
    const credit = ledger.withdraw(ledger.account(TAO, BOB), 5n);
    expect(stateInvariants(c.state)).toEqual([]);
    ledger.deposit(ledger.account(TAO, BOB), credit);
    expect(ledger.endScope()).toEqual([]);
    const s = subnet(c.state, 2);
    c.state.chain.subnets.set(2, { ...s, alphaOut: s.alphaOut + 1n });
    expect(stateInvariants(c.state).map((v) => [v.scope, v.invariant])).toEqual([
      ["subnet:2", "alpha_issuance_equals_in_plus_out"],
      ["subnet:2", "alpha_out_equals_staked_plus_pending"],
    ]);
  });

  it("the cap for TAO and alpha: exactly 21M holds, a negative issuance does not", () => {
    const c = chain();
    block(c);
    const { ledger } = c.state;
    for (const [asset, owner] of [
      [TAO, BOB],
      [alpha(2), account.alphaIn(2)],
    ] as const) {
      const amount = MAX_ISSUANCE - ledger.totals(asset).issuance;
      creditFromNowhere(ledger, asset, owner, amount);
      bump(ledger, counter(ledger, asset, "issuance"), amount);
      bump(ledger, counter(ledger, asset, "minted"), amount);
    }
    expect(stateInvariants(c.state)).toEqual([]);
    const owner = ledger.account(TAO, BOB);
    const down = MAX_ISSUANCE + 1n;
    ledger.corruptForTest(owner, ledger.balance(owner) - down);
    bump(ledger, cellNamed(ledger, `TAO.bucket[${ledger.bucketOf(owner)}]`), -down);
    for (const name of ["balances", "issuance", "minted"] as const) bump(ledger, counter(ledger, TAO, name), -down);
    expect(stateInvariants(c.state)).toEqual([{ scope: "tao", netuid: null, invariant: "tao_issuance_cap", expected: MAX_ISSUANCE, actual: -1n, ok: false }]);
  });

  it("value left in flight outside a scope: tao_ and alpha_no_live_credit, each once", () => {
    const c = chain();
    block(c);
    const { ledger } = c.state;
    // A credit the ledger forgot to retire: its live total (and issuance, and minted) 5 outside any scope.
    for (const asset of [TAO, alpha(2)]) for (const name of ["live", "issuance", "minted"] as const) bump(ledger, counter(ledger, asset, name), 5n);
    const taoLive = { scope: "tao", netuid: null, invariant: "tao_no_live_credit", expected: 0n, actual: 5n, ok: false };
    const alphaLive = { scope: "subnet:2", netuid: 2, invariant: "alpha_no_live_credit", expected: 0n, actual: 5n, ok: false };
    // Alpha issuance is also SubnetAlphaIn + SubnetAlphaOut: 5 alpha in flight is 5 alpha in neither.
    const named = ["tao_no_live_credit", "alpha_no_live_credit", "alpha_issuance_equals_in_plus_out"];
    for (const found of [stateInvariants(c.state), fullRecount(c.state, null), fullRecount(c.state, 2)]) {
      expect(found.map((v) => v.invariant).sort()).toEqual([...named].sort());
      expect(found.filter((v) => v.invariant.endsWith("_no_live_credit")).sort((a, b) => a.scope.localeCompare(b.scope))).toEqual([alphaLive, taoLive]);
    }
    // In a block, value may be in flight until onFinalize, which checks the live totals once.
    expect(violations(block(c)).map((v) => v.invariant).sort()).toEqual([...named].sort());
  });

  it("a full recount reports each failure once, and only its scope's", () => {
    const c = chain();
    block(c);
    bump(c.state.ledger, counter(c.state.ledger, TAO, "burned"), 3n);
    expect(fullRecount(c.state, null).map((v) => v.invariant)).toEqual(["tao_minted_equals_issuance_recycled_burned"]);
    bump(c.state.ledger, counter(c.state.ledger, TAO, "burned"), -3n);
    // Subnet 1 broken, subnet 2 paused for a reason that has gone: 2's recount does not see 1.
    const effects = runFaultBlock(c, FAULTS.alpha_no_live_credit as Extract<Fault, { kind: "in-block" }>, "alpha_no_live_credit").effects;
    expect(paused(effects)).toEqual([2]);
    const s1 = subnet(c.state, 1);
    c.state.chain.subnets.set(1, { ...s1, stakedAlpha: s1.stakedAlpha + 1n });
    expect(fullRecount(c.state, 1).map((v) => v.invariant)).toEqual(["alpha_out_equals_staked_plus_pending", "staked_alpha_recount"]);
    expect(fullRecount(c.state, 2)).toEqual([]);
    expect(fullRecount(c.state, null).map((v) => v.scope)).toEqual(["subnet:1", "subnet:1"]);
    expect(unpause(c, 2).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: false });
  });

  it("verify's recount (every scope) finds a dropped pool, and a pool the ledger knows nothing of", () => {
    const c = chain();
    block(c);
    const poolKey = stakedOnSubnet2(c);
    const pool = c.state.chain.pools.get(poolKey);
    if (!pool) throw new Error("no pool");
    c.state.chain.pools.delete(poolKey);
    expect(fullRecount(c.state, null).map((v) => [v.scope, v.invariant])).toEqual([["subnet:2", "staked_alpha_recount"]]);
    c.state.chain.pools.set(poolKey, pool);
    expect(fullRecount(c.state, null)).toEqual([]);
    c.state.chain.pools.set(key.hotkey(2, "5phantom"), { value: 5n, shares: 5n, holders: new Map([[ALICE, 5n]]) });
    expect(fullRecount(c.state, 2).map((v) => [v.invariant, v.expected, v.actual])).toEqual([
      ["stake_pool_equals_ledger", 5n, 0n],
      ["staked_alpha_recount", subnet(c.state, 2).stakedAlpha, subnet(c.state, 2).stakedAlpha + 5n],
    ]);
  });

  it("a violation is recorded per (scope, invariant): the same invariant on two subnets is two records", () => {
    const c = chain();
    block(c);
    const effects = block(c, [], {
      beforeFinalize: (st) => {
        for (const u of SUBNETS) st.chain.subnets.set(u, { ...subnet(st, u), stakedAlpha: subnet(st, u).stakedAlpha + 1n });
      },
    });
    expect(violations(effects).map((v) => v.scope)).toEqual(["subnet:1", "subnet:2"]);
    expect(paused(effects)).toEqual(SUBNETS);
    expect(c.state.violations.map((v) => v.scope)).toEqual(["subnet:1", "subnet:2"]);
    // The beforeFinalize fault was undone with the block's journal; put the same fault in place for good.
    for (const u of SUBNETS) c.state.chain.subnets.set(u, { ...subnet(c.state, u), stakedAlpha: subnet(c.state, u).stakedAlpha + 1n });
    block(c);
    const id = (u: number) => `subnet:${u}|alpha_out_equals_staked_plus_pending`;
    expect([c.state.violationRepeats.get(id(1))?.repeats, c.state.violationRepeats.get(id(2))?.repeats]).toEqual([1, 1]);
    // Subnet 2 repaired and resumed: its record and count go, subnet 1's stay.
    c.state.chain.subnets.set(2, { ...subnet(c.state, 2), stakedAlpha: subnet(c.state, 2).stakedAlpha - 1n });
    expect(unpause(c, 2).find((e) => e.k === "resumed")).toMatchObject({ k: "resumed", netuid: 2, forced: false });
    expect(c.state.violations.map((v) => v.scope)).toEqual(["subnet:1"]);
    expect(c.state.violationRepeats.has(id(2))).toBe(false);
    expect(c.state.violationRepeats.get(id(1))?.repeats).toBe(2);
  });
});

describe("the invariants report (GET /v1/chain/invariants)", () => {
  /** Every (scope, invariant) the report must list, in its order: tao, subnets by number, entities by hotkey; table order within. */
  function expectedRows(subnets: number[], entities: string[], chainReady = true): string[] {
    const names = (scope: string) =>
      (Object.keys(INVARIANTS) as InvariantName[]).filter((n) => INVARIANTS[n].scope === scope && (chainReady || INVARIANTS[n].when !== "block"));
    return [
      ...names("tao").map((n) => `tao|${n}`),
      ...subnets.flatMap((u) => names("subnet").map((n) => `subnet:${u}|${n}`)),
      ...entities.flatMap((e) => names("entity").map((n) => `entity:${e}|${n}`)),
    ];
  }

  it("lists every invariant of every scope once, in order, all holding; recounted rows sum their parts", () => {
    const state = createState({ strict: false });
    execute(state, {
      kind: "genesis",
      endowments: [{ owner: ALICE, amount_rao: 1_000_000n * TAO_RAO }],
      chain: { root: ROOT, subnets: [10, 2, 1].map((netuid) => ({ netuid, ownerHotkey: `5owner${netuid}`, ownerColdkey: ALICE })) },
    });
    const c = { state };
    block(c);
    block(c, ["5val2", "5val2b"].map((hotkey) => ({ call: "subtensor.burned_register", signer: ALICE, args: { netuid: 2, hotkey } })));
    block(
      c,
      ["5val2", "5val2b"].map((hotkey, i) => ({ call: "subtensor.add_stake", signer: ALICE, args: { netuid: 2, hotkey, amount_rao: ((10n + BigInt(i)) * TAO_RAO).toString() } })),
    );
    const r = report(state);
    expect(r.checked_at_block).toBe(3);
    expect(r.invariants.map((row) => `${row.scope}|${row.name}`)).toEqual(expectedRows([1, 2, 10], []));
    expect(r.invariants.filter((row) => !row.ok)).toEqual([]);
    expect(r.unresolved_violations).toEqual([]);
    const row = (scope: string, name: string) => r.invariants.find((x) => x.scope === scope && x.name === name);
    const { ledger } = state;
    expect(row("tao", "tao_account_recount")).toMatchObject({ expected: ledger.totals(TAO).balances.toString(), actual: ledger.totals(TAO).balances.toString() });
    expect(row("subnet:1", "alpha_account_recount")).toMatchObject({ expected: ledger.totals(alpha(1)).balances.toString() });
    const staked = ledger.balanceOf(alpha(2), account.stake("5val2")) + ledger.balanceOf(alpha(2), account.stake("5val2b"));
    expect(row("subnet:2", "stake_pool_equals_ledger")).toMatchObject({ ok: true, expected: staked.toString(), actual: staked.toString() });
    expect(row("subnet:10", "stake_pool_equals_ledger")).toMatchObject({ ok: true, expected: "0", actual: "0" });
    expect(row("subnet:2", "staked_alpha_recount")).toMatchObject({ expected: subnet(state, 2).stakedAlpha.toString() });
    expect(row("tao", "tao_minted_equals_emission")).toMatchObject({ ok: true, expected: "0", actual: "0" });
    // A broken pool shows in the summed row; a block-only invariant shows the violation on record.
    const pool = state.chain.pools.get(key.hotkey(2, "5val2b"));
    if (!pool) throw new Error("no pool");
    state.chain.pools.set(key.hotkey(2, "5val2b"), { ...pool, value: pool.value + 1n });
    runFaultBlock(c, FAULTS.tao_injected_equals_minted as Extract<Fault, { kind: "in-block" }>, "tao_injected_equals_minted");
    const after = report(state);
    const broken = after.invariants.filter((x) => !x.ok).map((x) => `${x.scope}|${x.name}`);
    expect(broken).toEqual(["tao|tao_injected_equals_minted", "subnet:2|stake_pool_equals_ledger", "subnet:2|staked_alpha_recount"]);
    const poolRow = after.invariants.find((x) => x.scope === "subnet:2" && x.name === "stake_pool_equals_ledger");
    expect(BigInt(poolRow?.expected ?? "0") - BigInt(poolRow?.actual ?? "0")).toBe(1n);
    const recorded = state.violations.find((v) => v.invariant === "tao_injected_equals_minted");
    expect(after.invariants.find((x) => x.name === "tao_injected_equals_minted")).toMatchObject({ expected: recorded?.expected, actual: recorded?.actual });
  });

  it("a fresh node's report holds everywhere; an asset interned for a subnet that does not exist adds no scope", () => {
    const empty = createState();
    expect(report(empty).invariants.filter((row) => !row.ok)).toEqual([]);
    expect(report(empty).invariants.find((row) => row.name === "tao_issuance_cap")).toMatchObject({ ok: true, actual: "0" });
    const c = chain();
    block(c);
    // A refused stake on subnet 7 may intern its alpha asset: that is no subnet, and no scope of the report.
    c.state.ledger.account(alpha(7), account.stake(GHOST));
    expect(new Set(report(c.state).invariants.map((row) => row.scope))).toEqual(new Set(["tao", "subnet:1", "subnet:2"]));
  });

  it("a block-only violation fails its own scope's row only", () => {
    const c = chain();
    block(c);
    runFaultBlock(c, FAULTS.alpha_minted_equals_in_plus_out as Extract<Fault, { kind: "in-block" }>, "alpha_minted_equals_in_plus_out");
    const rows = report(c.state).invariants.filter((row) => row.name === "alpha_minted_equals_in_plus_out");
    expect(rows.map((row) => [row.scope, row.ok])).toEqual([
      ["subnet:1", true],
      ["subnet:2", false],
    ]);
  });

  it("without a chain, only the ledger's rows; entities listed by hotkey", () => {
    const bare = createState();
    execute(bare, { kind: "genesis", endowments: [{ owner: ALICE, amount_rao: 5n }] });
    expect(report(bare).invariants.map((row) => `${row.scope}|${row.name}`)).toEqual(expectedRows([], [], false));
    const w = world({ strict: false });
    neurons(w, ["5entityB", ENTITY]);
    for (const hotkey of ["5entityB", ENTITY]) w.ok({ kind: "register_entity", ts: w.now, hotkey });
    const r = report(w.state);
    expect(r.invariants.map((row) => `${row.scope}|${row.name}`)).toEqual(expectedRows([1], [ENTITY, "5entityB"]));
    expect(r.invariants.filter((row) => !row.ok)).toEqual([]);
  });
});

describe("entity checks that must hold", () => {
  it("a hotkey that is no entity has no entity invariants", () => {
    const w = entityWorld(4, 1);
    expect(observeEntity(w.state, "5nobody")).toEqual([]);
    expect(entityViolations(w.state, "5nobody")).toEqual([]);
  });

  it("an entity with no collateral on record holds", () => {
    const w = world({ strict: false });
    neurons(w, [ENTITY], 0n);
    w.ok({ kind: "register_entity", ts: w.now, hotkey: ENTITY });
    expect(w.state.chain.collateral.get(ENTITY)).toBeUndefined();
    expect(observeEntity(w.state, ENTITY).map((o) => [o.invariant, o.ok, o.expected, o.actual])).toEqual([
      ["active_within_limit", true, "500", "0"],
      ["ids_below_next_id", true, "0", "0"],
      ["reserve_equals_sum_of_reserves", true, "0", "0"],
      ["deposited_less_withdrawn_and_slashed_equals_free_plus_reserved", true, "0", "0"],
      ["attributed_plus_unattributed_equals_paid", true, "0", "0"],
    ]);
  });

  it("after a withdrawal, a slashing elimination and a creation, every check holds", () => {
    const w = entityWorld(4, 0);
    w.block([{ call: "collateral.withdraw", signer: "5cold", args: { hotkey: ENTITY, amount_rao: (7n * TAO_RAO).toString() } }]);
    expect(w.state.chain.collateral.get(ENTITY)?.withdrawn).toBe(7n * TAO_RAO);
    w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: 100_000, ts_ms: w.now }] });
    w.ok({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-0" });
    w.ok({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-1" });
    w.ok({
      kind: "place_order",
      ts: w.now,
      signer: ENTITY,
      subaccount_id: 0,
      trade_pair: "BTCUSD",
      order_type: "LONG",
      leverage: 0.5,
      order_uuid: "order-0",
      fingerprint: "LONG0.5",
      position_uuid: "position-0",
    } as Command);
    w.now += 1_000;
    w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: 85_000, ts_ms: w.now }] });
    const e = entityRecord(w);
    expect(e.eliminated).toBe(1);
    expect(e.slashedRao).toBeGreaterThan(0n);
    w.ok({ kind: "create_subaccount", ts: w.now, entity: ENTITY, uuid: "u-2" });
    expect(entityViolations(w.state, ENTITY)).toEqual([]);
    const flows = w.state.chain.collateral.get(ENTITY);
    const net = (flows?.deposited ?? 0n) - (flows?.withdrawn ?? 0n) - entityRecord(w).slashedRao;
    expect(observeEntity(w.state, ENTITY).map((o) => [o.invariant, o.expected, o.actual])).toEqual([
      ["active_within_limit", "4", "2"],
      ["ids_below_next_id", "3", "3"],
      ["reserve_equals_sum_of_reserves", entityRecord(w).reservedRao.toString(), entityRecord(w).reservedRao.toString()],
      ["deposited_less_withdrawn_and_slashed_equals_free_plus_reserved", net.toString(), net.toString()],
      ["attributed_plus_unattributed_equals_paid", "0", "0"],
    ]);
    expect(w.state.violations).toEqual([]);
    expect(entityRecord(w).frozenByViolation).toBe(false);
  });

  it("the full recount of an entity (unfreeze) counts its subaccount records again", () => {
    const w = entityWorld(3, 3);
    w.ok({ kind: "eliminate_subaccount", ts: w.now, synthetic: syntheticHotkey(ENTITY, 1), by: WORLD_ROOT });
    expect(entityRecord(w)).toMatchObject({ active: 2, eliminated: 1, nextId: 3 });
    expect(recountEntity(w.state, ENTITY)).toEqual([]);
    expect(recountEntity(w.state, "5nobody")).toEqual([]);
    const subs = w.state.entities.subaccounts;
    const key1 = syntheticHotkey(ENTITY, 1);
    const eliminated = subs.get(key1);
    if (!eliminated) throw new Error("no subaccount");
    const held = w.state.ledger.balanceOf(TAO, reservedAccount(ENTITY));
    const reserve = entityRecord(w).reservedRao;
    expect(held).toBe(reserve);
    expect(eliminated.reservedRao).toBe(0n); // elimination freed it
    // An eliminated subaccount's record flipped back to active, with a reserve, behind the counts and the ledger.
    subs.set(key1, { ...eliminated, status: "active", reservedRao: 5n });
    expect(recountEntity(w.state, ENTITY)).toEqual([
      { invariant: "ids_below_next_id", expected: "3", actual: "3" },
      { invariant: "reserve_equals_sum_of_reserves", expected: (reserve + 5n).toString(), actual: held.toString() },
    ]);
    // With a limit of 2 the same record puts it over the limit too.
    w.state.entities.entities.set(ENTITY, { ...entityRecord(w), maxSubaccounts: 2 });
    expect(recountEntity(w.state, ENTITY).map((v) => [v.invariant, v.expected, v.actual])[0]).toEqual(["active_within_limit", "2", "3"]);
    w.state.entities.entities.set(ENTITY, { ...entityRecord(w), maxSubaccounts: 3 });
    // A record that is gone: counted neither active nor eliminated.
    subs.delete(key1);
    expect(recountEntity(w.state, ENTITY)).toEqual([{ invariant: "ids_below_next_id", expected: "3", actual: "2" }]);
    subs.set(key1, eliminated);
    const key0 = syntheticHotkey(ENTITY, 0);
    const active = subs.get(key0);
    if (!active) throw new Error("no subaccount");
    subs.delete(key0);
    expect(recountEntity(w.state, ENTITY)).toEqual([
      { invariant: "ids_below_next_id", expected: "3", actual: "2" },
      { invariant: "reserve_equals_sum_of_reserves", expected: (reserve - active.reservedRao).toString(), actual: held.toString() },
    ]);
    subs.set(key0, active);
    expect(recountEntity(w.state, ENTITY)).toEqual([]);
    // The reserve account credited behind the records' back.
    const { ledger } = w.state;
    ledger.transfer(ledger.account(TAO, account.collateral(ENTITY)), ledger.account(TAO, reservedAccount(ENTITY)), 1n);
    expect(recountEntity(w.state, ENTITY)).toEqual([{ invariant: "reserve_equals_sum_of_reserves", expected: reserve.toString(), actual: (held + 1n).toString() }]);
    ledger.transfer(ledger.account(TAO, reservedAccount(ENTITY)), ledger.account(TAO, account.collateral(ENTITY)), 1n);
    expect(recountEntity(w.state, ENTITY)).toEqual([]);
    // The running reserve sum moved alone: the recount (Σ records == held) holds against the ledger but not the record.
    w.state.entities.entities.set(ENTITY, { ...entityRecord(w), reservedRao: reserve + 1n });
    expect(recountEntity(w.state, ENTITY)).toEqual([{ invariant: "reserve_equals_sum_of_reserves", expected: reserve.toString(), actual: held.toString() }]);
  });
});
