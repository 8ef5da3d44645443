import { DomainError } from "../errors/errors.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { applyPayoutPeriodSet, payoutPeriod, type SetPayoutPeriod } from "./debt-state.ts";
import type { PayoutPeriod } from "./payout-period.ts";

/** Records the node's payout period when it differs from the log's; refused (nothing logged) otherwise. */
export function setPayoutPeriodCommand(state: State, c: SetPayoutPeriod): EventDraft {
  // The default (a calendar month) needs no record: a log without one runs under it.
  if (payoutPeriod(state.debt) === c.period) {
    throw new DomainError("NOT_FOUND", `the payout period is already ${c.period}`, { unchanged: true });
  }
  const payload = { period: c.period, ts: c.ts };
  applyPayoutPeriodChange(state, payload);
  return { type: "PayoutPeriodSet", version: 1, payload };
}

export function applyPayoutPeriodChange(state: State, p: JsonObject): void {
  applyPayoutPeriodSet(state.debt, p.period as PayoutPeriod, p.ts as number, (trader) => state.trading.traders.get(trader)?.unrealizedUsd ?? 0);
}
