import { AssertionFailure } from "../errors/errors.ts";
import type { JsonObject } from "../machine/event.ts";

/**
 * The version of the trading rules this build implements: the formulas and thresholds of
 * position.ts, trader.ts and trade-pairs.ts (fills, carry, marks, checkpoints, the challenge and
 * drawdown rules, the slash). Trading events record the version they were produced under. Replay
 * takes every amount and verdict from the event, but still marks traders on each price by
 * recomputing (recording every trader's mark per price would be huge), so a build that changes
 * any of these formulas must raise TRADING_RULES_VERSION and keep the older rules reachable for
 * old events (raising OLDEST_TRADING_RULES only when it drops them).
 */
export const TRADING_RULES_VERSION = 1;
export const OLDEST_TRADING_RULES = 1;

/**
 * The trading rules version an event was produced under, refusing one this build does not
 * implement; null for an event written before versions were recorded (produced under v1, and
 * recording only part of its figures: apply computes the rest, as it did then).
 */
export function rulesOf(type: string, payload: JsonObject): number | null {
  const v = payload.rules;
  if (v === undefined) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < OLDEST_TRADING_RULES || v > TRADING_RULES_VERSION) {
    throw new AssertionFailure(
      `event ${type} was produced under trading rules v${String(v)}; this build implements v${OLDEST_TRADING_RULES}..v${TRADING_RULES_VERSION}`,
    );
  }
  return v;
}
