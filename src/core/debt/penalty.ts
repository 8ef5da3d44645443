/**
 * Penalties on what a funded trader is owed (DESIGN.md §3.5), in parts per million so that
 * owed x penalty stays an exact integer. Vanta's exact curves are not in our reference (§6.2 only
 * names drawdown, risk-profile, min-collateral and risk-adjusted penalties, multiplied); ours:
 * - drawdown: 1 up to 5% max drawdown, then falling linearly to 0 at 10%, where a funded trader is
 *   eliminated anyway (§3.4), so the penalty grows as the trader nears elimination;
 * - collateral: min(1, collateral / required) for an entity's subaccounts (Vanta's later entity
 *   collateral penalty, reference §6.3); 1 for a regular miner, which posts no collateral;
 * - total: their product, floored.
 * Each is floored, so rounding never raises what is owed.
 */
export const PPM = 1_000_000;

/** The drawdown from which the penalty starts, and the one at which it reaches 0, in billionths. */
const FULL_UP_TO_PPB = 50_000_000;
const ZERO_FROM_PPB = 100_000_000;

/** The drawdown penalty of a trader's max drawdown (0.06 = 6%), compared after rounding to 1e-9 as §3.4 does. */
export function drawdownPenaltyPpm(maxDrawdown: number): number {
  const ppb = Math.round(maxDrawdown * 1e9);
  if (ppb <= FULL_UP_TO_PPB) return PPM;
  if (ppb >= ZERO_FROM_PPB) return 0;
  // (0.10 - dd) / 0.05 in ppm = (ZERO_FROM_PPB - ppb) / 50, in integers.
  return Math.floor((ZERO_FROM_PPB - ppb) / ((ZERO_FROM_PPB - FULL_UP_TO_PPB) / PPM));
}

/** The collateral penalty of an entity: min(1, collateral / required); 1 when nothing is required. */
export function collateralPenaltyPpm(collateralRao: bigint, requiredRao: bigint): number {
  if (requiredRao <= 0n || collateralRao >= requiredRao) return PPM;
  if (collateralRao <= 0n) return 0;
  return Number((collateralRao * BigInt(PPM)) / requiredRao);
}

/**
 * The total penalty: the product of the drawdown and collateral penalties, floored. A penalty is a
 * fraction in ppm, not money: the product is at most 1e12, exact in a double.
 */
export function totalPenaltyPpm(drawdownPpm: number, collateralPpm: number): number {
  return Math.floor((drawdownPpm * collateralPpm) / PPM);
}
