import { describe, expect, it } from "vitest";
import { DAY_MS, expectReplayMatches, neurons, world } from "../../../test/support/trading-world.ts";
import { CHECKPOINT_MS, CHECKPOINT_WINDOW_MS, checkpointAt, checkpointEnd, currentCheckpoint, firstCheckpoint, type PerfCheckpoint, type PerfMarks, rollCheckpoints, trackCheckpoint } from "./perf-checkpoint.ts";

const E = "5entity";
const SUB = `${E}_0`;

/** A subaccount with a BTC position, and the checkpoints its commands close. */
function trading() {
  const w = world();
  neurons(w, [E]);
  w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
  w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u0" });
  w.state.trading.closedCheckpoints = [];
  const closed: PerfCheckpoint[] = [];
  const drain = () => {
    for (const c of w.state.trading.closedCheckpoints ?? []) if (c.trader === SUB) closed.push(c.checkpoint);
    (w.state.trading.closedCheckpoints ?? []).length = 0;
  };
  const price = (p: number, at: number) => {
    w.now = at;
    w.ok({ kind: "post_prices", ts: at, prices: [{ trade_pair: "BTCUSD", price: p, ts_ms: at }] });
    drain();
  };
  const order = (type: "LONG" | "SHORT" | "FLAT", leverage?: number) => {
    w.ok({ kind: "place_order", ts: w.now, signer: E, subaccount_id: 0, trade_pair: "BTCUSD", order_type: type, leverage, order_uuid: `o${w.log.length}`, fingerprint: "", position_uuid: `p${w.log.length}` });
    drain();
  };
  return { w, closed, price, order };
}

describe("12-hour performance checkpoints (scripted prices)", () => {
  it("close at each 00:00 and 12:00 UTC with the checkpoint's own PnL, fees, open time and drawdown", () => {
    const { w, closed, price, order } = trading();
    const start = checkpointEnd(w.now); // the first boundary after creation
    price(100_000, start + 1_000);
    order("LONG", 0.5);
    price(98_000, start + 2 * 3_600_000); // -1% on the account: drawdown within this checkpoint
    price(101_000, start + CHECKPOINT_MS + 60_000); // closes [start, start + 12 h)
    order("FLAT");
    // Nothing open: prices no longer mark it. Its next order does, closing two: the FLAT's and a void one.
    price(101_500, start + 3 * CHECKPOINT_MS + 1);
    expect(closed.length).toBe(2);
    order("LONG", 0.01);
    expect(closed.map((c) => c.ts_ms)).toEqual([start, start + CHECKPOINT_MS, start + 2 * CHECKPOINT_MS, start + 3 * CHECKPOINT_MS]);
    const [first, second, third, fourth] = closed as [PerfCheckpoint, PerfCheckpoint, PerfCheckpoint, PerfCheckpoint];
    expect(first.accum_ms).toBe(start - 1_000_000); // from creation to the first boundary
    expect(first.open_ms).toBe(0);
    expect(second.accum_ms).toBe(CHECKPOINT_MS);
    expect(second.open_ms).toBe(CHECKPOINT_MS - 1_000); // the position opened 1 s into it
    // The peak is still the starting 1: spread (0.05%), the 1% move and two hours of carry below it.
    const carry = (0.5 * 10_000 * 0.1095 * (2 * 3_600_000 - 1_000)) / (365 * DAY_MS) / 10_000;
    expect(second.max_drawdown).toBeCloseTo(0.0005 + 0.01 + carry, 9);
    expect(second.spread_fee_loss).toBeCloseTo(5, 9); // 0.5 x 10,000 x 0.001 on the LONG
    expect(second.unrealized_pnl_usd).toBeCloseTo(-100, 9); // marked at 98,000 when it closed
    // The next holds the rise to 101,000 and the FLAT: realised 50 USD, unrealised back from -100 to 0.
    expect(third.realized_pnl_usd).toBeCloseTo(50, 6);
    expect(third.unrealized_pnl_usd).toBeCloseTo(100, 6);
    // A period without marks closes flat.
    expect(fourth).toMatchObject({ realized_pnl_usd: 0, unrealized_pnl_usd: 0, open_ms: 0, accum_ms: CHECKPOINT_MS });
    expectReplayMatches(w);
  });

  it("a long silence closes at most the 120-day window's worth of checkpoints", () => {
    const { w, closed, price, order } = trading();
    price(100_000, w.now + 1);
    order("LONG", 0.01);
    price(100_001, w.now + 200 * DAY_MS);
    expect(closed.length).toBe(240);
    const ends = closed.map((c) => c.ts_ms);
    expect(ends.every((t, i) => i === 0 || t - (ends[i - 1] as number) === CHECKPOINT_MS)).toBe(true);
    expect(ends.at(-1)).toBe(w.now - (w.now % CHECKPOINT_MS));
  });
});

