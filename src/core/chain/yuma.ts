/**
 * Yuma consensus, classic variant (Yuma3 and liquid alpha off), on Float64 typed arrays.
 * Follows `epoch_mechanism` (reference §3.2) with every neuron active, no commit-reveal and no
 * registration masks. Only + - * / are used on floats and every sum runs in an order fixed by the
 * input (uid order, or the consensus walk), so the same input gives bit-identical output on any
 * machine. The results are proportions: money is
 * paid from them with `splitByLargestRemainder`, so conservation never depends on these numbers.
 */
import { assert } from "../errors/errors.ts";

export interface YumaParams {
  /** Consensus quantile in [0, 1]: the share of active stake that must support a weight. */
  kappa: number;
  /** Weight of the new bonds in the bonds EMA, in [0, 1]. */
  bondsAlpha: number;
  /** How many uids (top by stake) may validate. */
  maxValidators: number;
}

/** Subtensor defaults (§8): Kappa 32_767/65_535, BondsMovingAverage 900_000, 128 validators. */
export const DEFAULT_YUMA_PARAMS: YumaParams = Object.freeze({
  kappa: 32_767 / 65_535,
  // (1e6 - 900_000) / 1e6 is the double nearest 0.1; `1 - 0.9` would be 0.09999999999999998.
  bondsAlpha: (1_000_000 - 900_000) / 1_000_000,
  maxValidators: 128,
});

/** Upper bound on uids per subnet (`MaxAllowedUids` @dec25). */
export const MAX_NEURONS = 4096;

export interface YumaInput {
  /** Neurons, uids 0..n-1. */
  n: number;
  /** Length n, non-negative stake per uid; only proportions matter. */
  stake: Float64Array;
  /**
   * n*n row-major; weights[i*n+j] >= 0 is what uid i set on uid j (raw, not normalised). Rows of
   * uids without a permit are ignored, and not checked.
   */
  weights: Float64Array;
  /** n*n row-major bonds from the previous epoch (column-normalised, or all zero at start). */
  bonds: Float64Array;
}

export interface YumaOutput {
  /** 1 for the top-maxValidators uids by stake (ties by lower uid) with stake > 0. */
  validatorPermit: Uint8Array;
  /** Per uid j: the stake-weighted kappa-quantile of the weights validators set on j. */
  consensus: Float64Array;
  /** Sums to 1, or all 0. */
  incentive: Float64Array;
  /** Sums to 1, or all 0. */
  dividends: Float64Array;
  /** n*n new bonds; each column sums to 1 or is all 0; rows of uids without a permit are 0. */
  bonds: Float64Array;
}

