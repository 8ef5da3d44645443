import { describe, expect, it } from "vitest";
import { collateralPenaltyPpm, drawdownPenaltyPpm, PPM, totalPenaltyPpm } from "./penalty.ts";

describe("penalties in ppm", () => {
  it("drawdown: 1 up to 5%, linear to 0 at 10%, floored", () => {
    expect(drawdownPenaltyPpm(0)).toBe(PPM);
    expect(drawdownPenaltyPpm(0.05)).toBe(PPM);
    expect(drawdownPenaltyPpm(0.0500000004)).toBe(PPM); // compared after rounding to 1e-9
    expect(drawdownPenaltyPpm(0.050000001)).toBe(999_999); // (0.1 - 0.050000001) / 0.05 = 0.99999998
    expect(drawdownPenaltyPpm(0.0612)).toBe(776_000);
    expect(drawdownPenaltyPpm(0.075)).toBe(500_000);
    expect(drawdownPenaltyPpm(0.099999999)).toBe(0); // 0.02 ppm, floored
    expect(drawdownPenaltyPpm(0.1)).toBe(0);
    expect(drawdownPenaltyPpm(0.4)).toBe(0);
  });

  it("drawdown penalty never rises with the drawdown", () => {
    let last = PPM;
    for (let ppb = 0; ppb <= 120_000_000; ppb += 77_777) {
      const p = drawdownPenaltyPpm(ppb / 1e9);
      expect(p).toBeLessThanOrEqual(last);
      last = p;
    }
  });

  it("collateral: min(1, collateral / required), floored; 1 when nothing is required", () => {
    expect(collateralPenaltyPpm(3_000_000_000n, 4_000_000_000n)).toBe(750_000);
    expect(collateralPenaltyPpm(1n, 3n)).toBe(333_333);
    expect(collateralPenaltyPpm(5n, 4n)).toBe(PPM);
    expect(collateralPenaltyPpm(0n, 4n)).toBe(0);
    expect(collateralPenaltyPpm(0n, 0n)).toBe(PPM);
  });

  it("total: the product, floored", () => {
    expect(totalPenaltyPpm(776_000, 750_000)).toBe(582_000);
    expect(totalPenaltyPpm(333_333, 333_333)).toBe(111_110); // 0.111110888889
    expect(totalPenaltyPpm(PPM, PPM)).toBe(PPM);
  });
});
