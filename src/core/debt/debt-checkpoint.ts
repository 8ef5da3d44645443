import { AssertionFailure } from "../errors/errors.ts";
import { checkpointEnd, type PerfCheckpoint } from "../perf/perf-checkpoint.ts";
import { type AlphaPrice, microUsdOfTao, taoOfAlpha } from "./micro-usd.ts";

/**
 * Debt ledgers (DESIGN.md §3.5, reference §6.2): per trader (subaccount or regular miner) and per
 * 12-hour perf checkpoint, the emission attributed to it within those 12 hours (alpha rao, its TAO
 * value at each epoch's pool price, that TAO's USD value at the epoch's TAO/USD price), the
 * performance copied from the perf checkpoint, the total penalty and the challenge status, and
 * its cumulative owed and paid. Money is integer; performance stays the perf ledger's floats.
 */
export type DebtStatus = "challenge" | "funded" | "eliminated" | "entity";

/** Emission attributed to a trader, valued at the epochs it arrived in. */
export interface EmissionChunk {
  alphaRao: bigint;
  taoRao: bigint;
  usdMicro: bigint;
}

export const NO_EMISSION: EmissionChunk = { alphaRao: 0n, taoRao: 0n, usdMicro: 0n };

/** One epoch's attributed alpha valued at that epoch's price: TAO floored, then USD floored. */
export function emissionChunk(alphaRao: bigint, price: AlphaPrice): EmissionChunk {
  const taoRao = taoOfAlpha(alphaRao, price.subnetTaoRao, price.alphaInRao);
  return { alphaRao, taoRao, usdMicro: microUsdOfTao(taoRao, price.microUsdPerTao) };
}

export function addEmission(a: EmissionChunk, b: EmissionChunk): EmissionChunk {
  return { alphaRao: a.alphaRao + b.alphaRao, taoRao: a.taoRao + b.taoRao, usdMicro: a.usdMicro + b.usdMicro };
}

/** API.md DebtCheckpoint, in core units (rao, micro-USD, ppm). */
export interface DebtCheckpoint {
  ts_ms: number;
  emission_alpha_rao: bigint;
  emission_tao_rao: bigint;
  emission_usd_micro: bigint;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  fees_usd: number;
  portfolio_return: number;
  max_drawdown: number;
  max_portfolio_value: number;
  open_ms: number;
  accum_ms: number;
  total_penalty_ppm: number;
  status: DebtStatus;
  /** Cumulative over the payout window, as of the checkpoint's close. */
  owed_usd_micro: bigint;
  paid_usd_micro: bigint;
}

/** The debt checkpoint closing with a perf checkpoint. */
export function debtCheckpoint(
  perf: PerfCheckpoint,
  emission: EmissionChunk,
  penaltyPpm: number,
  status: DebtStatus,
  debt: { owedMicro: bigint; paidMicro: bigint },
): DebtCheckpoint {
  return {
    ts_ms: perf.ts_ms,
    emission_alpha_rao: emission.alphaRao,
    emission_tao_rao: emission.taoRao,
    emission_usd_micro: emission.usdMicro,
    realized_pnl_usd: perf.realized_pnl_usd,
    unrealized_pnl_usd: perf.unrealized_pnl_usd,
    fees_usd: perf.spread_fee_loss + perf.carry_fee_loss,
    portfolio_return: perf.return,
    max_drawdown: perf.max_drawdown,
    max_portfolio_value: perf.max_portfolio_value,
    open_ms: perf.open_ms,
    accum_ms: perf.accum_ms,
    total_penalty_ppm: penaltyPpm,
    status,
    owed_usd_micro: debt.owedMicro,
    paid_usd_micro: debt.paidMicro,
  };
}

/**
 * Emission attributed to a trader and not yet in a debt checkpoint, by the end (ts_ms) of the
 * 12-hour checkpoint it arrived in, oldest first. Perf checkpoints close lazily (at the trader's
 * next mark), so a trader may collect emission over several checkpoints before one closes.
 */
export type PendingEmission = ReadonlyArray<{ ts_ms: number; emission: EmissionChunk }>;

/** Checkpoints' worth of emission kept apart while a trader goes unmarked (a funded trader with no open position). */
export const MAX_PENDING_CHECKPOINTS = 8;

/**
 * Adds emission attributed at `atMs` (an epoch) to the checkpoint holding it. A trader that is
 * never marked closes no checkpoint, so past MAX_PENDING_CHECKPOINTS the newest entries are folded
 * together (into the later checkpoint): the sums stay whole and the list stays bounded.
 */
export function accrueEmission(pending: PendingEmission, atMs: number, chunk: EmissionChunk): PendingEmission {
  const ts = checkpointEnd(atMs);
  const last = pending[pending.length - 1];
  if (last && (last.ts_ms === ts || (pending.length >= MAX_PENDING_CHECKPOINTS && last.ts_ms < ts))) {
    return [...pending.slice(0, -1), { ts_ms: ts, emission: addEmission(last.emission, chunk) }];
  }
  if (last && last.ts_ms > ts) throw new AssertionFailure(`accrueEmission: ${atMs} is before the pending checkpoint ${last.ts_ms}`);
  return [...pending, { ts_ms: ts, emission: chunk }];
}

/**
 * The emission of the checkpoint ending at `ts`, for its debt checkpoint, and what stays pending.
 * Emission of an earlier checkpoint that never closed (one beyond the 120-day window a long silence
 * skips) joins this one, so that the ledger's sums stay whole.
 */
export function takeEmission(pending: PendingEmission, ts: number): { emission: EmissionChunk; pending: PendingEmission } {
  let emission = NO_EMISSION;
  let n = 0;
  while (n < pending.length && (pending[n] as { ts_ms: number }).ts_ms <= ts) {
    emission = addEmission(emission, (pending[n] as { emission: EmissionChunk }).emission);
    n++;
  }
  return { emission, pending: n === 0 ? pending : pending.slice(n) };
}
