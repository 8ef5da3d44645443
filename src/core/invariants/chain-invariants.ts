import { type AssetId, alpha, netuidOf, TAO } from "../ledger/asset.ts";
import { type AccountHandle, type Ledger, MAX_ISSUANCE, RECOUNT_BUCKETS, RECOUNT_RUN, type TotalsViolation } from "../ledger/ledger.ts";
import type { State } from "../machine/state.ts";
import { account, head, key, params } from "../chain/chain-state.ts";
import type { InvariantName, Violation } from "./invariant-table.ts";

/** Ledger owners of stake accounts (chain-state `account.stake`). */
const STAKE_PREFIX = "stake:";

/** What the block itself minted and injected, measured by onFinalize. */
export interface BlockTotals {
  emission: bigint;
  mintedTao: bigint;
  injected: bigint;
  mintedAlpha: Map<number, bigint>;
  expectedAlpha: Map<number, bigint>;
}

export type ChainViolation = Violation & { expected: bigint; actual: bigint };

/** One comparison: `ok` defaults to expected === actual. */
type Check = (netuid: number | null, invariant: InvariantName, expected: bigint, actual: bigint, ok?: boolean) => void;

/** A comparison made, whether it held or not (the invariants report shows both). */
export type Observation = ChainViolation & { ok: boolean };

/** Collects failures only, or (`everything`) every comparison. */
function collector(everything = false): [Observation[], Check] {
  const out: Observation[] = [];
  const check: Check = (netuid, invariant, expected, actual, ok = expected === actual) => {
    if (ok && !everything) return;
    out.push({ scope: netuid === null ? "tao" : `subnet:${netuid}`, netuid, invariant, expected, actual, ok });
  };
  return [out, check];
}

/**
 * onFinalize (DESIGN.md §3.6): every O(1) identity of every subnet, paused ones included, what the
 * block minted against what it should have, and one recount bucket of ledger accounts and stake
 * pools (`bucketsPerBlock`, round-robin from the block number) unless `recount` is false.
 */
export function checkBlockInvariants(state: State, block: BlockTotals, options: { recount?: boolean } = {}): ChainViolation[] {
  const [out, fail] = collector();
  const { ledger } = state;
  // At onFinalize every effect is done: value still in flight is value about to be lost.
  checkStateInvariants(state, fail);
  if (ledger.totals(TAO).live !== 0n) fail(null, "tao_no_live_credit", 0n, ledger.totals(TAO).live);
  for (const netuid of state.chain.subnets.sortedKeys()) {
    const live = ledger.totals(alpha(netuid)).live;
    if (live !== 0n) fail(netuid, "alpha_no_live_credit", 0n, live);
  }
  if (block.mintedTao !== block.emission) fail(null, "tao_minted_equals_emission", block.emission, block.mintedTao);
  if (block.injected !== block.mintedTao) fail(null, "tao_injected_equals_minted", block.mintedTao, block.injected);
  for (const [netuid, expected] of block.expectedAlpha) {
    const minted = block.mintedAlpha.get(netuid) ?? 0n;
    if (minted !== expected) fail(netuid, "alpha_minted_equals_in_plus_out", expected, minted);
  }
  if (options.recount === false) return out;
  const perBlock = bucketsPerBlock(state);
  const first = head(state.chain).block * perBlock;
  for (let i = 0; i < perBlock; i++) recountBucket(state, (first + i) % RECOUNT_BUCKETS, fail);
  return out;
}

/** About this many accounts and pools are recounted per block at most (DESIGN.md §2 rule 8: no task over 10 ms). */
export const RECOUNT_CELLS_PER_BLOCK = 4_096;

/**
 * Buckets recounted per block: `recountPerBlock`, fewer when the buckets are so full that they
 * would pass RECOUNT_CELLS_PER_BLOCK, never fewer than one, so every cell is recounted within
 * RECOUNT_BUCKETS blocks (two passes while the size crosses a step). It follows the size of the
 * ledger and the pools, which only *when* a fault is found depends on, never the state.
 */
