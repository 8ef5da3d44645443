import { AssertionFailure } from "../errors/errors.ts";
import { isPendingVerdict, verdictReason } from "./pending-verdict.ts";
import { reservedAccount } from "../entities/entity-state.ts";
import { account } from "../chain/chain-state.ts";
import { TAO } from "../ledger/asset.ts";
import { closeDebtCheckpoint, closeFundedPosition, fundTrader, rollTraderDebt } from "../debt/debt-state.ts";
import { microUsdOf } from "../debt/micro-usd.ts";
import type { State } from "../machine/state.ts";
import { checkpointEnd, firstCheckpoint, rollCheckpoints, trackCheckpoint } from "../perf/perf-checkpoint.ts";
import { accrueCarry, type Fill, fillOf, type OrderInput, type Position, positionAfter, round9, unrealizedPnl } from "./position.ts";
import { type ClosingFill, type EliminationFigures, expectRecorded, type RecordedElimination, type VerdictMarks } from "./records.ts";
import { tradePair } from "./trade-pairs.ts";
import { type ChallengeState, type Elimination, nthKey, positionKey, type TraderRecord } from "./trading-state.ts";

/**
 * A trader's life: orders move its positions, prices mark it, and the challenge and drawdown rules
 * (DESIGN.md §3.4) pass or eliminate it. The rules decide in the command's handler and the event
 * records the decision and its figures (fills, marks, slash); these transitions are shared by
 * handler and replay, replay writing the recorded figures, and use only + - * /. Marking traders
 * on a price is recomputed on replay: that is why events record their trading rules version
 * (rules.ts).
 */
export const CHALLENGE_MS = 90 * 86_400_000;
export const PASS_RETURN = 0.03;
export const CHALLENGE_MAX_DRAWDOWN = 0.06;
export const PASSED_MAX_DRAWDOWN = 0.1;
export const REGULAR_ACCOUNT_SIZE_USD = 10_000;

export function newTrader(hotkey: string, entity: string | null, accountSizeUsd: number, startedAtMs: number): TraderRecord {
  return {
    hotkey,
    entity,
    accountSizeUsd,
    startedAtMs,
    endsAtMs: startedAtMs + CHALLENGE_MS,
    challenge: "in_challenge",
    passedAtMs: null,
    realizedUsd: 0,
    spreadFeeUsd: 0,
    carryFeeUsd: 0,
    unrealizedUsd: 0,
    value: 1,
    peak: 1,
    maxDrawdown: 0,
    openPairs: [],
    closedCount: 0,
    orderCount: 0,
    elimination: null,
    cp: firstCheckpoint(startedAtMs),
  };
}

/**
 * Closes the trader's checkpoints that ended by `now` (perf-checkpoint.ts), handing them to the
 * writer through the state's sink, journaled so that an aborted command leaves none behind.
 */
function rollTraderCheckpoints(state: State, t: TraderRecord, now: number): TraderRecord {
  if (now < checkpointEnd(t.cp.startMs)) return t;
  const sink = state.trading.closedCheckpoints;
  const status = debtStatusOf(t);
  return rollCheckpoints(t, now, (checkpoint) => {
    // A funded trader's debt checkpoint closes with its perf checkpoint (on replay too: it takes
    // the emission pending for it); only live commands hand them to the store.
    const debt = closeDebtCheckpoint(state, t.hotkey, checkpoint, t.maxDrawdown, status);
    if (!sink) return;
    sink.push(debt ? { trader: t.hotkey, checkpoint, debt } : { trader: t.hotkey, checkpoint });
    state.journal.record(() => sink.pop());
  });
}

/** A trader's status in its debt ledger: eliminated, funded (passed its challenge), or in challenge. */
export function debtStatusOf(t: TraderRecord): "eliminated" | "funded" | "challenge" {
  return t.elimination ? "eliminated" : t.challenge === "passed" ? "funded" : "challenge";
}

/** The trader's record; a subaccount that has not traded yet gets its fresh record (not stored). */
export function traderOf(state: State, hotkey: string, now: number): TraderRecord {
  const t = state.trading.traders.get(hotkey);
  if (t) return t;
  const sub = state.entities.subaccounts.get(hotkey);
  if (sub) return newTrader(hotkey, sub.entity, sub.accountSizeUsd, sub.createdAtMs);
  return newTrader(hotkey, null, REGULAR_ACCOUNT_SIZE_USD, now);
}

export function enqueueChallenge(state: State, trader: string): void {
  const q = state.trading.queue.get("q") ?? { head: 0, tail: 0 };
  state.trading.challengeQueue.set(q.tail, trader);
  state.trading.queue.set("q", { head: q.head, tail: q.tail + 1 });
}

