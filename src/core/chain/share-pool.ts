/**
 * A hotkey's stake pool on one subnet, by coldkey: Subtensor's share pool
 * (`primitives/share-pool`, reference §4 "Share pool") in exact bigint arithmetic.
 *
 * value = TotalHotkeyAlpha (rao), shares = TotalHotkeyShares, holders = coldkey -> Alpha shares.
 * A holder's stake is floor(value * s_c / shares). Kept invariants, which the operations below
 * preserve:
 * - Σ holders' shares == shares exactly (so Σ valueOf <= value, and the slack is fewer rao than
 *   there are holders: reference A3);
 * - no holder with 0 shares; no holders <=> shares == 0 <=> value == 0;
 * - every rounding favours the pool (the holders who are not acting): a holder's operation never
 *   lowers another holder's value.
 *
 * Shares are fixed-point: the first stake into an empty pool mints amount * 2^64 shares (the 64
 * fractional bits of upstream's U64F64), so a share starts at 2^-64 rao. Its price rises only
 * through payments into the pool and sub-rao roundings; even the whole 21M supply paid into a
 * 1 rao position leaves it at 2.1e16 / 2^64 ≈ 0.001 rao; a position bought later, at a higher
 * price, holds fewer shares, so a stake first splits every share when a share has come to cost
 * 1 rao or more. Flooring newly minted shares therefore costs a staker under 1 rao. bigint has no width limit, so upstream's "precision would break"
 * escape hatch is not needed.
 *
 * Every operation touches `value`, `shares` and one holder entry, except the rare split of every
 * share before a stake at a price of 1 rao or more; callers copy the pool before changing it.
 * Map insertion order cannot affect a result (the split multiplies each entry alike).
 */
import { assert } from "../errors/errors.ts";

export const SHARE_SCALE = 1n << 64n;

/**
 * A partial unstake that would leave the holder fewer than 1/100_000 of the shares held before
 * it removes the whole position instead (upstream's `new_share / current_share < 0.00001`). So
 * does one that would leave shares worth 0 rao, which could never be withdrawn.
 */
export const DUST_SHARE_DIVISOR = 100_000n;

export interface SharePool {
  /** TotalHotkeyAlpha: the value of all shares, in rao. */
  value: bigint;
  /** TotalHotkeyShares: Σ of every holder's shares. */
  shares: bigint;
  /** coldkey -> shares (Alpha[hotkey, coldkey, netuid]); never holds a 0 entry. */
  holders: Map<string, bigint>;
}

export function createSharePool(): SharePool {
  return { value: 0n, shares: 0n, holders: new Map() };
}

/** A coldkey's stake: floor(value * s_c / shares); 0 for a coldkey without shares. */
export function valueOf(pool: SharePool, coldkey: string): bigint {
  const held = pool.holders.get(coldkey);
  if (held === undefined || pool.shares === 0n) return 0n;
  return (pool.value * held) / pool.shares;
}

/**
 * Adds `amount` rao of stake for `coldkey` (`update_value_for_one(c, +amount)`): value += amount
 * and the coldkey gets floor(amount * shares / value) new shares (amount * 2^64 in an empty
 * pool). Flooring the shares means the staker gets at most `amount` (at least amount - 1) of
 * value and the fraction goes to the other holders.
 */
export function stake(pool: SharePool, coldkey: string, amount: bigint): void {
  assert(amount >= 0n, `stake amount must be non-negative, got ${amount}`);
  if (amount === 0n) return;
  let minted: bigint;
  if (pool.shares === 0n) {
    assert(pool.value === 0n, `share pool has value ${pool.value} but no shares`);
    minted = amount * SHARE_SCALE;
  } else {
    // A share can come to cost a rao or more: a position bought at a high price is left alone and
    // then paid into. Flooring could then cost the staker more than 1 rao, so first split every
    // share into 2^64 (each holder's value is unchanged: both sides of value * s_c / shares scale).
    if (pool.shares <= pool.value) {
      for (const [c, s] of pool.holders) pool.holders.set(c, s * SHARE_SCALE);
      pool.shares *= SHARE_SCALE;
    }
    // value > 0 whenever shares > 0 (an unstake never takes the last rao from other holders).
    minted = (amount * pool.shares) / pool.value;
    assert(minted > 0n, `stake of ${amount} rao buys no shares (share price too high)`);
  }
  pool.holders.set(coldkey, (pool.holders.get(coldkey) ?? 0n) + minted);
  pool.shares += minted;
  pool.value += amount;
}

/**
 * Removes `amount` rao of `coldkey`'s stake (`update_value_for_one(c, -amount)`) and returns
 * what was actually removed, which the caller pays out:
 * - 0, changing nothing, if `amount` is 0 or exceeds valueOf(coldkey) (upstream's
 *   `decrease_stake_for_hotkey_and_coldkey_on_subnet` also removes nothing then);
 * - `amount`, burning ceil(amount * shares / value) shares: rounding up makes the leaver, not the
 *   others, bear the fraction, so the value of a share never falls;
 * - valueOf(coldkey), removing the whole position, if what would remain is dust: fewer than
 *   1/DUST_SHARE_DIVISOR of the shares held, or shares worth 0 rao. The position's sub-rao
 *   fraction stays in the pool for the other holders.
 */
export function unstake(pool: SharePool, coldkey: string, amount: bigint): bigint {
  assert(amount >= 0n, `unstake amount must be non-negative, got ${amount}`);
  const held = pool.holders.get(coldkey);
  if (held === undefined || amount === 0n) return 0n;
  const current = valueOf(pool, coldkey);
  if (amount > current) return 0n;

  // amount <= value * held / shares, so burned <= held.
  const burned = (amount * pool.shares + pool.value - 1n) / pool.value;
  const remaining = held - burned;
  const newShares = pool.shares - burned;
  const newValue = pool.value - amount;
  const remainingValue = newShares === 0n ? 0n : (newValue * remaining) / newShares;
  if (remaining * DUST_SHARE_DIVISOR < held || remainingValue === 0n) {
    pool.holders.delete(coldkey);
    pool.shares -= held;
    pool.value -= current;
    return current;
  }
  pool.holders.set(coldkey, remaining);
  pool.shares = newShares;
  pool.value = newValue;
  return amount;
}

/**
 * Pays `amount` rao to every holder pro rata (`update_value_for_all`): value += amount, shares
 * unchanged, so each holder's stake rises by amount * s_c / shares within 1 rao. A pool without
 * holders cannot take a payment (upstream would hand it to whoever stakes next); the caller must
 * send it elsewhere, so that is an assertion failure.
 */
export function distribute(pool: SharePool, amount: bigint): void {
  assert(amount >= 0n, `distribute amount must be non-negative, got ${amount}`);
  if (amount === 0n) return;
  assert(pool.shares > 0n, "distribute to a share pool with no holders");
  pool.value += amount;
}
