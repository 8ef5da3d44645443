// The dashboard's formatting: exact rao amounts in TAO and alpha, chain events in words, the
// challenge bars and the equity/drawdown series the charts draw.
import { describe, expect, it } from "vitest";
import { alpha, challengeProgress, describeEvent, equityAndDrawdown, formatRao, percent, shortKey, tao } from "./format.ts";

describe("formatRao", () => {
  it("is exact string math with grouped thousands, whatever the size", () => {
    expect(formatRao("6001002345678901")).toBe("6,001,002.3456");
    expect(formatRao("6001002345678901", 9)).toBe("6,001,002.345678901");
    expect(formatRao("21000000000000000000000000", 0)).toBe("21,000,000,000,000,000");
    expect(formatRao("1")).toBe("0.0000");
    expect(formatRao("1", 9)).toBe("0.000000001");
    expect(formatRao("0")).toBe("0.0000");
    expect(formatRao("-2500000000")).toBe("-2.5000");
    expect(formatRao("-1")).toBe("0.0000"); // rounds toward zero, never "-0.0000"
    expect(formatRao(null)).toBe("—");
  });
  it("names the unit", () => {
    expect(tao("4000000000")).toBe("4.0000 TAO");
    expect(alpha("90892176807")).toBe("90.8921 α");
  });
});

describe("describeEvent", () => {
  it("writes amounts in TAO or alpha and development keys by name, never JSON", () => {
    const line = describeEvent({
      block: 3,
      type: "StakeAdded",
      data: { netuid: 1, hotkey: "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y", coldkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", tao: "100000000000", alpha: "90892176807" },
    });
    expect(line).toBe("netuid 1 · hotkey Charlie · coldkey Bob · tao 100.0000 TAO · alpha 90.8921 α");
  });
  it("counts an epoch's payouts and leaves internal figures out", () => {
    const line = describeEvent({ block: 10, type: "EpochRan", data: { netuid: 1, drained_server: "2460000000", owner_cut: "1079900000", flow_ema: "123", pays: [{ uid: 0 }, { uid: 2 }], incentive: [1, 0] } });
    expect(line).toBe("netuid 1 · drained server 2.4600 α · owner cut 1.0799 α · incentive 2 items · 2 payouts");
  });
  it("shortens other keys and keeps a synthetic hotkey's id", () => {
    expect(shortKey("5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV")).toBe("5DfhGy…1EqRzV");
    expect(shortKey("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY_42")).toBe("Alice_42");
  });
});

describe("challenge and charts", () => {
  it("fills the bars toward +3% return and 6% drawdown, clamped", () => {
    expect(challengeProgress(0.015, 0.03)).toEqual({ toPass: 0.5, toFail: 0.5 });
    expect(challengeProgress(-0.02, 0.09)).toEqual({ toPass: 0, toFail: 1 });
    expect(challengeProgress(Number.NaN, 0)).toEqual({ toPass: 0, toFail: 0 });
  });
  it("computes equity and drawdown from a peak that starts at 1", () => {
    const { equity, drawdown } = equityAndDrawdown([0, 0.1, -0.1, 0.05]);
    expect(equity).toEqual([1, 1.1, 0.9, 1.05]);
    expect(drawdown.map((d) => Number(d.toFixed(6)))).toEqual([0, 0, Number((1 - 0.9 / 1.1).toFixed(6)), Number((1 - 1.05 / 1.1).toFixed(6))]);
    expect(equityAndDrawdown([-0.05]).drawdown[0]).toBeCloseTo(0.05);
  });
  it("signs percentages", () => {
    expect(percent(0.0312)).toBe("+3.12%");
    expect(percent(-0.005)).toBe("-0.50%");
    expect(percent(0.06, false)).toBe("6.00%");
  });
});
