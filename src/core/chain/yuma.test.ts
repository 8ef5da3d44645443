/**
 * Yuma consensus: hand-computed epochs from the reference rules (§3.2), determinism and tie
 * rules, properties against a plain sort-based model, and the rao split by largest remainder.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AssertionFailure } from "../errors/errors.ts";
import { sortedConsensus } from "../../../test/support/yuma-reference.ts";
import {
  DEFAULT_YUMA_PARAMS,
  MAX_SPLIT_TOTAL,
  splitByLargestRemainder,
  stakeWeightedConsensus,
  type YumaInput,
  type YumaOutput,
  type YumaParams,
  yumaEpoch,
} from "./yuma.ts";

const KAPPA = DEFAULT_YUMA_PARAMS.kappa;

function input(stake: number[], weights: number[][], bonds?: number[][]): YumaInput {
  const n = stake.length;
  return {
    n,
    stake: Float64Array.from(stake),
    weights: Float64Array.from(weights.flat()),
    bonds: bonds ? Float64Array.from(bonds.flat()) : new Float64Array(n * n),
  };
}

function column(m: Float64Array, n: number, j: number): number[] {
  return Array.from({ length: n }, (_, i) => m[i * n + j] as number);
}

function expectClose(actual: ArrayLike<number>, expected: number[], digits = 12): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i] as number).toBeCloseTo(e, digits));
}

// ---- a plain model: the same rules written with sorts and nested arrays -----------------------

function normalise(x: number[]): number[] {
  const s = x.reduce((a, b) => a + b, 0);
  return s > 0 ? x.map((v) => v / s) : x.map(() => 0);
}

function colNormalise(m: number[][]): number[][] {
  const n = m.length;
  const sums = Array.from({ length: n }, (_, j) => m.reduce((a, row) => a + (row[j] as number), 0));
  return m.map((row) => row.map((v, j) => ((sums[j] as number) > 0 ? v / (sums[j] as number) : 0)));
}

function modelEpoch(inp: YumaInput, params: YumaParams = DEFAULT_YUMA_PARAMS): YumaOutput {
  const { n } = inp;
  const stake = Array.from(inp.stake);
  const ranked = stake
    .map((s, i) => ({ s, i }))
    .filter((x) => x.s > 0)
    .sort((a, b) => (a.s > b.s ? -1 : a.s < b.s ? 1 : a.i - b.i))
    .slice(0, params.maxValidators);
  const permit = new Uint8Array(n);
  for (const { i } of ranked) permit[i] = 1;
  const active = normalise(stake.map((s, i) => (permit[i] ? s : 0)));
  const w = Array.from({ length: n }, (_, i) => {
    if (!permit[i]) return new Array<number>(n).fill(0);
    return normalise(Array.from({ length: n }, (_, j) => (i === j ? 0 : (inp.weights[i * n + j] as number))));
  });
  const consensus = sortedConsensus(n, Float64Array.from(w.flat()), Float64Array.from(active), params.kappa);
  const clipped = w.map((row) => row.map((v, j) => Math.min(v, consensus[j] as number)));
  const incentive = normalise(Array.from({ length: n }, (_, j) => clipped.reduce((a, row, i) => a + (active[i] as number) * (row[j] as number), 0)));
  const delta = colNormalise(clipped.map((row, i) => row.map((v) => v * (active[i] as number))));
  const old = colNormalise(Array.from({ length: n }, (_, i) => Array.from(inp.bonds.subarray(i * n, i * n + n))));
  const a = params.bondsAlpha;
  const ema = colNormalise(delta.map((row, i) => row.map((v, j) => a * v + (1 - a) * (old[i]?.[j] as number))));
  const dividends = normalise(ema.map((row) => row.reduce((s, b, j) => s + b * (incentive[j] as number), 0)));
  const stored = colNormalise(ema.map((row, i) => (permit[i] ? row : row.map(() => 0))));
  return {
    validatorPermit: permit,
    consensus,
    incentive: Float64Array.from(incentive),
    dividends: Float64Array.from(dividends),
    bonds: Float64Array.from(stored.flat()),
  };
}

// ---- 1. hand-computed epochs ------------------------------------------------------------------

describe("yumaEpoch: hand-computed 3-neuron epochs", () => {
  // uid0 validator (stake 0.6), uid1 validator (stake 0.4), uid2 a miner (no stake).
  // Raw weights: uid0 sets 5 on itself (dropped), 1 on uid1, 3 on uid2 -> [0, 0.25, 0.75].
  //              uid1 sets 1 on uid0 and 1 on uid2                    -> [0.5, 0, 0.5].
  //              uid2 sets weights too, but has no permit              -> row ignored.
  const first = input(
    [0.6, 0.4, 0],
    [
      [5, 1, 3],
      [1, 0, 1],
      [1, 1, 0],
    ],
  );

  it("clips uid1's outlier weight on uid0 to the consensus", () => {
    const out = yumaEpoch(first);
    expect(Array.from(out.validatorPermit)).toEqual([1, 1, 0]);
    // kappa = 32767/65535 ≈ 0.499992. Walking each column from the highest weight down:
    //   col0: 0.5 (uid1, stake 0.4 < kappa), then 0 (uid0, 1.0 >= kappa)     -> C0 = 0
    //   col1: 0.25 (uid0, 0.6 >= kappa)                                        -> C1 = 0.25
    //   col2: 0.75 (uid0, 0.6 >= kappa)                                        -> C2 = 0.75
    expectClose(out.consensus, [0, 0.25, 0.75]);
    // Clipped: uid0 [0, 0.25, 0.75] (unchanged); uid1 [min(0.5, 0) = 0, 0, min(0.5, 0.75) = 0.5].
    // Rank R = W̄ᵀ·S = [0, 0.6·0.25, 0.6·0.75 + 0.4·0.5] = [0, 0.15, 0.65]; sum 0.8.
    // Incentive = [0, 0.1875, 0.8125].
    expectClose(out.incentive, [0, 0.1875, 0.8125]);
    // ΔB rows (S_i·W̄_ij): uid0 [0, 0.15, 0.45], uid1 [0, 0, 0.2]; column-normalised:
    //   col1 [1, 0, 0], col2 [9/13, 4/13, 0], col0 all zero.
    // Old bonds are zero, so B = col_normalise(0.1·ΔB) = ΔB.
    expectClose(column(out.bonds, 3, 0), [0, 0, 0]);
    expectClose(column(out.bonds, 3, 1), [1, 0, 0]);
    expectClose(column(out.bonds, 3, 2), [9 / 13, 4 / 13, 0]);
    // D = B·I: D0 = 1·0.1875 + 9/13·0.8125 = 0.1875 + 0.5625 = 0.75; D1 = 4/13·0.8125 = 0.25.
    expectClose(out.dividends, [0.75, 0.25, 0]);
  });

  it("keeps bonds as a moving average across epochs", () => {
    const bonds = yumaEpoch(first).bonds;
    // Epoch 2: both validators now put everything on the miner: W = [0,0,1] for both.
    // C = [0, 0, 1], I = [0, 0, 1]. ΔB col2 = [0.6, 0.4, 0]; old col2 = [9/13, 4/13, 0].
    // EMA col2: 0.1·0.6 + 0.9·9/13 = 8.88/13, 0.1·0.4 + 0.9·4/13 = 4.12/13 (sums to 1).
    // col1 has no new bonds, so it keeps its old normalised value [1, 0, 0].
    const out = yumaEpoch({ ...input([0.6, 0.4, 0], [[0, 0, 1], [0, 0, 1], [0, 0, 0]]), bonds });
    expectClose(out.consensus, [0, 0, 1]);
    expectClose(out.incentive, [0, 0, 1]);
    expectClose(column(out.bonds, 3, 1), [1, 0, 0]);
    expectClose(column(out.bonds, 3, 2), [8.88 / 13, 4.12 / 13, 0]);
    // D = B·I = col2 of B.
    expectClose(out.dividends, [8.88 / 13, 4.12 / 13, 0]);
  });

  it("ignores the weights of uids without a permit", () => {
    // maxValidators = 1: only uid0 validates; S = [1, 0, 0].
    // C = W0 = [0, 0.25, 0.75]; I = [0, 0.25, 0.75]; every bond belongs to uid0, so D = [1, 0, 0].
    const out = yumaEpoch(first, { ...DEFAULT_YUMA_PARAMS, maxValidators: 1 });
    expect(Array.from(out.validatorPermit)).toEqual([1, 0, 0]);
    expectClose(out.consensus, [0, 0.25, 0.75]);
    expectClose(out.incentive, [0, 0.25, 0.75]);
    expectClose(out.dividends, [1, 0, 0]);
    expectClose(column(out.bonds, 3, 2), [1, 0, 0]);
  });

  it("drops self-weights: a validator voting only for itself adds nothing", () => {
    // uid0 votes only for itself (row becomes zero); uid1 (0.4) alone supports uid2, which is
    // below kappa, so C2 = 0 and nobody earns incentive: everything is zero.
    const out = yumaEpoch(input([0.6, 0.4, 0], [[1, 0, 0], [0, 0, 1], [0, 0, 0]]));
    expectClose(out.consensus, [0, 0, 0]);
    expectClose(out.incentive, [0, 0, 0]);
    expectClose(out.dividends, [0, 0, 0]);
    expect(Array.from(out.bonds).every((b) => b === 0)).toBe(true);
  });

  it("pays dividends from old bonds to a validator that just lost its permit, then clears them", () => {
    // uid1 had all bonds on uid2; now it has no stake. Upstream computes this epoch's dividends
    // from the EMA bonds (0.9·old + 0.1·new) and only then clears the row of a uid without permit.
    const bonds = [
      [0, 0, 0],
      [0, 0, 1],
      [0, 0, 0],
    ];
    const out = yumaEpoch(input([1, 0, 0], [[0, 0, 1], [0, 0, 1], [0, 0, 0]], bonds));
    expectClose(out.incentive, [0, 0, 1]);
    // EMA col2: uid0 0.1·1 = 0.1, uid1 0.9·1 = 0.9.
    expectClose(out.dividends, [0.1, 0.9, 0]);
    expectClose(column(out.bonds, 3, 2), [1, 0, 0]);
    // Next epoch, same state: uid1 gets nothing.
    const next = yumaEpoch({ ...input([1, 0, 0], [[0, 0, 1], [0, 0, 1], [0, 0, 0]]), bonds: out.bonds });
    expectClose(next.dividends, [1, 0, 0]);
  });

  it("handles empty and stake-less subnets", () => {
    const empty = yumaEpoch(input([], []));
    expect(empty.incentive.length).toBe(0);
    const none = yumaEpoch(input([0, 0], [[0, 1], [1, 0]]));
    expect(Array.from(none.validatorPermit)).toEqual([0, 0]);
    expect(Array.from(none.incentive)).toEqual([0, 0]);
    expect(Array.from(none.dividends)).toEqual([0, 0]);
  });

  it("rejects malformed input", () => {
    expect(() => yumaEpoch({ ...input([1, 1], [[0, 1], [1, 0]]), stake: Float64Array.from([1]) })).toThrow(AssertionFailure);
    expect(() => yumaEpoch(input([1, Number.NaN], [[0, 1], [1, 0]]))).toThrow(AssertionFailure);
    expect(() => yumaEpoch(input([1, 1], [[0, -1], [1, 0]]))).toThrow(AssertionFailure);
    expect(() => yumaEpoch(input([1, 1], [[0, 1], [1, 0]], [[0, Infinity], [0, 0]]))).toThrow(AssertionFailure);
    expect(() => yumaEpoch(input([1], [[0]]), { ...DEFAULT_YUMA_PARAMS, kappa: 1.5 })).toThrow(AssertionFailure);
  });
});

// ---- 2. determinism and ties ------------------------------------------------------------------

function bits(out: YumaOutput): string {
  const parts = [out.consensus, out.incentive, out.dividends, out.bonds].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex"));
  return [Buffer.from(out.validatorPermit).toString("hex"), ...parts].join("|");
}

/** A small deterministic generator (xorshift32) so these tests need no seed plumbing. */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