export function bucketsPerBlock(state: State): number {
  const configured = Math.min(Math.max(1, params(state.chain).recountPerBlock), RECOUNT_BUCKETS);
  const perBucket = (state.ledger.accountCount + state.chain.pools.size) / RECOUNT_BUCKETS;
  return Math.max(1, Math.min(configured, Math.floor(RECOUNT_CELLS_PER_BLOCK / Math.max(1, perBucket))));
}

/** The identities that hold between commands, each an O(1) comparison (no recount). */
export function stateInvariants(state: State): ChainViolation[] {
  const [out, fail] = collector();
  checkStateInvariants(state, fail);
  return out;
}

function checkStateInvariants(state: State, fail: Check): void {
  const { ledger, chain } = state;
  checkLedgerAsset(state, null, fail);
  for (const netuid of chain.subnets.sortedKeys()) {
    const s = chain.subnets.get(netuid);
    if (!s) continue;
    const a = alpha(netuid);
    checkLedgerAsset(state, netuid, fail);
    const alphaIn = ledger.balanceOf(a, account.alphaIn(netuid));
    const issuance = ledger.totals(a).issuance;
    fail(netuid, "alpha_issuance_equals_in_plus_out", issuance, alphaIn + s.alphaOut);
    const pending =
      ledger.balanceOf(a, account.pendingServer(netuid)) +
      ledger.balanceOf(a, account.pendingValidator(netuid)) +
      ledger.balanceOf(a, account.pendingOwnerCut(netuid));
    fail(netuid, "alpha_out_equals_staked_plus_pending", s.alphaOut, s.stakedAlpha + pending);
  }
}

/** The ledger's O(1) identities for TAO (`netuid` null) or a subnet's alpha, from its running totals. */
function checkLedgerAsset(state: State, netuid: number | null, check: Check): void {
  const { ledger } = state;
  const t = ledger.totals(netuid === null ? TAO : alpha(netuid));
  const prefix = netuid === null ? "tao" : "alpha";
  check(netuid, `${prefix}_issuance_equals_balances`, t.issuance, t.balances + t.live);
  check(netuid, `${prefix}_minted_equals_issuance_recycled_burned`, t.minted, t.issuance + t.recycled + t.burned);
  check(netuid, `${prefix}_issuance_cap`, MAX_ISSUANCE, t.issuance, t.issuance >= 0n && t.issuance <= MAX_ISSUANCE);
  // Inside a scope value may be in flight; a block checks its own live total at onFinalize.
  if (!ledger.inScope) check(netuid, `${prefix}_no_live_credit`, 0n, t.live);
}

/**
 * One recount bucket: the ledger accounts in it against their bucket totals, and the stake pools
 * in it (by arrival, as `recountBucketOf` places accounts) against their stake accounts. A pool's running
 * total is its ledger account, which only the ledger moves.
 */
function recountBucket(state: State, bucket: number, fail: Check): void {
  const { ledger, chain } = state;
  for (const v of ledger.recountBucket(bucket)) fail(netuidOf(v.asset), ledgerInvariant(v), v.expected, v.actual);
  // The other direction: stake in the ledger whose pool is gone is missing from Σ pool values.
  for (const h of ledger.bucketAccounts(bucket)) {
    const owner = ledger.ownerOf(h);
    if (!owner.startsWith(STAKE_PREFIX)) continue;
    const netuid = netuidOf(ledger.assetOf(h));
    const held = ledger.balance(h);
    if (netuid === null || held === 0n || chain.pools.has(key.hotkey(netuid, owner.slice(STAKE_PREFIX.length)))) continue;
    fail(netuid, "staked_alpha_recount", held, 0n);
  }
  const pools = state.chain.pools.keysByArrival();
  for (let run = bucket * RECOUNT_RUN; run < pools.length; run += RECOUNT_BUCKETS * RECOUNT_RUN) {
    const end = Math.min(run + RECOUNT_RUN, pools.length);
    for (let i = run; i < end; i++) recountPool(state, pools[i] as string, fail);
  }
}

