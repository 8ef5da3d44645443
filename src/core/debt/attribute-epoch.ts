import { type ChainView, devnetChain } from "../chain/chain-view.ts";
import type { Effect } from "../chain/effects.ts";
import { PROP_NETUID } from "../entities/entity-commands.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import { AssertionFailure } from "../errors/errors.ts";
import type { Json, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { attributeDebts } from "./attribution.ts";
import { emissionChunk } from "./debt-checkpoint.ts";
import { payTrader, penaltyPpmOf, periodOf, rollTraderDebt } from "./debt-state.ts";
import { type AlphaPrice, microUsdOf } from "./micro-usd.ts";
import { remaining, rollOwed } from "./owed.ts";

/** The valuation-only pair whose price values emission in USD (API.md). */
export const TAO_USD = "TAOUSD";

/**
 * What one epoch paid a uid, and whose it is: `[trader, alpha rao]` shares (subaccounts of an
 * entity, or a funded regular miner itself) and what no debt claimed. Recorded in the block's
 * event, so replay applies it without deciding again.
 */
export interface UidAttribution {
  uid: number;
  hotkey: string;
  /** Whether the uid is an entity's (its alpha stays staked to the entity's hotkey either way). */
  entity: boolean;
  alpha: string;
  shares: Array<[string, string]>;
  unattributed: string;
  /** The price it was valued at: SubnetTAO, SubnetAlphaIn, micro-USD per TAO. */
  price: [string, string, string];
}

/** The alpha price at this moment: the subnet's pool and the last TAO/USD price (0 before one arrives). */
export function alphaPriceNow(state: State, chain: ChainView, netuid: number): AlphaPrice {
  const usd = state.trading.prices.get(TAO_USD)?.price;
  const pool = chain.pool(netuid);
  return { subnetTaoRao: pool.taoRao, alphaInRao: pool.alphaInRao, microUsdPerTao: usd === undefined ? 0n : microUsdOf(usd) };
}

/** The trader's remaining debt now, in micro-USD (its record rolled to `nowMs` without writing it). */
export function remainingDebtMicro(state: State, trader: string, nowMs: number): bigint {
  const d = state.debt.traders.get(trader);
  const t = state.trading.traders.get(trader);
  if (!d || !t) return 0n;
  return remaining(rollOwed(d.owed, nowMs, periodOf(state.debt), t.unrealizedUsd), penaltyPpmOf(t.maxDrawdown));
}

/** Active, funded subaccounts of an entity, by id: those attribution may pay. */
export function fundedSubaccounts(state: State, entity: string): Array<{ id: number; synthetic: string }> {
  const e = state.entities.entities.get(entity);
  const out: Array<{ id: number; synthetic: string }> = [];
  if (!e) return out;
  for (let id = 0; id < e.nextId; id++) {
    const synthetic = syntheticHotkey(entity, id);
    if (state.entities.subaccounts.get(synthetic)?.status !== "active") continue;
    const t = state.trading.traders.get(synthetic);
    if (t?.challenge === "passed" && !t.elimination && state.debt.traders.has(synthetic)) out.push({ id, synthetic });
  }
  return out;
}

/** The block step (chain/block.ts BlockSteps): an epoch effect's payouts, attributed on the devnet. */
export function attributeEpochEffect(state: State, netuid: number, epoch: Effect, nowMs: number): JsonObject[] {
  if (epoch.k !== "epoch") return [];
  const paid = epoch.pays.map(([uid, incentive, take, shared]) => [uid, BigInt(incentive) + BigInt(take) + BigInt(shared)] as [number, bigint]);
  return attributeEpoch(state, devnetChain(state), netuid, paid, nowMs);
}

/**
 * The named step block production runs after an epoch's payouts (DESIGN.md §3.5): the alpha paid
 * to each uid of the prop-trading subnet is attributed to whoever it is owed to. An entity's goes
 * to its active, funded subaccounts in proportion to their remaining debts, by largest remainder;
 * what exceeds every debt, or arrives when none is owed, stays unattributed. A funded regular
 * miner's is its own. Nothing moves in the ledger: the alpha stays staked to the uid's hotkey.
 * Decides and applies; returns the records for the block's event.
 */
export function attributeEpoch(state: State, chain: ChainView, netuid: number, paidByUid: ReadonlyArray<[number, bigint]>, nowMs: number): JsonObject[] {
  if (netuid !== PROP_NETUID) return [];
  const price = alphaPriceNow(state, chain, netuid);
  const records: JsonObject[] = [];
  for (const [uid, paid] of paidByUid) {
    const hotkey = chain.hotkeyOf(netuid, uid);
    if (paid === 0n || hotkey === undefined) continue;
    let record: UidAttribution | null = null;
    const p: [string, string, string] = [price.subnetTaoRao.toString(), price.alphaInRao.toString(), price.microUsdPerTao.toString()];
    if (state.entities.entities.has(hotkey)) {
      const funded = fundedSubaccounts(state, hotkey);
      const { shares, unattributed } = attributeDebts(
        paid,
        funded.map(({ id, synthetic }) => ({ id, remainingMicro: remainingDebtMicro(state, synthetic, nowMs) })),
        price,
      );
      const byId = new Map(funded.map((f) => [f.id, f.synthetic]));
      record = {
        uid,
        hotkey,
        entity: true,
        alpha: paid.toString(),
        shares: shares.map((s) => [byId.get(s.id) as string, s.alpha.toString()]),
        unattributed: unattributed.toString(),
        price: p,
      };
    } else if (state.debt.traders.has(hotkey) && !state.trading.traders.get(hotkey)?.elimination) {
      record = { uid, hotkey, entity: false, alpha: paid.toString(), shares: [[hotkey, paid.toString()]], unattributed: "0", price: p };
    }
    if (!record) continue;
    const json = record as unknown as JsonObject;
    applyAttribution(state, json, nowMs);
    records.push(json);
  }
  return records;
}

/** Applies a recorded attribution: each share paid toward its trader's debt at the recorded price; an entity's totals. */
export function applyAttribution(state: State, r: JsonObject, nowMs: number): void {
  const shares = r.shares as Array<[string, string]>;
  const [subnetTao, alphaIn, microUsdPerTao] = (r.price as Json[]).map((x) => BigInt(x as string)) as [bigint, bigint, bigint];
  const price: AlphaPrice = { subnetTaoRao: subnetTao, alphaInRao: alphaIn, microUsdPerTao };
  const paid = BigInt(r.alpha as string);
  const unattributed = BigInt(r.unattributed as string);
  let attributed = 0n;
  for (const [trader, amount] of shares) {
    const alphaRao = BigInt(amount);
    attributed += alphaRao;
    const t = state.trading.traders.get(trader);
    if (!t || !state.debt.traders.has(trader)) throw new AssertionFailure(`attribution to ${trader}, which has no debt ledger`);
    rollTraderDebt(state.debt, trader, nowMs, t.unrealizedUsd);
    payTrader(state.debt, trader, emissionChunk(alphaRao, price), nowMs);
  }
  if (attributed + unattributed !== paid) throw new AssertionFailure(`attribution of ${paid} alpha to uid ${String(r.uid)} records ${attributed} + ${unattributed}`);
  if (r.entity !== true) return;
  const hotkey = r.hotkey as string;
  const e = state.debt.entities.get(hotkey) ?? { paidAlphaRao: 0n, attributedAlphaRao: 0n, unattributedAlphaRao: 0n };
  state.debt.entities.set(hotkey, {
    paidAlphaRao: e.paidAlphaRao + paid,
    attributedAlphaRao: e.attributedAlphaRao + attributed,
    unattributedAlphaRao: e.unattributedAlphaRao + unattributed,
  });
}
