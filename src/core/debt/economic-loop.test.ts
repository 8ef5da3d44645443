import { describe, expect, it } from "vitest";
import { head, isEpochBlock, key } from "../chain/chain-state.ts";
import { report } from "../invariants/report.ts";
import { TAO_RAO, expectReplayMatches, world } from "../../../test/support/trading-world.ts";
import type { UidAttribution } from "./attribute-epoch.ts";

const OWNER = "5owner";
const VALIDATOR = "5validator";
const E = "5entity";
const MINER = "5miner";
const MIN = 60_000;

/**
 * The whole loop in core, on scripted prices: trading -> funded -> owed -> the validator's scores
 * -> set_weights -> Yuma epoch -> alpha to the entity's uid -> attribution to its funded
 * subaccount -> its debt ledger; and replay gives the same state.
 */
describe("the economic loop", () => {
  it("pays the entity's uid and attributes its alpha to the funded subaccount, exactly", () => {
    const w = world();
    const tick = (ms: number) => (w.now += ms);
    // uid 0 the owner, uid 1 the validator (staked, so its weights are the consensus), 2 the entity, 3 a miner.
    w.block([OWNER, VALIDATOR, E, MINER].map((hotkey) => ({ call: "subtensor.burned_register", signer: "5cold", args: { netuid: 1, hotkey } })));
    w.block([
      { call: "subtensor.add_stake", signer: "5cold", args: { netuid: 1, hotkey: VALIDATOR, amount_rao: (1_000n * TAO_RAO).toString() } },
      { call: "collateral.deposit", signer: "5cold", args: { hotkey: E, amount_rao: (100n * TAO_RAO).toString() } },
      { call: "root.set_parameter", signer: "5root", args: { name: "tempo", value: 20 } },
    ]);
    w.ok({ kind: "set_payout_period", ts: w.now, period: "1m" });
    w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
    for (const n of [0, 1]) w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: `u-${n}` });
    const prices = (btc: number, eth: number) =>
      w.ok({
        kind: "post_prices",
        ts: tick(1_000),
        prices: [
          { trade_pair: "BTCUSD", price: btc, ts_ms: w.now },
          { trade_pair: "ETHUSD", price: eth, ts_ms: w.now },
          { trade_pair: "TAOUSD", price: 400, ts_ms: w.now },
        ],
      });
    const order = (id: number, pair: string, type: "LONG" | "FLAT", n: number) =>
      w.ok({ kind: "place_order", ts: tick(1_000), signer: E, subaccount_id: id, trade_pair: pair, order_type: type, leverage: type === "LONG" ? 0.5 : undefined, order_uuid: `o-${n}`, fingerprint: `f-${n}`, position_uuid: `p-${n}` });
    prices(100_000, 4_000);
    order(0, "BTCUSD", "LONG", 1);
    order(1, "ETHUSD", "LONG", 2);
    prices(107_000, 3_400); // subaccount 0: +3.5% passes; subaccount 1: -7.5% fails
    expect(w.state.trading.traders.get(`${E}_0`)?.challenge).toBe("passed");
    expect(w.state.entities.subaccounts.get(`${E}_1`)?.status).toBe("eliminated");
    prices(110_000, 3_400);
    order(0, "BTCUSD", "FLAT", 3); // closed while funded: owed once this minute's period ends
    const debt = w.state.debt.traders.get(`${E}_0`);
    expect(debt?.owed.pendingRealizedMicro).toBeGreaterThan(0n);
    const owed = debt?.owed.pendingRealizedMicro ?? 0n;

    tick(MIN);
    // The node assesses each entity's debt with a command of its own; scoring reads the assessment.
    const assessed = w.ok({ kind: "assess_entity", ts: w.now, entity: E });
    expect(assessed.payload).toMatchObject({ entity: E, remaining: owed.toString(), paid: "0" });
    expect(w.state.debt.entityDebts.get(E)?.remainingMicro).toBe(owed);
    w.ok({ kind: "score_weights", ts: w.now, validator: VALIDATOR, block_time_ms: 12_000 });
    const scored = w.state.debt.scored.get("last");
    const entityRow = scored?.rows.find((r) => r.hotkey === E);
    expect(entityRow).toMatchObject({ uid: 2, bucket: "entity", owedMicro: owed, paidMicro: 0n, remainingMicro: owed });
    expect(scored?.rows.find((r) => r.uid === 0)?.bucket).toBe("owner");
    expect(scored?.uids).toContain(2);
    w.block([{ call: "subtensor.set_weights", signer: VALIDATOR, args: { netuid: 1, uids: scored?.uids, weights: scored?.weights } }]);

    // Run to the next epoch of subnet 1.
    let attributions: UidAttribution[] = [];
    for (let i = 0; i < 30 && attributions.length === 0; i++) {
      const next = head(w.state.chain).block + 1;
      w.block();
      if (isEpochBlock(next, 1, 20)) attributions = ((w.log.at(-1)?.payload.attributions ?? []) as unknown) as UidAttribution[];
    }
    // The block recorded the entity's alpha as pending; its own command shares it.
    expect(w.state.debt.entities.get(E)?.pendingAlphaRao).toBeGreaterThan(0n);
    const shared = w.ok({ kind: "attribute_entity", ts: w.now, entity: E });
    const [entry] = shared.payload.entries as unknown as Array<{ alpha: string; shares: Array<[number, string]>; unattributed: string }>;
    const toEntity = attributions.find((a) => a.hotkey === E);
    expect(toEntity).toBeDefined();
    const paid = BigInt(toEntity?.alpha ?? "0");
    const stats = w.state.chain.stats.get(1);
    expect(paid).toBe(stats?.emission[2]);
    expect(paid).toBeGreaterThan(0n);
    // All of it to the funded subaccount (up to its debt), none to the eliminated one.
    expect(entry?.alpha).toBe(paid.toString());
    expect(entry?.shares.map(([id]) => id)).toEqual([0]);
    const share = BigInt(entry?.shares[0]?.[1] ?? "0");
    expect(share + BigInt(entry?.unattributed ?? "0")).toBe(paid);
    const after = w.state.debt.traders.get(`${E}_0`);
    expect(after?.attributedAlphaRao).toBe(share);
    expect(w.state.debt.entities.get(E)).toEqual({ paidAlphaRao: paid, attributedAlphaRao: share, unattributedAlphaRao: paid - share, pendingAlphaRao: 0n });
    expect(w.state.chain.uids.get(key.hotkey(1, E))).toBe(2);
    // Every invariant holds, the entity's attribution identity included; replay agrees.
    expect(report(w.state).invariants.filter((r) => !r.ok)).toEqual([]);
    // The debt (490 USD less fees, at 4 TAO per alpha and 400 USD per TAO) is paid in full by the
    // least alpha worth it; the rest stays the entity's, unattributed.
    expect(after?.owed.paidMicro).toBe(owed);
    expect(paid - share).toBeGreaterThan(0n);
    expectReplayMatches(w);
  });
});

