import { AssertionFailure } from "../errors/errors.ts";

/**
 * Money in exact integers (DESIGN.md §3.5): USD in micro-USD, alpha and TAO in rao, as bigint.
 * Trading's PnL is a float by design; it enters the debt ledgers through `microUsdOf`, the one
 * conversion, and every later amount is an integer.
 */
export const MICRO_PER_USD = 1_000_000n;
export const RAO_PER_TAO = 1_000_000_000n;

/** The price of alpha at an epoch block: the subnet's pool reserves and the TAO/USD price then. */
export interface AlphaPrice {
  /** SubnetTAO, in rao. */
  subnetTaoRao: bigint;
  /** SubnetAlphaIn, in rao. */
  alphaInRao: bigint;
  /** The TAO/USD price, in micro-USD per TAO (1e9 rao). */
  microUsdPerTao: bigint;
}

/**
 * A USD amount as micro-USD, rounded half away from zero on the number's shortest decimal form
 * (the one `String(usd)` prints, fixed by ECMAScript). Rounding the decimal rather than
 * `usd * 1e6` keeps the result what a person computes from the printed figure: 1.0000025 USD is
 * 1,000,003 micro-USD, while 1.0000025 * 1e6 is 1,000,002.4999999999 in binary.
 */
export function microUsdOf(usd: number): bigint {
  if (!Number.isFinite(usd)) throw new AssertionFailure(`microUsdOf: ${usd} is not a finite amount`);
  if (usd === 0) return 0n;
  const negative = usd < 0;
  const text = String(negative ? -usd : usd);
  const e = text.indexOf("e");
  const mantissa = e < 0 ? text : text.slice(0, e);
  const exponent = e < 0 ? 0 : Number(text.slice(e + 1));
  const point = mantissa.indexOf(".");
  const digits = point < 0 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  // The value is 0.digits x 10^(integer digits + exponent); micro-USD keep 6 more of them.
  const keep = (point < 0 ? mantissa.length : point) + exponent + 6;
  let micro: bigint;
  if (keep <= 0) micro = keep === 0 && (digits.charCodeAt(0) - 48) >= 5 ? 1n : 0n;
  else if (keep >= digits.length) micro = BigInt(digits) * 10n ** BigInt(keep - digits.length);
  else micro = BigInt(digits.slice(0, keep)) + ((digits.charCodeAt(keep) - 48) >= 5 ? 1n : 0n);
  return negative ? -micro : micro;
}

/** A micro-USD amount as a USD number, for the API's JSON (never for arithmetic). */
export function usdOfMicro(micro: bigint): number {
  return Number(micro) / 1e6;
}

/** The TAO value of alpha at the pool's price: floor(alpha x SubnetTAO / SubnetAlphaIn); 0 for an empty pool. */
export function taoOfAlpha(alphaRao: bigint, subnetTaoRao: bigint, alphaInRao: bigint): bigint {
  if (alphaInRao <= 0n) return 0n;
  return (alphaRao * subnetTaoRao) / alphaInRao;
}

/** The USD value of TAO in micro-USD: floor(tao x microUsdPerTao / 1e9). */
export function microUsdOfTao(taoRao: bigint, microUsdPerTao: bigint): bigint {
  return (taoRao * microUsdPerTao) / RAO_PER_TAO;
}

/** The USD value of alpha in micro-USD, through its TAO value (both floored, as recorded in debt checkpoints). */
export function microUsdOfAlpha(alphaRao: bigint, price: AlphaPrice): bigint {
  return microUsdOfTao(taoOfAlpha(alphaRao, price.subnetTaoRao, price.alphaInRao), price.microUsdPerTao);
}

/**
 * The least alpha whose USD value (microUsdOfAlpha) reaches `microUsd`: each floor is inverted by
 * a ceiling, so a debt paid with it is fully paid. Null when alpha has no USD value at this price.
 */
export function alphaForMicroUsd(microUsd: bigint, price: AlphaPrice): bigint | null {
  if (microUsd <= 0n) return 0n;
  if (price.microUsdPerTao <= 0n || price.subnetTaoRao <= 0n || price.alphaInRao <= 0n) return null;
  const tao = ceilDiv(microUsd * RAO_PER_TAO, price.microUsdPerTao);
  return ceilDiv(tao * price.alphaInRao, price.subnetTaoRao);
}

/** ceil(a / b) for a >= 0, b > 0. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}