function recountPool(state: State, poolKey: string, fail: Check): bigint {
  const { netuid, stake } = poolAccount(state.ledger, poolKey);
  const value = state.chain.pools.get(poolKey)?.value ?? 0n;
  const held = stake === undefined ? 0n : state.ledger.balance(stake);
  fail(netuid, "stake_pool_equals_ledger", value, held);
  return value;
}

/**
 * A pool key's subnet and stake account, parsed once per ledger: a block recounts thousands of
 * pools, and parsing each key again (a new string to hash per lookup) costs most of the recount.
 */
const poolAccounts = new WeakMap<Ledger, Map<string, { netuid: number; stake: AccountHandle | undefined }>>();

function poolAccount(ledger: Ledger, poolKey: string): { netuid: number; stake: AccountHandle | undefined } {
  let known = poolAccounts.get(ledger);
  if (!known) poolAccounts.set(ledger, (known = new Map()));
  let found = known.get(poolKey);
  if (found?.stake === undefined) {
    const slash = poolKey.indexOf("/");
    const netuid = Number(poolKey.slice(0, slash));
    found = { netuid, stake: ledger.findAccount(alpha(netuid), account.stake(poolKey.slice(slash + 1))) };
    known.set(poolKey, found);
  }
  return found;
}

/**
 * The full O(N) recount of a scope (unpause, verify, the invariants report): `null` is `tao`, the
 * whole ledger; a netuid recounts TAO (whose violations pause every subnet) and that subnet's alpha
 * and stake pools. Also every O(1) identity.
 */
export function fullRecount(state: State, netuid: number | null): ChainViolation[] {
  // Sorted, so the first failure (which an unpause refusal names in its block's event) does not
  // depend on node-local orders (account interning, pool arrival).
  return observeFullRecount(state, netuid, false)
    .filter((v) => netuid === null || v.netuid === null || v.netuid === netuid)
    .sort((a, b) => compare(a.scope, b.scope) || compare(a.invariant, b.invariant) || compare(a.expected.toString(), b.expected.toString()) || compare(a.actual.toString(), b.actual.toString()));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The full recount's comparisons: failures only, or (`everything`) every one made. */
export function observeFullRecount(state: State, netuid: number | null, everything: boolean): Observation[] {
  const [out, fail] = collector(everything);
  const { ledger, chain } = state;
  checkStateInvariants(state, fail);
  if (everything) {
    // The ledger reports only failed recounts: the rows that held show each asset's balances total.
    for (const a of ledger.assets) {
      const u = netuidOf(a);
      if (u === null || chain.subnets.has(u)) fail(u, u === null ? "tao_account_recount" : "alpha_account_recount", ledger.totals(a).balances, ledger.totals(a).balances);
    }
  }
  const assets: Array<AssetId | undefined> = netuid === null ? [undefined] : [TAO, alpha(netuid)];
  for (const asset of assets) {
    for (const v of ledger.recount(asset)) if (v.invariant === "recount") fail(netuidOf(v.asset), ledgerInvariant(v), v.expected, v.actual);
  }
  const staked = new Map<number, bigint>();
  for (const poolKey of chain.pools.keysByArrival()) {
    const u = Number(poolKey.slice(0, poolKey.indexOf("/")));
    if (netuid !== null && u !== netuid) continue;
    staked.set(u, (staked.get(u) ?? 0n) + recountPool(state, poolKey, fail));
  }
  for (const u of netuid === null ? chain.subnets.sortedKeys() : [netuid]) {
    const s = chain.subnets.get(u);
    if (!s) continue;
    fail(u, "staked_alpha_recount", s.stakedAlpha, staked.get(u) ?? 0n);
    // A subnet without pools holds the pool identity trivially; the report still lists it.
    if (everything && !staked.has(u)) fail(u, "stake_pool_equals_ledger", 0n, 0n);
  }
  return out;
}

/** The ledger's own names, in the scope of their asset: `tao_…` or `alpha_…`. */
function ledgerInvariant(v: TotalsViolation): InvariantName {
  const prefix = netuidOf(v.asset) === null ? "tao" : "alpha";
  return `${prefix}_${v.invariant === "recount" ? "account_recount" : v.invariant}` as InvariantName;
}