export function traderReturn(t: TraderRecord): number {
  return t.value - 1;
}

/** Accrues carry on every open position and marks the trader to the latest prices. */
export function markTrader(state: State, trader: TraderRecord, now: number): TraderRecord {
  const { trading } = state;
  // Checkpoints that ended since the last mark close with the debt as of that mark; then a payout
  // period that ended since is settled with that mark's unrealized PnL.
  const t = rollTraderCheckpoints(state, trader, now);
  rollTraderDebt(state.debt, trader.hotkey, now, trader.unrealizedUsd);
  let unrealized = 0;
  let carry = t.carryFeeUsd;
  for (const pairId of t.openPairs) {
    const key = positionKey(t.hotkey, pairId);
    const p = trading.open.get(key) as Position;
    const pair = tradePair(pairId);
    const price = trading.prices.get(pairId);
    if (!pair || !price) throw new AssertionFailure(`open ${pairId} position without a pair or a price`);
    const accrued = accrueCarry(p, pair, now, t.accountSizeUsd);
    if (accrued !== p) {
      carry += accrued.carry_fee_usd - p.carry_fee_usd;
      trading.open.set(key, accrued);
    }
    unrealized += unrealizedPnl(accrued, price.price, t.accountSizeUsd);
  }
  return trackCheckpoint(withValue({ ...t, carryFeeUsd: carry, unrealizedUsd: unrealized }), t.openPairs.length > 0, now);
}

function withValue(t: TraderRecord): TraderRecord {
  const value = 1 + (t.realizedUsd + t.unrealizedUsd - t.spreadFeeUsd - t.carryFeeUsd) / t.accountSizeUsd;
  const peak = value > t.peak ? value : t.peak;
  const drawdown = 1 - value / peak;
  return { ...t, value, peak, maxDrawdown: drawdown > t.maxDrawdown ? drawdown : t.maxDrawdown };
}

export type Verdict = { kind: "pass" } | { kind: "eliminate"; reason: string } | null;

/** The challenge and drawdown rules, on values rounded to 1e-9. */
export function judge(t: TraderRecord, now: number): Verdict {
  if (t.elimination) return null;
  const dd = round9(t.maxDrawdown);
  if (t.challenge === "in_challenge") {
    if (dd >= CHALLENGE_MAX_DRAWDOWN) return { kind: "eliminate", reason: "FAILED_CHALLENGE_PERIOD_DRAWDOWN" };
    if (round9(traderReturn(t)) >= PASS_RETURN) return { kind: "pass" };
    if (now >= t.endsAtMs) return { kind: "eliminate", reason: "FAILED_CHALLENGE_PERIOD_TIME" };
    return null;
  }
  if (t.challenge === "passed" && dd >= PASSED_MAX_DRAWDOWN) return { kind: "eliminate", reason: "MAX_TOTAL_DRAWDOWN" };
  return null;
}

export function passChallenge(state: State, hotkey: string, now: number): void {
  const t = state.trading.traders.get(hotkey) as TraderRecord;
  state.trading.traders.set(hotkey, { ...t, challenge: "passed", passedAtMs: now });
  const sub = state.entities.subaccounts.get(hotkey);
  fundTrader(state.debt, hotkey, now, sub ? { entity: sub.entity, id: sub.id } : null);
}

/**
 * Records an order on the trader's position (opening, growing, reducing or closing it). The fill
 * is the recorded one when replaying (strict mode recomputes it and refuses a difference), else
 * the rules' own; either way it is returned, for the event to record.
 */
