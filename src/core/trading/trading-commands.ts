import { DomainError } from "../errors/errors.ts";
import { isFrozen, isNeuron } from "../entities/entity-commands.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { checkOrder, type OrderType } from "./position.ts";
import { tradePair } from "./trade-pairs.ts";
import { eliminateTrader, enqueueChallenge, judge, markTrader, passChallenge, placeOrder, traderOf } from "./trader.ts";
import { positionKey, type TraderRecord } from "./trading-state.ts";

/** A price more than this far from the pair's last accepted price is held for root (DESIGN.md §3.4). */
export const PRICE_GUARD = 0.2;
/** How far ahead of the node's clock a price's ts_ms may be. */
export const PRICE_MAX_AHEAD_MS = 2_000;

export type PlaceOrder = {
  kind: "place_order";
  ts: number;
  signer: string;
  subaccount_id?: number;
  trade_pair: string;
  order_type: OrderType;
  leverage?: number;
  order_uuid: string;
  /** The request's identity for order_uuid duplicates (the body, canonical). */
  fingerprint: string;
  position_uuid: string;
};
export type PostPrices = { kind: "post_prices"; ts: number; prices: Array<{ trade_pair: string; price: number; ts_ms: number }> };
export type ResolveHeldPrice = { kind: "resolve_held_price"; ts: number; trade_pair: string; ts_ms: number; action: "apply" | "discard" };

/** [trader, "pass" or an elimination reason, the number of accepted prices before it] */
type VerdictRecord = [string, string, number];

/** Who trades for this signer: an entity's subaccount, or a regular miner itself. */
export function resolveTrader(state: State, signer: string, subaccountId: number | undefined): string {
  const entity = state.entities.entities.get(signer);
  if (entity) {
    if (subaccountId === undefined) {
      throw new DomainError("ENTITY_CANNOT_TRADE", "an entity trades only through its subaccounts: name a subaccount_id", { entity_hotkey: signer });
    }
    if (isFrozen(state, entity)) throw new DomainError("ENTITY_FROZEN", `entity ${signer} is frozen: its hotkey holds no uid`, { entity_hotkey: signer });
    const synthetic = syntheticHotkey(signer, subaccountId);
    const sub = state.entities.subaccounts.get(synthetic);
    if (!sub) throw new DomainError("SUBACCOUNT_NOT_FOUND", `subaccount ${synthetic} was never created`, { synthetic_hotkey: synthetic });
    if (sub.status !== "active") throw new DomainError("SUBACCOUNT_NOT_ACTIVE", `subaccount ${synthetic} is ${sub.status}`, { synthetic_hotkey: synthetic, status: sub.status });
    return synthetic;
  }
  if (!isNeuron(state, signer)) throw new DomainError("NOT_A_NEURON", `${signer} is neither an entity nor a neuron on the subnet`, { hotkey: signer });
  if (subaccountId !== undefined) throw new DomainError("ENTITY_NOT_FOUND", `${signer} is not a registered entity and has no subaccounts`, { hotkey: signer });
  if (state.trading.traders.get(signer)?.elimination) {
    throw new DomainError("SUBACCOUNT_NOT_ACTIVE", `${signer} is eliminated`, { synthetic_hotkey: signer, status: "eliminated" });
  }
  return signer;
}

// ---- transitions shared by handlers and replay ---------------------------------------------------

function applyVerdict(state: State, trader: string, verdict: string, now: number): void {
  if (verdict === "pass") passChallenge(state, trader, now);
  else eliminateTrader(state, traderOf(state, trader, now), verdict, now);
}

export function applyOrderPlaced(state: State, p: JsonObject): void {
  const { trading } = state;
  const trader = p.trader as string;
  const now = p.ts as number;
  let t = trading.traders.get(trader);
  if (!t) {
    // A regular miner's challenge starts with its first order; a subaccount's at its creation.
    t = traderOf(state, trader, now);
    if (t.entity === null) enqueueChallenge(state, trader);
  }
  const price = trading.prices.get(p.trade_pair as string)?.price as number;
  const n = t.orderCount;
  t = placeOrder(state, markTrader(state, t, now), p.trade_pair as string, p.delta as number, {
    order_uuid: p.order_uuid as string,
    trader,
    order_type: p.order_type as OrderType,
    leverage: 0,
    price,
    now,
    src: "organic",
    new_position_uuid: p.position_uuid as string,
  });
  trading.traders.set(trader, markTrader(state, t, now));
  trading.orderUuids.set(positionKey(trader, p.order_uuid as string), { n, fingerprint: p.fingerprint as string });
  if (typeof p.verdict === "string") applyVerdict(state, trader, p.verdict, now);
}

