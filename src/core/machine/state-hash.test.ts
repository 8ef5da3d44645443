/**
 * The state hash is taken over a canonical encoding (DESIGN.md §2 rule 1): it does not depend on
 * the order in which code happened to build an object's keys, -0 hashes as 0, and a number JSON
 * cannot hold exactly (NaN, ±Infinity) is refused rather than hashed as null.
 */
import { describe, expect, it } from "vitest";
import { neurons, world } from "../../../test/support/trading-world.ts";
import { AssertionFailure } from "../errors/errors.ts";
import { canonicalJson } from "./canonical-json.ts";
import { exportState, hashSnapshot, importState, stateHash } from "./state.ts";

/** A copy of `value` with every object's keys in reverse order (same content, another construction order). */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((k) => [k, reversedKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function tradingState() {
  const w = world();
  neurons(w, ["5entity"]);
  w.ok({ kind: "register_entity", ts: w.now, hotkey: "5entity" });
  w.ok({ kind: "create_subaccount", ts: w.now, entity: "5entity", uuid: "u0" });
  w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: 100_000, ts_ms: w.now }] });
  w.ok({ kind: "place_order", ts: w.now, signer: "5entity", subaccount_id: 0, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.2, order_uuid: "o", fingerprint: "f", position_uuid: "p" });
  return w.state;
}

describe("canonical state hash", () => {
  it("two states whose records were built with different key orders hash equal", () => {
    const state = tradingState();
    const other = importState(exportState(state));
    // Rebuild every trader, position and entity record with its keys in another order.
    for (const [k, t] of other.trading.traders.sortedEntries()) other.trading.traders.set(k, reversedKeys(t) as never);
    for (const [k, p] of other.trading.open.sortedEntries()) other.trading.open.set(k, reversedKeys(p) as never);
    for (const [k, s] of other.entities.subaccounts.sortedEntries()) other.entities.subaccounts.set(k, { ...(reversedKeys({ ...s, reservedRao: 0 }) as object), reservedRao: s.reservedRao } as never);
    expect(JSON.stringify(exportState(other))).not.toBe(JSON.stringify(exportState(state)));
    expect(stateHash(other)).toBe(stateHash(state));
    expect(hashSnapshot(reversedKeys(exportState(state)) as never)).toBe(stateHash(state));
  });

  it("sorts keys recursively, hashes -0 as 0, and refuses NaN and Infinity", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: -0 }], c: "x" } })).toBe('{"a":{"c":"x","d":[1,{"y":0,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 0 })).toBe(canonicalJson({ a: -0 }));
    expect(canonicalJson({ a: undefined, b: null })).toBe(JSON.stringify({ a: undefined, b: null }));
    expect(canonicalJson([1.5e-7, 1e21, 0.1, "é\u2028"])).toBe(JSON.stringify([1.5e-7, 1e21, 0.1, "é\u2028"]));
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => canonicalJson({ deep: [{ x: bad }] })).toThrow(AssertionFailure);
      expect(() => canonicalJson({ deep: [{ x: bad }] })).toThrow(/deep\.0\.x/);
    }
    expect(() => canonicalJson({ a: 1n })).toThrow(AssertionFailure);
    expect(() => canonicalJson({ a: new Map() })).toThrow(AssertionFailure);
  });

  it("a state holding -0 hashes as the one holding 0; one holding NaN cannot be hashed", () => {
    const state = tradingState();
    const zero = importState(exportState(state));
    const negative = importState(exportState(state));
    const [k, t] = zero.trading.traders.sortedEntries()[0] as [string, { realizedUsd: number }];
    zero.trading.traders.set(k, { ...t, realizedUsd: 0 } as never);
    negative.trading.traders.set(k, { ...t, realizedUsd: -0 } as never);
    expect(stateHash(negative)).toBe(stateHash(zero));
    negative.trading.traders.set(k, { ...t, realizedUsd: Number.NaN } as never);
    expect(() => stateHash(negative)).toThrow(AssertionFailure);
  });
});
