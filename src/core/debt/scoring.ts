import { AssertionFailure } from "../errors/errors.ts";
import { type AlphaPrice, microUsdOfAlpha } from "./micro-usd.ts";
import type { Debt } from "./owed.ts";

/**
 * Debt-based scoring (DESIGN.md §3.5, reference §6.4 simplified): each tempo the validator weighs
 * every eligible uid so that the emission projected until the end of the current payout period
 * pays what it is still owed:
 *   weight(uid) = max(remaining / projected emission (USD), dust floor of its bucket)
 * with dust floors of 1, 3 and 4 units of 1.5e-5 for challenge, funded and entity uids. When the
 * weights sum below 1 the rest goes to the subnet owner's uid (recycled); above 1 they are scaled
 * down in proportion. Weights are then normalised to u16 as the Bittensor SDK does. Amounts are
 * bigint micro-USD; the weights are floats using + - * / only, summed in uid order.
 */
export type Bucket = "challenge" | "funded" | "entity";

export const DUST = 1.5e-5;
export const DUST_UNITS: Readonly<Record<Bucket, number>> = { challenge: 1, funded: 3, entity: 4 };
export const U16_MAX = 65_535;

export interface EligibleUid extends Debt {
  uid: number;
  bucket: Bucket;
}

export interface ScoringInput {
  /** Every eligible uid, once, the subnet owner's excepted. */
  eligible: readonly EligibleUid[];
  /** USD value of the miners' emission projected from now to the payout period's deadline. */
  projectedMicro: bigint;
  ownerUid: number;
}

export interface WeightRow extends Debt {
  uid: number;
  bucket: Bucket | "owner";
  /** The uid's share of the emission, the shares summing to 1. */
  share: number;
  /** The share as the u16 set on chain (0: left out). */
  weight: number;
}

export interface Scores {
  /** The uids and u16 weights to set on chain, by uid, zeros dropped. */
  uids: number[];
  weights: number[];
  /** Every eligible uid and the owner's, by uid. */
  rows: WeightRow[];
}

export function scoreWeights(input: ScoringInput): Scores {
  const eligible = [...input.eligible].sort((a, b) => a.uid - b.uid);
  for (let i = 0; i < eligible.length; i++) {
    const e = eligible[i] as EligibleUid;
    if (e.uid === input.ownerUid) throw new AssertionFailure(`scoreWeights: the owner's uid ${e.uid} is not scored`);
    if (i > 0 && (eligible[i - 1] as EligibleUid).uid === e.uid) throw new AssertionFailure(`scoreWeights: uid ${e.uid} listed twice`);
    if (e.remainingMicro < 0n) throw new AssertionFailure(`scoreWeights: uid ${e.uid} has a negative remaining debt`);
  }
  // With nothing projected (no price for alpha, or no emission before the deadline) no debt can be
  // paid by weight: every uid keeps its dust floor and the rest goes to the owner's uid.
  const per = Number(input.projectedMicro);
  const shares: number[] = new Array(eligible.length);
  let sum = 0;
  for (let i = 0; i < eligible.length; i++) {
    const e = eligible[i] as EligibleUid;
    const debt = e.remainingMicro > 0n && per > 0 ? Number(e.remainingMicro) / per : 0;
    const dust = DUST_UNITS[e.bucket] * DUST;
    const w = debt > dust ? debt : dust;
    shares[i] = w;
    sum += w;
  }
  let ownerShare = 0;
  if (sum < 1) ownerShare = 1 - sum;
  else for (let i = 0; i < shares.length; i++) shares[i] = (shares[i] as number) / sum;

  const rows: WeightRow[] = eligible.map((e, i) => ({
    uid: e.uid,
    bucket: e.bucket,
    owedMicro: e.owedMicro,
    paidMicro: e.paidMicro,
    remainingMicro: e.remainingMicro,
    share: shares[i] as number,
    weight: 0,
  }));
  const owner: WeightRow = { uid: input.ownerUid, bucket: "owner", owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n, share: ownerShare, weight: 0 };
  const at = rows.findIndex((r) => r.uid > input.ownerUid);
  rows.splice(at < 0 ? rows.length : at, 0, owner);

  const u16 = normaliseU16(rows.map((r) => r.share));
  const uids: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as WeightRow;
    row.weight = u16[i] as number;
    if (row.weight !== 0) {
      uids.push(row.uid);
      weights.push(row.weight);
    }
  }
  return { uids, weights, rows };
}

/**
 * Weights as the Bittensor SDK sends them (`convert_weights_and_uids_for_emit`): divided by the
 * largest, times 65535, rounded with Python's `round` (half to even); all zeros when they sum to 0.
 */
export function normaliseU16(shares: readonly number[]): number[] {
  let max = 0;
  let sum = 0;
  for (const s of shares) {
    if (!(s >= 0) || !Number.isFinite(s)) throw new AssertionFailure(`normaliseU16: weight ${s} is not a finite non-negative number`);
    if (s > max) max = s;
    sum += s;
  }
  if (sum === 0) return shares.map(() => 0);
  return shares.map((s) => roundHalfEven((s / max) * U16_MAX));
}

/** Python's round() of a non-negative float: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** An entity's debt: the sums over its subaccounts (a subaccount has no uid of its own). */
export function entityDebt(subaccounts: Iterable<Debt>): Debt {
  let owedMicro = 0n;
  let paidMicro = 0n;
  let remainingMicro = 0n;
  for (const d of subaccounts) {
    owedMicro += d.owedMicro;
    paidMicro += d.paidMicro;
    remainingMicro += d.remainingMicro;
  }
  return { owedMicro, paidMicro, remainingMicro };
}

/**
 * USD value of the miners' emission from now to the deadline: their alpha per block times the
 * blocks left (the block holding `nowMs` excluded, a block every `blockTimeMs`), at today's price.
 */
export function projectedEmissionMicro(minerAlphaPerBlockRao: bigint, nowMs: number, deadlineMs: number, blockTimeMs: number, price: AlphaPrice): bigint {
  if (deadlineMs <= nowMs || blockTimeMs <= 0) return 0n;
  const blocks = BigInt(Math.floor((deadlineMs - nowMs) / blockTimeMs));
  return microUsdOfAlpha(minerAlphaPerBlockRao * blocks, price);
}
