import { describe, expect, it } from "vitest";
import { attributeDebts } from "./attribution.ts";
import { emissionChunk } from "./debt-checkpoint.ts";
import { type AlphaPrice, microUsdOf } from "./micro-usd.ts";
import { closeWhileFunded, type Debt, debtOf, fundedOwed, payOwed, rollOwed } from "./owed.ts";
import { periodDeadline, periodIndex } from "./payout-period.ts";
import { collateralPenaltyPpm, drawdownPenaltyPpm, PPM, totalPenaltyPpm } from "./penalty.ts";
import { entityDebt, normaliseU16, projectedEmissionMicro, roundHalfEven, scoreWeights } from "./scoring.ts";

const monthly = (ms: number) => periodIndex("month", ms);

describe("scoring: a hand-computed epoch (three traders, one entity)", () => {
  // Entity E (uid 7) has subaccounts S0, funded on 20 January 2026, and S1, still in its
  // challenge; M (uid 3) is a regular miner funded on 1 February. The owner's uid is 0. Payout
  // period: the calendar month. Scored at 31 March 2026 12:00 UTC: February is the last completed
  // period, March's closes do not count yet.
  const now = Date.UTC(2026, 2, 31, 12);

  it("matches to the last unit", () => {
    // ---- S0: closes while funded, in micro-USD (half away from zero on the printed decimal)
    //   25 Jan  +1,200.1234565 USD -> 1,200,123,457
    //   14 Feb    -150.5       USD ->  -150,500,000   (rolls January; its last mark +35: no loss)
    //    2 Mar    +999         USD ->   pending      (rolls February; its last mark -80.0000004 -> -80,000,000)
    // Penalty: drawdown 6.12% -> (10% - 6.12%) / 5% = 0.776; collateral 3 of 4 TAO required -> 0.75;
    // total 0.776 x 0.75 = 0.582 = 582,000 ppm.
    const penaltyS0 = totalPenaltyPpm(drawdownPenaltyPpm(0.0612), collateralPenaltyPpm(3_000_000_000n, 4_000_000_000n));
    expect(penaltyS0).toBe(582_000);
    let s0 = fundedOwed(Date.UTC(2026, 0, 20), monthly);
    s0 = closeWhileFunded(s0, microUsdOf(1200.1234565), Date.UTC(2026, 0, 25), monthly, -10);
    s0 = closeWhileFunded(s0, microUsdOf(-150.5), Date.UTC(2026, 1, 14), monthly, 35);

    // ---- A February epoch pays E's uid 12.345678901 alpha. Only S0 is eligible (S1 is in its
    // challenge). Its debt then: January only, 1,200,123,457 x 0.582 = 698,471,851.974 -> 698,471,851
    // micro-USD; at 1 alpha = 1,800/50,000 = 0.036 TAO and 380 USD/TAO it needs
    // ceil(ceil(698,471,851 x 1e9 / 380e6) x 50,000 / 1,800) = 51,057,883,862 rao > paid: S0 gets it all.
    const february: AlphaPrice = { subnetTaoRao: 1_800_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 380_000_000n };
    const atEpoch = rollOwed(s0, Date.UTC(2026, 1, 20), monthly, 0);
    expect(debtOf(atEpoch, penaltyS0).remainingMicro).toBe(698_471_851n);
    const attribution = attributeDebts(12_345_678_901n, [{ id: 0, remainingMicro: debtOf(atEpoch, penaltyS0).remainingMicro }], february);
    expect(attribution).toEqual({ shares: [{ id: 0, alpha: 12_345_678_901n }], unattributed: 0n });
    // Its value: 12,345,678,901 x 0.036 = 444,444,440.436 -> 444,444,440 rao of TAO;
    // x 380 USD = 168,888,887.2 -> 168,888,887 micro-USD paid.
    const chunk = emissionChunk(12_345_678_901n, february);
    expect(chunk).toEqual({ alphaRao: 12_345_678_901n, taoRao: 444_444_440n, usdMicro: 168_888_887n });
    s0 = payOwed(atEpoch, chunk.usdMicro);
    s0 = closeWhileFunded(s0, microUsdOf(999), Date.UTC(2026, 2, 2), monthly, -80.0000004);
    s0 = rollOwed(s0, now, monthly, -12); // still March: nothing moves
    // owed = (1,200,123,457 - 150,500,000 - 80,000,000) x 0.582 = 969,623,457 x 0.582
    //      = 564,320,851.974 -> 564,320,851; remaining = 564,320,851 - 168,888,887 = 395,431,964
    const debtS0 = debtOf(s0, penaltyS0);
    expect(debtS0).toEqual({ owedMicro: 564_320_851n, paidMicro: 168_888_887n, remainingMicro: 395_431_964n });

    // ---- S1 in challenge: owes nothing. E's debt is the sum of its subaccounts'.
    const debtS1: Debt = { owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n };
    const debtE = entityDebt([debtS0, debtS1]);
    expect(debtE).toEqual(debtS0);

    // ---- M: +500.0000005 USD on 10 Feb -> 500,000,001; -20.25 USD on 20 Feb -> -20,250,000;
    // February's last mark +12: no loss. Drawdown 3%, no collateral: penalty 1.
    // owed = 479,750,001, nothing paid yet.
    let m = fundedOwed(Date.UTC(2026, 1, 1, 10), monthly);
    m = closeWhileFunded(m, microUsdOf(500.0000005), Date.UTC(2026, 1, 10), monthly, 0);
    m = closeWhileFunded(m, microUsdOf(-20.25), Date.UTC(2026, 1, 20), monthly, 4);
    m = rollOwed(m, now, monthly, 12);
    const debtM = debtOf(m, totalPenaltyPpm(drawdownPenaltyPpm(0.03), PPM));
    expect(debtM).toEqual({ owedMicro: 479_750_001n, paidMicro: 0n, remainingMicro: 479_750_001n });

    // ---- Projection: 12 hours to the deadline (1 April) = 3,600 blocks of 12 s, 0.41 alpha a block
    // to miners = 1,476 alpha; at 1 alpha = 2,000/50,000 = 0.04 TAO -> 59.04 TAO, x 400 USD
    // = 23,616 USD = 23,616,000,000 micro-USD.
    const today: AlphaPrice = { subnetTaoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 400_000_000n };
    const projected = projectedEmissionMicro(410_000_000n, now, periodDeadline("month", now), 12_000, today);
    expect(projected).toBe(23_616_000_000n);

    // ---- Weights: E 395,431,964 / 23,616,000,000 = 0.016744239668... (> entity dust 6e-5);
    // M 479,750,001 / 23,616,000,000 = 0.020314617251... (> funded dust 4.5e-5); sum 0.037058856919...
    // < 1, so the owner's uid gets 1 - sum = 0.962941143080...
    // u16, max-upscaled to the owner's: M 0.0203146172 / 0.9629411431 x 65535 = 1382.554... -> 1383;
    // E 0.0167442397 / 0.9629411431 x 65535 = 1139.565... -> 1140; owner 65535.
    const scores = scoreWeights({
      eligible: [
        { uid: 7, bucket: "entity", ...debtE },
        { uid: 3, bucket: "funded", ...debtM },
      ],
      projectedMicro: projected,
      ownerUid: 0,
    });
    const shareE = 395_431_964 / 23_616_000_000;
    const shareM = 479_750_001 / 23_616_000_000;
    expect(shareE).toBeCloseTo(0.016744239668, 12);
    expect(shareM).toBeCloseTo(0.020314617251, 12);
    expect(scores).toEqual({
      uids: [0, 3, 7],
      weights: [65_535, 1_383, 1_140],
      rows: [
        { uid: 0, bucket: "owner", owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n, share: 1 - (shareM + shareE), weight: 65_535 },
        { uid: 3, bucket: "funded", owedMicro: 479_750_001n, paidMicro: 0n, remainingMicro: 479_750_001n, share: shareM, weight: 1_383 },
        { uid: 7, bucket: "entity", owedMicro: 564_320_851n, paidMicro: 168_888_887n, remainingMicro: 395_431_964n, share: shareE, weight: 1_140 },
      ],
    });
  });
});

