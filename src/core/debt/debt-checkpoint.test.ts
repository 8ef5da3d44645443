import { describe, expect, it } from "vitest";
import { CHECKPOINT_MS, type PerfCheckpoint } from "../perf/perf-checkpoint.ts";
import { accrueEmission, addEmission, debtCheckpoint, emissionChunk, MAX_PENDING_CHECKPOINTS, NO_EMISSION, takeEmission } from "./debt-checkpoint.ts";

const T0 = Date.UTC(2026, 1, 1); // a 00:00 UTC boundary
const price = { subnetTaoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 400_000_000n };

describe("debt checkpoints", () => {
  it("copy the perf checkpoint, value the emission and record penalty, status, owed and paid", () => {
    const perf: PerfCheckpoint = {
      ts_ms: T0 + CHECKPOINT_MS,
      return: 0.031,
      max_drawdown: 0.012,
      max_portfolio_value: 1.034,
      realized_pnl_usd: 120.5,
      unrealized_pnl_usd: -3.25,
      spread_fee_loss: 5,
      carry_fee_loss: 0.75,
      open_ms: 3_600_000,
      accum_ms: CHECKPOINT_MS,
    };
    // 2.5 alpha at 0.04 TAO = 0.1 TAO = 100,000,000 rao; x 400 USD = 40 USD
    const emission = emissionChunk(2_500_000_000n, price);
    expect(emission).toEqual({ alphaRao: 2_500_000_000n, taoRao: 100_000_000n, usdMicro: 40_000_000n });
    expect(debtCheckpoint(perf, emission, 582_000, "funded", { owedMicro: 70_000_000n, paidMicro: 40_000_000n })).toEqual({
      ts_ms: T0 + CHECKPOINT_MS,
      emission_alpha_rao: 2_500_000_000n,
      emission_tao_rao: 100_000_000n,
      emission_usd_micro: 40_000_000n,
      realized_pnl_usd: 120.5,
      unrealized_pnl_usd: -3.25,
      fees_usd: 5.75,
      portfolio_return: 0.031,
      max_drawdown: 0.012,
      max_portfolio_value: 1.034,
      open_ms: 3_600_000,
      accum_ms: CHECKPOINT_MS,
      total_penalty_ppm: 582_000,
      status: "funded",
      owed_usd_micro: 70_000_000n,
      paid_usd_micro: 40_000_000n,
    });
  });

  it("emission waits, by the checkpoint it arrived in, until that checkpoint closes", () => {
    const a = emissionChunk(1_000_000_000n, price);
    const b = emissionChunk(3_000_000_000n, price);
    let pending = accrueEmission([], T0 + 1, a);
    pending = accrueEmission(pending, T0 + CHECKPOINT_MS - 1, b); // same checkpoint
    pending = accrueEmission(pending, T0 + CHECKPOINT_MS, a); // the next one: its boundary opens it
    expect(pending.map((p) => p.ts_ms)).toEqual([T0 + CHECKPOINT_MS, T0 + 2 * CHECKPOINT_MS]);
    expect(() => accrueEmission(pending, T0, a)).toThrow();
    const first = takeEmission(pending, T0 + CHECKPOINT_MS);
    expect(first.emission).toEqual(addEmission(a, b));
    expect(takeEmission(first.pending, T0 + 2 * CHECKPOINT_MS)).toEqual({ emission: a, pending: [] });
    // A checkpoint with nothing attributed; and a skipped one's emission joins the next closed.
    expect(takeEmission(first.pending, T0 + CHECKPOINT_MS).emission).toEqual(NO_EMISSION);
    expect(takeEmission(pending, T0 + 5 * CHECKPOINT_MS)).toEqual({ emission: addEmission(addEmission(a, b), a), pending: [] });
  });

  it("a trader never marked keeps at most MAX_PENDING_CHECKPOINTS entries: later ones fold into the newest, the sum whole", () => {
    const a = emissionChunk(1_000_000_000n, price);
    let pending: ReturnType<typeof accrueEmission> = [];
    let total = NO_EMISSION;
    for (let k = 0; k < 100; k++) {
      pending = accrueEmission(pending, T0 + k * CHECKPOINT_MS, a);
      total = addEmission(total, a);
    }
    expect(pending).toHaveLength(MAX_PENDING_CHECKPOINTS);
    expect(pending.at(-1)?.ts_ms).toBe(T0 + 100 * CHECKPOINT_MS);
    expect(takeEmission(pending, T0 + 100 * CHECKPOINT_MS)).toEqual({ emission: total, pending: [] });
  });
});
