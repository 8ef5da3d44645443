import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AssertionFailure } from "../errors/errors.ts";
import {
  blockEmission,
  DEFAULT_BLOCK_EMISSION,
  FLOW_EMA_SMOOTHING_FACTOR,
  flowShareWeights,
  I64_MAX,
  injection,
  nextFlowEma,
  splitByWeight,
  splitParticipantAlpha,
  SUBNET_OWNER_CUT,
  TAO_FLOW_CUTOFF,
  TOTAL_SUPPLY,
  U16_MAX,
} from "./emission.ts";

const TAO = 1_000_000_000n;
const NUM_RUNS = 2_000;

/** Issuance at which halving k starts: the least I with (S - I) * 2^k <= S, i.e. S - floor(S / 2^k). */
function halvingStart(k: number): bigint {
  return TOTAL_SUPPLY - TOTAL_SUPPLY / (1n << BigInt(k));
}

describe("blockEmission", () => {
  it("pays 1 TAO per block from genesis up to the first halving", () => {
    expect(blockEmission(0n)).toBe(1_000_000_000n);
    expect(blockEmission(1n)).toBe(1_000_000_000n);
    // 10.5M TAO - 1 rao: 21e15 / (21e15 - 10.5e15 + 1) < 2, so k = 0.
    expect(blockEmission(10_500_000_000_000_000n - 1n)).toBe(1_000_000_000n);
  });

  it("halves at 10.5M, 15.75M and 18.375M TAO", () => {
    // (21e15 - 10.5e15) * 2 = 21e15 <= 21e15, so k = 1: 1e9 / 2.
    expect(blockEmission(10_500_000_000_000_000n)).toBe(500_000_000n);
    expect(blockEmission(15_750_000_000_000_000n - 1n)).toBe(500_000_000n);
    // (21e15 - 15.75e15) * 4 = 21e15, so k = 2: 1e9 / 4.
    expect(blockEmission(15_750_000_000_000_000n)).toBe(250_000_000n);
    expect(blockEmission(18_375_000_000_000_000n - 1n)).toBe(250_000_000n);
    // (21e15 - 18.375e15) * 8 = 21e15, so k = 3: 1e9 / 8.
    expect(blockEmission(18_375_000_000_000_000n)).toBe(125_000_000n);
    expect(halvingStart(1)).toBe(10_500_000_000_000_000n);
    expect(halvingStart(2)).toBe(15_750_000_000_000_000n);
    expect(halvingStart(3)).toBe(18_375_000_000_000_000n);
  });

  it("pays 0 at and above the total supply", () => {
    expect(blockEmission(TOTAL_SUPPLY)).toBe(0n);
    expect(blockEmission(TOTAL_SUPPLY + 1n)).toBe(0n);
    expect(blockEmission(2n * TOTAL_SUPPLY)).toBe(0n);
  });

  it("reaches 1 rao at k = 29 and 0 at k = 30, just below the supply", () => {
    // floor(21e15 / 2^30) = 19_557_774, so halving 30 starts at 21e15 - 19_557_774, where
    // 1e9 / 2^30 < 1; just before it k = 29 and floor(1e9 / 2^29) = floor(1.86) = 1.
    expect(halvingStart(30)).toBe(20_999_999_980_442_226n);
    expect(blockEmission(20_999_999_980_442_226n - 1n)).toBe(1n);
    expect(blockEmission(20_999_999_980_442_226n)).toBe(0n);
    expect(blockEmission(TOTAL_SUPPLY - 1n)).toBe(0n);
  });

  it("rejects a negative issuance", () => {
    expect(() => blockEmission(-1n)).toThrow(AssertionFailure);
  });

  const issuance = fc.oneof(
    fc.bigInt({ min: 0n, max: TOTAL_SUPPLY + TAO }),
    // near a halving start, where off-by-one errors live
    fc
      .tuple(fc.integer({ min: 1, max: 40 }), fc.bigInt({ min: -3n, max: 3n }))
      .map(([k, d]) => {
        const i = halvingStart(k) + d;
        return i < 0n ? 0n : i;
      }),
  );

  it("is 1e9 >> k with k the number of halving starts at or below the issuance (property)", () => {
    fc.assert(
      fc.property(issuance, (i) => {
        if (i >= TOTAL_SUPPLY) return blockEmission(i) === 0n;
        let k = 0;
        while (k < 60 && halvingStart(k + 1) <= i) k++;
        return blockEmission(i) === DEFAULT_BLOCK_EMISSION >> BigInt(k);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("is monotone non-increasing in issuance (property)", () => {
    fc.assert(
      fc.property(issuance, issuance, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return blockEmission(lo) >= blockEmission(hi);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("is never zero below the supply while 1e9 / 2^k >= 1 (property)", () => {
    fc.assert(
      fc.property(issuance, (i) => {
        if (i >= TOTAL_SUPPLY) return true;
        const e = blockEmission(i);
        // 1e9 / 2^k >= 1 exactly for k <= 29, i.e. below the start of halving 30.
        return i < halvingStart(30) ? e >= 1n : e === 0n;
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe("splitParticipantAlpha", () => {
  it("takes the owner cut and splits the rest 50/50", () => {
    // 1e9 * 11796 = 11_796_000_000_000; / 65535 = 179_995_422 remainder 19_230.
    // rest = 1e9 - 179_995_422 = 820_004_578, even: 410_002_289 each.
    expect(splitParticipantAlpha(1_000_000_000n)).toEqual({
      ownerCut: 179_995_422n,
      server: 410_002_289n,
      validator: 410_002_289n,
    });
    // 100 * 11796 = 1_179_600; / 65535 = 17 remainder 65_505. rest = 83: server 41, validator 42.
    expect(splitParticipantAlpha(100n)).toEqual({ ownerCut: 17n, server: 41n, validator: 42n });
    expect(splitParticipantAlpha(0n)).toEqual({ ownerCut: 0n, server: 0n, validator: 0n });
    // 1 * 11796 / 65535 = 0; rest 1: server 0, validator 1.
    expect(splitParticipantAlpha(1n)).toEqual({ ownerCut: 0n, server: 0n, validator: 1n });
  });

  it("sums exactly, floors the owner cut and keeps server and validator within 1 rao (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: TOTAL_SUPPLY }), (a) => {
        const { ownerCut, server, validator } = splitParticipantAlpha(a);
        expect(ownerCut + server + validator).toBe(a);
        expect(ownerCut).toBe((a * SUBNET_OWNER_CUT) / U16_MAX);
        expect(ownerCut >= 0n && server >= 0n && validator >= 0n).toBe(true);
        expect(validator - server === 0n || validator - server === 1n).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe("injection", () => {
  const base = { alphaEmission: TAO, taoBlockEmission: TAO };

  it("injects all of E and E / price alpha when under the cap", () => {
    // price = 1000 TAO / 1000 alpha = 1; alpha_in = 0.5e9 * 1000e9 / 1000e9 = 0.5e9 <= cap 1e9.
    expect(injection({ ...base, taoEmission: 500_000_000n, taoReserve: 1000n * TAO, alphaReserve: 1000n * TAO })).toEqual({
      taoIn: 500_000_000n,
      alphaIn: 500_000_000n,
      excessTao: 0n,
      alphaOut: TAO,
    });
    // alpha_in = floor(10 * 7 / 3) = floor(23.33) = 23.
    expect(injection({ ...base, taoEmission: 10n, taoReserve: 3n, alphaReserve: 7n })).toEqual({
      taoIn: 10n,
      alphaIn: 23n,
      excessTao: 0n,
      alphaOut: TAO,
    });
  });

  it("caps alpha_in at min(alphaEmission, taoBlockEmission) and leaves the rest as excess", () => {
    // price 0.5: alpha_in = 1e9 * 2000e9 / 1000e9 = 2e9 > cap 1e9, so alpha_in = 1e9 and
    // tao_in = 1e9 * 1000e9 / 2000e9 = 0.5e9; excess = 1e9 - 0.5e9.
    expect(injection({ ...base, taoEmission: TAO, taoReserve: 1000n * TAO, alphaReserve: 2000n * TAO })).toEqual({
      taoIn: 500_000_000n,
      alphaIn: TAO,
      excessTao: 500_000_000n,
      alphaOut: TAO,
    });
    // cap = min(20, 1e9) = 20; 100 * 7 = 700 > 20 * 3 = 60, capped; tao_in = floor(60 / 7) = 8; excess 92.
    expect(injection({ taoEmission: 100n, taoReserve: 3n, alphaReserve: 7n, alphaEmission: 20n, taoBlockEmission: TAO })).toEqual({
      taoIn: 8n,
      alphaIn: 20n,
      excessTao: 92n,
      alphaOut: 20n,
    });
    // cap = min(1e9, 30) = 30 (the TAO block emission binds); alpha_in = 100 * 1 / 1 = 100 > 30.
    expect(injection({ taoEmission: 100n, taoReserve: 1n, alphaReserve: 1n, alphaEmission: TAO, taoBlockEmission: 30n })).toEqual({
      taoIn: 30n,
      alphaIn: 30n,
      excessTao: 70n,
      alphaOut: TAO,
    });
  });

  it("compares the exact quotient with the cap", () => {
    // E / price = 41 * 1 / 2 = 20.5 > cap 20: capped although floor(20.5) = 20;
    // tao_in = 20 * 2 / 1 = 40, excess 1.
    expect(injection({ taoEmission: 41n, taoReserve: 2n, alphaReserve: 1n, alphaEmission: 20n, taoBlockEmission: TAO })).toEqual({
      taoIn: 40n,
      alphaIn: 20n,
      excessTao: 1n,
      alphaOut: 20n,
    });
    // E / price = 10 * 14 / 7 = 20 == cap: not capped; all of E goes in.
    expect(injection({ taoEmission: 10n, taoReserve: 7n, alphaReserve: 14n, alphaEmission: 20n, taoBlockEmission: TAO })).toEqual({
      taoIn: 10n,
      alphaIn: 20n,
      excessTao: 0n,
      alphaOut: 20n,
    });
  });

  it("injects E and no alpha when the price is 0 (an empty reserve)", () => {
    expect(injection({ ...base, taoEmission: 7n, taoReserve: 0n, alphaReserve: 5n })).toEqual({
      taoIn: 7n,
      alphaIn: 0n,
      excessTao: 0n,
      alphaOut: TAO,
    });
    expect(injection({ ...base, taoEmission: 7n, taoReserve: 5n, alphaReserve: 0n })).toEqual({
      taoIn: 7n,
      alphaIn: 0n,
      excessTao: 0n,
      alphaOut: TAO,
    });
  });

  it("turns all of E into excess once the alpha curve is exhausted", () => {
    // alphaEmission 0 -> cap 0; 5 * 1 > 0, capped; tao_in = 0.
    expect(injection({ taoEmission: 5n, taoReserve: 1n, alphaReserve: 1n, alphaEmission: 0n, taoBlockEmission: TAO })).toEqual({
      taoIn: 0n,
      alphaIn: 0n,
      excessTao: 5n,
      alphaOut: 0n,
    });
  });

  it("rejects negative inputs", () => {
    expect(() => injection({ ...base, taoEmission: -1n, taoReserve: 1n, alphaReserve: 1n })).toThrow(AssertionFailure);
  });

  it("conserves E, stays non-negative and within the cap, and moves the price the safe way (property)", () => {
    const amount = fc.oneof(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 10_000_000n * TAO }));
    fc.assert(
      fc.property(amount, amount, amount, amount, amount, (e, t, a, alphaEmission, taoBlockEmission) => {
        const r = injection({ taoEmission: e, taoReserve: t, alphaReserve: a, alphaEmission, taoBlockEmission });
        const cap = alphaEmission < taoBlockEmission ? alphaEmission : taoBlockEmission;
        expect(r.taoIn + r.excessTao).toBe(e);
        expect(r.taoIn >= 0n && r.alphaIn >= 0n && r.excessTao >= 0n).toBe(true);
        expect(r.alphaOut).toBe(alphaEmission);
        if (t > 0n && a > 0n) {
          expect(r.alphaIn <= cap).toBe(true);
          if (r.excessTao > 0n) {
            // capped: (t + taoIn) / (a + alphaIn) <= t / a, the price never rises
            expect(r.alphaIn).toBe(cap);
            expect((t + r.taoIn) * a <= t * (a + r.alphaIn)).toBe(true);
          } else {
            // uncapped: the price never falls
            expect((t + r.taoIn) * a >= t * (a + r.alphaIn)).toBe(true);
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe("splitByWeight", () => {
  it("splits in proportion, remainders to the largest fractions", () => {
    // 10 * 1/3 = 3.33 each: floors 3, 3, 3, one rao left; remainders 1, 1, 1 tie -> index 0.
    expect(splitByWeight(10n, [1n, 1n, 1n])).toEqual([4n, 3n, 3n]);
    // 10 * [1, 2, 3] / 6: 1.67, 3.33, 5 -> floors 1, 3, 5 (sum 9); remainders 4, 2, 0 -> index 0.
    expect(splitByWeight(10n, [1n, 2n, 3n])).toEqual([2n, 3n, 5n]);
    // 1e9 * [1, 0, 2] / 3: 333_333_333.33, 0, 666_666_666.67; remainders 1, 0, 2 -> index 2.
    expect(splitByWeight(1_000_000_000n, [1n, 0n, 2n])).toEqual([333_333_333n, 0n, 666_666_667n]);
    // 2 rao over 3 equal weights: floors 0; ties -> indices 0 and 1.
    expect(splitByWeight(2n, [5n, 5n, 5n])).toEqual([1n, 1n, 0n]);
  });

  it("allots nothing when every weight is 0 or there are none", () => {
    expect(splitByWeight(10n, [0n, 0n])).toEqual([0n, 0n]);
    expect(splitByWeight(10n, [])).toEqual([]);
  });

  it("rejects negative weights and totals", () => {
    expect(() => splitByWeight(10n, [1n, -1n])).toThrow(AssertionFailure);
    expect(() => splitByWeight(-1n, [1n])).toThrow(AssertionFailure);
  });

  it("sums exactly, is non-negative, within 1 rao of the exact share, 0 for 0 weight (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n * TAO }),
        fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1n << 70n }), fc.bigInt({ min: 0n, max: 5n })), {
          minLength: 1,
          maxLength: 12,
        }),
        (total, weights) => {
          const parts = splitByWeight(total, weights);
          const sum = weights.reduce((s, w) => s + w, 0n);
          expect(parts.length).toBe(weights.length);
          if (sum === 0n) {
            expect(parts.every((p) => p === 0n)).toBe(true);
            return;
          }
          expect(parts.reduce((s, p) => s + p, 0n)).toBe(total);
          parts.forEach((p, i) => {
            const w = weights[i] as bigint;
            expect(p >= 0n).toBe(true);
            // |p - total * w / sum| < 1
            const diff = p * sum - total * w;
            expect(diff > -sum && diff < sum).toBe(true);
            if (w === 0n) expect(p).toBe(0n);
          });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

describe("flow EMA and shares (get_shares_flow)", () => {
  const ONE = 1n << 64n; // 1 rao in the EMA's fixed point

  it("is ((D - F)·ema + F·flow·2^64) / D, truncated toward zero, for inflow and outflow alike", () => {
    const F = FLOW_EMA_SMOOTHING_FACTOR;
    const D = I64_MAX;
    expect(nextFlowEma(0n, 1_000n * TAO)).toBe((F * 1_000n * TAO * ONE) / D);
    expect(nextFlowEma(0n, -1_000n * TAO)).toBe(-((F * 1_000n * TAO * ONE) / D));
    expect(nextFlowEma(7n * ONE, 0n)).toBe(((D - F) * 7n * ONE) / D);
    // A tiny EMA decays to 0 from either side, never sticking at -1.
    expect(nextFlowEma(1n, 0n)).toBe(0n);
    expect(nextFlowEma(-1n, 0n)).toBe(0n);
  });

  it("halves in about 216,000 blocks (reference §8)", () => {
    let ema = 1_000n * TAO * ONE;
    for (let b = 0; b < 216_000; b++) ema = nextFlowEma(ema, 0n);
    const ratio = Number((ema * 1_000_000n) / (1_000n * TAO * ONE)) / 1_000_000;
    expect(ratio).toBeGreaterThan(0.499);
    expect(ratio).toBeLessThan(0.501);
  });

  it("weights are the positive EMAs (cutoff 0, p = 1): a negative EMA gets nothing, all non-positive gives no share", () => {
    expect(TAO_FLOW_CUTOFF).toBe(0n);
    expect(flowShareWeights([5n, -3n, 0n, 2n])).toEqual([5n, 0n, 0n, 2n]);
    expect(flowShareWeights([-5n, -1n])).toEqual([0n, 0n]);
    expect(flowShareWeights([])).toEqual([]);
    expect(splitByWeight(TAO, flowShareWeights([-5n, 0n]))).toEqual([0n, 0n]);
    expect(splitByWeight(TAO, flowShareWeights([3n * ONE, -9n * ONE, ONE]))).toEqual([750_000_000n, 0n, 250_000_000n]);
  });
});
