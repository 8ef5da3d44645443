import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPayoutPeriod, PAYOUT_PERIODS, periodDeadline, periodIndex, periodStart } from "./payout-period.ts";

describe("payout periods", () => {
  it("month is the calendar month in UTC, numbered from January 1970", () => {
    expect(periodIndex("month", 0)).toBe(0);
    expect(periodIndex("month", Date.UTC(2026, 2, 10))).toBe(56 * 12 + 2);
    expect(periodIndex("month", Date.UTC(2026, 2, 1) - 1)).toBe(56 * 12 + 1); // the last ms of February
    expect(periodStart("month", 56 * 12 + 2)).toBe(Date.UTC(2026, 2, 1));
    expect(periodDeadline("month", Date.UTC(2024, 1, 29, 23, 59))).toBe(Date.UTC(2024, 2, 1)); // leap February
    expect(periodDeadline("month", Date.UTC(2025, 11, 31, 12))).toBe(Date.UTC(2026, 0, 1));
  });

  it("agrees with the calendar (Date.UTC) for any time from 1970 to 2400", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2400, 0, 1) }), (ms) => {
        const d = new Date(ms);
        const index = periodIndex("month", ms);
        expect(index).toBe((d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth());
        expect(periodStart("month", index)).toBe(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
        expect(periodDeadline("month", ms)).toBe(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
      }),
      { numRuns: 10_000 },
    );
  });

  it("fixed spans: 1d, 1h, 10m and 1m (one minute)", () => {
    const t = Date.UTC(2026, 2, 10, 13, 27, 45, 500);
    expect(periodDeadline("1d", t)).toBe(Date.UTC(2026, 2, 11));
    expect(periodDeadline("1h", t)).toBe(Date.UTC(2026, 2, 10, 14));
    expect(periodDeadline("10m", t)).toBe(Date.UTC(2026, 2, 10, 13, 30));
    expect(periodDeadline("1m", t)).toBe(Date.UTC(2026, 2, 10, 13, 28));
    expect(periodIndex("1m", 59_999)).toBe(0);
    expect(periodIndex("1m", 60_000)).toBe(1);
  });

  it("every period holds its start and ends where the next starts", () => {
    fc.assert(
      fc.property(fc.constantFrom(...PAYOUT_PERIODS), fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }), (p, ms) => {
        const i = periodIndex(p, ms);
        expect(periodStart(p, i)).toBeLessThanOrEqual(ms);
        expect(ms).toBeLessThan(periodDeadline(p, ms));
        expect(periodIndex(p, periodStart(p, i))).toBe(i);
        expect(periodIndex(p, periodDeadline(p, ms))).toBe(i + 1);
        expect(periodIndex(p, periodDeadline(p, ms) - 1)).toBe(i);
      }),
      { numRuns: 5_000 },
    );
  });

  it("names: month, 1d, 1h, 10m, 1m", () => {
    expect(PAYOUT_PERIODS.every(isPayoutPeriod)).toBe(true);
    expect(isPayoutPeriod("1M")).toBe(false);
    expect(isPayoutPeriod("30d")).toBe(false);
  });
});