export function applyPricesPosted(state: State, p: JsonObject): void {
  const now = p.ts as number;
  const accepted = p.accepted as Array<[string, number, number]>;
  const verdicts = (p.verdicts ?? []) as VerdictRecord[];
  let v = 0;
  for (let i = 0; i < accepted.length; i++) {
    const [pair, price, tsMs] = accepted[i] as [string, number, number];
    acceptPrice(state, pair, price, tsMs, now);
    while (v < verdicts.length && (verdicts[v] as VerdictRecord)[2] === i + 1) {
      const [trader, verdict] = verdicts[v] as VerdictRecord;
      applyVerdict(state, trader, verdict, now);
      v++;
    }
  }
  for (const [pair, price, tsMs, last] of (p.held ?? []) as Array<[string, number, number, number]>) {
    state.trading.held.set(`${pair}|${tsMs}`, { trade_pair: pair, price, ts_ms: tsMs, last_price: last });
  }
  sweepTo(state, p.queue_head as number | undefined);
  for (; v < verdicts.length; v++) {
    const [trader, verdict] = verdicts[v] as VerdictRecord;
    applyVerdict(state, trader, verdict, now);
  }
}

export function applyHeldPriceResolved(state: State, p: JsonObject): void {
  state.trading.held.delete(`${p.trade_pair as string}|${p.ts_ms as number}`);
  if (p.action === "apply") applyPricesPosted(state, { ts: p.ts as number, accepted: [[p.trade_pair, p.price, p.ts_ms]], verdicts: p.verdicts ?? [] } as JsonObject);
}

/** Sets a pair's price and marks every trader with an open position in it. */
function acceptPrice(state: State, pair: string, price: number, tsMs: number, now: number): void {
  const { trading } = state;
  trading.prices.set(pair, { price, ts_ms: tsMs });
  for (const trader of trading.openByPair.get(pair)?.sortedKeys() ?? []) {
    trading.traders.set(trader, markTrader(state, trading.traders.get(trader) as TraderRecord, now));
  }
}

function sweepTo(state: State, head: number | undefined): void {
  if (head === undefined) return;
  const { trading } = state;
  const q = trading.queue.get("q") ?? { head: 0, tail: 0 };
  for (let i = q.head; i < head; i++) trading.challengeQueue.delete(i);
  trading.queue.set("q", { head, tail: q.tail });
}

// ---- handlers -------------------------------------------------------------------------------------

export function placeOrderCommand(state: State, c: PlaceOrder): EventDraft {
  const trader = resolveTrader(state, c.signer, c.subaccount_id);
  const { trading } = state;
  const seen = trading.orderUuids.get(positionKey(trader, c.order_uuid));
  if (seen) {
    const same = seen.fingerprint === c.fingerprint;
    throw new DomainError("DUPLICATE_ORDER", same ? "this order_uuid was already processed" : "this order_uuid was already used for another order", {
      same_body: same,
      trader,
      order_index: seen.n,
    });
  }
  const pair = tradePair(c.trade_pair);
  if (!pair) throw new DomainError("UNKNOWN_TRADE_PAIR", `${c.trade_pair} is not a trade pair`, { trade_pair: c.trade_pair });
  const open = trading.open.get(positionKey(trader, pair.id)) ?? null;
  const delta = checkOrder(open, pair, c.order_type, c.leverage);
  if (!trading.prices.has(pair.id)) throw new DomainError("NO_PRICE", `no accepted price for ${pair.id} yet`, { trade_pair: pair.id });
  const payload: JsonObject = {
    trader,
    trade_pair: pair.id,
    order_type: c.order_type,
    delta,
    order_uuid: c.order_uuid,
    position_uuid: c.position_uuid,
    fingerprint: c.fingerprint,
    ts: c.ts,
  };
  applyOrderPlaced(state, payload);
  const t = trading.traders.get(trader) as TraderRecord;
  const verdict = judge(t, c.ts);
  if (verdict) {
    payload.verdict = verdict.kind === "pass" ? "pass" : verdict.reason;
    applyVerdict(state, trader, payload.verdict, c.ts);
  }
  return { type: "OrderPlaced", version: 1, payload: { ...payload, ref: { trader, n: t.orderCount - 1 } } };
}

