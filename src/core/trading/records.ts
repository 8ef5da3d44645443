import { AssertionFailure } from "../errors/errors.ts";
import { isPendingVerdict } from "./pending-verdict.ts";
import type { Json, JsonObject } from "../machine/event.ts";
import type { Fill } from "./position.ts";

/**
 * The figures trading events record (DESIGN.md §2 rule 2: events record effects, apply writes
 * them): fills, eliminations (slash and amount freed included) and the marks behind a verdict.
 * Apply takes them as recorded; in strict mode it also recomputes them and refuses a difference,
 * so a changed formula is caught instead of silently changing what an old log means.
 */

/** A FLAT order an elimination placed, with its pair. */
export type ClosingFill = Fill & { trade_pair: string };

export interface EliminationFigures {
  /** Return and max drawdown after the closing orders: the slash is taken on this drawdown. */
  return: number;
  max_drawdown: number;
  /** The price of the last position closed; null when none was open. */
  price: number | null;
  /** The closing orders, in pair order. */
  fills: ClosingFill[];
  /** Rao of the reserve recycled, and rao returned to the entity's free collateral. */
  slashed_rao: string;
  freed_rao: string;
}

/** An elimination as its event recorded it: before rules versions, SubaccountEliminated recorded only its slash. */
export type RecordedElimination = Pick<EliminationFigures, "slashed_rao"> & Partial<EliminationFigures>;

/** The marks that crossed the rule, recorded with a verdict (and, for an elimination, what it did). */
export interface VerdictMarks {
  return: number;
  max_drawdown: number;
  elimination?: EliminationFigures;
}

/** Strict mode: a recorded figure must be exactly the one the rules give. */
export function expectRecorded(where: string, field: string, recorded: number | string | null, computed: number | string | null): void {
  if (recorded !== computed) {
    throw new AssertionFailure(`${where}: recorded ${field} ${String(recorded)}, but the trading rules give ${String(computed)}`);
  }
}

// ---- reading recorded figures (a malformed record is a corrupt log: apply refuses it) -----------

function objectAt(where: string, field: string, raw: Json | undefined): JsonObject {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new AssertionFailure(`${where}: ${field} is not recorded`);
  return raw;
}

function num(where: string, o: JsonObject, field: string): number {
  const v = o[field];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new AssertionFailure(`${where}: ${field} is not a recorded number`);
  return v;
}

function rao(where: string, o: JsonObject, field: string): string {
  const v = o[field];
  if (typeof v !== "string" || !/^(0|[1-9][0-9]*)$/.test(v)) throw new AssertionFailure(`${where}: ${field} is not a recorded rao amount`);
  return v;
}

export function fillRecord(where: string, raw: Json | undefined): Fill {
  const o = objectAt(where, "fill", raw);
  return {
    price: num(where, o, "price"),
    realized_pnl_usd: num(where, o, "realized_pnl_usd"),
    spread_fee_usd: num(where, o, "spread_fee_usd"),
    carry_fee_usd: num(where, o, "carry_fee_usd"),
    net_leverage: num(where, o, "net_leverage"),
    average_entry_price: num(where, o, "average_entry_price"),
  };
}

/** The elimination recorded in `o`; `complete` (events with a rules version) requires every figure. */
export function eliminationRecord(where: string, o: JsonObject, complete: boolean): RecordedElimination {
  const slashed = rao(where, o, "slashed_rao");
  if (!complete) return { slashed_rao: slashed };
  const fills = o.fills;
  if (!Array.isArray(fills)) throw new AssertionFailure(`${where}: fills is not a recorded list`);
  const price = o.price;
  if (price !== null && typeof price !== "number") throw new AssertionFailure(`${where}: price is not a recorded number or null`);
  return {
    return: num(where, o, "return"),
    max_drawdown: num(where, o, "max_drawdown"),
    price,
    fills: fills.map((f, i) => {
      const pair = objectAt(where, `fills[${i}]`, f).trade_pair;
      if (typeof pair !== "string") throw new AssertionFailure(`${where}: fills[${i}].trade_pair is not recorded`);
      return { trade_pair: pair, ...fillRecord(`${where} fills[${i}]`, f) };
    }),
    slashed_rao: slashed,
    freed_rao: rao(where, o, "freed_rao"),
  };
}

/** A verdict's marks; an elimination's must record what it did. */
export function verdictMarks(where: string, raw: Json | undefined, verdict: string): VerdictMarks {
  const o = objectAt(where, "marks", raw);
  const marks: VerdictMarks = { return: num(where, o, "return"), max_drawdown: num(where, o, "max_drawdown") };
  if (verdict !== "pass" && !isPendingVerdict(verdict)) marks.elimination = eliminationRecord(`${where} elimination`, objectAt(where, "elimination", o.elimination), true) as EliminationFigures;
  return marks;
}
