import { describe, expect, it } from "vitest";
import { account } from "../chain/chain-state.ts";
import { TAO } from "../ledger/asset.ts";
import { DAY_MS, expectReplayMatches, neurons, ROOT, TAO_RAO, world } from "../../../test/support/trading-world.ts";
import { reservedAccount } from "./entity-state.ts";
import { reserveFor } from "./entity-commands.ts";

const E = "5entity";

function setup(collateralTao = 5_000n) {
  const w = world();
  neurons(w, [E, "5miner"], collateralTao);
  w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
  return w;
}

const create = (w: ReturnType<typeof world>, n: number, size?: number) =>
  w.run({ kind: "create_subaccount", ts: w.now, entity: E, account_size_usd: size, uuid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}` });

describe("entities and subaccounts", () => {
  it("registers only neurons, once", () => {
    const w = setup();
    expect(w.run({ kind: "register_entity", ts: w.now, hotkey: E }).error?.code).toBe("ENTITY_EXISTS");
    expect(w.run({ kind: "register_entity", ts: w.now, hotkey: "5stranger" }).error?.code).toBe("NOT_A_NEURON");
  });

  it("refuses a regular miner with open positions (409 OPEN_POSITIONS); once flat it registers and its past ledger stays its own", () => {
    const w = world();
    neurons(w, ["5miner"]);
    w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: 100_000, ts_ms: w.now }] });
    const order = (type: "LONG" | "FLAT", n: number) =>
      w.ok({ kind: "place_order", ts: w.now, signer: "5miner", trade_pair: "BTCUSD", order_type: type, leverage: type === "LONG" ? 0.1 : undefined, order_uuid: `o-${n}`, fingerprint: `f-${n}`, position_uuid: `p-${n}` });
    order("LONG", 1);
    const refused = w.run({ kind: "register_entity", ts: w.now, hotkey: "5miner" });
    expect(refused.error?.code).toBe("OPEN_POSITIONS");
    expect(refused.error?.details).toMatchObject({ open_trade_pairs: ["BTCUSD"] });
    expect(w.state.entities.entities.has("5miner")).toBe(false);
    order("FLAT", 2);
    w.ok({ kind: "register_entity", ts: w.now, hotkey: "5miner" });
    expect(w.state.trading.traders.get("5miner")).toMatchObject({ closedCount: 1, orderCount: 2, openPairs: [] });
    expectReplayMatches(w);
  });

  it("reserves ceil(size * 1e9 / cost) from free collateral: 10,000 USD reserves 4 TAO, 100,000 USD 20 TAO", () => {
    expect(reserveFor(10_000)).toBe(4n * TAO_RAO);
    expect(reserveFor(10_001)).toBe(2_000_200_000n);
    expect(reserveFor(1_000)).toBe(400_000_000n);
    expect(reserveFor(100_000)).toBe(20n * TAO_RAO);
    const w = setup();
    const free = w.state.ledger.balanceOf(TAO, account.collateral(E));
    expect(create(w, 0).error).toBeUndefined();
    expect(create(w, 1, 100_000).error).toBeUndefined();
    expect(w.state.ledger.balanceOf(TAO, account.collateral(E))).toBe(free - 24n * TAO_RAO);
    expect(w.state.ledger.balanceOf(TAO, reservedAccount(E))).toBe(24n * TAO_RAO);
    const sub = w.state.entities.subaccounts.get(`${E}_1`);
    expect(sub).toMatchObject({ id: 1, accountSizeUsd: 100_000, status: "active", reservedRao: 20n * TAO_RAO });
    expectReplayMatches(w);
  });

  it("checks in order: entity, limit, collateral", () => {
    const w = setup(9n);
    expect(w.run({ kind: "create_subaccount", ts: w.now, entity: "5nobody", uuid: "x" }).error?.code).toBe("ENTITY_NOT_FOUND");
    expect(create(w, 0).error).toBeUndefined();
    expect(create(w, 1).error).toBeUndefined();
    expect(create(w, 2).error?.code).toBe("INSUFFICIENT_COLLATERAL");
    const limited = world();
    neurons(limited, [E], 0n);
    limited.ok({ kind: "register_entity", ts: limited.now, hotkey: E, max_subaccounts: 1 });
    expect(limited.run({ kind: "create_subaccount", ts: limited.now, entity: E, account_size_usd: 1_000, uuid: "u" }).error?.code).toBe(
      "INSUFFICIENT_COLLATERAL",
    );
  });

  it("eliminating frees the reserve (no drawdown, no slash), is idempotent, and never reuses the id", () => {
    const w = setup();
    create(w, 0);
    const free = w.state.ledger.balanceOf(TAO, account.collateral(E));
    w.ok({ kind: "eliminate_subaccount", ts: w.now, synthetic: `${E}_0`, by: E });
    expect(w.state.ledger.balanceOf(TAO, account.collateral(E))).toBe(free + 4n * TAO_RAO);
    expect(w.run({ kind: "eliminate_subaccount", ts: w.now, synthetic: `${E}_0`, by: E }).events).toEqual([]);
    create(w, 1);
    expect(w.state.entities.subaccounts.get(`${E}_1`)?.uuid).toBe("00000000-0000-4000-8000-000000000001");
    expect(w.state.entities.entities.get(E)).toMatchObject({ nextId: 2, active: 1, eliminated: 1 });
    expectReplayMatches(w);
  });
});

describe("Idempotency-Keys", () => {
  const keyed = (w: ReturnType<typeof world>, key: string, fingerprint: string) =>
    w.run({ kind: "create_subaccount", ts: w.now, entity: E, uuid: `u-${w.log.length}`, request: { signer: E, uuid: `r-${w.log.length}`, idempotency: { key, fingerprint } } });

  it("refuse a repeat for 24 hours, then are forgotten oldest first; a key used again later is kept", () => {
    const w = setup();
    expect(keyed(w, "a", "1").error).toBeUndefined();
    w.now += 3_600_000;
    expect(keyed(w, "b", "1").error).toBeUndefined();
    expect(keyed(w, "a", "1").error?.details).toMatchObject({ same_body: true });
    expect(keyed(w, "a", "2").error?.code).toBe("IDEMPOTENCY_KEY_REUSED");
    w.now += 23 * 3_600_000; // "a" is 24 h old, "b" 23 h
    expect(keyed(w, "a", "3").error).toBeUndefined(); // "a" expired: usable again, and dropped from the queue
    expect([...w.state.idempotency.sortedKeys()]).toEqual([`${E}|a`, `${E}|b`]);
    w.now += 2 * 3_600_000;
    expect(keyed(w, "c", "1").error).toBeUndefined(); // drops "b"; the new "a" stays
    expect([...w.state.idempotency.sortedKeys()]).toEqual([`${E}|a`, `${E}|c`]);
    expect(w.state.idempotency.get(`${E}|a`)?.fingerprint).toBe("3");
    expectReplayMatches(w);
  });
});

describe("orders and prices (scripted)", () => {
  function trading() {
    const w = setup();
    create(w, 0);
    w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: 100_000, ts_ms: w.now }] });
    return w;
  }
  const order = (w: ReturnType<typeof world>, type: "LONG" | "SHORT" | "FLAT", leverage?: number, uuid = `o-${w.log.length}`) =>
    w.run({ kind: "place_order", ts: w.now, signer: E, subaccount_id: 0, trade_pair: "BTCUSD", order_type: type, leverage, order_uuid: uuid, fingerprint: `${type}${leverage}`, position_uuid: `p-${w.log.length}` });
  const price = (w: ReturnType<typeof world>, p: number) => {
    w.now += 1_000;
    return w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: p, ts_ms: w.now }] });
  };

  it("the entity itself cannot trade; leverage outside the range is refused, never clamped", () => {
    const w = trading();
    expect(w.run({ kind: "place_order", ts: w.now, signer: E, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1, order_uuid: "a", fingerprint: "", position_uuid: "p" }).error?.code).toBe("ENTITY_CANNOT_TRADE");
    expect(order(w, "LONG", 0.6).error?.code).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(order(w, "LONG", 0.001).error?.code).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(order(w, "LONG", 0.3).error).toBeUndefined();
    expect(order(w, "LONG", 0.3).error?.code).toBe("LEVERAGE_OUT_OF_RANGE");
    expect(w.state.trading.open.get(`${E}_0|BTCUSD`)?.net_leverage).toBe(0.3);
  });

  it("an opposite order reduces and never flips; FLAT closes with realised PnL", () => {
    const w = trading();
    order(w, "LONG", 0.5);
    price(w, 110_000);
    order(w, "SHORT", 0.2);
    const p = w.state.trading.open.get(`${E}_0|BTCUSD`);
    expect(p?.net_leverage).toBe(0.3);
    expect(p?.realized_pnl_usd).toBeCloseTo(10_000 * 0.2 * 0.1, 9);
    order(w, "SHORT", 0.5);
    expect(w.state.trading.open.get(`${E}_0|BTCUSD`)).toBeUndefined();
    const t = w.state.trading.traders.get(`${E}_0`);
    expect(t?.realizedUsd).toBeCloseTo(10_000 * 0.5 * 0.1, 9);
    expectReplayMatches(w);
  });

  it("passes at +3% before 6% drawdown, and a passed subaccount is eliminated at 10% drawdown with its reserve slashed", () => {
    const w = trading();
    order(w, "LONG", 0.5);
    price(w, 107_000); // +3.5% on the account, less fees
    expect(w.state.trading.traders.get(`${E}_0`)?.challenge).toBe("passed");
    const issuance = w.state.ledger.totals(TAO).issuance;
    price(w, 95_000);
    expect(w.state.trading.traders.get(`${E}_0`)?.elimination).toBeNull();
    price(w, 85_000); // value falls from ~1.035 to ~0.925: over 10% below the peak
    const t = w.state.trading.traders.get(`${E}_0`);
    expect(t?.elimination?.reason).toBe("MAX_TOTAL_DRAWDOWN");
    expect(w.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("eliminated");
    expect(w.state.trading.open.size).toBe(0);
    // 10% drawdown or more slashes the whole 4 TAO reserve, recycled.
    expect(t?.elimination?.slashed_rao).toBe((4n * TAO_RAO).toString());
    expect(w.state.ledger.totals(TAO).issuance).toBe(issuance - 4n * TAO_RAO);
    expectReplayMatches(w);
  });

  it("fails the challenge at 6% drawdown, and at 90 days without a pass", () => {
    const w = trading();
    order(w, "LONG", 0.5);
    price(w, 88_000); // -6% on the account
    expect(w.state.trading.traders.get(`${E}_0`)?.elimination?.reason).toBe("FAILED_CHALLENGE_PERIOD_DRAWDOWN");
    create(w, 1);
    w.now += 91 * DAY_MS;
    price(w, 88_001);
    expect(w.state.entities.subaccounts.get(`${E}_1`)?.status).toBe("eliminated");
    expect(w.state.trading.traders.get(`${E}_1`)?.elimination?.reason).toBe("FAILED_CHALLENGE_PERIOD_TIME");
    expectReplayMatches(w);
  });

  it("holds a price more than 20% away until root applies or discards it", () => {
    const w = trading();
    const e = price(w, 130_000);
    expect(e.payload).toMatchObject({ accepted: [], held: [["BTCUSD", 130_000, w.now, 100_000]] });
    expect(w.state.trading.prices.get("BTCUSD")?.price).toBe(100_000);
    w.ok({ kind: "resolve_held_price", ts: w.now, trade_pair: "BTCUSD", ts_ms: w.now, action: "apply" });
    expect(w.state.trading.prices.get("BTCUSD")?.price).toBe(130_000);
    expect(w.state.trading.held.size).toBe(0);
    expectReplayMatches(w);
  });

  it("repeats of an order_uuid are duplicates: same body or not", () => {
    const w = trading();
    expect(order(w, "LONG", 0.1, "same").error).toBeUndefined();
    expect(order(w, "LONG", 0.1, "same").error?.details).toMatchObject({ same_body: true });
    expect(order(w, "LONG", 0.2, "same").error?.details).toMatchObject({ same_body: false });
  });
});

describe("entity invariants on every block, and root's unfreeze", () => {
  it("a block finds an entity's broken running total, records it once and freezes the entity; unfreeze waits for the recount", () => {
    const w = world({ strict: false });
    neurons(w, [E]);
    w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
    w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u-0" });
    const e = w.state.entities.entities.get(E);
    if (!e) throw new Error("no entity");
    // A bug elsewhere moves the entity's running reserve sum without the ledger.
    w.state.entities.entities.set(E, { ...e, reservedRao: e.reservedRao + 1n });
    w.block();
    const recorded = () => w.state.violations.filter((v) => v.scope === `entity:${E}`);
    expect(recorded()).toEqual([{ scope: `entity:${E}`, invariant: "reserve_equals_sum_of_reserves", expected: (e.reservedRao + 1n).toString(), actual: e.reservedRao.toString() }]);
    expect(w.state.entities.entities.get(E)?.frozenByViolation).toBe(true);
    // Frozen: no new subaccounts, no orders.
    expect(w.run({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u-1" }).error?.code).toBe("ENTITY_FROZEN");
    for (let i = 0; i < 5; i++) w.block();
    expect(recorded()).toHaveLength(1);
    expect(w.state.violationRepeats.get(`entity:${E}|reserve_equals_sum_of_reserves`)?.repeats).toBe(5);
    const still = w.run({ kind: "unfreeze_entity", ts: w.now, hotkey: E, reason: "checked", by: ROOT });
    expect(still.error?.code).toBe("INVARIANT_STILL_FAILING");
    expect(still.error?.details).toMatchObject({ invariant: "reserve_equals_sum_of_reserves" });
    w.state.entities.entities.set(E, { ...e, frozenByViolation: true });
    w.ok({ kind: "unfreeze_entity", ts: w.now, hotkey: E, reason: "repaired", by: ROOT });
    expect(w.state.entities.entities.get(E)?.frozenByViolation).toBe(false);
    expect(recorded()).toEqual([]);
    expect(w.state.violationRepeats.size).toBe(0);
    expect(w.run({ kind: "unfreeze_entity", ts: w.now, hotkey: E, reason: "again", by: ROOT }).error?.details).toMatchObject({ unchanged: true });
    expect(w.run({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u-1" }).error).toBeUndefined();
    w.block();
    expect(recorded()).toEqual([]);
  });

  it("the recount sees what the running counts hide: a subaccount record changed behind the counts' back", () => {
    const w = world({ strict: false });
    neurons(w, [E]);
    w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
    w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u-0" });
    const e = w.state.entities.entities.get(E);
    const sub = w.state.entities.subaccounts.get(`${E}_0`);
    if (!e || !sub) throw new Error("setup");
    w.state.entities.subaccounts.set(`${E}_0`, { ...sub, status: "eliminated" });
    w.state.entities.entities.set(E, { ...e, frozenByViolation: true });
    expect(w.run({ kind: "unfreeze_entity", ts: w.now, hotkey: E, reason: "x", by: ROOT }).error?.code).toBe("INVARIANT_STILL_FAILING");
  });
});
