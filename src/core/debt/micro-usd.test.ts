import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlphaPrice, alphaForMicroUsd, microUsdOf, microUsdOfAlpha, microUsdOfTao, taoOfAlpha, usdOfMicro } from "./micro-usd.ts";

describe("microUsdOf: USD floats to micro-USD, half away from zero on the printed decimal", () => {
  it("rounds the figure a person reads, not its binary product with 1e6", () => {
    expect(microUsdOf(0)).toBe(0n);
    expect(microUsdOf(-0)).toBe(0n);
    expect(microUsdOf(1)).toBe(1_000_000n);
    expect(microUsdOf(-1)).toBe(-1_000_000n);
    expect(1.0000025 * 1e6).toBeLessThan(1_000_002.5); // the binary product would round down
    expect(microUsdOf(1.0000025)).toBe(1_000_003n);
    expect(microUsdOf(0.5000005)).toBe(500_001n);
    expect(microUsdOf(0.0000025)).toBe(3n);
    expect(microUsdOf(-0.0000025)).toBe(-3n);
    expect(microUsdOf(0.0000015)).toBe(2n);
    expect(microUsdOf(0.0000014999)).toBe(1n);
    expect(microUsdOf(5e-7)).toBe(1n); // printed in exponent form
    expect(microUsdOf(-5e-7)).toBe(-1n);
    expect(microUsdOf(4.9e-7)).toBe(0n);
    expect(microUsdOf(2.5e-8)).toBe(0n);
    expect(microUsdOf(1200.1234565)).toBe(1_200_123_457n);
    expect(microUsdOf(-150.5)).toBe(-150_500_000n);
    expect(microUsdOf(123_456_789.123456)).toBe(123_456_789_123_456n);
    expect(microUsdOf(1e21)).toBe(10n ** 27n);
    expect(microUsdOf(1.5e22)).toBe(15n * 10n ** 27n);
  });

  it("refuses what is not an amount", () => {
    expect(() => microUsdOf(Number.NaN)).toThrow();
    expect(() => microUsdOf(Infinity)).toThrow();
  });

  it("a whole number of micro-USD survives the round trip through a USD float", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(10 ** 15) + 1, max: 10 ** 15 - 1 }), (m) => {
        expect(microUsdOf(m / 1e6)).toBe(BigInt(m));
        expect(microUsdOf(usdOfMicro(BigInt(m)))).toBe(BigInt(m));
      }),
      { numRuns: 5_000 },
    );
  });

  it("an exact half micro-USD rounds away from zero", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.boolean(), (k, negative) => {
        const usd = Number(`${negative ? "-" : ""}${k}.5e-6`);
        expect(microUsdOf(usd)).toBe(negative ? -BigInt(k + 1) : BigInt(k + 1));
      }),
      { numRuns: 5_000 },
    );
  });

  it("is within half a micro-USD of the float's value, and odd in the sign", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), (usd) => {
        const m = microUsdOf(usd);
        expect(Math.abs(Number(m) - usd * 1e6)).toBeLessThanOrEqual(0.5 + Math.abs(usd) * 1e6 * 2 ** -50);
        expect(microUsdOf(-usd)).toBe(-m);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe("alpha, TAO and USD values", () => {
  const price: AlphaPrice = { subnetTaoRao: 1_800_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 380_000_000n };

  it("floors each conversion", () => {
    // 12.345678901 alpha x 1,800 / 50,000 = 0.444444440436 TAO -> 444,444,440 rao
    expect(taoOfAlpha(12_345_678_901n, price.subnetTaoRao, price.alphaInRao)).toBe(444_444_440n);
    // 444,444,440 rao x 380 USD = 168.8888872 USD -> 168,888,887 micro-USD
    expect(microUsdOfTao(444_444_440n, 380_000_000n)).toBe(168_888_887n);
    expect(microUsdOfAlpha(12_345_678_901n, price)).toBe(168_888_887n);
    expect(taoOfAlpha(5n, 10n, 0n)).toBe(0n); // an empty pool prices alpha at nothing
  });

  it("alphaForMicroUsd is the least alpha worth the amount", () => {
    const prices = fc.record({
      subnetTaoRao: fc.bigInt({ min: 1n, max: 10n ** 16n }),
      alphaInRao: fc.bigInt({ min: 1n, max: 10n ** 16n }),
      microUsdPerTao: fc.bigInt({ min: 1n, max: 10n ** 10n }),
    });
    fc.assert(
      fc.property(prices, fc.bigInt({ min: 0n, max: 10n ** 13n }), (p, usd) => {
        const need = alphaForMicroUsd(usd, p) as bigint;
        expect(microUsdOfAlpha(need, p)).toBeGreaterThanOrEqual(usd);
        if (need > 0n) expect(microUsdOfAlpha(need - 1n, p)).toBeLessThan(usd);
      }),
      { numRuns: 5_000 },
    );
    expect(alphaForMicroUsd(1n, { ...price, microUsdPerTao: 0n })).toBeNull();
    expect(alphaForMicroUsd(0n, { ...price, microUsdPerTao: 0n })).toBe(0n);
  });
});
