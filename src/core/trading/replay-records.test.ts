/**
 * Replay applies what events record and never recomputes a rule's outcome (DESIGN.md §2 rule 2):
 * a slash, a fill or a verdict's marks are taken from the event; strict mode recomputes them and
 * refuses an event that disagrees, naming the field; an event made under trading rules this build
 * does not implement is refused.
 */
import { describe, expect, it } from "vitest";
import { expectReplayMatches, neurons, ROOT, world, type World } from "../../../test/support/trading-world.ts";
import { type EventDraft, encodePayload, type JsonObject } from "../machine/event.ts";
import { applyEvent } from "../machine/execute.ts";
import { createState, type State, stateHash } from "../machine/state.ts";

const E = "5entity";
const SUB0 = `${E}_0`;
const SUB1 = `${E}_1`;

/**
 * Two subaccounts: `_0` holds a 0.5x ETH LONG and is eliminated by root after a 5% fall (a partial
 * slash); `_1` holds a 0.5x BTC LONG and is eliminated by a PricesPosted verdict at 6% drawdown.
 */
function recorded(): World {
  const w = world();
  neurons(w, [E]);
  w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
  w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u0" });
  w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u1" });
  const prices = (list: Array<[string, number]>) => {
    w.now += 1_000;
    w.ok({ kind: "post_prices", ts: w.now, prices: list.map(([trade_pair, price]) => ({ trade_pair, price, ts_ms: w.now })) });
  };
  const order = (id: number, pair: string, uuid: string) =>
    w.ok({ kind: "place_order", ts: w.now, signer: E, subaccount_id: id, trade_pair: pair, order_type: "LONG", leverage: 0.5, order_uuid: uuid, fingerprint: uuid, position_uuid: `p-${uuid}` });
  prices([
    ["BTCUSD", 100_000],
    ["ETHUSD", 3_000],
  ]);
  order(0, "ETHUSD", "o0");
  order(1, "BTCUSD", "o1");
  prices([["ETHUSD", 2_850]]); // -2.5% on _0's account: no verdict
  w.now += 1_000;
  w.ok({ kind: "eliminate_subaccount", ts: w.now, synthetic: SUB0, by: ROOT });
  prices([["BTCUSD", 88_000]]); // -6% on _1's account
  return w;
}

/** The log as stored (through JSON), with `tamper` applied to a copy of each payload. */
function stored(w: World, tamper: (e: EventDraft) => void = () => {}): EventDraft[] {
  return w.log.map((e) => {
    const copy: EventDraft = { type: e.type, version: e.version, payload: JSON.parse(encodePayload(e)) as JsonObject };
    tamper(copy);
    return copy;
  });
}

function replay(log: EventDraft[], strict: boolean): State {
  const state = createState({ strict });
  for (const e of log) applyEvent(state, e);
  return state;
}

/** Sets a recorded slash to 1 rao; the amount freed (when recorded) takes the rest, so the record still adds up. */
function slashOne(record: JsonObject): void {
  const total = BigInt(record.slashed_rao as string) + BigInt((record.freed_rao as string | undefined) ?? "0");
  record.slashed_rao = "1";
  if (record.freed_rao !== undefined) record.freed_rao = (total - 1n).toString();
}

