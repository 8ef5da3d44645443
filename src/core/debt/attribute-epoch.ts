import { type ChainView, devnetChain } from "../chain/chain-view.ts";
import type { Effect } from "../chain/effects.ts";
import { PROP_NETUID } from "../entities/entity-commands.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import { AssertionFailure } from "../errors/errors.ts";
import type { Json, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { attributeDebts } from "./attribution.ts";
import { emissionChunk } from "./debt-checkpoint.ts";
import { debtNow, payTrader, rollTraderDebt } from "./debt-state.ts";
import { type AlphaPrice, microUsdOf } from "./micro-usd.ts";

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
  /** [subaccount id, or -1 for the uid's own hotkey; alpha rao] */
  shares: Array<[number, string]>;
  unattributed: string;
  /** The price it was valued at: SubnetTAO, SubnetAlphaIn, micro-USD per TAO. */
  price: [string, string, string];
}

/** A TAO/USD price older than this values nothing: stale, it could pay debts at a price long gone. */
export const TAO_USD_MAX_AGE_MS = 3_600_000;

/** The alpha price at `nowMs`: the subnet's pool and the TAO/USD price, 0 without a fresh one (then nothing is paid by value). */
export function alphaPriceNow(state: State, chain: ChainView, netuid: number, nowMs: number): AlphaPrice {
  const usd = state.trading.prices.get(TAO_USD);
  const fresh = usd !== undefined && usd.ts_ms + TAO_USD_MAX_AGE_MS >= nowMs;
  const pool = chain.pool(netuid);
  return { subnetTaoRao: pool.taoRao, alphaInRao: pool.alphaInRao, microUsdPerTao: fresh ? microUsdOf(usd.price) : 0n };
}

/**
 * Whose debts an entity's alpha pays, by id: its active, funded subaccounts (from the funded
 * index, not every id ever made), and the entity's own hotkey as id -1 while it still has a debt
 * ledger of its own (a funded regular miner that became an entity keeps its past ledger).
 */
export function entityDebtors(state: State, entity: string): Array<{ id: number; trader: string }> {
  const out: Array<{ id: number; trader: string }> = [];
  if (state.debt.traders.has(entity)) out.push({ id: -1, trader: entity });
  for (const id of state.debt.fundedIds.get(entity) ?? []) {
    const synthetic = syntheticHotkey(entity, id);
    if (state.entities.subaccounts.get(synthetic)?.status !== "active") continue;
    const t = state.trading.traders.get(synthetic);
    if (t?.challenge === "passed" && !t.elimination) out.push({ id, trader: synthetic });
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
  const price = alphaPriceNow(state, chain, netuid, nowMs);
  const records: JsonObject[] = [];
  for (const [uid, paid] of paidByUid) {
    const hotkey = chain.hotkeyOf(netuid, uid);
    if (paid === 0n || hotkey === undefined) continue;
    let record: UidAttribution | null = null;
    const p: [string, string, string] = [price.subnetTaoRao.toString(), price.alphaInRao.toString(), price.microUsdPerTao.toString()];
    if (state.entities.entities.has(hotkey)) {
      const debtors = entityDebtors(state, hotkey);
      const { shares, unattributed } = attributeDebts(
        paid,
        debtors.map(({ id, trader }) => ({ id, remainingMicro: debtNow(state, trader, nowMs).remainingMicro })),
        price,
      );
      record = { uid, hotkey, entity: true, alpha: paid.toString(), shares: shares.map((s) => [s.id, s.alpha.toString()]), unattributed: unattributed.toString(), price: p };
    } else if (state.debt.traders.has(hotkey) && !state.trading.traders.get(hotkey)?.elimination) {
      record = { uid, hotkey, entity: false, alpha: paid.toString(), shares: [[-1, paid.toString()]], unattributed: "0", price: p };
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
  const shares = r.shares as Array<[number, string]>;
  const hotkey = r.hotkey as string;
  const [subnetTao, alphaIn, microUsdPerTao] = (r.price as Json[]).map((x) => BigInt(x as string)) as [bigint, bigint, bigint];
  const price: AlphaPrice = { subnetTaoRao: subnetTao, alphaInRao: alphaIn, microUsdPerTao };
  const paid = BigInt(r.alpha as string);
  const unattributed = BigInt(r.unattributed as string);
  let attributed = 0n;
  for (const [id, amount] of shares) {
    // -1 is the uid's own hotkey (a regular miner, or an entity's own past ledger).
    const trader = id === -1 ? hotkey : syntheticHotkey(hotkey, id);
    const alphaRao = BigInt(amount);
    attributed += alphaRao;
    const t = state.trading.traders.get(trader);
    if (!t || !state.debt.traders.has(trader)) throw new AssertionFailure(`attribution to ${trader}, which has no debt ledger`);
    rollTraderDebt(state.debt, trader, nowMs, t.unrealizedUsd);
    payTrader(state.debt, trader, emissionChunk(alphaRao, price), nowMs);
  }
  if (attributed + unattributed !== paid) throw new AssertionFailure(`attribution of ${paid} alpha to uid ${String(r.uid)} records ${attributed} + ${unattributed}`);
  if (r.entity !== true) return;
  const e = state.debt.entities.get(hotkey) ?? { paidAlphaRao: 0n, attributedAlphaRao: 0n, unattributedAlphaRao: 0n };
  state.debt.entities.set(hotkey, {
    paidAlphaRao: e.paidAlphaRao + paid,
    attributedAlphaRao: e.attributedAlphaRao + attributed,
    unattributedAlphaRao: e.unattributedAlphaRao + unattributed,
  });
}
