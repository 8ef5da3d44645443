import { describe, expect, it } from "vitest";
import type { Position } from "../client/propnet-client.ts";
import { formatRao, orderText, parseTao, positionLine, usd } from "./client-commands.ts";

describe("parseTao", () => {
  it("converts decimal TAO to rao exactly", () => {
    const cases: [string, string, string][] = [
      ["5000", "5000000000000", "5000 TAO"],
      ["0.5", "500000000", "0.5 TAO"],
      [".25", "250000000", "0.25 TAO"],
      ["1.", "1000000000", "1 TAO"],
      ["0.000000001", "1", "0.000000001 TAO"],
      ["0.1000000000", "100000000", "0.1 TAO"],
      ["007", "7000000000", "7 TAO"],
      ["123456.789012345", "123456789012345", "123456.789012345 TAO"],
      ["21000000", "21000000000000000", "21000000 TAO"],
    ];
    for (const [tao, rao, shown] of cases) {
      expect(parseTao(tao), tao).toBe(rao);
      expect(formatRao(rao), tao).toBe(shown);
    }
  });

  it("refuses what is not an amount, finer than a rao, zero or beyond the supply", () => {
    for (const bad of ["", ".", "-1", "+1", "1e3", "0x10", "1,000", " 1", "Infinity", "NaN", "1.2.3"]) {
      expect(() => parseTao(bad), bad).toThrow(/amount of TAO/);
    }
    expect(() => parseTao("0.0000000001")).toThrow(/9 decimal places/);
    expect(() => parseTao("0")).toThrow(/more than 0/);
    expect(() => parseTao("0.000")).toThrow(/more than 0/);
    expect(() => parseTao("21000000.000000001")).toThrow(/TAO supply/);
  });
});

describe("what an order and a position print", () => {
  it("USD: the sign before the dollar sign, rounded to cents, never -$0.00", () => {
    expect(usd(-2.234)).toBe("-$2.23");
    expect(usd(2.235)).toBe("$2.24");
    expect(usd(-0.001)).toBe("$0.00");
    expect(usd(0)).toBe("$0.00");
    expect(usd(-1234.5)).toBe("-$1234.50");
  });

  it("an order as typed: SHORT with leverage 2 (the API's -2), FLAT without leverage", () => {
    expect(orderText({ order_type: "SHORT", trade_pair: "BTCUSD", leverage: -2 })).toBe("SHORT BTCUSD leverage 2");
    expect(orderText({ order_type: "LONG", trade_pair: "BTCUSD", leverage: 0.1 })).toBe("LONG BTCUSD leverage 0.1");
    expect(orderText({ order_type: "FLAT", trade_pair: "BTCUSD", leverage: 0.3 })).toBe("FLAT BTCUSD");
  });

  it("a position: side and size, PnL, fees (spread and carry), return", () => {
    const p: Position = {
      position_uuid: "p",
      synthetic_hotkey: "h_0",
      trade_pair: "EURUSD",
      is_closed: false,
      net_leverage: -2,
      average_entry_price: 1.1,
      realized_pnl_usd: 0,
      unrealized_pnl_usd: -200.4,
      spread_fee_usd: 1.4,
      carry_fee_usd: 0.05,
      return: -0.0201,
      opened_at_ms: 0,
      closed_at_ms: null,
      orders: [],
    };
    expect(positionLine(p)).toBe(
      "EURUSD: short at leverage 2, average entry 1.1, realized $0.00, unrealized -$200.40, fees $1.45 (spread $1.40, carry $0.05), return -2.01%",
    );
    expect(positionLine({ ...p, is_closed: true, realized_pnl_usd: -2.23 })).toMatch(/^EURUSD: closed, realized -\$2\.23,/);
    expect(positionLine({ ...p, net_leverage: 0.5 })).toMatch(/^EURUSD: long at leverage 0\.5,/);
  });
});
