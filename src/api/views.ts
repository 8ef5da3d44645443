import { z } from "zod";
import { account } from "../core/chain/chain-state.ts";
import { isFrozen, tracksCollateral } from "../core/entities/entity-commands.ts";
import { type EntityRecord, reservedAccount, type SubaccountRecord } from "../core/entities/entity-state.ts";
import { syntheticHotkey } from "../core/entities/synthetic-hotkey.ts";
import { TAO } from "../core/ledger/asset.ts";
import type { State } from "../core/machine/state.ts";
import { checkpointAt, checkpointEnd } from "../core/perf/perf-checkpoint.ts";
import { type OrderRecord, type Position, unrealizedPnl } from "../core/trading/position.ts";
import { traderOf, traderReturn } from "../core/trading/trader.ts";
import { nthKey, positionKey, type TraderRecord } from "../core/trading/trading-state.ts";

/** The resources of API.md "Entities and subaccounts" and "Orders, positions, prices": schemas and views. */
const Rao = z.string().regex(/^(0|[1-9][0-9]*)$/);

export const ChallengeSchema = z.strictObject({
  state: z.enum(["in_challenge", "passed", "failed"]),
  started_at_ms: z.number().int(),
  ends_at_ms: z.number().int(),
  return: z.number(),
  max_drawdown: z.number(),
});

export const SubaccountSchema = z.strictObject({
  entity_hotkey: z.string(),
  subaccount_id: z.number().int(),
  subaccount_uuid: z.string(),
  synthetic_hotkey: z.string(),
  status: z.enum(["active", "eliminated"]),
  created_at_ms: z.number().int(),
  eliminated_at_ms: z.number().int().nullable(),
  account_size_usd: z.number(),
  collateral_reserved_rao: Rao,
  challenge: ChallengeSchema,
  /** On a follower: the rule it broke; frozen until the mothership's elimination arrives. */
  pending_elimination: z.strictObject({ reason: z.string(), since_ms: z.number().int() }).optional(),
});
export type SubaccountView = z.infer<typeof SubaccountSchema>;

export const EntitySchema = z.strictObject({
  entity_hotkey: z.string(),
  registered_at_ms: z.number().int(),
  max_subaccounts: z.number().int(),
  next_subaccount_id: z.number().int(),
  active_subaccounts: z.number().int(),
  eliminated_subaccounts: z.number().int(),
  frozen: z.boolean(),
  collateral: z.strictObject({ deposited_rao: Rao, free_rao: Rao, reserved_rao: Rao, slashed_rao: Rao }).nullable(),
  subaccounts: z.array(SubaccountSchema),
});

export const OrderSchema = z.strictObject({
  order_uuid: z.string(),
  synthetic_hotkey: z.string(),
  trade_pair: z.string(),
  order_type: z.enum(["LONG", "SHORT", "FLAT"]),
  leverage: z.number(),
  price: z.number(),
  processed_ms: z.number().int(),
  src: z.enum(["organic", "elimination", "admin"]),
});

export const PositionSchema = z.strictObject({
  position_uuid: z.string(),
  synthetic_hotkey: z.string(),
  trade_pair: z.string(),
  is_closed: z.boolean(),
  net_leverage: z.number(),
  average_entry_price: z.number(),
  realized_pnl_usd: z.number(),
  unrealized_pnl_usd: z.number(),
  spread_fee_usd: z.number(),
  carry_fee_usd: z.number(),
  return: z.number(),
  opened_at_ms: z.number().int(),
  closed_at_ms: z.number().int().nullable(),
  orders: z.array(OrderSchema),
});

export const EliminationSchema = z.strictObject({
  reason: z.string(),
  max_drawdown: z.number(),
  return: z.number(),
  price: z.number().nullable(),
  at_ms: z.number().int(),
  slashed_rao: Rao,
});

export const PerfSummarySchema = z.strictObject({ return: z.number(), max_drawdown: z.number(), checkpoints: z.number().int() });

export const PerfCheckpointSchema = z.strictObject({
  ts_ms: z.number().int(),
  return: z.number(),
  max_drawdown: z.number(),
  max_portfolio_value: z.number(),
  realized_pnl_usd: z.number(),
  unrealized_pnl_usd: z.number(),
  spread_fee_loss: z.number(),
  carry_fee_loss: z.number(),
  open_ms: z.number().int(),
  accum_ms: z.number().int(),
});

/** Closed positions are listed for this long (API.md). */
const CLOSED_LISTED_MS = 120 * 86_400_000;