/** One epoch of Yuma consensus. Pure: the input arrays are not modified. */
export function yumaEpoch(input: YumaInput, params: YumaParams = DEFAULT_YUMA_PARAMS): YumaOutput {
  checkInput(input, params);
  const { n, stake, weights, bonds: bondsOld } = input;

  const validatorPermit = validatorPermits(stake, params.maxValidators);
  const validators: number[] = [];
  for (let i = 0; i < n; i++) if (validatorPermit[i] === 1) validators.push(i);
  const k = validators.length;

  const activeStake = new Float64Array(n);
  for (const i of validators) activeStake[i] = stake[i] as number;
  normaliseInPlace(activeStake);
  const vStake = new Float64Array(k); // active stake of the p-th validator
  for (let p = 0; p < k; p++) vStake[p] = activeStake[validators[p] as number] as number;

  // Only permitted rows can hold weights, so W is kept column-major over validators only:
  // wt[j*k + p] is what the p-th validator (uids ascending) puts on uid j. A full subnet has
  // 256 uids but at most 128 validators, and each column is then contiguous for consensus.
  const wt = new Float64Array(n * k);
  for (let p = 0; p < k; p++) {
    const i = validators[p] as number;
    const row = i * n;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const x = weights[row + j] as number;
      if (!isNonNegativeFinite(x)) assert(false, `yuma: weights[${row + j}] is ${x}`);
      if (j !== i) sum += x;
    }
    if (sum > 0) for (let j = 0; j < n; j++) if (j !== i) wt[j * k + p] = (weights[row + j] as number) / sum;
  }

  // Consensus, then clip to it and scale by stake, in place: wt becomes ΔB_ij = S_i·min(W_ij, C_j)
  // before column normalisation, and its column sums are the ranks R_j = (W̄ᵀ·S)_j.
  const rank = new Float64Array(n);
  const consensus = columnConsensus(wt, n, k, vStake, params.kappa, rank);
  const incentive = rank.slice();
  normaliseInPlace(incentive);

  // Old bonds: column sums, and the rows without a permit that still hold some (rare: only
  // right after a validator loses its permit, since their rows are cleared on output).
  const oldSum = new Float64Array(n);
  const formerRows: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = i * n;
    // Most rows hold no bonds (only validators do): skip them after one cheap read.
    let first = 0;
    while (first < n && bondsOld[row + first] === 0) first++;
    if (first === n) continue;
    let rowSum = 0;
    for (let j = first; j < n; j++) {
      const b = bondsOld[row + j] as number;
      if (!isNonNegativeFinite(b)) assert(false, `yuma: bonds[${row + j}] is ${b}`);
      rowSum += b;
      oldSum[j] = (oldSum[j] as number) + b;
    }
    if (rowSum > 0 && validatorPermit[i] !== 1) formerRows.push(i);
  }

  // B = col_normalise(α·col_normalise(ΔB) + (1−α)·col_normalise(B_old)). The outer
  // normalisation folds into the two coefficients: the EMA column sums to α (if ΔB_j has any
  // mass) plus 1−α (if B_old_j has any), so no pass is needed to find it. Entries are divided by
  // their column sums one by one: a reciprocal of a tiny (subnormal) sum would overflow.
  const alpha = params.bondsAlpha;
  const keep = 1 - alpha;
  const newCoef = new Float64Array(n);
  const oldCoef = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const a = (rank[j] as number) > 0 ? alpha : 0;
    const b = (oldSum[j] as number) > 0 ? keep : 0;
    const total = a + b;
    if (total > 0) {
      newCoef[j] = a / total;
      oldCoef[j] = b / total;
    }
  }

  // D_i = Σ_j B_ij·I_j comes from the EMA bonds before rows are cleared (as upstream does).
  // Upstream then stores bonds only for rows that keep a permit and column-normalises them when
  // it reads them back; doing both here keeps the output a column-normalised matrix the next
  // epoch can take as it is.
  const dividends = new Float64Array(n);
  for (const i of formerRows) {
    let d = 0;
    const row = i * n;
    for (let j = 0; j < n; j++) {
      const o = oldSum[j] as number;
      if (o > 0) d += ((bondsOld[row + j] as number) / o) * (oldCoef[j] as number) * (incentive[j] as number);
    }
    dividends[i] = d;
  }
  const bonds = new Float64Array(n * n);
  const keptSum = new Float64Array(n);
  for (let p = 0; p < k; p++) {
    const i = validators[p] as number;
    const row = i * n;
    let d = 0;
    for (let j = 0; j < n; j++) {
      const r = rank[j] as number;
      const o = oldSum[j] as number;
      const fresh = r > 0 ? ((wt[j * k + p] as number) / r) * (newCoef[j] as number) : 0;
      const b = fresh + (o > 0 ? ((bondsOld[row + j] as number) / o) * (oldCoef[j] as number) : 0);
      bonds[row + j] = b;
      keptSum[j] = (keptSum[j] as number) + b;
      d += b * (incentive[j] as number);
    }
    dividends[i] = d;
  }
  normaliseInPlace(dividends);
  for (const i of validators) {
    const row = i * n;
    for (let j = 0; j < n; j++) {
      const s = keptSum[j] as number;
      if (s > 0) bonds[row + j] = (bonds[row + j] as number) / s;
    }
  }

  return { validatorPermit, consensus, incentive, dividends, bonds };
}