describe("perf checkpoints as pure functions of a trader's marks", () => {
  const T0 = Date.UTC(2026, 1, 1); // 00:00 UTC
  const marks = (over: Partial<PerfMarks> = {}): PerfMarks => ({
    realizedUsd: 0,
    spreadFeeUsd: 0,
    carryFeeUsd: 0,
    unrealizedUsd: 0,
    value: 1,
    peak: 1,
    openPairs: [],
    cp: firstCheckpoint(T0 + 1_000),
    ...over,
  });

  it("a mark folds into the open checkpoint; the roll closes it with the last mark's values", () => {
    let t = trackCheckpoint(marks({ value: 0.97, unrealizedUsd: -300, openPairs: ["BTCUSD"] }), false, T0 + 60_000);
    t = trackCheckpoint({ ...t, value: 1.02, peak: 1.02, unrealizedUsd: 200 }, true, T0 + 120_000);
    expect(t.cp).toMatchObject({ lastMs: T0 + 120_000, openMs: 60_000, maxValue: 1.02 });
    expect(t.cp.maxDrawdown).toBeCloseTo(0.03, 12);
    expect(rollCheckpoints(t, T0 + CHECKPOINT_MS - 1, null)).toBe(t); // not ended yet
    const closed: PerfCheckpoint[] = [];
    const rolled = rollCheckpoints(t, T0 + 2 * CHECKPOINT_MS + 5, (c) => closed.push(c));
    expect(closed.map((c) => c.ts_ms)).toEqual([T0 + CHECKPOINT_MS, T0 + 2 * CHECKPOINT_MS]);
    expect(closed[0]).toMatchObject({ unrealized_pnl_usd: 200, open_ms: CHECKPOINT_MS - 60_000, accum_ms: CHECKPOINT_MS - 1_000, max_portfolio_value: 1.02 });
    expect(closed[1]).toMatchObject({ unrealized_pnl_usd: 0, open_ms: CHECKPOINT_MS, accum_ms: CHECKPOINT_MS }); // open all along, no new mark
    expect(rolled.cp).toMatchObject({ startMs: T0 + 2 * CHECKPOINT_MS, unrealized0: 200, maxValue: 1.02 });
    expect(rollCheckpoints(t, T0 + 2 * CHECKPOINT_MS + 5, null)).toEqual(rolled); // same state whoever keeps them
  });

  it("the open checkpoint as of now stops at its end; a long silence closes the window's worth", () => {
    const t = marks();
    expect(currentCheckpoint(t, T0 + 5_000)).toEqual(checkpointAt(t, T0 + 5_000));
    expect(currentCheckpoint(t, T0 + 3 * CHECKPOINT_MS)).toEqual(checkpointAt(t, T0 + CHECKPOINT_MS));
    let n = 0;
    rollCheckpoints(t, T0 + 400 * 86_400_000, () => n++);
    expect(n).toBe(CHECKPOINT_WINDOW_MS / CHECKPOINT_MS);
  });
});