describe("replay applies recorded amounts", () => {
  it("the recorded log replays to the same state, strict", () => {
    const w = recorded();
    expect(w.state.entities.subaccounts.get(SUB0)?.status).toBe("eliminated");
    expect(w.state.entities.subaccounts.get(SUB1)?.status).toBe("eliminated");
    expect(BigInt(w.state.trading.traders.get(SUB0)?.elimination?.slashed_rao ?? "0")).toBeGreaterThan(1n);
    expectReplayMatches(w);
    expect(stateHash(replay(stored(w), false))).toBe(stateHash(w.state));
  });

  it("a SubaccountEliminated's slashed_rao is applied as recorded; strict replay refuses it, naming the field", () => {
    const w = recorded();
    const tampered = stored(w, (e) => {
      if (e.type === "SubaccountEliminated") slashOne(e.payload);
    });
    const replayed = replay(tampered, false);
    expect(stateHash(replayed)).not.toBe(stateHash(w.state));
    expect(replayed.trading.traders.get(SUB0)?.elimination?.slashed_rao).toBe("1");
    const slashedBefore = w.state.entities.entities.get(E)?.slashedRao ?? 0n;
    const slash0 = BigInt(w.state.trading.traders.get(SUB0)?.elimination?.slashed_rao ?? "0");
    expect(replayed.entities.entities.get(E)?.slashedRao).toBe(slashedBefore - slash0 + 1n);
    expect(() => replay(tampered, true)).toThrow(/SubaccountEliminated.*slashed_rao/);
  });

  it("a verdict's slash inside PricesPosted is applied as recorded; strict replay refuses it, naming the field", () => {
    const w = recorded();
    let found = false;
    const tampered = stored(w, (e) => {
      const verdicts = e.payload.verdicts as unknown[][] | undefined;
      if (e.type !== "PricesPosted" || !verdicts?.length) return;
      const marks = verdicts[0]?.[3] as { elimination?: JsonObject } | undefined;
      expect(marks?.elimination).toBeDefined();
      slashOne(marks?.elimination as JsonObject);
      found = true;
    });
    expect(found).toBe(true);
    const replayed = replay(tampered, false);
    expect(stateHash(replayed)).not.toBe(stateHash(w.state));
    expect(replayed.trading.traders.get(SUB1)?.elimination?.slashed_rao).toBe("1");
    expect(() => replay(tampered, true)).toThrow(/PricesPosted.*slashed_rao/);
  });

  it("an order's recorded fill is applied as recorded; strict replay refuses a fill the rules do not give", () => {
    const w = recorded();
    const tampered = stored(w, (e) => {
      if (e.type === "OrderPlaced" && e.payload.order_uuid === "o0") (e.payload.fill as JsonObject).spread_fee_usd = 1;
    });
    const replayed = replay(tampered, false);
    expect(replayed.trading.traders.get(SUB0)?.spreadFeeUsd).not.toBe(w.state.trading.traders.get(SUB0)?.spreadFeeUsd);
    expect(() => replay(tampered, true)).toThrow(/OrderPlaced.*spread_fee_usd/);
  });
});

describe("logs written before figures and rules versions were recorded", () => {
  it("still replay, strict or not, to the same state (the slash of a SubaccountEliminated was always recorded)", () => {
    const w = recorded();
    const legacy = stored(w, (e) => {
      const p = e.payload;
      if (p.rules === undefined) return;
      for (const k of ["rules", "fill", "marks", "freed_rao", "fills", "return", "max_drawdown", "price"]) {
        if (e.type !== "HeldPriceResolved" || k !== "price") delete p[k];
      }
      if (Array.isArray(p.verdicts)) p.verdicts = p.verdicts.map((v) => (v as unknown[]).slice(0, 3) as JsonObject[]);
    });
    expect(JSON.stringify(legacy)).not.toContain('"rules"');
    for (const strict of [true, false]) expect(stateHash(replay(legacy, strict))).toBe(stateHash(w.state));
  });
});

describe("trading rules versions", () => {
  const unknown = /event (OrderPlaced|PricesPosted|SubaccountEliminated) was produced under trading rules v7; this build implements v1\.\.v1/;
  for (const type of ["OrderPlaced", "PricesPosted", "SubaccountEliminated"]) {
    it(`${type} records its rules version, and apply refuses one this build does not implement`, () => {
      const w = recorded();
      const event = w.log.find((e) => e.type === type) as EventDraft;
      expect(event.payload.rules).toBe(1);
      const tampered = stored(w, (e) => {
        if (e.type === type) e.payload.rules = 7;
      });
      expect(() => replay(tampered, false)).toThrow(unknown);
    });
  }
});

describe("order_uuid is unique per signer", () => {
  it("reusing one under another subaccount of the same entity is DUPLICATE_ORDER", () => {
    const w = world();
    neurons(w, [E]);
    w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
    w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u0" });
    w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: "u1" });
    w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: 100_000, ts_ms: w.now }] });
    const order = (id: number, fingerprint: string) =>
      w.run({ kind: "place_order", ts: w.now, signer: E, subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1, order_uuid: "shared", fingerprint, position_uuid: `p${w.log.length}` });
    expect(order(0, "a").error).toBeUndefined();
    const before = stateHash(w.state);
    const other = order(1, "b").error;
    expect(other?.code).toBe("DUPLICATE_ORDER");
    expect(other?.details).toMatchObject({ same_body: false, trader: SUB0, order_index: 0 });
    // The same body (the caller's fingerprint) answers with the original order, under the subaccount that placed it.
    expect(order(1, "a").error?.details).toMatchObject({ same_body: true, trader: SUB0, order_index: 0 });
    expect(stateHash(w.state)).toBe(before);
    expect(w.state.trading.traders.get(SUB1)?.orderCount ?? 0).toBe(0);
    expectReplayMatches(w);
  });
});
