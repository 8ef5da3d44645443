import { prng } from "../core/random/prng.ts";

/**
 * Generated prices for the devnet's demo (API.md: without `--no-demo`). A seeded random walk per
 * pair: each step is at most ±0.5%, far inside the 20% guard that holds a price, with a gentle pull
 * toward the start price and a hard band around it, so a devnet left running for weeks stays sane.
 * The same seed and pairs give the same sequence, whatever the timestamps.
 */

export interface DemoPair {
  id: string;
  start: number;
}

export interface DemoTick {
  trade_pair: string;
  price: number;
  ts_ms: number;
}

/** Plausible starting prices for every trade pair, TAOUSD included (priced, never traded: it values emissions). */
export const DEMO_START_PRICES: readonly DemoPair[] = Object.freeze([
  { id: "BTCUSD", start: 95_000 },
  { id: "ETHUSD", start: 3_500 },
  { id: "SOLUSD", start: 180 },
  { id: "XRPUSD", start: 2.2 },
  { id: "DOGEUSD", start: 0.32 },
  { id: "ADAUSD", start: 0.9 },
  { id: "EURUSD", start: 1.08 },
  { id: "GBPUSD", start: 1.27 },
  { id: "AUDUSD", start: 0.66 },
  { id: "NZDUSD", start: 0.6 },
  { id: "USDCAD", start: 1.36 },
  { id: "USDCHF", start: 0.88 },
  { id: "TAOUSD", start: 400 },
]);

/** Random part of a step: within ±0.4%. */
const NOISE = 0.004;
/** Pull toward the start per step, as a fraction of the distance (half-life about 1,400 steps). */
const REVERSION = 0.0005;
/** A step never exceeds this; the margin absorbs rounding to 6 significant digits (≤ 0.0005%). */
const MAX_STEP = 0.00499;
/** Prices stay within ±25% of the start. */
const BAND = 0.25;
const SIGNIFICANT_DIGITS = 6;

function round(price: number): number {
  return Number(price.toPrecision(SIGNIFICANT_DIGITS));
}

export class DemoPrices {
  readonly #random: () => number;
  readonly #pairs: { id: string; start: number; price: number }[];

  constructor(seed: number, pairs: readonly DemoPair[]) {
    this.#random = prng(seed);
    this.#pairs = pairs.map(({ id, start }) => {
      if (!(start > 0 && Number.isFinite(start))) throw new RangeError(`the start price of ${id} must be positive and finite`);
      return { id, start, price: round(start) };
    });
  }

  /** One tick per pair, in the order given, all at `tsMs`. */
  next(tsMs: number): DemoTick[] {
    return this.#pairs.map((pair) => {
      // Two uniforms: a triangular step, small moves more likely than large ones.
      const noise = (this.#random() + this.#random() - 1) * NOISE;
      const deviation = (pair.price - pair.start) / pair.start;
      let step = Math.min(MAX_STEP, Math.max(-MAX_STEP, noise - REVERSION * deviation));
      // A step that would leave the band goes toward the start instead (the band is far wider than a step).
      if (Math.abs(deviation + step * (1 + deviation)) > BAND) step = deviation > 0 ? -Math.abs(step) : Math.abs(step);
      pair.price = round(pair.price * (1 + step));
      return { trade_pair: pair.id, price: pair.price, ts_ms: tsMs };
    });
  }
}