/**
 * Per column j, the stake-weighted kappa-quantile of w[i*n+j] (an n*n row-major matrix) over
 * rows i with activeStake[i] > 0: the largest value v such that the stake of rows with
 * w[i*n+j] >= v is at least kappa (upstream `weighted_median_col`). If the stake never reaches
 * kappa, the column's smallest value. Columns with no staked row give 0.
 */
export function stakeWeightedConsensus(
  n: number,
  w: Float64Array,
  activeStake: Float64Array,
  kappa: number,
): Float64Array {
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if ((activeStake[i] as number) > 0) rows.push(i);
  const k = rows.length;
  const wt = new Float64Array(n * k);
  const stake = new Float64Array(k);
  for (let p = 0; p < k; p++) {
    const i = rows[p] as number;
    stake[p] = activeStake[i] as number;
    for (let j = 0; j < n; j++) wt[j * k + p] = w[i * n + j] as number;
  }
  return columnConsensus(wt, n, k, stake, kappa, null);
}

/**
 * The consensus of each of the n columns of wt (column-major, k rows in uid order, row p with
 * stake[p]); rows with no stake take no part. Expected O(k) per column by weighted quickselect.
 * With `rank`, also clips each column in place to S_p·min(W_pj, C_j) and stores its sum in rank.
 */
function columnConsensus(
  wt: Float64Array,
  n: number,
  k: number,
  stake: Float64Array,
  kappa: number,
  rank: Float64Array | null,
): Float64Array {
  const consensus = new Float64Array(n);
  const uidsWithStake: number[] = [];
  const uidsWithoutStake: number[] = [];
  for (let p = 0; p < k; p++) ((stake[p] as number) > 0 ? uidsWithStake : uidsWithoutStake).push(p);
  const len = uidsWithStake.length;
  if (len === 0) {
    if (rank !== null) wt.fill(0);
    return consensus;
  }
  const start = Int32Array.from(uidsWithStake);
  const order = new Int32Array(len);
  for (let j = 0; j < n; j++) {
    const base = j * k;
    order.set(start);
    const cross = kappaQuantile(wt, base, stake, order, len, kappa);
    const c = wt[base + (order[cross] as number)] as number;
    consensus[j] = c;
    if (rank === null) continue;
    // Rows walked up to the crossing hold values >= c and the rest <= c, so the clip needs no
    // comparisons (which, on scattered weights, are mostly mispredicted branches).
    for (let q = 0; q <= cross; q++) {
      const r = order[q] as number;
      wt[base + r] = (stake[r] as number) * c;
    }
    for (let q = cross + 1; q < len; q++) {
      const r = order[q] as number;
      wt[base + r] = (stake[r] as number) * (wt[base + r] as number);
    }
    for (const p of uidsWithoutStake) wt[base + p] = 0;
    let sum = 0; // in uid order
    for (let p = 0; p < k; p++) sum += wt[base + p] as number;
    rank[j] = sum;
  }
  return consensus;
}

// Below this size a range is finished by insertion sort, which is faster than partitioning.
const SMALL_RANGE = 12;

/** Row a comes before row b in the walk: higher value first, ties by lower row (= lower uid). */
function ahead(val: Float64Array, base: number, a: number, b: number): boolean {
  const va = val[base + a] as number;
  const vb = val[base + b] as number;
  return va > vb || (va === vb && a < b);
}

/**
 * Walks the rows in `order` by descending value val[base + row] (ties: lower row first) and
 * finds the first row at which the running stake reaches kappa, without sorting: each round
 * partitions around a median-of-three pivot and keeps only the side holding the crossing.
 * Returns the crossing's position in `order`, which it leaves permuted so that the rows before
 * that position come before it in the walk and the rows after it come after. The order is total
 * (rows are distinct), so the result and every intermediate sum are fixed by the input.
 */
