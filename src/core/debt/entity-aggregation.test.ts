import { describe, expect, it } from "vitest";
import { CHECKPOINT_MS } from "../perf/perf-checkpoint.ts";
import type { DebtCheckpoint, DebtStatus } from "./debt-checkpoint.ts";
import { aggregateEntity } from "./entity-aggregation.ts";

const T = Date.UTC(2026, 1, 1);

function cp(i: number, status: DebtStatus, f: Partial<DebtCheckpoint> = {}): DebtCheckpoint {
  return {
    ts_ms: T + i * CHECKPOINT_MS,
    emission_alpha_rao: 0n,
    emission_tao_rao: 0n,
    emission_usd_micro: 0n,
    realized_pnl_usd: 0,
    unrealized_pnl_usd: 0,
    fees_usd: 0,
    portfolio_return: 0,
    max_drawdown: 0,
    max_portfolio_value: 1,
    open_ms: 0,
    accum_ms: CHECKPOINT_MS,
    total_penalty_ppm: 1_000_000,
    status,
    owed_usd_micro: 0n,
    paid_usd_micro: 0n,
    ...f,
  };
}

describe("entity aggregation", () => {
  it("sums, weights returns by max portfolio value, keeps the worst drawdown and smallest penalty", () => {
    const out = aggregateEntity([
      {
        id: 2,
        checkpoints: [
          cp(0, "funded", { emission_alpha_rao: 5n, emission_tao_rao: 2n, emission_usd_micro: 9n, realized_pnl_usd: 10, unrealized_pnl_usd: -1, fees_usd: 0.5, portfolio_return: 0.04, max_drawdown: 0.02, max_portfolio_value: 1.04, open_ms: 100, total_penalty_ppm: 900_000, owed_usd_micro: 30n, paid_usd_micro: 9n }),
        ],
      },
      {
        id: 0,
        checkpoints: [
          cp(0, "funded", { emission_alpha_rao: 7n, emission_tao_rao: 3n, emission_usd_micro: 11n, realized_pnl_usd: 20, unrealized_pnl_usd: 2, fees_usd: 1, portfolio_return: 0.1, max_drawdown: 0.07, max_portfolio_value: 1.1, open_ms: 200, total_penalty_ppm: 600_000, owed_usd_micro: 50n, paid_usd_micro: 11n }),
          cp(1, "funded", { portfolio_return: 0.2, max_portfolio_value: 1.2, accum_ms: 5 }),
        ],
      },
    ]);
    expect(out).toEqual([
      {
        ts_ms: T,
        emission_alpha_rao: 12n,
        emission_tao_rao: 5n,
        emission_usd_micro: 20n,
        realized_pnl_usd: 20 + 10,
        unrealized_pnl_usd: 2 + -1,
        fees_usd: 1 + 0.5,
        portfolio_return: (0.1 * 1.1 + 0.04 * 1.04) / (1.1 + 1.04), // summed in id order
        max_drawdown: 0.07,
        max_portfolio_value: 1.1 + 1.04,
        open_ms: 300,
        accum_ms: CHECKPOINT_MS,
        total_penalty_ppm: 600_000,
        status: "entity",
        owed_usd_micro: 80n,
        paid_usd_micro: 20n,
      },
      { ...cp(1, "entity", { portfolio_return: 0.2, max_portfolio_value: 1.2, accum_ms: 5 }) },
    ]);
  });

  it("counts only funded checkpoints: challenge ones are left out, an eliminated subaccount's frozen ones stay", () => {
    const out = aggregateEntity([
      { id: 0, checkpoints: [cp(0, "challenge", { realized_pnl_usd: 99 }), cp(1, "funded", { realized_pnl_usd: 1 }), cp(2, "funded", { realized_pnl_usd: 2 })] },
      { id: 1, checkpoints: [cp(0, "funded", { realized_pnl_usd: 4 })] }, // eliminated after its first checkpoint
      { id: 2, checkpoints: [cp(0, "challenge"), cp(1, "challenge")] },
      { id: 3, checkpoints: [cp(4, "funded", { realized_pnl_usd: 8 })] },
    ]);
    expect(out.map((c) => [(c.ts_ms - T) / CHECKPOINT_MS, c.realized_pnl_usd])).toEqual([
      [0, 4],
      [1, 1],
      [2, 2],
      [4, 8],
    ]);
    expect(aggregateEntity([{ id: 0, checkpoints: [cp(0, "challenge")] }])).toEqual([]);
    expect(aggregateEntity([])).toEqual([]);
  });

  it("falls back to the plain mean of returns when no value weighs them", () => {
    const out = aggregateEntity([
      { id: 0, checkpoints: [cp(0, "funded", { portfolio_return: 0.1, max_portfolio_value: 0 })] },
      { id: 1, checkpoints: [cp(0, "funded", { portfolio_return: 0.3, max_portfolio_value: 0 })] },
    ]);
    expect(out[0]?.portfolio_return).toBe((0.1 + 0.3) / 2);
  });

  it("refuses a checkpoint off the 12-hour grid", () => {
    expect(() => aggregateEntity([{ id: 0, checkpoints: [cp(0, "funded"), { ...cp(1, "funded"), ts_ms: T + 1 }] }])).toThrow();
  });

  it("does not depend on the order of the subaccounts", () => {
    const subs = [0, 1, 2, 3, 4].map((id) => ({ id, checkpoints: [0, 1, 2].map((i) => cp(i, "funded", { portfolio_return: 0.01 * (id + i) + 0.003, max_portfolio_value: 1 + 0.1 * id, realized_pnl_usd: 0.1 * id + 0.7 })) }));
    expect(aggregateEntity([...subs].reverse())).toEqual(aggregateEntity(subs));
  });
});
