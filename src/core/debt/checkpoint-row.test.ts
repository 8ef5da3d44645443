import { describe, expect, it } from "vitest";
import { CHECKPOINT_MS, type PerfCheckpoint } from "../perf/perf-checkpoint.ts";
import { decodeCheckpointRow, encodeCheckpointRow, encodeObjectRow } from "./checkpoint-row.ts";
import { type DebtCheckpoint, debtCheckpoint, emissionChunk } from "./debt-checkpoint.ts";

const T0 = Date.UTC(2026, 2, 1, 12);
const PRICE = { subnetTaoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 400_000_000n };

/** A funded trader's 12 hours as trading leaves them: every float at full double precision. */
function typicalPerf(): PerfCheckpoint {
  const accountUsd = 100_000;
  const realized = 1_234.5678 * 0.37 - 17.3 / 3;
  const unrealized = -(842.13 * 0.29 + 1 / 7);
  const spread = 2 * 0.000_35 * 71_234.18 * 0.41;
  const carry = (0.000_102_7 * 58_000) / 3;
  const value = 1 + (realized + unrealized - spread - carry + 3_817.91 / 7) / accountUsd;
  return {
    ts_ms: T0 + CHECKPOINT_MS,
    return: value - 1,
    max_drawdown: 1 - value / (value + 0.003_141_592_653_589_793),
    max_portfolio_value: value + 0.001_618_033_988_749_895,
    realized_pnl_usd: realized,
    unrealized_pnl_usd: unrealized,
    spread_fee_loss: spread,
    carry_fee_loss: carry,
    open_ms: 37_214_118,
    accum_ms: CHECKPOINT_MS,
  };
}

function typicalDebt(perf: PerfCheckpoint): DebtCheckpoint {
  return debtCheckpoint(perf, emissionChunk(48_317_022_911n, PRICE), 1_000_000, "funded", { owedMicro: 12_718_334_901n, paidMicro: 9_104_557_213n });
}

describe("checkpoint rows", () => {
  it("round-trip a perf-only row exactly", () => {
    const perf = typicalPerf();
    const row = decodeCheckpointRow(encodeCheckpointRow(perf, undefined));
    expect(row).toStrictEqual({ perf, debt: null });
    expect(Object.keys(row.perf)).toEqual(Object.keys(perf));
  });

  it("round-trip a perf + debt row exactly, bigints included, rebuilding the copied fields", () => {
    const perf = typicalPerf();
    const debt = typicalDebt(perf);
    const row = decodeCheckpointRow(encodeCheckpointRow(perf, debt));
    expect(row).toStrictEqual({ perf, debt });
    expect(Object.keys(row.debt as DebtCheckpoint)).toEqual(Object.keys(debt));
    expect(row.debt?.fees_usd).toBe(perf.spread_fee_loss + perf.carry_fee_loss);
  });

  it("keep bigints beyond 2^53, every status, and the floats JSON has no number for", () => {
    const perf: PerfCheckpoint = { ...typicalPerf(), return: -0, unrealized_pnl_usd: Number.NaN, max_portfolio_value: Number.POSITIVE_INFINITY };
    for (const status of ["challenge", "funded", "eliminated", "entity"] as const) {
      const debt = debtCheckpoint(perf, { alphaRao: 2n ** 64n + 1n, taoRao: 9_007_199_254_740_993n, usdMicro: 0n }, 250_000, status, { owedMicro: 2n ** 60n, paidMicro: 1n });
      expect(decodeCheckpointRow(encodeCheckpointRow(perf, debt))).toStrictEqual({ perf, debt });
    }
  });

  it("decode rows of the earlier object format the same", () => {
    const perf = typicalPerf();
    const debt = typicalDebt(perf);
    const old = encodeObjectRow(perf, debt);
    expect(old.startsWith("{")).toBe(true);
    expect(decodeCheckpointRow(old)).toStrictEqual(decodeCheckpointRow(encodeCheckpointRow(perf, debt)));
    expect(decodeCheckpointRow(old)).toStrictEqual({ perf, debt });
    expect(decodeCheckpointRow(encodeObjectRow(perf, undefined))).toStrictEqual({ perf, debt: null });
    // A row as the previous encoder wrote it, literally.
    const literal =
      '{"ts_ms":1772409600000,"return":0.01,"max_drawdown":0.002,"max_portfolio_value":1.012,"realized_pnl_usd":120.5,"unrealized_pnl_usd":-3.25,"spread_fee_loss":5,"carry_fee_loss":0.75,"open_ms":3600000,"accum_ms":43200000,' +
      '"debt":{"ts_ms":1772409600000,"emission_alpha_rao":"2500000000","emission_tao_rao":"100000000","emission_usd_micro":"40000000","realized_pnl_usd":120.5,"unrealized_pnl_usd":-3.25,"fees_usd":5.75,"portfolio_return":0.01,"max_drawdown":0.002,"max_portfolio_value":1.012,"open_ms":3600000,"accum_ms":43200000,"total_penalty_ppm":1000000,"status":"funded","owed_usd_micro":"70000000","paid_usd_micro":"40000000"}}';
    const decoded = decodeCheckpointRow(literal);
    expect(decoded.debt).toStrictEqual(debtCheckpoint(decoded.perf, emissionChunk(2_500_000_000n, PRICE), 1_000_000, "funded", { owedMicro: 70_000_000n, paidMicro: 40_000_000n }));
    expect(decodeCheckpointRow(encodeCheckpointRow(decoded.perf, decoded.debt ?? undefined))).toStrictEqual(decoded);
  });

  it("fall back to the object format for a debt checkpoint that does not follow from its perf checkpoint", () => {
    const perf = typicalPerf();
    const debt = { ...typicalDebt(perf), fees_usd: 1 };
    const data = encodeCheckpointRow(perf, debt);
    expect(data.startsWith("{")).toBe(true);
    expect(decodeCheckpointRow(data)).toStrictEqual({ perf, debt });
  });

  it("refuse malformed compact rows", () => {
    expect(() => decodeCheckpointRow("[1,2,3]")).toThrow(/3 fields/);
    const cells = JSON.parse(encodeCheckpointRow(typicalPerf(), typicalDebt(typicalPerf()))) as unknown[];
    expect(() => decodeCheckpointRow(JSON.stringify(cells.with(14, 9)))).toThrow(/status/);
    expect(() => decodeCheckpointRow(JSON.stringify(cells.with(10, 1.5)))).toThrow(/integer/);
    expect(() => decodeCheckpointRow(JSON.stringify(cells.with(1, "x")))).toThrow(/number/);
  });

  it("keep a typical funded row small", () => {
    const perf = typicalPerf();
    const debt = typicalDebt(perf);
    const compact = Buffer.byteLength(encodeCheckpointRow(perf, debt));
    const perfOnly = Buffer.byteLength(encodeCheckpointRow(perf, undefined));
    const old = Buffer.byteLength(encodeObjectRow(perf, debt));
    console.log(`checkpoint row bytes: funded ${compact} (object format ${old}), perf only ${perfOnly} (object format ${Buffer.byteLength(encodeObjectRow(perf, undefined))})`);
    expect(compact).toBeLessThanOrEqual(300);
    expect(compact * 2.5).toBeLessThan(old);
  });
});
