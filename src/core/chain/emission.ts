/**
 * Block emission, the per-subnet pool injection and the split of participant alpha, after
 * Subtensor @dec25 (reference §2.2, §2.4, §2.5). Everything is exact bigint arithmetic in rao:
 * upstream computes in I96F32/U96F32 and truncates with `tou64`; we floor the exact rational
 * instead, so results can differ from the chain by at most the chain's own fixed-point error
 * (1 rao on amounts, and a few million rao of issuance on where a halving falls).
 */
import { assert } from "../errors/errors.ts";

/** Subtensor's `TotalSupply`: 21M TAO in rao. Also the cap of every subnet's alpha curve. */
export const TOTAL_SUPPLY = 21_000_000_000_000_000n;

/** Subtensor's `DefaultBlockEmission`: 1 TAO (or 1 alpha) per block before the first halving. */
export const DEFAULT_BLOCK_EMISSION = 1_000_000_000n;

/** Subtensor's `SubnetOwnerCut` numerator; the fraction is SUBNET_OWNER_CUT / 65_535 (≈ 18%). */
export const SUBNET_OWNER_CUT = 11_796n;

/** Denominator of every ratio Subtensor stores as a u16 (`u16::MAX`). */
export const U16_MAX = 65_535n;

/**
 * Subtensor's `get_block_emission_for_issuance`, in integers.
 *
 * Upstream: residual = log2(1 / (1 - I / (2 * 10.5e15))), k = floor(residual),
 * emission = floor(1e9 / 2^k), and 0 when I >= 21e15.
 *
 * Derivation of the integer form, with S = 2 * 10.5e15 = 21e15 = TOTAL_SUPPLY and 0 <= I < S:
 *   1 / (1 - I/S) = S / (S - I), a real number >= 1, so residual >= 0 and
 *   k = floor(log2(S / (S - I)))  is the largest integer k with  2^k <= S / (S - I),
 *   and since S - I > 0 that is the largest k with  (S - I) * 2^k <= S.
 * Then floor(1e9 / 2^k) = 1e9 >> k. Halving k therefore starts at I = S - floor(S / 2^k):
 * 10.5M, 15.75M, 18.375M TAO, ...; from k = 30 on (1e9 < 2^30) the emission is 0 even below S.
 * Being exact, the halving points are the mathematical ones; the chain's I96F32 log2 can move
 * them by its rounding.
 */
export function blockEmission(issuance: bigint): bigint {
  assert(issuance >= 0n, `issuance must be non-negative, got ${issuance}`);
  if (issuance >= TOTAL_SUPPLY) return 0n;
  const remaining = TOTAL_SUPPLY - issuance;
  let emission = DEFAULT_BLOCK_EMISSION;
  // Each step tests whether k + 1 still satisfies (S - I) * 2^(k+1) <= S; stop once the
  // emission is 0 because further halvings cannot change it.
  let scaled = remaining << 1n;
  while (emission > 0n && scaled <= TOTAL_SUPPLY) {
    emission >>= 1n;
    scaled <<= 1n;
  }
  return emission;
}

/** One block's participant alpha, after the owner cut. No root subnet on the devnet, so no root share. */
export interface ParticipantAlpha {
  ownerCut: bigint;
  server: bigint;
  validator: bigint;
}

/**
 * Splits one block's participant alpha (`alpha_out`) as `emit_to_subnets` does with root_alpha = 0:
 * ownerCut = floor(alphaOut * 11796 / 65535), then the rest 50/50 with server = floor(rest / 2)
 * and validator = rest - server. Upstream floors server and validator separately and leaves up to
 * 1 rao as dust in AlphaOut; giving the odd rao to the validator instead keeps the sum exact
 * (ownerCut + server + validator == alphaOut), so there is no dust to account for.
 */
