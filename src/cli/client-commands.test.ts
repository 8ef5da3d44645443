import { describe, expect, it } from "vitest";
import { formatRao, parseTao } from "./client-commands.ts";

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
