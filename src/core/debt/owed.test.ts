import { describe, expect, it } from "vitest";
import { closeWhileFunded, debtOf, fundedOwed, owedMicro, payOwed, rollOwed } from "./owed.ts";
import { periodIndex } from "./payout-period.ts";

const monthly = (ms: number) => periodIndex("month", ms);
const minutely = (ms: number) => periodIndex("1m", ms);
const FULL = 1_000_000;

describe("owed: funded realized PnL up to the end of the last completed payout period", () => {
  it("counts a period's closes once it has ended, with the unrealized loss of its last mark", () => {
    let r = fundedOwed(Date.UTC(2026, 0, 20), monthly);
    r = closeWhileFunded(r, 1_000_000_000n, Date.UTC(2026, 0, 25), monthly, -50); // January, still open
    expect(debtOf(r, FULL).remainingMicro).toBe(0n);
    // A February close settles January; its last mark (+35) had no unrealized loss.
    r = closeWhileFunded(r, -200_000_000n, Date.UTC(2026, 1, 14), monthly, 35);
    expect(r).toMatchObject({ settledRealizedMicro: 1_000_000_000n, pendingRealizedMicro: -200_000_000n, settledUnrealizedMicro: 0n });
    expect(owedMicro(r, FULL)).toBe(1_000_000_000n);
    // In March, February settles with the loss of February's last mark.
    r = rollOwed(r, Date.UTC(2026, 2, 1), monthly, -80.0000004);
    expect(r).toMatchObject({ settledRealizedMicro: 800_000_000n, pendingRealizedMicro: 0n, settledUnrealizedMicro: -80_000_000n });
    expect(owedMicro(r, FULL)).toBe(720_000_000n);
    expect(owedMicro(r, 582_000)).toBe(419_040_000n);
  });

  it("several periods without a mark settle together, with the one last mark", () => {
    let r = fundedOwed(0, minutely);
    r = closeWhileFunded(r, 5_000_000n, 30_000, minutely, 0);
    r = rollOwed(r, 10 * 60_000 + 1, minutely, -1);
    expect(r).toMatchObject({ period: 10, settledRealizedMicro: 5_000_000n, settledUnrealizedMicro: -1_000_000n });
    expect(debtOf(r, FULL).remainingMicro).toBe(4_000_000n);
  });

  it("rolling within a period changes nothing, and time never runs back", () => {
    const r = closeWhileFunded(fundedOwed(0, minutely), 7n, 1_000, minutely, -3);
    expect(rollOwed(r, 59_999, minutely, -1_000)).toBe(r);
    const later = rollOwed(r, 120_000, minutely, 0);
    expect(() => rollOwed(later, 1_000, minutely, 0)).toThrow();
  });

  it("remaining = max(0, owed - paid), owed floored at 0 before the penalty", () => {
    let r = closeWhileFunded(fundedOwed(0, minutely), -3_000_000n, 1, minutely, 0);
    r = rollOwed(r, 60_000, minutely, 0);
    expect(owedMicro(r, FULL)).toBe(0n); // a net loss owes nothing
    r = closeWhileFunded(r, 10_000_000n, 60_001, minutely, 0);
    r = payOwed(rollOwed(r, 120_000, minutely, 0), 4_000_000n);
    expect(debtOf(r, 500_000)).toEqual({ owedMicro: 3_500_000n, paidMicro: 4_000_000n, remainingMicro: 0n });
    expect(debtOf(r, FULL)).toEqual({ owedMicro: 7_000_000n, paidMicro: 4_000_000n, remainingMicro: 3_000_000n });
    expect(debtOf(r, FULL).remainingMicro).toBe(3_000_000n);
    expect(payOwed(r, 0n)).toBe(r);
    expect(() => payOwed(r, -1n)).toThrow();
  });
});