function randomInput(n: number, validators: number, seed: number): YumaInput {
  const rnd = xorshift(seed);
  const stake = new Float64Array(n);
  const weights = new Float64Array(n * n);
  for (let i = 0; i < validators; i++) {
    stake[i] = 1 + Math.floor(rnd() * 1000);
    for (let j = 0; j < n; j++) weights[i * n + j] = Math.floor(rnd() * 65_536);
  }
  return { n, stake, weights, bonds: new Float64Array(n * n) };
}

describe("yumaEpoch: determinism and ties", () => {
  it("gives bit-identical output for the same input, and leaves the input untouched", () => {
    let inp = randomInput(64, 40, 7);
    for (let epoch = 0; epoch < 3; epoch++) {
      const before = [inp.stake, inp.weights, inp.bonds].map((a) => a.slice());
      const a = yumaEpoch(inp);
      const b = yumaEpoch(inp);
      expect(bits(a)).toBe(bits(b));
      expect([inp.stake, inp.weights, inp.bonds]).toEqual(before);
      inp = { ...inp, bonds: a.bonds };
    }
  });

  it("matches a pinned digest, so any change to the arithmetic or its order is deliberate", () => {
    let inp = randomInput(48, 20, 11);
    const digest = createHash("sha256");
    for (let epoch = 0; epoch < 3; epoch++) {
      const out = yumaEpoch(inp);
      digest.update(bits(out));
      inp = { ...inp, bonds: out.bonds };
    }
    expect(digest.digest("hex")).toBe("5b46a80a643e5e300d5475c398891aa31ff2686a598ea2470bdce3617640c59a");
  });

  it("breaks stake ties for permits by lower uid", () => {
    const out = yumaEpoch(input([1, 2, 2, 1, 2], Array.from({ length: 5 }, () => [0, 0, 0, 0, 0])), { ...DEFAULT_YUMA_PARAMS, maxValidators: 2 });
    expect(Array.from(out.validatorPermit)).toEqual([0, 1, 1, 0, 0]);
    const three = yumaEpoch(input([1, 2, 2, 1, 2], Array.from({ length: 5 }, () => [0, 0, 0, 0, 0])), { ...DEFAULT_YUMA_PARAMS, maxValidators: 4 });
    expect(Array.from(three.validatorPermit)).toEqual([1, 1, 1, 0, 1]);
  });

  it("splits evenly between validators of equal stake and equal weights", () => {
    // Two validators of equal stake (0.5 each >= kappa) disagree on uid2: the higher weight alone
    // already has half the stake, so it is the consensus.
    const out = yumaEpoch(input([1, 1, 0], [[0, 0, 1], [0, 0, 1], [0, 0, 0]]));
    expectClose(out.consensus, [0, 0, 1]);
    expectClose(out.dividends, [0.5, 0.5, 0]);
  });

  it("is equivariant under relabelling of uids (no stake ties)", () => {
    const n = 9;
    const base = randomInput(n, 6, 99);
    const perm = [4, 7, 0, 8, 2, 5, 1, 3, 6]; // new uid of old uid i is perm[i]
    const moved: YumaInput = { n, stake: new Float64Array(n), weights: new Float64Array(n * n), bonds: new Float64Array(n * n) };
    for (let i = 0; i < n; i++) {
      moved.stake[perm[i] as number] = base.stake[i] as number;
      for (let j = 0; j < n; j++) moved.weights[(perm[i] as number) * n + (perm[j] as number)] = base.weights[i * n + j] as number;
    }
    const a = yumaEpoch(base);
    const b = yumaEpoch(moved);
    for (let i = 0; i < n; i++) {
      const p = perm[i] as number;
      expect(b.validatorPermit[p]).toBe(a.validatorPermit[i]);
      expect(b.consensus[p]).toBe(a.consensus[i]);
      expect(b.incentive[p] as number).toBeCloseTo(a.incentive[i] as number, 12);
      expect(b.dividends[p] as number).toBeCloseTo(a.dividends[i] as number, 12);
    }
  });
});