export function splitParticipantAlpha(alphaOut: bigint): ParticipantAlpha {
  assert(alphaOut >= 0n, `alphaOut must be non-negative, got ${alphaOut}`);
  const ownerCut = (alphaOut * SUBNET_OWNER_CUT) / U16_MAX;
  const rest = alphaOut - ownerCut;
  const server = rest / 2n;
  return { ownerCut, server, validator: rest - server };
}

export interface InjectionArgs {
  /** E: the TAO this subnet receives this block (its share of the block emission). */
  taoEmission: bigint;
  /** SubnetTAO: the pool's TAO reserve. */
  taoReserve: bigint;
  /** SubnetAlphaIn: the pool's alpha reserve. */
  alphaReserve: bigint;
  /** blockEmission(alpha issuance of the subnet): the subnet's alpha emission this block. */
  alphaEmission: bigint;
  /** blockEmission(TAO issuance): the TAO block emission, the second half of the @dec25 cap. */
  taoBlockEmission: bigint;
}

export interface Injection {
  /** TAO added to the pool reserve (SubnetTAO += taoIn). */
  taoIn: bigint;
  /** Alpha added to the pool reserve (SubnetAlphaIn += alphaIn). */
  alphaIn: bigint;
  /** TAO left over because alpha_in was capped; @dec25 buys alpha with it and recycles that alpha. */
  excessTao: bigint;
  /** Alpha created for participants (always the full alpha emission). */
  alphaOut: bigint;
}

/**
 * `get_subnet_terms` for one subnet (@dec25). With price = taoReserve / alphaReserve:
 *   alpha_in = E / price = E * alphaReserve / taoReserve, floored;
 *   cap = min(alphaEmission, taoBlockEmission);
 *   if alpha_in > cap: alpha_in = cap and tao_in = floor(cap * taoReserve / alphaReserve), else tao_in = E;
 *   excess = E - tao_in; alpha_out = alphaEmission.
 * Choices:
 * - Price 0 (taoReserve 0 or alphaReserve 0): alpha_in = 0 and tao_in = E, as upstream's
 *   `safe_div_or(price, 0)` and `current_alpha_price` (0 when the alpha reserve is empty) give.
 * - The cap test compares the exact rational E * alphaReserve / taoReserve with the cap (as the
 *   chain compares its fixed-point quotient), not the floored alpha_in; so a quotient in
 *   (cap, cap + 1) is capped, as upstream.
 * - Both floors favour the pool's price staying put: uncapped, alpha_in is rounded down so the
 *   price cannot fall; capped, tao_in is rounded down (the rao goes to excess) so it cannot rise.
 *   In the capped case cap * taoReserve / alphaReserve < E, so excess >= 1 and taoIn + excess == E.
 */
export function injection(args: InjectionArgs): Injection {
  const { taoEmission: e, taoReserve: t, alphaReserve: a, alphaEmission, taoBlockEmission } = args;
  for (const [name, v] of Object.entries(args)) {
    assert(v >= 0n, `injection: ${name} must be non-negative, got ${v}`);
  }
  if (t === 0n || a === 0n) {
    return { taoIn: e, alphaIn: 0n, excessTao: 0n, alphaOut: alphaEmission };
  }
  const cap = alphaEmission < taoBlockEmission ? alphaEmission : taoBlockEmission;
  if (e * a > cap * t) {
    const taoIn = (cap * t) / a;
    return { taoIn, alphaIn: cap, excessTao: e - taoIn, alphaOut: alphaEmission };
  }
  return { taoIn: e, alphaIn: (e * a) / t, excessTao: 0n, alphaOut: alphaEmission };
}

/**
 * Splits `total` in proportion to `weights`: each part is floor(total * w_i / Σw), and the
 * rao left over (fewer than the number of weights) go one each to the largest remainders,
 * ties to the lower index. The parts sum to exactly `total`, each is within 1 rao of its exact
 * share, and a zero weight gets 0. If every weight is 0 (or there are none) every part is 0 and
 * nothing is allotted: like upstream, a block with no emission shares emits to no subnet, and
 * the caller keeps (or recycles) the whole total.
 */