function kappaQuantile(val: Float64Array, base: number, stake: Float64Array, order: Int32Array, len: number, kappa: number): number {
  let lo = 0;
  let hi = len;
  let acc = 0; // stake of every row known to come before position lo
  let passed = 0; // position of the last row walked past, for an exhausted walk
  // Bad pivots cannot push the work past O(len log len): after this many rounds, sort the rest.
  let rounds = 2 * (32 - Math.clz32(len)) + 4;
  while (hi - lo > SMALL_RANGE && rounds > 0) {
    rounds--;
    const last = hi - 1;
    const mid = lo + ((hi - lo) >> 1);
    // Median of three as the pivot, moved to `last`.
    let a = order[lo] as number;
    let b = order[mid] as number;
    let c = order[last] as number;
    let t: number;
    if (ahead(val, base, b, a)) {
      t = a;
      a = b;
      b = t;
    }
    if (ahead(val, base, c, a)) {
      t = a;
      a = c;
      c = t;
    }
    if (ahead(val, base, b, c)) {
      t = b;
      b = c;
      c = t;
    }
    order[lo] = a;
    order[mid] = b;
    order[last] = c;
    const pv = val[base + c] as number;
    let store = lo;
    let before = 0;
    // Branch-free partition: on scattered weights the comparison is a coin flip, and a
    // mispredicted branch costs more than an unconditional swap. f·stake adds exactly 0 or stake.
    for (let q = lo; q < last; q++) {
      const r = order[q] as number;
      const v = val[base + r] as number;
      const f = +(v > pv) | (+(v === pv) & +(r < c));
      before += f * (stake[r] as number);
      order[q] = order[store] as number;
      order[store] = r;
      store += f;
    }
    order[last] = order[store] as number;
    order[store] = c;
    // An empty upper side cannot hold the crossing (acc >= kappa there only when kappa <= 0,
    // and then the pivot, first in the walk, is the answer).
    if (store > lo && acc + before >= kappa) {
      hi = store;
    } else {
      acc = acc + before + (stake[c] as number);
      passed = store;
      if (acc >= kappa) return passed;
      lo = store + 1;
    }
  }
  if (hi - lo > SMALL_RANGE) {
    const rest = Array.from(order.subarray(lo, hi)).sort((x, y) => (ahead(val, base, x, y) ? -1 : 1));
    rest.forEach((r, q) => (order[lo + q] = r));
  } else {
    for (let q = lo + 1; q < hi; q++) {
      const r = order[q] as number;
      let t = q;
      while (t > lo && ahead(val, base, r, order[t - 1] as number)) {
        order[t] = order[t - 1] as number;
        t--;
      }
      order[t] = r;
    }
  }
  for (let q = lo; q < hi; q++) {
    acc += stake[order[q] as number] as number;
    passed = q;
    if (acc >= kappa) return passed;
  }
  // Only reached when rounding kept the running sum a hair under kappa, or the total stake is
  // below kappa: the smallest value walked is the answer upstream gives too.
  return passed;
}

/** Top-k uids by stake among those with stake > 0; ties go to the lower uid. */
function validatorPermits(stake: Float64Array, k: number): Uint8Array {
  const permit = new Uint8Array(stake.length);
  const uidsWithStake: number[] = [];
  for (let i = 0; i < stake.length; i++) if ((stake[i] as number) > 0) uidsWithStake.push(i);
  if (uidsWithStake.length > k) {
    uidsWithStake.sort((a, b) => {
      const sa = stake[a] as number;
      const sb = stake[b] as number;
      return sa > sb ? -1 : sa < sb ? 1 : a - b;
    });
    uidsWithStake.length = k;
  }
  for (const i of uidsWithStake) permit[i] = 1;
  return permit;
}

function normaliseInPlace(x: Float64Array): void {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] as number;
  if (sum > 0) for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) / sum;
}

function isNonNegativeFinite(x: number): boolean {
  return x >= 0 && x < Infinity; // false for NaN too
}

