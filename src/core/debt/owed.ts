import { AssertionFailure } from "../errors/errors.ts";
import { microUsdOf } from "./micro-usd.ts";
import { PPM } from "./penalty.ts";

/**
 * What a funded trader is owed and was paid (DESIGN.md §3.5), as a running record kept in the
 * state (immutable, bigint micro-USD):
 *   owed      = max(0, (realized PnL after fees of the positions closed while funded, up to the
 *               end of the last completed payout period) + min(0, unrealized PnL at that moment))
 *               x penalty
 *   paid      = USD value of the emission attributed since funded
 *   remaining = max(0, owed - paid)
 * Owed is built from the closing orders themselves, not from 12-hour checkpoints, so a payout
 * period of a minute works. Closes in the current period wait in `pendingRealizedMicro` and are
 * settled lazily, by the first close or mark after the period's end (`rollOwed`), which also
 * captures the unrealized PnL of the last mark before that end.
 */
export interface OwedRecord {
  /** The payout period the record is rolled to (the one holding its latest close or roll). */
  period: number;
  /** Realized PnL after fees, closed while funded in periods that have ended. */
  settledRealizedMicro: bigint;
  /** The same, closed in `period`: it counts once the period ends. */
  pendingRealizedMicro: bigint;
  /** min(0, unrealized PnL) at the last mark before the end of the last completed period. */
  settledUnrealizedMicro: bigint;
  /** USD value of the emission attributed since funded. */
  paidMicro: bigint;
}

/** The payout period holding a time (payout-period.ts `periodIndex` with the configured period). */
export type PeriodOf = (ms: number) => number;

/** A trader's record from the moment it is funded (its challenge passed). */
export function fundedOwed(fundedAtMs: number, periodOf: PeriodOf): OwedRecord {
  return { period: periodOf(fundedAtMs), settledRealizedMicro: 0n, pendingRealizedMicro: 0n, settledUnrealizedMicro: 0n, paidMicro: 0n };
}

/**
 * Rolls the record to the period holding `nowMs`. Call it before folding a new mark or close into
 * the trader, with `lastMarkUnrealizedUsd` = the trader's unrealized PnL as of its last mark
 * (taken before `nowMs`): when a period ended since, that mark is the last one before its end.
 * Returns the record itself when no period ended.
 */
export function rollOwed(record: OwedRecord, nowMs: number, periodOf: PeriodOf, lastMarkUnrealizedUsd: number): OwedRecord {
  const period = periodOf(nowMs);
  if (period === record.period) return record;
  if (period < record.period) throw new AssertionFailure(`rollOwed: period ${period} is before the record's ${record.period}`);
  return settleOwed(record, period, lastMarkUnrealizedUsd);
}

/**
 * Ends the record's period: what closed in it is settled, the unrealized PnL of the last mark is
 * captured, and the record goes on as `period` (also a period numbered under another payout
 * period, when the log changes it).
 */
export function settleOwed(record: OwedRecord, period: number, lastMarkUnrealizedUsd: number): OwedRecord {
  return {
    ...record,
    period,
    settledRealizedMicro: record.settledRealizedMicro + record.pendingRealizedMicro,
    pendingRealizedMicro: 0n,
    settledUnrealizedMicro: lastMarkUnrealizedUsd < 0 ? microUsdOf(lastMarkUnrealizedUsd) : 0n,
  };
}

/**
 * Folds a position closed while funded (its realized PnL after fees, micro-USD) into the record,
 * rolling it first (see `rollOwed` for `lastMarkUnrealizedUsd`).
 */
export function closeWhileFunded(
  record: OwedRecord,
  realizedAfterFeesMicro: bigint,
  closedAtMs: number,
  periodOf: PeriodOf,
  lastMarkUnrealizedUsd: number,
): OwedRecord {
  const rolled = rollOwed(record, closedAtMs, periodOf, lastMarkUnrealizedUsd);
  return { ...rolled, pendingRealizedMicro: rolled.pendingRealizedMicro + realizedAfterFeesMicro };
}

/** Records the USD value of emission attributed to the trader. */
export function payOwed(record: OwedRecord, usdMicro: bigint): OwedRecord {
  if (usdMicro < 0n) throw new AssertionFailure(`payOwed: a negative payment of ${usdMicro} micro-USD`);
  return usdMicro === 0n ? record : { ...record, paidMicro: record.paidMicro + usdMicro };
}

/** Owed as of the record's period, under a penalty in ppm: floored at 0, then the penalty, floored. */
export function owedMicro(record: OwedRecord, penaltyPpm: number): bigint {
  const base = record.settledRealizedMicro + record.settledUnrealizedMicro;
  if (base <= 0n) return 0n;
  return (base * BigInt(penaltyPpm)) / BigInt(PPM);
}


/** The three figures of a trader's debt, as a scoring row shows them. */
export interface Debt {
  owedMicro: bigint;
  paidMicro: bigint;
  remainingMicro: bigint;
}

export function debtOf(record: OwedRecord, penaltyPpm: number): Debt {
  const owed = owedMicro(record, penaltyPpm);
  const left = owed - record.paidMicro;
  return { owedMicro: owed, paidMicro: record.paidMicro, remainingMicro: left > 0n ? left : 0n };
}