export function splitByWeight(total: bigint, weights: readonly bigint[]): bigint[] {
  assert(total >= 0n, `splitByWeight: total must be non-negative, got ${total}`);
  let sum = 0n;
  for (const w of weights) {
    assert(w >= 0n, `splitByWeight: weights must be non-negative, got ${w}`);
    sum += w;
  }
  if (sum === 0n) return weights.map(() => 0n);

  const parts: bigint[] = [];
  const remainders: bigint[] = [];
  let allotted = 0n;
  for (const w of weights) {
    const scaled = total * w;
    const part = scaled / sum;
    parts.push(part);
    remainders.push(scaled % sum);
    allotted += part;
  }
  let left = total - allotted;
  if (left === 0n) return parts;

  const order = weights.map((_, i) => i);
  order.sort((i, j) => {
    const ri = remainders[i] as bigint;
    const rj = remainders[j] as bigint;
    if (ri !== rj) return ri > rj ? -1 : 1;
    return i - j;
  });
  // left < number of positive remainders, so only weights with a positive remainder get a rao.
  for (const i of order) {
    if (left === 0n) break;
    parts[i] = (parts[i] as bigint) + 1n;
    left -= 1n;
  }
  return parts;
}

// ---- TAO split by the EMA of net TAO flow (`get_shares_flow`, reference §2.3) ----------------------

/** Subtensor's `FlowEmaSmoothingFactor`; the EMA's weight of a new block is this / i64::MAX (≈ 3.2e-6, half-life ≈ 216,000 blocks). */
export const FLOW_EMA_SMOOTHING_FACTOR = 29_597_889_189_277n;

/** `i64::MAX`, the denominator of the smoothing factor. */
export const I64_MAX = 9_223_372_036_854_775_807n;

/**
 * The EMA is kept as I64F64 keeps it upstream: rao times 2^64, as an exact integer. Sixty-four
 * fraction bits hold a 1-rao flow's first contribution (≈ 3.2e-6 rao) with room to spare.
 */
export const FLOW_EMA_FRACTION_BITS = 64n;

/** Subtensor's `TaoFlowCutoff` (default 0), in the EMA's fixed point. */
export const TAO_FLOW_CUTOFF = 0n;

/**
 * One block of Subtensor's `get_ema_flow`: ema' = (1 - a)·ema + a·flow with a = F / i64::MAX, in
 * integers: ema' = ((D - F)·ema + F·flow·2^64) / D, truncated toward zero as substrate_fixed's
 * conversions truncate. `ema` is fixed point (rao · 2^64); `flow` is the block's net TAO flow in rao
 * (stake in minus unstake out; may be negative). Exact integer math: the same on every machine.
 */
export function nextFlowEma(ema: bigint, flow: bigint): bigint {
  return ((I64_MAX - FLOW_EMA_SMOOTHING_FACTOR) * ema + FLOW_EMA_SMOOTHING_FACTOR * (flow << FLOW_EMA_FRACTION_BITS)) / I64_MAX;
}

/**
 * `get_shares_flow`'s offsets: L = max(TaoFlowCutoff, min_i min(ema_i, 0)) and z_i = max(ema_i - L, 0).
 * With p = FlowNormExponent = 1 (the default, and the only exponent the devnet has) the share is
 * z_i / Σz, so these are the weights `splitByWeight` divides the block emission by: exactly, where
 * upstream goes through I32F32 ln/exp. All zero means no subnet has a positive share.
 */
export function flowShareWeights(emas: readonly bigint[]): bigint[] {
  let least = 0n;
  for (const e of emas) if (e < least) least = e;
  const limit = TAO_FLOW_CUTOFF > least ? TAO_FLOW_CUTOFF : least;
  return emas.map((e) => (e > limit ? e - limit : 0n));
}
