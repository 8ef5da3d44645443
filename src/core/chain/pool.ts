/**
 * A subnet's constant-product pool over (SubnetTAO, SubnetAlphaIn), with Subtensor's default
 * swap fee of 33/65535 of the input kept in the pool (reference §4 "Pool pricing": what the V3
 * pool behaves like with only the protocol's full-range position). Exact bigint arithmetic.
 *
 * Rounding: the fee is floor(input * 33 / 65535), as the chain truncates it. The fee's rounding
 * only decides how the input is split between fee and net, and the whole input enters the pool
 * either way; what protects the pool is flooring the output, which guarantees
 * (x + input) * (y - out) >= x * y: the constant product never decreases, a swap never pays out
 * a whole reserve, and a round trip never returns more than was put in.
 */
import { assert } from "../errors/errors.ts";

export const SWAP_FEE_NUM = 33n;
export const SWAP_FEE_DEN = 65_535n;

/** The pool's reserves in rao: SubnetTAO and SubnetAlphaIn. */
export interface Reserves {
  tao: bigint;
  alpha: bigint;
}

export interface SwapOptions {
  /**
   * Skip the fee, as `swap_tao_for_alpha(.., drop_fees = true)` does for the coinbase's
   * purchase of alpha with excess TAO (reference §2.5 step 2).
   */
  dropFees?: boolean;
}

/** The fee on `input`: floor(input * 33 / 65535), or 0 when fees are dropped. */
export function swapFee(input: bigint, options: SwapOptions = {}): bigint {
  return options.dropFees === true ? 0n : (input * SWAP_FEE_NUM) / SWAP_FEE_DEN;
}

/**
 * The shared swap: `input` of one asset into a reserve `inReserve`, paying out of `outReserve`.
 * out = floor(outReserve * net / (inReserve + net)) with net = input - fee.
 */
function quote(
  inReserve: bigint,
  outReserve: bigint,
  input: bigint,
  options: SwapOptions,
): { out: bigint; fee: bigint } {
  assert(input >= 0n, `swap input must be non-negative, got ${input}`);
  if (input === 0n) return { out: 0n, fee: 0n };
  // An empty side has no price and would let one swap drain the other side; the chain seeds
  // both reserves at registration and no swap can empty one, so this is a broken caller.
  assert(inReserve > 0n && outReserve > 0n, `swap on a pool with an empty reserve (${inReserve}, ${outReserve})`);
  const fee = swapFee(input, options);
  const net = input - fee;
  return { out: (outReserve * net) / (inReserve + net), fee };
}

/**
 * TAO in, alpha out. The full `taoIn` (fee included) joins the TAO reserve; `alphaOut` leaves
 * the alpha reserve. `fee` is in TAO.
 */
export function swapTaoForAlpha(
  r: Reserves,
  taoIn: bigint,
  options: SwapOptions = {},
): { alphaOut: bigint; fee: bigint; reserves: Reserves } {
  const { out, fee } = quote(r.tao, r.alpha, taoIn, options);
  return { alphaOut: out, fee, reserves: { tao: r.tao + taoIn, alpha: r.alpha - out } };
}

/**
 * Alpha in, TAO out. The full `alphaIn` (fee included) joins the alpha reserve; `taoOut` leaves
 * the TAO reserve. `fee` is in alpha.
 */
export function swapAlphaForTao(
  r: Reserves,
  alphaIn: bigint,
  options: SwapOptions = {},
): { taoOut: bigint; fee: bigint; reserves: Reserves } {
  const { out, fee } = quote(r.alpha, r.tao, alphaIn, options);
  return { taoOut: out, fee, reserves: { tao: r.tao - out, alpha: r.alpha + alphaIn } };
}
