import { DomainError } from "../errors/errors.ts";
import type { TradePair } from "./trade-pairs.ts";

/**
 * Positions and the arithmetic of orders on them (DESIGN.md §3.4). Leverage is signed (LONG > 0,
 * SHORT < 0) and sized on the trader's account size; PnL is in USD. Only + - * / are used, and
 * leverages are kept on a 1e-9 grid, so every machine computes the same numbers.
 */
export type OrderType = "LONG" | "SHORT" | "FLAT";
export type OrderSource = "organic" | "elimination" | "admin";

export interface OrderRecord {
  order_uuid: string;
  synthetic_hotkey: string;
  trade_pair: string;
  order_type: OrderType;
  /** The signed change in net leverage the order made. */
  leverage: number;
  price: number;
  processed_ms: number;
  src: OrderSource;
}

export interface Position {
  position_uuid: string;
  synthetic_hotkey: string;
  trade_pair: string;
  is_closed: boolean;
  net_leverage: number;
  average_entry_price: number;
  realized_pnl_usd: number;
  spread_fee_usd: number;
  carry_fee_usd: number;
  /** Carry is accrued up to this time. */
  carry_ms: number;
  opened_at_ms: number;
  closed_at_ms: number | null;
  orders: OrderRecord[];
}

const YEAR_MS = 365 * 86_400_000;

