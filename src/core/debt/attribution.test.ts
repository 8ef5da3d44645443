import { describe, expect, it } from "vitest";
import { attribute, attributeDebts } from "./attribution.ts";

describe("attribution (cases)", () => {
  it("splits a short payment in proportion, the remainders' rao to the largest, ties by id", () => {
    // 10 rao for needs 5, 5, 5 (15): 3.33 each, floors 3+3+3, one rao left, equal remainders -> id 1 first.
    expect(attribute(10n, [{ id: 4, needAlpha: 5n }, { id: 1, needAlpha: 5n }, { id: 2, needAlpha: 5n }])).toEqual({
      shares: [{ id: 1, alpha: 4n }, { id: 2, alpha: 3n }, { id: 4, alpha: 3n }],
      unattributed: 0n,
    });
    // 7 for needs 1 and 9 (10): 0.7 and 6.3 -> floors 0 and 6, the rao goes to 0.7.
    expect(attribute(7n, [{ id: 0, needAlpha: 1n }, { id: 1, needAlpha: 9n }])).toEqual({ shares: [{ id: 0, alpha: 1n }, { id: 1, alpha: 6n }], unattributed: 0n });
  });

  it("pays every need in full and keeps the excess unattributed", () => {
    expect(attribute(100n, [{ id: 0, needAlpha: 30n }, { id: 3, needAlpha: 0n }, { id: 1, needAlpha: 20n }])).toEqual({
      shares: [{ id: 0, alpha: 30n }, { id: 1, alpha: 20n }],
      unattributed: 50n,
    });
  });

  it("refuses a duplicate id or a negative need", () => {
    expect(() => attribute(1n, [{ id: 0, needAlpha: 1n }, { id: 0, needAlpha: 1n }])).toThrow();
    expect(() => attribute(1n, [{ id: 0, needAlpha: -1n }])).toThrow();
    expect(() => attribute(-1n, [])).toThrow();
  });

  it("turns micro-USD debts into alpha needs at the epoch's price", () => {
    // 1 alpha = 0.04 TAO = 16 USD: 20 USD needs 1.25 alpha, 8 USD 0.5 alpha; 3 alpha pays both.
    const price = { subnetTaoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 400_000_000n };
    expect(attributeDebts(3_000_000_000n, [{ id: 0, remainingMicro: 20_000_000n }, { id: 1, remainingMicro: 8_000_000n }], price)).toEqual({
      shares: [{ id: 0, alpha: 1_250_000_000n }, { id: 1, alpha: 500_000_000n }],
      unattributed: 1_250_000_000n,
    });
    // Without a TAO/USD price alpha pays no debt: it stays unattributed, and the debts stay whole
    // (shared at a value of nothing, it would be paid again once a price arrives).
    expect(attributeDebts(3_000_000_000n, [{ id: 0, remainingMicro: 20_000_000n }, { id: 1, remainingMicro: 10_000_000n }], { ...price, microUsdPerTao: 0n })).toEqual({
      shares: [],
      unattributed: 3_000_000_000n,
    });
  });
});
