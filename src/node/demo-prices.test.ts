import { describe, expect, it } from "vitest";
import { TRADE_PAIRS } from "../core/trading/trade-pairs.ts";
import { DEMO_TRADED_PAIRS } from "./demo.ts";
import { DEMO_START_PRICES, DemoPrices } from "./demo-prices.ts";

const T0 = 1_700_000_000_000;

function run(seed: number, steps: number, pairs = DEMO_START_PRICES): number[][] {
  const demo = new DemoPrices(seed, pairs);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) out.push(demo.next(T0 + i * 1_000).map((t) => t.price));
  return out;
}

function significantDigits(x: number): number {
  return x.toExponential().replace(/e.*$/, "").replace(/[-.]/g, "").replace(/0+$/, "").length;
}

describe("DemoPrices", () => {
  it("ticks every pair once per call, in order, at the given time", () => {
    const demo = new DemoPrices(1, DEMO_START_PRICES);
    const ticks = demo.next(T0);
    expect(ticks.map((t) => t.trade_pair)).toEqual(DEMO_START_PRICES.map((p) => p.id));
    expect(ticks.every((t) => t.ts_ms === T0)).toBe(true);
  });

  it("replays exactly from its seed, and differs with another seed", () => {
    expect(run(42, 500)).toEqual(run(42, 500));
    expect(run(42, 50)).not.toEqual(run(43, 50));
  });

  it("moves each step by at most 0.5%, stays positive, finite, rounded and within the band", () => {
    // Seed 25 meets the band's edge near step 22,800 (so the turn back at the edge runs here).
    const series = run(25, 25_000);
    let prev = DEMO_START_PRICES.map((p) => p.start);
    let maxStep = 0;
    let maxDeviation = 0;
    let bad = 0;
    for (const prices of series) {
      prices.forEach((price, i) => {
        if (!(Number.isFinite(price) && price > 0) || significantDigits(price) > 6) bad++;
        maxStep = Math.max(maxStep, Math.abs(price / prev[i]! - 1));
        maxDeviation = Math.max(maxDeviation, Math.abs(price / DEMO_START_PRICES[i]!.start - 1));
      });
      prev = prices;
    }
    expect(bad).toBe(0);
    expect(maxStep).toBeLessThanOrEqual(0.005);
    expect(maxDeviation).toBeLessThanOrEqual(0.2501);
  });

  it("actually moves, and reverts toward the start over time", () => {
    const pairs = [{ id: "BTCUSD", start: 95_000 }];
    const demo = new DemoPrices(3, pairs);
    let moved = 0;
    let last = 95_000;
    let sumAbsDeviation = 0;
    const steps = 200_000;
    for (let i = 0; i < steps; i++) {
      const [tick] = demo.next(T0 + i);
      if (tick!.price !== last) moved++;
      last = tick!.price;
      sumAbsDeviation += Math.abs(last / 95_000 - 1);
    }
    expect(moved).toBeGreaterThan(steps * 0.9);
    // A walk pulled toward its start: the mean distance stays well inside the band.
    expect(sumAbsDeviation / steps).toBeLessThan(0.15);
  });

  it("starts from a price for every trade pair, TAOUSD included", () => {
    const pairs = ["BTCUSD", "ETHUSD", "SOLUSD", "XRPUSD", "DOGEUSD", "ADAUSD", "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF", "TAOUSD"];
    expect(DEMO_START_PRICES.map((p) => p.id)).toEqual(pairs);
    expect(DEMO_START_PRICES.map((p) => p.id)).toEqual(TRADE_PAIRS.map((p) => p.id));
  });

  it("posts TAOUSD around 400 USD, moving gently, and the demo never trades it", () => {
    const demo = new DemoPrices(5, DEMO_START_PRICES);
    const tao: number[] = [];
    for (let i = 0; i < 2_000; i++) tao.push(demo.next(T0 + i * 5_000).find((t) => t.trade_pair === "TAOUSD")!.price);
    expect(tao[0]).toBeGreaterThan(398);
    expect(tao[0]).toBeLessThan(402);
    expect(new Set(tao).size).toBeGreaterThan(100);
    expect(Math.min(...tao)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...tao)).toBeLessThanOrEqual(500);
    // The demo trades crypto and forex (forex's leverage reaches 5: challenges are decided within a minute), never TAOUSD.
    expect(DEMO_TRADED_PAIRS.map((p) => p.id)).toEqual(["BTCUSD", "ETHUSD", "SOLUSD", "XRPUSD", "DOGEUSD", "ADAUSD", "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF"]);
  });

  it("refuses a start price that is not positive and finite", () => {
    expect(() => new DemoPrices(1, [{ id: "X", start: 0 }])).toThrow(RangeError);
    expect(() => new DemoPrices(1, [{ id: "X", start: Number.NaN }])).toThrow(RangeError);
    expect(() => new DemoPrices(1, [{ id: "X", start: Infinity }])).toThrow(RangeError);
  });
});