describe("scoring: floors, owner and scaling", () => {
  it("with no debts every uid keeps its bucket's dust and the owner takes the rest", () => {
    const zero = { owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n };
    const s = scoreWeights({
      eligible: [
        { uid: 5, bucket: "challenge", ...zero },
        { uid: 2, bucket: "funded", ...zero },
        { uid: 9, bucket: "entity", ...zero },
      ],
      projectedMicro: 1_000_000n,
      ownerUid: 4,
    });
    const owner = 1 - (3 * 1.5e-5 + 1 * 1.5e-5 + 4 * 1.5e-5);
    expect(s.rows.map((r) => [r.uid, r.bucket, r.share])).toEqual([
      [2, "funded", 3 * 1.5e-5],
      [4, "owner", owner],
      [5, "challenge", 1 * 1.5e-5],
      [9, "entity", 4 * 1.5e-5],
    ]);
    // 65535 x 1.5e-5 / 0.99988 = 0.98315... -> 1; x 4.5e-5 -> 2.949... -> 3; x 6e-5 -> 3.932... -> 4
    expect(s.uids).toEqual([2, 4, 5, 9]);
    expect(s.weights).toEqual([3, 65_535, 1, 4]);
  });

  it("debts beyond the projection are scaled down in proportion and the owner gets nothing", () => {
    const s = scoreWeights({
      eligible: [
        { uid: 1, bucket: "funded", owedMicro: 3_000n, paidMicro: 0n, remainingMicro: 3_000n },
        { uid: 2, bucket: "entity", owedMicro: 1_000n, paidMicro: 0n, remainingMicro: 1_000n },
      ],
      projectedMicro: 2_000n,
      ownerUid: 0,
    });
    // 1.5 and 0.5, sum 2 -> 0.75 and 0.25; u16 65535 and 21845
    expect(s.rows.map((r) => r.share)).toEqual([0, 0.75, 0.25]);
    expect(s.uids).toEqual([1, 2]);
    expect(s.weights).toEqual([65_535, 21_845]);
  });

  it("with nothing projected (no price for alpha), every uid keeps its dust floor and the rest goes to the owner", () => {
    const s = scoreWeights({
      eligible: [
        { uid: 1, bucket: "funded", owedMicro: 3n, paidMicro: 0n, remainingMicro: 3n },
        { uid: 2, bucket: "challenge", owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n },
      ],
      projectedMicro: 0n,
      ownerUid: 0,
    });
    expect(s.rows.map((r) => r.share)).toEqual([1 - 3 * 1.5e-5 - 1.5e-5, 3 * 1.5e-5, 1.5e-5]);
    // 65535 x 4.5e-5 / 0.99994 = 2.95 -> 3; 65535 x 1.5e-5 / 0.99994 = 0.98 -> 1.
    expect(s.weights).toEqual([65_535, 3, 1]);
  });

  it("does not depend on the order of the uids, and refuses the owner or a uid twice", () => {
    const a = { uid: 1, bucket: "funded" as const, owedMicro: 5n, paidMicro: 0n, remainingMicro: 5n };
    const b = { uid: 2, bucket: "entity" as const, owedMicro: 7n, paidMicro: 1n, remainingMicro: 6n };
    expect(scoreWeights({ eligible: [b, a], projectedMicro: 100n, ownerUid: 0 })).toEqual(scoreWeights({ eligible: [a, b], projectedMicro: 100n, ownerUid: 0 }));
    expect(() => scoreWeights({ eligible: [a], projectedMicro: 100n, ownerUid: 1 })).toThrow();
    expect(() => scoreWeights({ eligible: [a, a], projectedMicro: 100n, ownerUid: 0 })).toThrow();
  });

  it("normalises as the SDK: max-upscale, Python round (half to even), zeros dropped", () => {
    expect(roundHalfEven(0.5)).toBe(0);
    expect(roundHalfEven(1.5)).toBe(2);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(2.5000001)).toBe(3);
    expect(normaliseU16([0, 0])).toEqual([0, 0]);
    expect(normaliseU16([2, 1, 0])).toEqual([65_535, 32_768, 0]); // 32767.5 -> even
    expect(normaliseU16([1, 1e-6])).toEqual([65_535, 0]); // 0.0655 -> dropped by the caller
    expect(() => normaliseU16([-1])).toThrow();
  });
});
