import { describe, expect, it } from "vitest";
import { DomainError } from "../errors/errors.ts";
import { accrueCarry, applyOrder, checkOrder, type OrderInput, type Position, round9, unrealizedPnl } from "./position.ts";
import { tradePair } from "./trade-pairs.ts";

const BTC = tradePair("BTCUSD") ?? (() => { throw new Error("no BTCUSD"); })();
const EUR = tradePair("EURUSD") ?? (() => { throw new Error("no EURUSD"); })();
const SIZE = 10_000;
const DAY = 86_400_000;

function input(type: OrderInput["order_type"], price: number, now = 0): OrderInput {
  return { order_uuid: `o${now}`, trader: "t", order_type: type, leverage: 0, price, now, src: "organic", new_position_uuid: "p" };
}

/** Applies a scripted list of orders: [type, leverage, price, time]. */
function script(orders: Array<[OrderInput["order_type"], number | undefined, number, number]>, pair = BTC): Position {
  let p: Position | null = null;
  for (const [type, leverage, price, now] of orders) {
    const delta = checkOrder(p, pair, type, leverage);
    const outcome = applyOrder(p, pair, delta, input(type, price, now), SIZE);
    p = { ...outcome.position, orders: [...outcome.position.orders, outcome.order] };
  }
  return p as Position;
}

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as DomainError).code;
  }
  return null;
};

describe("orders on a position (scripted prices)", () => {
  it("a LONG opens at the price and is marked linearly on the account size", () => {
    const p = script([["LONG", 0.5, 100, 0]]);
    expect(p).toMatchObject({ net_leverage: 0.5, average_entry_price: 100, is_closed: false });
    expect(unrealizedPnl(p, 110, SIZE)).toBeCloseTo(500, 9); // 10% move x 0.5 leverage x 10,000
    expect(unrealizedPnl(p, 90, SIZE)).toBeCloseTo(-500, 9);
  });

  it("adding in the same direction averages the entry by leverage", () => {
    const p = script([
      ["LONG", 0.2, 100, 0],
      ["LONG", 0.2, 120, 1],
    ]);
    expect(p.net_leverage).toBe(0.4);
    expect(p.average_entry_price).toBeCloseTo(110, 9);
  });

  it("a SHORT gains when the price falls", () => {
    const p = script([["SHORT", 0.3, 100, 0]]);
    expect(p.net_leverage).toBe(-0.3);
    expect(unrealizedPnl(p, 80, SIZE)).toBeCloseTo(600, 9);
  });

  it("an opposite order reduces, realising PnL on the part closed, and keeps the entry", () => {
    const p = script([
      ["LONG", 0.4, 100, 0],
      ["SHORT", 0.1, 150, 1],
    ]);
    expect(p.net_leverage).toBe(0.3);
    expect(p.average_entry_price).toBe(100);
    expect(p.realized_pnl_usd).toBeCloseTo(500, 9); // 0.1 x 50% x 10,000
  });

  it("an opposite order larger than the position closes it and never flips", () => {
    const p = script([
      ["SHORT", 0.2, 100, 0],
      ["LONG", 0.5, 90, 1],
    ]);
    expect(p).toMatchObject({ net_leverage: 0, is_closed: true, closed_at_ms: 1 });
    expect(p.orders.map((o) => o.leverage)).toEqual([-0.2, 0.2]);
    expect(p.realized_pnl_usd).toBeCloseTo(200, 9);
  });

  it("FLAT closes whatever is open; with nothing open it is refused", () => {
    const p = script([
      ["LONG", 0.1, 100, 0],
      ["LONG", 0.2, 100, 1],
      ["FLAT", undefined, 105, 2],
    ]);
    expect(p).toMatchObject({ is_closed: true, net_leverage: 0 });
    expect(p.realized_pnl_usd).toBeCloseTo(0.3 * 0.05 * SIZE, 9);
    expect(code(() => checkOrder(null, BTC, "FLAT", undefined))).toBe("NOT_FOUND");
  });

  it("leverage outside the pair's range, or a net leverage beyond its maximum, is refused and never clamped", () => {
    expect(code(() => checkOrder(null, BTC, "LONG", 0.009))).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(code(() => checkOrder(null, BTC, "LONG", 0.51))).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(code(() => checkOrder(null, BTC, "SHORT", undefined))).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(code(() => checkOrder(null, EUR, "LONG", 0.05))).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(checkOrder(null, EUR, "LONG", 5)).toBe(5);
    const p = script([["LONG", 0.4, 100, 0]]);
    expect(code(() => checkOrder(p, BTC, "LONG", 0.2))).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(checkOrder(p, BTC, "LONG", 0.1)).toBe(0.1);
  });

  it("leverages stay on a 1e-9 grid, so 0.1 + 0.2 - 0.3 closes exactly", () => {
    const p = script([
      ["LONG", 0.1, 100, 0],
      ["LONG", 0.2, 100, 1],
      ["SHORT", 0.3, 100, 2],
    ]);
    expect(p.is_closed).toBe(true);
    expect(round9(0.1 + 0.2)).toBe(0.3);
  });

  it("charges the spread fee per unit of leverage traded, and carry per year of open leverage", () => {
    const p = script([
      ["LONG", 0.5, 100, 0],
      ["SHORT", 0.5, 100, 365 * DAY],
    ]);
    expect(p.spread_fee_usd).toBeCloseTo(2 * 0.5 * SIZE * 0.001, 9);
    expect(p.carry_fee_usd).toBeCloseTo(0.5 * SIZE * 0.1095, 6);
    const half = accrueCarry(script([["LONG", 2, 1, 0]], EUR), EUR, 182.5 * DAY, SIZE);
    expect(half.carry_fee_usd).toBeCloseTo(2 * SIZE * 0.03 * 0.5, 6);
  });
});