function checkInput(input: YumaInput, params: YumaParams): void {
  const { n, stake, weights, bonds } = input;
  assert(Number.isInteger(n) && n >= 0 && n <= MAX_NEURONS, `yuma: n must be an integer in [0, ${MAX_NEURONS}], got ${n}`);
  assert(stake.length === n, `yuma: stake has length ${stake.length}, expected ${n}`);
  assert(weights.length === n * n, `yuma: weights has length ${weights.length}, expected ${n * n}`);
  assert(bonds.length === n * n, `yuma: bonds has length ${bonds.length}, expected ${n * n}`);
  assert(params.kappa >= 0 && params.kappa <= 1, `yuma: kappa must be in [0, 1], got ${params.kappa}`);
  assert(params.bondsAlpha >= 0 && params.bondsAlpha <= 1, `yuma: bondsAlpha must be in [0, 1], got ${params.bondsAlpha}`);
  assert(
    Number.isInteger(params.maxValidators) && params.maxValidators >= 0,
    `yuma: maxValidators must be a non-negative integer, got ${params.maxValidators}`,
  );
  // Messages are built only on failure, here and in the cell loops of yumaEpoch.
  for (let i = 0; i < n; i++) if (!isNonNegativeFinite(stake[i] as number)) assert(false, `yuma: stake[${i}] is ${stake[i]}`);
  // Weights and bonds are checked where they are read (weights only in permitted rows: the
  // others are ignored), which saves a pass over n*n cells.
}

// ---- paying rao from proportions --------------------------------------------------------------

/** Totals must stay below 2^53 so that Number(total) and every floor are exact integers. */
export const MAX_SPLIT_TOTAL = 9_007_199_254_740_992n; // 2^53

/**
 * Splits `total` rao in proportion to `shares` (non-negative floats): floor each, then give the
 * remainder one rao at a time by largest fractional part, ties by lower index. Sum is exactly
 * total; all zero shares -> all zero and the caller keeps total.
 *
 * Bound: total < 2^53, so that Number(total) and every floor are exact. Each part is within
 * 1 rao of total·share/Σshares plus the float error of computing that product, at most about
 * total·(n+2)·2^-53 rao: under 0.02 rao for 2^39 rao (550 TAO, more than an epoch's emission)
 * over 256 uids, but whole rao near 2^53. The exact sum never depends on it: the remainder is
 * settled in bigint, and parts never go negative.
 */
export function splitByLargestRemainder(total: bigint, shares: Float64Array): bigint[] {
  assert(total >= 0n && total < MAX_SPLIT_TOTAL, `split: total must be in [0, 2^53), got ${total}`);
  const m = shares.length;
  let sum = 0;
  for (let i = 0; i < m; i++) {
    const s = shares[i] as number;
    if (!isNonNegativeFinite(s)) assert(false, `split: shares[${i}] is ${s}`);
    sum += s;
  }
  const out: bigint[] = new Array<bigint>(m).fill(0n);
  if (sum === 0) return out;
  assert(sum < Infinity, "split: shares overflow");

  const t = Number(total);
  const frac = new Float64Array(m);
  const paid: number[] = [];
  let given = 0n;
  for (let i = 0; i < m; i++) {
    const s = shares[i] as number;
    if (s === 0) continue;
    // share/sum <= 1, so the product is at most t and its floor is an exact integer.
    const exact = (s / sum) * t;
    const whole = Math.floor(exact);
    out[i] = BigInt(whole);
    frac[i] = exact - whole;
    given += BigInt(whole);
    paid.push(i);
  }
  // Largest fractional part first, ties by lower index.
  paid.sort((a, b) => {
    const fa = frac[a] as number;
    const fb = frac[b] as number;
    return fa > fb ? -1 : fa < fb ? 1 : a - b;
  });
  let rest = total - given;
  // Rounding can make the floors overshoot by a rao or two near the bound: take those back from
  // the smallest fractional parts, never below zero.
  for (let p = paid.length - 1; rest < 0n; p = p === 0 ? paid.length - 1 : p - 1) {
    const i = paid[p] as number;
    if ((out[i] as bigint) > 0n) {
      out[i] = (out[i] as bigint) - 1n;
      rest += 1n;
    }
  }
  // Normally rest < paid.length; rounding near the bound can leave more, so go round again.
  const count = BigInt(paid.length);
  const each = rest / count;
  let extra = Number(rest % count);
  for (const i of paid) {
    out[i] = (out[i] as bigint) + each + (extra > 0 ? 1n : 0n);
    if (extra > 0) extra--;
  }
  return out;
}