export function placeOrder(
  state: State,
  t: TraderRecord,
  pairId: string,
  delta: number,
  input: OrderInput,
  recorded: Fill | null = null,
  where = "order",
): { trader: TraderRecord; fill: Fill } {
  const { trading } = state;
  const pair = tradePair(pairId);
  if (!pair) throw new AssertionFailure(`${where}: unknown pair ${pairId}`);
  const key = positionKey(t.hotkey, pairId);
  const open = trading.open.get(key) ?? null;
  let fill = recorded;
  if (fill === null || state.ledger.strict) {
    const computed = fillOf(open, pair, delta, input.price, input.now, t.accountSizeUsd);
    if (fill === null) fill = computed;
    else for (const field of FILL_FIELDS) expectRecorded(where, `fill.${field}`, fill[field], computed[field]);
  }
  const outcome = positionAfter(open, pairId, delta, input, fill);
  const orders = outcome.position.orders;
  orders.push(outcome.order);
  state.journal.record(() => orders.pop());
  let next: TraderRecord = {
    ...t,
    realizedUsd: t.realizedUsd + fill.realized_pnl_usd,
    spreadFeeUsd: t.spreadFeeUsd + fill.spread_fee_usd,
    carryFeeUsd: t.carryFeeUsd + fill.carry_fee_usd,
    orderCount: t.orderCount + 1,
  };
  trading.orders.set(nthKey(t.hotkey, t.orderCount), outcome.order);
  const byPair = trading.openByPair.get(pairId);
  if (outcome.position.is_closed) {
    const p = outcome.position;
    // Owed to a funded trader: the realized PnL after fees of the positions it closes (DESIGN.md §3.5).
    closeFundedPosition(state.debt, t.hotkey, microUsdOf(p.realized_pnl_usd - p.spread_fee_usd - p.carry_fee_usd), input.now, t.unrealizedUsd);
    trading.open.delete(key);
    byPair?.delete(t.hotkey);
    trading.closed.set(nthKey(t.hotkey, next.closedCount), outcome.position);
    next = { ...next, closedCount: next.closedCount + 1, openPairs: next.openPairs.filter((p) => p !== pairId) };
  } else {
    trading.open.set(key, outcome.position);
    if (!open) {
      byPair?.set(t.hotkey, true);
      next = { ...next, openPairs: [...next.openPairs, pairId].sort() };
    }
  }
  return { trader: next, fill };
}

const FILL_FIELDS = ["price", "realized_pnl_usd", "spread_fee_usd", "carry_fee_usd", "net_leverage", "average_entry_price"] as const;

/**
 * The share of a reserve an elimination slashes (Vanta §5.3): 10% drawdown slashes all of it,
 * 5% half, none at 0; in billionths so the rao amount is exact.
 */
export function slashOf(reservedRao: bigint, maxDrawdown: number): bigint {
  const ppb = Math.min(1_000_000_000, Math.max(0, Math.round(maxDrawdown * 10 * 1e9)));
  return (reservedRao * BigInt(ppb)) / 1_000_000_000n;
}

/**
 * Eliminates a trader: every open position is closed at its pair's latest price by a FLAT order
 * (src "elimination", order uuid = the position uuid reversed, as Vanta does), the elimination is
 * recorded and, for a subaccount, part of its reserve is slashed (recycled) and the rest freed.
 * Replaying, every figure and amount is the recorded one (strict mode recomputes each and refuses
 * a difference); the ledger moves exactly the recorded slash and freed rao, which must add up to
 * the reserve. Returns the figures, for the event to record.
 */
/**
 * `now` marks the positions and closes them; `atMs` is the elimination's time of record: the same,
 * except on a follower applying the mothership's fact, which keeps the mothership's time.
 */