describe("attribution through the state", () => {
  /**
   * An entity with three subaccounts funded on scripted prices, each closing a different profit,
   * the validator weighting only the entity (so its uid takes the miners' whole emission), and
   * epochs run until `epochs` of them have paid the entity.
   */
  function threeFunded(options: { taoUsd: number | null; epochs: number; tempo: number }) {
    const w = world();
    const tick = (ms: number) => (w.now += ms);
    w.block([OWNER, VALIDATOR, E].map((hotkey) => ({ call: "subtensor.burned_register", signer: "5cold", args: { netuid: 1, hotkey } })));
    w.block([
      { call: "subtensor.add_stake", signer: "5cold", args: { netuid: 1, hotkey: VALIDATOR, amount_rao: (1_000n * TAO_RAO).toString() } },
      { call: "collateral.deposit", signer: "5cold", args: { hotkey: E, amount_rao: (100n * TAO_RAO).toString() } },
      { call: "root.set_parameter", signer: "5root", args: { name: "tempo", value: options.tempo } },
    ]);
    w.ok({ kind: "set_payout_period", ts: w.now, period: "1m" });
    w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
    const pairs = ["BTCUSD", "ETHUSD", "SOLUSD"];
    for (const n of [0, 1, 2]) w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: `u-${n}` });
    const prices = (factor: number) =>
      w.ok({
        kind: "post_prices",
        ts: tick(1_000),
        prices: [
          ...pairs.map((trade_pair) => ({ trade_pair, price: 100 * factor, ts_ms: w.now })),
          ...(options.taoUsd === null ? [] : [{ trade_pair: "TAOUSD", price: options.taoUsd, ts_ms: w.now }]),
        ],
      });
    let n = 0;
    const order = (id: number, type: "LONG" | "FLAT", leverage?: number) =>
      w.ok({ kind: "place_order", ts: tick(1_000), signer: E, subaccount_id: id, trade_pair: pairs[id] as string, order_type: type, leverage, order_uuid: `o-${n++}`, fingerprint: `f-${n}`, position_uuid: `p-${n}` });
    prices(1);
    order(0, "LONG", 0.5);
    order(1, "LONG", 0.4);
    order(2, "LONG", 0.3);
    prices(1.12); // +6%, +4.8%, +3.6% (less fees): all three pass
    for (const id of [0, 1, 2]) expect(w.state.trading.traders.get(`${E}_${id}`)?.challenge).toBe("passed");
    for (const id of [0, 1, 2]) order(id, "FLAT"); // closed while funded: three different debts
    tick(MIN);
    const owed = [0, 1, 2].map((id) => w.state.debt.traders.get(`${E}_${id}`)?.owed.pendingRealizedMicro ?? 0n);
    // Weights on the entity alone, so the miners' whole emission goes to its uid.
    w.block([{ call: "subtensor.set_weights", signer: VALIDATOR, args: { netuid: 1, uids: [2], weights: [65_535] } }]);
    const records: Array<{ alpha: string; shares: Array<[number, string]>; unattributed: string }> = [];
    for (let i = 0; i < options.tempo * (options.epochs + 1) + 2 && records.length < options.epochs; i++) {
      w.block();
      if (((w.log.at(-1)?.payload.attributions ?? []) as unknown as UidAttribution[]).some((a) => a.hotkey === E)) {
        const shared = w.ok({ kind: "attribute_entity", ts: w.now, entity: E });
        records.push(...(shared.payload.entries as unknown as typeof records));
      }
    }
    expect(records).toHaveLength(options.epochs);
    return { w, owed, records };
  }

  it("shares an epoch's alpha among funded subaccounts by remaining debt, never above a debt, to the rao", () => {
    // A tempo of 2 blocks: each epoch pays a fraction of the debts, so they are shared, not all paid.
    // At 40 USD a TAO an epoch's alpha is worth less than the three debts together.
    const { w, owed, records } = threeFunded({ taoUsd: 40, epochs: 1, tempo: 2 });
    const [first] = records as [(typeof records)[number]];
    const shares = new Map(first.shares.map(([id, a]) => [id, BigInt(a)]));
    expect([...shares.keys()]).toEqual([0, 1, 2]);
    expect(BigInt(first.unattributed)).toBe(0n); // less than the debts: nothing left over
    expect([...shares.values()].reduce((x, y) => x + y, 0n)).toBe(BigInt(first.alpha));
    // In proportion to the debts: each share within one rao of alpha x debt / Σ debts.
    const total = owed.reduce((x, y) => x + y, 0n);
    for (const id of [0, 1, 2]) {
      const exact = (BigInt(first.alpha) * (owed[id] as bigint)) / total;
      const got = shares.get(id) as bigint;
      expect(got - exact >= 0n && got - exact <= 1n, `subaccount ${id}: ${got} vs ${exact}`).toBe(true);
      const d = w.state.debt.traders.get(`${E}_${id}`);
      expect(d?.owed.paidMicro).toBeLessThanOrEqual(owed[id] as bigint);
      expect(d?.attributedAlphaRao).toBe(got);
    }
    expect(report(w.state).invariants.filter((r) => !r.ok)).toEqual([]);
    expectReplayMatches(w);
  });

  it("with no TAO/USD price, alpha pays no debt: all of it stays unattributed and every debt stays whole", () => {
    const { w, owed, records } = threeFunded({ taoUsd: null, epochs: 2, tempo: 4 });
    for (const r of records) {
      expect(r.shares).toEqual([]);
      expect(r.unattributed).toBe(r.alpha);
    }
    for (const id of [0, 1, 2]) {
      const d = w.state.debt.traders.get(`${E}_${id}`);
      expect(d?.owed.paidMicro).toBe(0n);
      expect((d?.owed.settledRealizedMicro ?? 0n) + (d?.owed.pendingRealizedMicro ?? 0n)).toBe(owed[id]);
    }
    const paid = records.reduce((x, r) => x + BigInt(r.alpha), 0n);
    expect(w.state.debt.entities.get(E)).toEqual({ paidAlphaRao: paid, attributedAlphaRao: 0n, unattributedAlphaRao: paid, pendingAlphaRao: 0n });
    expectReplayMatches(w);
  });
});