/** Rounds to the 1e-9 grid (leverages, and the values rules compare). */
export function round9(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

export function unrealizedPnl(p: Position, price: number, accountSizeUsd: number): number {
  if (p.net_leverage === 0) return 0;
  return (accountSizeUsd * p.net_leverage * (price - p.average_entry_price)) / p.average_entry_price;
}

/** The carry fee the open leverage owes from `carry_ms` to `now`. */
export function carryFee(p: Position, pair: TradePair, now: number, accountSizeUsd: number): number {
  if (now <= p.carry_ms) return 0;
  return (accountSizeUsd * Math.abs(p.net_leverage) * pair.carry_per_year * (now - p.carry_ms)) / YEAR_MS;
}

/** Carry accrued on the open leverage from `carry_ms` to `now`. */
export function accrueCarry(p: Position, pair: TradePair, now: number, accountSizeUsd: number): Position {
  if (now <= p.carry_ms) return p;
  return { ...p, carry_fee_usd: p.carry_fee_usd + carryFee(p, pair, now, accountSizeUsd), carry_ms: now };
}

export interface OrderInput {
  order_uuid: string;
  trader: string;
  order_type: OrderType;
  /** Unsigned, as sent; ignored for FLAT. */
  leverage: number;
  price: number;
  now: number;
  src: OrderSource;
  /** Used when the order opens a new position. */
  new_position_uuid: string;
}

export interface OrderOutcome {
  position: Position;
  order: OrderRecord;
  /** Changes to the trader's running totals. */
  realized_delta: number;
  fee_delta: number;
}

/** The order's signed leverage after the pair's rules, or a DomainError. Never clamps. */
export function checkOrder(open: Position | null, pair: TradePair, type: OrderType, leverage: number | undefined): number {
  const net = open?.net_leverage ?? 0;
  if (type === "FLAT") {
    if (net === 0) throw new DomainError("NOT_FOUND", `there is no open ${pair.id} position to close`, { trade_pair: pair.id });
    return -net;
  }
  if (leverage === undefined) {
    throw new DomainError("LEVERAGE_OUT_OF_RANGE", `${type} needs a leverage in [${pair.min_leverage}, ${pair.max_leverage}]`, range(pair));
  }
  if (!(leverage >= pair.min_leverage && leverage <= pair.max_leverage)) {
    throw new DomainError("LEVERAGE_OUT_OF_RANGE", `leverage ${leverage} is outside [${pair.min_leverage}, ${pair.max_leverage}] for ${pair.id}`, range(pair));
  }
  const signed = type === "LONG" ? leverage : -leverage;
  // An opposite order reduces and never flips: past zero it closes the position.
  if (net !== 0 && Math.sign(signed) !== Math.sign(net) && Math.abs(signed) >= Math.abs(net)) return -net;
  const after = round9(net + signed);
  if (Math.abs(after) > pair.max_leverage) {
    throw new DomainError("LEVERAGE_OUT_OF_RANGE", `the position's net leverage would be ${after}, beyond ${pair.max_leverage} for ${pair.id}`, {
      ...range(pair),
      net_leverage: after,
    });
  }
  return signed;
}

function range(pair: TradePair) {
  return { trade_pair: pair.id, min_leverage: pair.min_leverage, max_leverage: pair.max_leverage };
}

/**
 * What an order did to its position, as its event records it (DESIGN.md §2 rule 2): replay writes
 * these figures and never recomputes them, so a change of formula cannot change what an old log
 * means (strict mode recomputes them and refuses a difference).
 */
export interface Fill {
  price: number;
  /** PnL realised by this order (the part of the position it closed). */
  realized_pnl_usd: number;
  /** Spread fee this order paid. */
  spread_fee_usd: number;
  /** Carry accrued on the position by this order (since the position's last accrual). */
  carry_fee_usd: number;
  /** The position's net leverage and average entry after the order (0: the order closed it). */
  net_leverage: number;
  average_entry_price: number;
}

/** The rules: the fill of an order whose signed leverage `delta` passed `checkOrder`, at `price`. */
export function fillOf(open: Position | null, pair: TradePair, delta: number, price: number, now: number, accountSizeUsd: number): Fill {
  const net = open?.net_leverage ?? 0;
  let realized = 0;
  let entry = open?.average_entry_price ?? price;
  if (net === 0 || Math.sign(delta) === Math.sign(net)) {
    entry = net === 0 ? price : (Math.abs(net) * entry + Math.abs(delta) * price) / (Math.abs(net) + Math.abs(delta));
  } else {
    realized = (accountSizeUsd * -delta * (price - entry)) / entry;
  }
  return {
    price,
    realized_pnl_usd: realized,
    spread_fee_usd: accountSizeUsd * Math.abs(delta) * pair.fee,
    carry_fee_usd: open ? carryFee(open, pair, now, accountSizeUsd) : 0,
    net_leverage: round9(net + delta),
    average_entry_price: entry,
  };
}

/** Writes a recorded fill on the position (opening one if there is none): figures only, no rule. */
export function positionAfter(open: Position | null, pairId: string, delta: number, input: OrderInput, fill: Fill): { position: Position; order: OrderRecord } {
  const order: OrderRecord = {
    order_uuid: input.order_uuid,
    synthetic_hotkey: input.trader,
    trade_pair: pairId,
    order_type: input.order_type,
    leverage: delta,
    price: fill.price,
    processed_ms: input.now,
    src: input.src,
  };
  const p: Position =
    open ??
    {
      position_uuid: input.new_position_uuid,
      synthetic_hotkey: input.trader,
      trade_pair: pairId,
      is_closed: false,
      net_leverage: 0,
      average_entry_price: fill.price,
      realized_pnl_usd: 0,
      spread_fee_usd: 0,
      carry_fee_usd: 0,
      carry_ms: input.now,
      opened_at_ms: input.now,
      closed_at_ms: null,
      orders: [],
    };
  const closed = fill.net_leverage === 0;
  const position: Position = {
    ...p,
    net_leverage: fill.net_leverage,
    average_entry_price: fill.average_entry_price,
    realized_pnl_usd: p.realized_pnl_usd + fill.realized_pnl_usd,
    spread_fee_usd: p.spread_fee_usd + fill.spread_fee_usd,
    carry_fee_usd: p.carry_fee_usd + fill.carry_fee_usd,
    carry_ms: input.now > p.carry_ms ? input.now : p.carry_ms,
    is_closed: closed,
    closed_at_ms: closed ? input.now : null,
    // The caller appends `order` (journaled, in place: a long-lived position must not copy its history per order).
    orders: p.orders,
  };
  return { position, order };
}

/** Applies an order whose signed leverage `delta` passed `checkOrder`: its fill by the rules, written. */
export function applyOrder(open: Position | null, pair: TradePair, delta: number, input: OrderInput, accountSizeUsd: number): OrderOutcome {
  const fill = fillOf(open, pair, delta, input.price, input.now, accountSizeUsd);
  return { ...positionAfter(open, pair.id, delta, input, fill), realized_delta: fill.realized_pnl_usd, fee_delta: fill.spread_fee_usd + fill.carry_fee_usd };
}
