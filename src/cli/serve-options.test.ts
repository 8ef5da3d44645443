import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parsePayoutPeriod } from "./serve-options.ts";

describe("--payout-period", () => {
  it("accepts month (calendar month UTC) and the fixed spans 1d, 1h, 10m, 1m", () => {
    for (const p of ["month", "1d", "1h", "10m", "1m"]) expect(parsePayoutPeriod(p)).toBe(p);
  });

  it.each(["", "2w", "Month", "1M", "60s", " 1d", "1d "])("refuses %j, naming the choices", (value) => {
    expect(() => parsePayoutPeriod(value)).toThrow(InvalidArgumentError);
    expect(() => parsePayoutPeriod(value)).toThrow(/month, 1d, 1h, 10m, 1m/);
  });
});
