import { describe, expect, it } from "vitest";
import { CHALLENGE_MS, judge, newTrader, slashOf } from "./trader.ts";

const TAO = 1_000_000_000n;
const at = (value: number, peak: number, maxDrawdown: number, challenge: "in_challenge" | "passed" = "in_challenge") => ({
  ...newTrader("t", "e", 10_000, 0),
  value,
  peak,
  maxDrawdown,
  challenge,
});

describe("challenge and drawdown rules", () => {
  it("passes at exactly +3% (after rounding to 1e-9) while drawdown is under 6%", () => {
    expect(judge(at(1.03, 1.03, 0.05), 1)).toEqual({ kind: "pass" });
    expect(judge(at(1.0299999996, 1.03, 0), 1)).toEqual({ kind: "pass" }); // rounds to 0.03
    expect(judge(at(1.029999, 1.03, 0), 1)).toBeNull();
  });

  it("fails at exactly 6% drawdown, before looking at the return", () => {
    expect(judge(at(1.04, 1.1, 0.06), 1)).toEqual({ kind: "eliminate", reason: "FAILED_CHALLENGE_PERIOD_DRAWDOWN" });
    expect(judge(at(1.0, 1.0, 0.0599999), 1)).toBeNull();
  });

  it("fails at 90 days without a pass, not a millisecond before", () => {
    expect(judge(at(1.01, 1.01, 0), CHALLENGE_MS - 1)).toBeNull();
    expect(judge(at(1.01, 1.01, 0), CHALLENGE_MS)).toEqual({ kind: "eliminate", reason: "FAILED_CHALLENGE_PERIOD_TIME" });
  });

  it("after a pass only 10% drawdown eliminates, at any age", () => {
    expect(judge(at(0.95, 1.04, 0.09, "passed"), 10 * CHALLENGE_MS)).toBeNull();
    expect(judge(at(0.93, 1.04, 0.1, "passed"), 1)).toEqual({ kind: "eliminate", reason: "MAX_TOTAL_DRAWDOWN" });
  });

  it("slashes 10x the drawdown's share of the reserve, capped at all of it, in exact rao", () => {
    expect(slashOf(4n * TAO, 0)).toBe(0n);
    expect(slashOf(4n * TAO, 0.05)).toBe(2n * TAO);
    expect(slashOf(4n * TAO, 0.06)).toBe(2_400_000_000n);
    expect(slashOf(4n * TAO, 0.1)).toBe(4n * TAO);
    expect(slashOf(4n * TAO, 0.5)).toBe(4n * TAO);
    expect(slashOf(3n, 0.05)).toBe(1n); // floor
  });
});
