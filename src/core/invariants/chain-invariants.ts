import { alpha, netuidOf, TAO } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { account, head, params } from "../chain/chain-state.ts";

export interface ChainViolation {
  /** `tao` for issuance-wide checks (they pause every subnet), `subnet:N` otherwise. */
  scope: string;
  netuid: number | null;
  invariant: string;
  expected: bigint;
  actual: bigint;
}

/** What the block itself minted and injected, measured by onFinalize. */
export interface BlockTotals {
  emission: bigint;
  mintedTao: bigint;
  injected: bigint;
  mintedAlpha: Map<number, bigint>;
  expectedAlpha: Map<number, bigint>;
}

/**
 * DESIGN.md §3.6, each an O(1) comparison of running totals with ledger balances, for every
 * subnet (paused ones included), plus a recount of a few stake pools per block against the ledger,
 * round-robin from the block number (every pool within ceil(pools / recountPerBlock) blocks).
 * `fullRecount: netuid` recounts every pool of that subnet (unpause).
 */
export function checkChainInvariants(state: State, block: BlockTotals | null, options: { fullRecount?: number } = {}): ChainViolation[] {
  const { ledger, chain } = state;
  const out: ChainViolation[] = [];
  const fail = (netuid: number | null, invariant: string, expected: bigint, actual: bigint) =>
    out.push({ scope: netuid === null ? "tao" : `subnet:${netuid}`, netuid, invariant, expected, actual });

  for (const v of ledger.checkAsset(TAO)) fail(null, `tao_${v.invariant}`, v.expected, v.actual);
  // At onFinalize every effect is done: value still in flight is value about to be lost.
  if (block && ledger.totals(TAO).live !== 0n) fail(null, "tao_no_live_credit", 0n, ledger.totals(TAO).live);
  if (block) {
    if (block.mintedTao !== block.emission) fail(null, "tao_minted_equals_emission", block.emission, block.mintedTao);
    if (block.injected !== block.mintedTao) fail(null, "tao_injected_equals_minted", block.mintedTao, block.injected);
  }

  for (const netuid of chain.subnets.sortedKeys()) {
    const s = chain.subnets.get(netuid);
    if (!s) continue;
    const a = alpha(netuid);
    for (const v of ledger.checkAsset(a)) fail(netuid, `alpha_${v.invariant}`, v.expected, v.actual);
    const totals = ledger.totals(a);
    if (block && totals.live !== 0n) fail(netuid, "alpha_no_live_credit", 0n, totals.live);
    const issuance = totals.issuance;
    const alphaIn = ledger.balanceOf(a, account.alphaIn(netuid));
    if (issuance !== alphaIn + s.alphaOut) fail(netuid, "alpha_issuance_equals_in_plus_out", issuance, alphaIn + s.alphaOut);
    const pending =
      ledger.balanceOf(a, account.pendingServer(netuid)) +
      ledger.balanceOf(a, account.pendingValidator(netuid)) +
      ledger.balanceOf(a, account.pendingOwnerCut(netuid));
    if (s.alphaOut !== s.stakedAlpha + pending) fail(netuid, "alpha_out_equals_staked_plus_pending", s.alphaOut, s.stakedAlpha + pending);
    if (block) {
      const minted = block.mintedAlpha.get(netuid) ?? 0n;
      const expected = block.expectedAlpha.get(netuid) ?? 0n;
      if (minted !== expected) fail(netuid, "alpha_minted_equals_in_plus_out", expected, minted);
    }
  }

  // Recounts catch code that moved value behind the running totals' back.
  const pools = chain.pools.sortedKeys();
  const recount = (poolKey: string) => {
    const slash = poolKey.indexOf("/");
    const netuid = Number(poolKey.slice(0, slash));
    const hotkey = poolKey.slice(slash + 1);
    const held = ledger.balanceOf(alpha(netuid), account.stake(hotkey));
    const value = chain.pools.get(poolKey)?.value ?? 0n;
    if (held !== value) fail(netuid, "stake_pool_equals_ledger", value, held);
  };
  if (options.fullRecount !== undefined) {
    const netuid = options.fullRecount;
    let staked = 0n;
    for (const k of pools.filter((p) => p.startsWith(`${netuid}/`))) {
      recount(k);
      staked += chain.pools.get(k)?.value ?? 0n;
    }
    const s = chain.subnets.get(netuid);
    if (s && staked !== s.stakedAlpha) fail(netuid, "staked_alpha_recount", s.stakedAlpha, staked);
  } else {
    if (pools.length > 0) {
      const k = Math.min(params(chain).recountPerBlock, pools.length);
      const start = (head(chain).block * k) % pools.length;
      for (let i = 0; i < k; i++) recount(pools[(start + i) % pools.length] as string);
    }
    // A few ledger accounts too: a balance written behind the ledger's back shows up here.
    for (const v of ledger.recountSome(params(chain).recountPerBlock, head(chain).block)) {
      const netuid = netuidOf(v.asset);
      fail(netuid, `${netuid === null ? "tao" : "alpha"}_account_recount`, v.expected, v.actual);
    }
  }
  return out;
}