export function postPricesCommand(state: State, c: PostPrices): EventDraft {
  const { trading } = state;
  const accepted: Array<[string, number, number]> = [];
  const held: Array<[string, number, number, number]> = [];
  const verdicts: VerdictRecord[] = [];
  let skipped = 0;
  for (const tick of c.prices) {
    const last = trading.prices.get(tick.trade_pair);
    const ok =
      tradePair(tick.trade_pair) !== undefined &&
      Number.isFinite(tick.price) &&
      tick.price > 0 &&
      (last === undefined || tick.ts_ms > last.ts_ms) &&
      tick.ts_ms <= c.ts + PRICE_MAX_AHEAD_MS;
    if (!ok) {
      skipped++;
      continue;
    }
    if (last !== undefined && Math.abs(tick.price - last.price) > PRICE_GUARD * last.price) {
      if (trading.held.has(`${tick.trade_pair}|${tick.ts_ms}`)) skipped++;
      else {
        held.push([tick.trade_pair, tick.price, tick.ts_ms, last.price]);
        trading.held.set(`${tick.trade_pair}|${tick.ts_ms}`, { trade_pair: tick.trade_pair, price: tick.price, ts_ms: tick.ts_ms, last_price: last.price });
      }
      continue;
    }
    accepted.push([tick.trade_pair, tick.price, tick.ts_ms]);
    acceptPrice(state, tick.trade_pair, tick.price, tick.ts_ms, c.ts);
    judgeMarked(state, tick.trade_pair, c.ts, accepted.length, verdicts);
  }
  const queueHead = sweepChallenges(state, c.ts, accepted.length, verdicts);
  const payload: JsonObject = { ts: c.ts, accepted, held, skipped, verdicts };
  if (queueHead !== undefined) payload.queue_head = queueHead;
  return { type: "PricesPosted", version: 1, payload: { ...payload, ref: { accepted: accepted.length, held: held.length, skipped } } };
}

export function resolveHeldPriceCommand(state: State, c: ResolveHeldPrice): EventDraft {
  const held = state.trading.held.get(`${c.trade_pair}|${c.ts_ms}`);
  if (!held) throw new DomainError("NOT_FOUND", `no held ${c.trade_pair} price at ts_ms ${c.ts_ms}`, { trade_pair: c.trade_pair, ts_ms: c.ts_ms });
  const last = state.trading.prices.get(c.trade_pair);
  const verdicts: VerdictRecord[] = [];
  state.trading.held.delete(`${c.trade_pair}|${c.ts_ms}`);
  // A tick older than the pair's last accepted price can only be discarded: prices never go back.
  const apply = c.action === "apply" && (last === undefined || held.ts_ms > last.ts_ms);
  if (apply) {
    acceptPrice(state, c.trade_pair, held.price, held.ts_ms, c.ts);
    judgeMarked(state, c.trade_pair, c.ts, 1, verdicts);
  }
  return {
    type: "HeldPriceResolved",
    version: 1,
    payload: { ts: c.ts, trade_pair: c.trade_pair, ts_ms: c.ts_ms, price: held.price, action: apply ? "apply" : "discard", verdicts, ref: { resolved: 1 } },
  };
}

/** Judges every trader the price just marked, applying and recording each verdict. */
function judgeMarked(state: State, pair: string, now: number, acceptedSoFar: number, verdicts: VerdictRecord[]): void {
  const { trading } = state;
  for (const trader of [...(trading.openByPair.get(pair)?.sortedKeys() ?? [])]) {
    const verdict = judge(trading.traders.get(trader) as TraderRecord, now);
    if (!verdict) continue;
    const v = verdict.kind === "pass" ? "pass" : verdict.reason;
    verdicts.push([trader, v, acceptedSoFar]);
    applyVerdict(state, trader, v, now);
  }
}

/** Fails, at 90 days, the challenges that are still running: they end in creation order. */
function sweepChallenges(state: State, now: number, acceptedSoFar: number, verdicts: VerdictRecord[]): number | undefined {
  const { trading } = state;
  const q = trading.queue.get("q");
  if (!q) return undefined;
  let head = q.head;
  const expired: string[] = [];
  while (head < q.tail) {
    const trader = trading.challengeQueue.get(head) as string;
    const t = traderOf(state, trader, now);
    if (t.endsAtMs > now) break;
    if (t.challenge === "in_challenge" && !t.elimination && (!state.entities.subaccounts.get(trader) || state.entities.subaccounts.get(trader)?.status === "active")) expired.push(trader);
    head++;
  }
  if (head === q.head) return undefined;
  sweepTo(state, head);
  for (const trader of expired) {
    verdicts.push([trader, "FAILED_CHALLENGE_PERIOD_TIME", acceptedSoFar]);
    applyVerdict(state, trader, "FAILED_CHALLENGE_PERIOD_TIME", now);
  }
  return head;
}

