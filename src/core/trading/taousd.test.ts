// TAOUSD, the valuation-only pair (API.md): posted and guarded like any price, never traded.
import { describe, expect, it } from "vitest";
import { stateHash } from "../machine/state.ts";
import { expectReplayMatches, neurons, world } from "../../../test/support/trading-world.ts";
import { TRADE_PAIRS, tradePair } from "./trade-pairs.ts";

const E = "5entity";

function setup() {
  const w = world();
  neurons(w, [E, "5miner"]);
  w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
  w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "00000000-0000-4000-8000-000000000001" });
  w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "TAOUSD", price: 400, ts_ms: w.now }] });
  return w;
}

describe("TAOUSD", () => {
  it("is a pair, marked not tradable, in the valuation category; every other pair is tradable", () => {
    expect(tradePair("TAOUSD")).toMatchObject({ id: "TAOUSD", category: "valuation", tradable: false });
    expect(TRADE_PAIRS.filter((p) => !p.tradable).map((p) => p.id)).toEqual(["TAOUSD"]);
  });

  it("an order on it is 422 PAIR_NOT_TRADABLE, before any leverage check, for an entity and a regular miner; nothing changes", () => {
    const w = setup();
    const before = stateHash(w.state);
    const logged = w.log.length;
    const orders = [
      { signer: E, subaccount_id: 0, order_type: "LONG" as const, leverage: 0.1 },
      // A leverage no pair allows: still PAIR_NOT_TRADABLE, not LEVERAGE_OUT_OF_RANGE.
      { signer: E, subaccount_id: 0, order_type: "SHORT" as const, leverage: 500 },
      { signer: E, subaccount_id: 0, order_type: "FLAT" as const, leverage: undefined },
      { signer: "5miner", subaccount_id: undefined, order_type: "LONG" as const, leverage: 0.1 },
    ];
    for (const [n, o] of orders.entries()) {
      const r = w.run({ kind: "place_order", ts: w.now, trade_pair: "TAOUSD", order_uuid: `o${n}`, fingerprint: `f${n}`, position_uuid: `p${n}`, ...o });
      expect(r.error?.code).toBe("PAIR_NOT_TRADABLE");
      expect(r.error?.details).toEqual({ trade_pair: "TAOUSD" });
    }
    expect(w.log.length).toBe(logged);
    expect(stateHash(w.state)).toBe(before);
    // A refused order does not use its uuid.
    expect(w.state.trading.orderUuids.size).toBe(0);
  });

  it("is posted in order and guarded like any price: later ts only, a jump over 20% held", () => {
    const w = setup();
    const t0 = w.now;
    const posted = (price: number, ts: number) => w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "TAOUSD", price, ts_ms: ts }] }).payload;
    w.now += 1_000;
    expect(posted(404, t0 + 1_000)).toMatchObject({ accepted: [["TAOUSD", 404, t0 + 1_000]] });
    expect(w.state.trading.prices.get("TAOUSD")).toMatchObject({ price: 404, ts_ms: t0 + 1_000 });
    // Not later than the last accepted one: skipped.
    posted(405, t0 + 1_000);
    expect(w.state.trading.prices.get("TAOUSD")?.price).toBe(404);
    w.now += 1_000;
    posted(600, t0 + 2_000);
    expect(w.state.trading.prices.get("TAOUSD")?.price).toBe(404);
    expect(w.state.trading.held.get(`TAOUSD|${t0 + 2_000}`)).toMatchObject({ price: 600, last_price: 404 });
    expectReplayMatches(w);
  });
});