export function subaccountView(state: State, sub: SubaccountRecord, now: number): SubaccountView {
  const synthetic = syntheticHotkey(sub.entity, sub.id);
  const t = traderOf(state, synthetic, now);
  return {
    entity_hotkey: sub.entity,
    subaccount_id: sub.id,
    subaccount_uuid: sub.uuid,
    synthetic_hotkey: synthetic,
    status: sub.status,
    created_at_ms: sub.createdAtMs,
    eliminated_at_ms: sub.eliminatedAtMs,
    account_size_usd: sub.accountSizeUsd,
    collateral_reserved_rao: sub.reservedRao.toString(),
    challenge: challengeView(t),
    ...pendingOf(state, synthetic),
  };
}

function pendingOf(state: State, synthetic: string): { pending_elimination?: { reason: string; since_ms: number } } {
  const p = state.sync.pending.get(synthetic);
  return p ? { pending_elimination: { ...p } } : {};
}

export function challengeView(t: TraderRecord) {
  return { state: t.challenge, started_at_ms: t.startedAtMs, ends_at_ms: t.endsAtMs, return: traderReturn(t), max_drawdown: t.maxDrawdown };
}

export function entityView(state: State, e: EntityRecord, now: number) {
  const free = state.ledger.balanceOf(TAO, account.collateral(e.hotkey));
  const reserved = state.ledger.balanceOf(TAO, reservedAccount(e.hotkey));
  const subaccounts: SubaccountView[] = [];
  for (let id = 0; id < e.nextId; id++) {
    const sub = state.entities.subaccounts.get(syntheticHotkey(e.hotkey, id));
    if (sub) subaccounts.push(subaccountView(state, sub, now));
  }
  return {
    entity_hotkey: e.hotkey,
    registered_at_ms: e.registeredAtMs,
    max_subaccounts: e.maxSubaccounts,
    next_subaccount_id: e.nextId,
    active_subaccounts: e.active,
    eliminated_subaccounts: e.eliminated,
    frozen: isFrozen(state, e),
    // Not tracked on a real chain: collateral lives in Vanta's own contract there.
    collateral: !tracksCollateral(state) ? null : {
      // Deposited less withdrawn, as the chain recorded them: free + reserved + slashed equals it while the invariant holds.
      deposited_rao: netDeposited(state, e.hotkey).toString(),
      free_rao: free.toString(),
      reserved_rao: reserved.toString(),
      slashed_rao: e.slashedRao.toString(),
    },
    subaccounts,
  };
}

export function positionView(state: State, p: Position, accountSizeUsd: number) {
  const price = state.trading.prices.get(p.trade_pair)?.price;
  const unrealized = p.is_closed || price === undefined ? 0 : unrealizedPnl(p, price, accountSizeUsd);
  return {
    position_uuid: p.position_uuid,
    synthetic_hotkey: p.synthetic_hotkey,
    trade_pair: p.trade_pair,
    is_closed: p.is_closed,
    net_leverage: p.net_leverage,
    average_entry_price: p.average_entry_price,
    realized_pnl_usd: p.realized_pnl_usd,
    unrealized_pnl_usd: unrealized,
    spread_fee_usd: p.spread_fee_usd,
    carry_fee_usd: p.carry_fee_usd,
    return: (p.realized_pnl_usd + unrealized - p.spread_fee_usd - p.carry_fee_usd) / accountSizeUsd,
    opened_at_ms: p.opened_at_ms,
    closed_at_ms: p.closed_at_ms,
    orders: p.orders.map(orderView),
  };
}

export function orderView(o: OrderRecord) {
  return { ...o };
}

/** Open positions, then those closed in the last 120 days, newest first. */
export function positionsOf(state: State, trader: string, now: number) {
  const t = state.trading.traders.get(trader);
  if (!t) return [];
  const out = t.openPairs.map((pair) => positionView(state, state.trading.open.get(positionKey(trader, pair)) as Position, t.accountSizeUsd));
  for (let n = t.closedCount - 1; n >= 0; n--) {
    const p = state.trading.closed.get(nthKey(trader, n)) as Position;
    if ((p.closed_at_ms ?? 0) < now - CLOSED_LISTED_MS) break;
    out.push(positionView(state, p, t.accountSizeUsd));
  }
  return out;
}

export function eliminationView(t: TraderRecord | undefined) {
  if (!t?.elimination) return null;
  const { challenge_before: _, ...e } = t.elimination;
  return e;
}

/** `checkpoints`: the closed ones kept (120 days) plus the open one. */
export function perfSummary(t: TraderRecord, closed: number) {
  return { return: traderReturn(t), max_drawdown: t.maxDrawdown, checkpoints: closed + 1 };
}

/** The open 12-hour checkpoint, as of now (periods since the last mark close at the next one). */
export function openCheckpoint(t: TraderRecord, now: number) {
  return checkpointAt(t, Math.min(now, checkpointEnd(t.cp.startMs)));
}

export function netDeposited(state: State, hotkey: string): bigint {
  const flows = state.chain.collateral.get(hotkey);
  return flows ? flows.deposited - flows.withdrawn : 0n;
}