// ---- 3. properties ----------------------------------------------------------------------------

/** Stakes and weights drawn from small integers so that zeros and ties are common. */
const arbSized = (minN: number, maxN: number) =>
  fc.integer({ min: minN, max: maxN }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    stake: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 }), fc.double({ min: 0, max: 1e6, noNaN: true })), { minLength: n, maxLength: n }),
    weights: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65_535 })), { minLength: n * n, maxLength: n * n }),
    bonds: fc.option(fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: n * n, maxLength: n * n }), { nil: undefined }),
    maxValidators: fc.integer({ min: 0, max: n + 2 }),
  }),
);
const arbInput = arbSized(1, 12);
// Enough validators that consensus partitions instead of finishing by insertion sort.
const arbLarge = arbSized(13, 48);

function toInput(r: { n: number; stake: number[]; weights: number[]; bonds: number[] | undefined }): YumaInput {
  return {
    n: r.n,
    stake: Float64Array.from(r.stake),
    weights: Float64Array.from(r.weights),
    bonds: r.bonds ? Float64Array.from(r.bonds) : new Float64Array(r.n * r.n),
  };
}

function expectDistribution(x: Float64Array): void {
  let sum = 0;
  for (const v of x) {
    expect(v).toBeGreaterThanOrEqual(0);
    sum += v;
  }
  if (sum !== 0) expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
}

