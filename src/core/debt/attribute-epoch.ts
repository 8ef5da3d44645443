import { type ChainView, devnetChain } from "../chain/chain-view.ts";
import type { Effect } from "../chain/effects.ts";
import { PROP_NETUID } from "../entities/entity-commands.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import { AssertionFailure, DomainError } from "../errors/errors.ts";
import type { EventDraft, Json, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { attributeDebts } from "./attribution.ts";
import { emissionChunk } from "./debt-checkpoint.ts";
import { debtNow, NO_ENTITY_EMISSION, payTrader, rollTraderDebt } from "./debt-state.ts";
import { type AlphaPrice, microUsdOf } from "./micro-usd.ts";

/** The valuation-only pair whose price values emission in USD (API.md). */
export const TAO_USD = "TAOUSD";

/**
 * What one epoch paid a uid, as the block's event records it: a funded regular miner's alpha is
 * its own (one share, id -1); an entity's is pending (no shares yet) until its EmissionAttributed
 * event shares it among its subaccounts. Replay applies both without deciding again.
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
 * to each uid of the prop-trading subnet is recorded for whoever it is owed to. A funded regular
 * miner's is its own at once. An entity's is recorded as pending, with the epoch's price: sharing
 * it among up to 500 subaccounts per entity is each entity's own command right after the block
 * (`attributeEntity`), so a block stays O(uids) and no writer task grows with the subaccounts.
 * Nothing moves in the ledger: the alpha stays staked to the uid's hotkey. Decides and applies;
 * returns the records for the block's event.
 */
export function attributeEpoch(state: State, chain: ChainView, netuid: number, paidByUid: ReadonlyArray<[number, bigint]>, nowMs: number): JsonObject[] {
  if (netuid !== PROP_NETUID) return [];
  const price = alphaPriceNow(state, chain, netuid, nowMs);
  const p: [string, string, string] = [price.subnetTaoRao.toString(), price.alphaInRao.toString(), price.microUsdPerTao.toString()];
  const records: JsonObject[] = [];
  for (const [uid, paid] of paidByUid) {
    const hotkey = chain.hotkeyOf(netuid, uid);
    if (paid === 0n || hotkey === undefined) continue;
    let record: UidAttribution | null = null;
    if (state.entities.entities.has(hotkey)) {
      record = { uid, hotkey, entity: true, alpha: paid.toString(), shares: [], unattributed: "0", price: p };
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

function priceOf(p: readonly Json[]): AlphaPrice {
  const [subnetTaoRao, alphaInRao, microUsdPerTao] = p.map((x) => BigInt(x as string)) as [bigint, bigint, bigint];
  return { subnetTaoRao, alphaInRao, microUsdPerTao };
}

/** Pays `shares` of `owner`'s alpha (id -1: the owner's own hotkey) toward their debts, valued at `price`, emission dated `atMs`. */
function payShares(state: State, owner: string, shares: ReadonlyArray<[number, string]>, price: AlphaPrice, atMs: number, nowMs: number): bigint {
  let attributed = 0n;
  for (const [id, amount] of shares) {
    const trader = id === -1 ? owner : syntheticHotkey(owner, id);
    const alphaRao = BigInt(amount);
    attributed += alphaRao;
    const t = state.trading.traders.get(trader);
    if (!t || !state.debt.traders.has(trader)) throw new AssertionFailure(`attribution to ${trader}, which has no debt ledger`);
    rollTraderDebt(state.debt, trader, nowMs, t.unrealizedUsd);
    payTrader(state.debt, trader, emissionChunk(alphaRao, price), atMs);
  }
  return attributed;
}

/** Applies a block's recorded attribution: a miner's paid toward its debt; an entity's recorded as pending. */
export function applyAttribution(state: State, r: JsonObject, nowMs: number): void {
  const hotkey = r.hotkey as string;
  const paid = BigInt(r.alpha as string);
  const price = priceOf(r.price as Json[]);
  if (r.entity !== true) {
    const attributed = payShares(state, hotkey, r.shares as Array<[number, string]>, price, nowMs, nowMs);
    if (attributed !== paid) throw new AssertionFailure(`attribution of ${paid} alpha to uid ${String(r.uid)} records ${attributed}`);
    return;
  }
  const e = state.debt.entities.get(hotkey) ?? NO_ENTITY_EMISSION;
  state.debt.entities.set(hotkey, { ...e, paidAlphaRao: e.paidAlphaRao + paid, pendingAlphaRao: e.pendingAlphaRao + paid });
  const pending = state.debt.pendingAttribution.get(hotkey) ?? [];
  state.debt.pendingAttribution.set(hotkey, [...pending, { atMs: nowMs, alphaRao: paid, price }]);
}

/** Shares an entity's pending epochs' alpha among its subaccounts (the node runs one per entity after an epoch). */
export type AttributeEntity = { kind: "attribute_entity"; ts: number; entity: string };

/**
 * Shares each pending epoch's alpha, oldest first, among the entity's funded subaccounts (and its
 * own past ledger) in proportion to their remaining debts now, at that epoch's price, by largest
 * remainder (ties by id); what exceeds every debt, or arrives when none is owed or alpha has no
 * USD price, stays unattributed. Refused (nothing logged) when nothing is pending.
 */
export function attributeEntityCommand(state: State, c: AttributeEntity): EventDraft {
  const pending = state.debt.pendingAttribution.get(c.entity) ?? [];
  if (pending.length === 0) throw new DomainError("NOT_FOUND", `no alpha of ${c.entity} waits to be attributed`, { unchanged: true });
  const entries: JsonObject[] = [];
  for (const p of pending) {
    const debtors = entityDebtors(state, c.entity);
    const { shares, unattributed } = attributeDebts(p.alphaRao, debtors.map(({ id, trader }) => ({ id, remainingMicro: debtNow(state, trader, c.ts).remainingMicro })), p.price);
    const entry: JsonObject = { at: p.atMs, alpha: p.alphaRao.toString(), shares: shares.map((s) => [s.id, s.alpha.toString()]), unattributed: unattributed.toString() };
    // Each epoch's shares are paid before the next is decided: debts shrink in order.
    applyEntityEntry(state, c.entity, entry, c.ts);
    entries.push(entry);
  }
  return { type: "EmissionAttributed", version: 1, payload: { entity: c.entity, ts: c.ts, entries } };
}

export function applyEmissionAttributed(state: State, p: JsonObject): void {
  for (const entry of p.entries as JsonObject[]) applyEntityEntry(state, p.entity as string, entry, p.ts as number);
}

/** One pending epoch of an entity, attributed as recorded: its shares paid, its totals moved from pending. */
function applyEntityEntry(state: State, entity: string, entry: JsonObject, nowMs: number): void {
  const [head, ...rest] = state.debt.pendingAttribution.get(entity) ?? [];
  const alpha = BigInt(entry.alpha as string);
  if (!head || head.atMs !== entry.at || head.alphaRao !== alpha) throw new AssertionFailure(`EmissionAttributed for ${entity}: no pending epoch ${String(entry.at)} of ${alpha} alpha`);
  const attributed = payShares(state, entity, entry.shares as Array<[number, string]>, head.price, head.atMs, nowMs);
  const unattributed = BigInt(entry.unattributed as string);
  if (attributed + unattributed !== alpha) throw new AssertionFailure(`EmissionAttributed for ${entity}: ${attributed} + ${unattributed} of ${alpha} alpha`);
  if (rest.length > 0) state.debt.pendingAttribution.set(entity, rest);
  else state.debt.pendingAttribution.delete(entity);
  const e = state.debt.entities.get(entity) ?? NO_ENTITY_EMISSION;
  state.debt.entities.set(entity, {
    ...e,
    attributedAlphaRao: e.attributedAlphaRao + attributed,
    unattributedAlphaRao: e.unattributedAlphaRao + unattributed,
    pendingAlphaRao: e.pendingAlphaRao - alpha,
  });
}