export function eliminateTrader(
  state: State,
  trader: TraderRecord,
  reason: string,
  now: number,
  recorded: RecordedElimination | null = null,
  where = "elimination",
  atMs = now,
): EliminationFigures {
  const { trading, entities, ledger } = state;
  const verify = recorded !== null && ledger.strict;
  const hotkey = trader.hotkey;
  // A subaccount's elimination is a mothership fact: issued here on the mothership, ends a follower's freeze.
  if (entities.subaccounts.has(hotkey)) {
    state.issuing?.push({ type: "SubaccountEliminated", payload: { synthetic_hotkey: hotkey, reason }, ts_ms: now });
    if (state.sync.pending.has(hotkey)) state.sync.pending.delete(hotkey);
  }
  let t = trader;
  if (t.openPairs.length > 0) t = markTrader(state, t, now);
  const pairs = [...t.openPairs];
  if (recorded?.fills && recorded.fills.length !== pairs.length) {
    throw new AssertionFailure(`${where}: records ${recorded.fills.length} closing orders, ${hotkey} has ${pairs.length} open positions`);
  }
  const fills: ClosingFill[] = [];
  let lastPrice: number | null = null;
  for (const [i, pairId] of pairs.entries()) {
    const p = trading.open.get(positionKey(hotkey, pairId)) as Position;
    const rec = recorded?.fills?.[i] ?? null;
    if (rec && rec.trade_pair !== pairId) throw new AssertionFailure(`${where}: fills[${i}] closes ${rec.trade_pair}, the open position is ${pairId}`);
    const placed = placeOrder(
      state,
      t,
      pairId,
      -p.net_leverage,
      {
        order_uuid: [...p.position_uuid].reverse().join(""),
        trader: hotkey,
        order_type: "FLAT",
        leverage: 0,
        price: (trading.prices.get(pairId) as { price: number }).price,
        now,
        src: "elimination",
        new_position_uuid: p.position_uuid,
      },
      rec,
      `${where} fills[${i}]`,
    );
    t = placed.trader;
    lastPrice = placed.fill.price;
    fills.push({ trade_pair: pairId, ...placed.fill });
  }
  t = withValue({ ...t, unrealizedUsd: 0 });
  const computed = { return: traderReturn(t), max_drawdown: t.maxDrawdown, price: lastPrice };
  for (const field of ["return", "max_drawdown", "price"] as const) {
    if (verify && recorded[field] !== undefined) expectRecorded(where, field, recorded[field], computed[field]);
  }
  let slashed = 0n;
  let freed = 0n;
  const sub = entities.subaccounts.get(hotkey);
  if (sub) {
    const e = entities.entities.get(sub.entity);
    if (!e) throw new AssertionFailure(`${where}: subaccount ${hotkey} of an unknown entity`);
    if (recorded === null || verify) {
      const rule = slashOf(sub.reservedRao, t.maxDrawdown);
      if (recorded === null) slashed = rule;
      else expectRecorded(where, "slashed_rao", recorded.slashed_rao, rule.toString());
    }
    if (recorded !== null) slashed = BigInt(recorded.slashed_rao);
    freed = recorded?.freed_rao === undefined ? sub.reservedRao - slashed : BigInt(recorded.freed_rao);
    // Value is conserved whatever the record says: the whole reserve leaves, slashed or freed.
    if (slashed < 0n || freed < 0n || slashed + freed !== sub.reservedRao) {
      throw new AssertionFailure(`${where}: slashed_rao ${slashed} + freed_rao ${freed} is not ${hotkey}'s reserve of ${sub.reservedRao} rao`);
    }
    if (sub.reservedRao > 0n) {
      const reserve = ledger.withdraw(ledger.account(TAO, reservedAccount(sub.entity)), sub.reservedRao);
      const [slash, rest] = reserve.split(slashed);
      ledger.recycle(slash);
      ledger.deposit(ledger.account(TAO, account.collateral(sub.entity)), rest);
    }
    entities.subaccounts.set(hotkey, { ...sub, status: "eliminated", eliminatedAtMs: atMs, reservedRao: 0n });
    entities.entities.set(sub.entity, {
      ...e,
      active: e.active - 1,
      eliminated: e.eliminated + 1,
      reservedRao: e.reservedRao - sub.reservedRao,
      slashedRao: e.slashedRao + slashed,
    });
  } else if (recorded !== null && (recorded.slashed_rao !== "0" || (recorded.freed_rao ?? "0") !== "0")) {
    throw new AssertionFailure(`${where}: records a slash of ${recorded.slashed_rao} rao, but ${hotkey} holds no reserve`);
  }
  const figures: EliminationFigures = {
    return: recorded?.return ?? computed.return,
    max_drawdown: recorded?.max_drawdown ?? computed.max_drawdown,
    price: recorded?.price !== undefined ? recorded.price : computed.price,
    fills,
    slashed_rao: slashed.toString(),
    freed_rao: freed.toString(),
  };
  const challengeBefore: ChallengeState = t.challenge;
  const elimination: Elimination = {
    reason,
    max_drawdown: figures.max_drawdown,
    return: figures.return,
    price: figures.price,
    at_ms: atMs,
    slashed_rao: figures.slashed_rao,
    challenge_before: challengeBefore,
  };
  trading.traders.set(hotkey, { ...t, challenge: t.challenge === "in_challenge" ? "failed" : t.challenge, elimination });
  return figures;
}

/**
 * Applies a verdict ("pass" or an elimination reason) judged on the trader's current marks. The
 * marks are the recorded ones when replaying (strict mode recomputes and compares them), and are
 * returned with what the elimination did, for the event to record.
 */
export function applyVerdict(state: State, hotkey: string, verdict: string, now: number, recorded: VerdictMarks | null = null, where = "verdict"): VerdictMarks {
  const t = traderOf(state, hotkey, now);
  const computed = { return: traderReturn(t), max_drawdown: t.maxDrawdown };
  if (recorded !== null && state.ledger.strict) {
    expectRecorded(where, "marks.return", recorded.return, computed.return);
    expectRecorded(where, "marks.max_drawdown", recorded.max_drawdown, computed.max_drawdown);
  }
  const marks = { return: recorded?.return ?? computed.return, max_drawdown: recorded?.max_drawdown ?? computed.max_drawdown };
  if (verdict === "pass") {
    passChallenge(state, hotkey, now);
    return marks;
  }
  if (isPendingVerdict(verdict)) {
    state.sync.pending.set(hotkey, { reason: verdictReason(verdict), since_ms: now });
    return marks;
  }
  return { ...marks, elimination: eliminateTrader(state, t, verdict, now, recorded?.elimination ?? null, `${where} elimination`) };
}