function expectColumnsNormalised(b: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    const col = column(b, n, j);
    col.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
    const sum = col.reduce((a, v) => a + v, 0);
    if (sum !== 0) expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
  }
}

describe("yumaEpoch: properties", () => {
  it("outputs distributions, normalised bond columns and permits only for staked uids", () => {
    fc.assert(
      fc.property(arbInput, (r) => {
        const inp = toInput(r);
        const params = { ...DEFAULT_YUMA_PARAMS, maxValidators: r.maxValidators };
        const out = yumaEpoch(inp, params);
        expectDistribution(out.incentive);
        expectDistribution(out.dividends);
        expectColumnsNormalised(out.bonds, r.n);
        let permits = 0;
        for (let i = 0; i < r.n; i++) {
          if (out.validatorPermit[i] === 1) {
            permits++;
            expect(inp.stake[i]).toBeGreaterThan(0);
          }
        }
        expect(permits).toBeLessThanOrEqual(r.maxValidators);
        for (const c of out.consensus) expect(c >= 0 && c <= 1).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never pays dividends to a uid without stake and without old bonds", () => {
    fc.assert(
      fc.property(arbInput, (r) => {
        const inp = toInput(r);
        const params = { ...DEFAULT_YUMA_PARAMS, maxValidators: r.maxValidators };
        const first = yumaEpoch(inp, params);
        const second = yumaEpoch({ ...inp, bonds: first.bonds }, params);
        for (let i = 0; i < r.n; i++) {
          let oldRow = 0;
          for (let j = 0; j < r.n; j++) oldRow += inp.bonds[i * r.n + j] as number;
          if (inp.stake[i] === 0 && oldRow === 0) expect(first.dividends[i]).toBe(0);
          // After one epoch the bonds of uids without a permit are cleared, so a uid without
          // stake gets nothing from the second epoch on, whatever it held before.
          if (inp.stake[i] === 0) expect(second.dividends[i]).toBe(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ["small", arbInput, 500],
    ["large", arbLarge, 100],
  ] as const)("agrees with a plain sort-based model of the same rules (%s subnets)", (_name, arb, numRuns) => {
    fc.assert(
      // Realistic EMA weights: with a subnormal alpha the model's own products underflow.
      fc.property(arb, fc.oneof(fc.constant(0), fc.constant(1), fc.constant(0.1), fc.double({ min: 1e-6, max: 1, noNaN: true })), (r, alpha) => {
        // Subnormal inputs are left to the other properties: the model's step-by-step products
        // lose their digits there, while the implementation folds the steps.
        const clean = (xs: number[]): number[] => xs.map((x) => (x < 1e-100 ? 0 : x));
        const inp = toInput({ ...r, stake: clean(r.stake), bonds: r.bonds && clean(r.bonds) });
        const params = { ...DEFAULT_YUMA_PARAMS, maxValidators: r.maxValidators, bondsAlpha: alpha };
        const got = yumaEpoch(inp, params);
        const want = modelEpoch(inp, params);
        expect(Array.from(got.validatorPermit)).toEqual(Array.from(want.validatorPermit));
        expect(Array.from(got.consensus)).toEqual(Array.from(want.consensus));
        for (const key of ["incentive", "dividends", "bonds"] as const) {
          got[key].forEach((v, i) => expect(Math.abs(v - (want[key][i] as number))).toBeLessThan(1e-9));
        }
      }),
      { numRuns },
    );
  });

  it("selects the same kappa-quantile as sorting, on columns large enough to partition", () => {
    // Up to 300 staked rows with values from a small set, so runs of equal weights are long.
    const arbColumn = fc.integer({ min: 1, max: 300 }).chain((k) =>
      fc.record({
        stake: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })), { minLength: k, maxLength: k }),
        values: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: k, maxLength: k }),
        kappa: fc.oneof(fc.constant(KAPPA), fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      }),
    );
    fc.assert(
      fc.property(arbColumn, ({ stake, values, kappa }) => {
        const k = stake.length;
        const active = Float64Array.from(normalise(stake));
        // One column (j = 0) of a k×k matrix; the other columns get a reversed copy.
        const w = new Float64Array(k * k);
        for (let i = 0; i < k; i++) {
          w[i * k] = (values[i] as number) / 8;
          if (k > 1) w[i * k + 1] = (values[k - 1 - i] as number) / 8;
        }
        expect(Array.from(stakeWeightedConsensus(k, w, active, kappa))).toEqual(Array.from(sortedConsensus(k, w, active, kappa)));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- 4. splitting rao -------------------------------------------------------------------------

describe("splitByLargestRemainder", () => {
  const arbTotal = fc.oneof(fc.bigInt({ min: 0n, max: 1_000_000n }), fc.bigInt({ min: 0n, max: MAX_SPLIT_TOTAL - 1n }));

  it("sums exactly to total for random shares", () => {
    fc.assert(
      fc.property(arbTotal, fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e300, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 60 }), (total, shares) => {
        const out = splitByLargestRemainder(total, Float64Array.from(shares));
        expect(out.length).toBe(shares.length);
        out.forEach((v) => expect(v >= 0n).toBe(true));
        const sum = out.reduce((a, b) => a + b, 0n);
        if (shares.every((s) => s === 0)) expect(sum).toBe(0n);
        else expect(sum).toBe(total);
        shares.forEach((s, i) => {
          if (s === 0) expect(out[i]).toBe(0n);
        });
      }),
      { numRuns: 1_000 },
    );
  });

  it("is proportional within 1 rao (checked exactly on integer shares)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.array(fc.integer({ min: 0, max: 1 << 20 }), { minLength: 1, maxLength: 60 }), (total, shares) => {
        const out = splitByLargestRemainder(total, Float64Array.from(shares));
        const s = BigInt(shares.reduce((a, b) => a + b, 0));
        if (s === 0n) return;
        shares.forEach((share, i) => {
          // |out_i − total·share/S| < 1  <=>  |out_i·S − total·share| < S
          const diff = (out[i] as bigint) * s - total * BigInt(share);
          expect(diff < s && -diff < s).toBe(true);
        });
      }),
      { numRuns: 1_000 },
    );
  });

  it("gives the remainder by largest fractional part, ties by lower index", () => {
    expect(splitByLargestRemainder(10n, Float64Array.from([1, 1, 1]))).toEqual([4n, 3n, 3n]);
    expect(splitByLargestRemainder(11n, Float64Array.from([1, 1, 1]))).toEqual([4n, 4n, 3n]);
    // 7·[0.1, 0.3, 0.6] = [0.7, 2.1, 4.2]: floors [0, 2, 4], one rao left goes to 0.7.
    expect(splitByLargestRemainder(7n, Float64Array.from([0.1, 0.3, 0.6]))).toEqual([1n, 2n, 4n]);
    expect(splitByLargestRemainder(1n, Float64Array.from([0, 2, 2]))).toEqual([0n, 1n, 0n]);
  });

  it("returns all zeros for all-zero shares, empty shares and a zero total", () => {
    expect(splitByLargestRemainder(1_000n, Float64Array.from([0, 0, 0]))).toEqual([0n, 0n, 0n]);
    expect(splitByLargestRemainder(1_000n, new Float64Array(0))).toEqual([]);
    expect(splitByLargestRemainder(0n, Float64Array.from([1, 2]))).toEqual([0n, 0n]);
  });

  it("rejects totals outside [0, 2^53) and bad shares", () => {
    expect(() => splitByLargestRemainder(MAX_SPLIT_TOTAL, Float64Array.from([1]))).toThrow(AssertionFailure);
    expect(() => splitByLargestRemainder(-1n, Float64Array.from([1]))).toThrow(AssertionFailure);
    expect(() => splitByLargestRemainder(10n, Float64Array.from([1, Number.NaN]))).toThrow(AssertionFailure);
    expect(() => splitByLargestRemainder(10n, Float64Array.from([1, -1]))).toThrow(AssertionFailure);
    expect(() => splitByLargestRemainder(10n, Float64Array.from([Number.MAX_VALUE, Number.MAX_VALUE]))).toThrow(AssertionFailure);
  });

  it("pays an epoch's rao from Yuma's incentive exactly", () => {
    const out = yumaEpoch(randomInput(32, 12, 5));
    const total = 180_000_000_000n;
    const paid = splitByLargestRemainder(total, out.incentive);
    expect(paid.reduce((a, b) => a + b, 0n)).toBe(total);
  });
});
