import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AssertionFailure } from "../errors/errors.ts";
import { type Reserves, swapAlphaForTao, swapFee, swapTaoForAlpha } from "./pool.ts";

const TAO = 1_000_000_000n;
const NUM_RUNS = 2_000;

const k = (r: Reserves): bigint => r.tao * r.alpha;

describe("swapTaoForAlpha", () => {
  it("swaps 10 TAO into a 1000 TAO / 1000 alpha pool", () => {
    // fee = floor(10e9 * 33 / 65535) = floor(330e9 / 65535) = 5_035_477 (remainder 14_805)
    // net = 10e9 - 5_035_477 = 9_994_964_523
    // alphaOut = floor(1000e9 * 9_994_964_523 / (1000e9 + 9_994_964_523))
    //          = floor(9_994_964_523e12 / 1_009_994_964_523) = 9_896_053_816
    const r = swapTaoForAlpha({ tao: 1000n * TAO, alpha: 1000n * TAO }, 10n * TAO);
    expect(r.fee).toBe(5_035_477n);
    expect(r.alphaOut).toBe(9_896_053_816n);
    // the whole 10 TAO, fee included, stays in the pool
    expect(r.reserves).toEqual({ tao: 1010n * TAO, alpha: 1000n * TAO - 9_896_053_816n });
    expect(k(r.reserves) > k({ tao: 1000n * TAO, alpha: 1000n * TAO })).toBe(true);
  });

  it("drops the fee when asked (the coinbase's chain buy)", () => {
    // alphaOut = floor(1000e9 * 10e9 / 1010e9) = floor(9_900_990_099.0099) = 9_900_990_099
    const r = swapTaoForAlpha({ tao: 1000n * TAO, alpha: 1000n * TAO }, 10n * TAO, { dropFees: true });
    expect(r.fee).toBe(0n);
    expect(r.alphaOut).toBe(9_900_990_099n);
  });

  it("pays nothing for nothing", () => {
    const r = swapTaoForAlpha({ tao: 5n, alpha: 7n }, 0n);
    expect(r).toEqual({ alphaOut: 0n, fee: 0n, reserves: { tao: 5n, alpha: 7n } });
  });

  it("rejects a negative input and an empty reserve", () => {
    expect(() => swapTaoForAlpha({ tao: 5n, alpha: 7n }, -1n)).toThrow(AssertionFailure);
    expect(() => swapTaoForAlpha({ tao: 0n, alpha: 7n }, 1n)).toThrow(AssertionFailure);
    expect(() => swapTaoForAlpha({ tao: 5n, alpha: 0n }, 1n)).toThrow(AssertionFailure);
  });
});

describe("swapAlphaForTao", () => {
  it("swaps the 10 TAO of alpha back, losing value on the round trip", () => {
    // after the first swap: tao = 1010e9, alpha = 990_103_946_184; alphaIn = 9_896_053_816
    // fee = floor(9_896_053_816 * 33 / 65535) = 4_983_135; net = 9_891_070_681
    // taoOut = floor(1010e9 * 9_891_070_681 / (990_103_946_184 + 9_891_070_681)) = 9_990_031_169
    const first = swapTaoForAlpha({ tao: 1000n * TAO, alpha: 1000n * TAO }, 10n * TAO);
    const back = swapAlphaForTao(first.reserves, first.alphaOut);
    expect(back.fee).toBe(4_983_135n);
    expect(back.taoOut).toBe(9_990_031_169n);
    expect(back.taoOut < 10n * TAO).toBe(true);
    expect(back.reserves).toEqual({ tao: 1010n * TAO - 9_990_031_169n, alpha: 1000n * TAO });
  });

  it("pays nothing for nothing", () => {
    expect(swapAlphaForTao({ tao: 5n, alpha: 7n }, 0n)).toEqual({ taoOut: 0n, fee: 0n, reserves: { tao: 5n, alpha: 7n } });
  });

  it("keeps a dust input in the pool when it buys less than 1 rao", () => {
    // fee = floor(1 * 33 / 65535) = 0; taoOut = floor(5 * 1 / (7 + 1)) = 0
    const r = swapAlphaForTao({ tao: 5n, alpha: 7n }, 1n);
    expect(r).toEqual({ taoOut: 0n, fee: 0n, reserves: { tao: 5n, alpha: 8n } });
  });
});

describe("pool properties", () => {
  const reserve = fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10_000_000n * TAO }));
  const input = fc.oneof(fc.bigInt({ min: 0n, max: 1_000n }), fc.bigInt({ min: 0n, max: 10_000_000n * TAO }));
  const dropFees = fc.boolean();

  it("never lowers the constant product, never pays out a whole reserve, and books the input in full", () => {
    fc.assert(
      fc.property(reserve, reserve, input, fc.boolean(), dropFees, (tao, alpha, x, taoSide, drop) => {
        const r = { tao, alpha };
        if (taoSide) {
          const s = swapTaoForAlpha(r, x, { dropFees: drop });
          expect(s.alphaOut >= 0n && s.alphaOut < alpha).toBe(true);
          expect(s.reserves).toEqual({ tao: tao + x, alpha: alpha - s.alphaOut });
          expect(s.fee).toBe(swapFee(x, { dropFees: drop }));
          expect(k(s.reserves) >= k(r)).toBe(true);
        } else {
          const s = swapAlphaForTao(r, x, { dropFees: drop });
          expect(s.taoOut >= 0n && s.taoOut < tao).toBe(true);
          expect(s.reserves).toEqual({ tao: tao - s.taoOut, alpha: alpha + x });
          expect(s.fee).toBe(swapFee(x, { dropFees: drop }));
          expect(k(s.reserves) >= k(r)).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("keeps the fee at floor(input * 33 / 65535), never above the input", () => {
    fc.assert(
      fc.property(input, (x) => {
        const fee = swapFee(x);
        return fee * 65_535n <= x * 33n && (fee + 1n) * 65_535n > x * 33n && fee <= x;
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("never gains value on a round trip, either way", () => {
    fc.assert(
      fc.property(reserve, reserve, input, dropFees, (tao, alpha, x, drop) => {
        const o = { dropFees: drop };
        const a = swapTaoForAlpha({ tao, alpha }, x, o);
        expect(swapAlphaForTao(a.reserves, a.alphaOut, o).taoOut <= x).toBe(true);
        const t = swapAlphaForTao({ tao, alpha }, x, o);
        expect(swapTaoForAlpha(t.reserves, t.taoOut, o).alphaOut <= x).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("keeps k non-decreasing and both reserves positive over a random sequence of swaps", () => {
    fc.assert(
      fc.property(reserve, reserve, fc.array(fc.tuple(fc.boolean(), input), { maxLength: 40 }), (tao, alpha, swaps) => {
        let r: Reserves = { tao, alpha };
        for (const [taoSide, x] of swaps) {
          const next = taoSide ? swapTaoForAlpha(r, x).reserves : swapAlphaForTao(r, x).reserves;
          expect(k(next) >= k(r)).toBe(true);
          expect(next.tao > 0n && next.alpha > 0n).toBe(true);
          r = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});
