import { AssertionFailure, DomainError } from "../errors/errors.ts";
import { isFrozen, isNeuron, withEntityChecks } from "../entities/entity-commands.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import type { EventDraft, Json, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { checkOrder, type Fill, type OrderType } from "./position.ts";
import { fillRecord, type VerdictMarks, verdictMarks } from "./records.ts";
import { rulesOf, TRADING_RULES_VERSION } from "./rules.ts";
import { TRADE_PAIRS, tradePair } from "./trade-pairs.ts";
import { issuesFacts } from "../sync/sync-state.ts";
import { isPendingVerdict, PENDING_PREFIX, verdictReason } from "./pending-verdict.ts";
import { applyVerdict, enqueueChallenge, judge, markTrader, placeOrder, traderOf } from "./trader.ts";
import { orderUuidKey, positionKey, type TraderRecord } from "./trading-state.ts";

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
/** The node sweeps ended challenges on every block, so a 90-day time-out needs no price to land. */
export type SweepChallenges = { kind: "sweep_challenges"; ts: number };
export type ResolveHeldPrice = { kind: "resolve_held_price"; ts: number; trade_pair: string; ts_ms: number; action: "apply" | "discard" };

/**
 * [trader, "pass" or an elimination reason, the number of accepted prices before it, the marks
 * that crossed the rule (with what an elimination did)]. Events written before trading rules
 * versions hold only the first three.
 */
type VerdictRecord = [string, string, number, VerdictMarks];
interface RecordedVerdict {
  trader: string;
  verdict: string;
  at: number;
  marks: VerdictMarks | null;
}

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
    const pending = state.sync.pending.get(synthetic);
    if (pending) {
      throw new DomainError("SUBACCOUNT_NOT_ACTIVE", `subaccount ${synthetic} broke a rule (${pending.reason}) and is frozen until the mothership's elimination arrives`, {
        synthetic_hotkey: synthetic,
        status: sub.status,
        pending_elimination: pending.reason,
      });
    }
    return synthetic;
  }
  if (!isNeuron(state, signer)) throw new DomainError("NOT_A_NEURON", `${signer} is neither an entity nor a neuron on the subnet`, { hotkey: signer });
  if (subaccountId !== undefined) throw new DomainError("ENTITY_NOT_FOUND", `${signer} is not a registered entity and has no subaccounts`, { hotkey: signer });
  if (state.trading.traders.get(signer)?.elimination) {
    throw new DomainError("SUBACCOUNT_NOT_ACTIVE", `${signer} is eliminated`, { synthetic_hotkey: signer, status: "eliminated" });
  }
  return signer;
}

/** Who signs for a trader's orders (order_uuids are unique per signer): the entity of a subaccount, else the miner itself. */
function signerOf(state: State, trader: string): string {
  return state.entities.subaccounts.get(trader)?.entity ?? trader;
}

// ---- transitions shared by handlers and replay ---------------------------------------------------
//
// Each takes what its event recorded (null while the handler decides) and returns what it did, so
// the handler records exactly what replay will write (DESIGN.md §2 rule 2). Strict mode also
// recomputes every recorded figure and verdict and refuses the event on a difference.

export function applyOrderPlaced(state: State, p: JsonObject): void {
  const rules = rulesOf("OrderPlaced", p);
  const where = `OrderPlaced (${String(p.trader)}, order ${String(p.order_uuid)})`;
  const fill = rules === null ? null : fillRecord(where, p.fill);
  const verdict = typeof p.verdict === "string" ? p.verdict : null;
  const marks = rules === null || verdict === null ? null : verdictMarks(`${where} verdict`, p.marks, verdict);
  orderPlaced(state, p, fill, where);
  const trader = p.trader as string;
  const now = p.ts as number;
  if (state.ledger.strict) {
    const judged = judge(state.trading.traders.get(trader) as TraderRecord, now);
    const expected = judged === null ? null : judged.kind === "pass" ? "pass" : judged.reason;
    if (expected !== (verdict === null ? null : verdictReason(verdict))) throw new AssertionFailure(`${where}: recorded verdict ${String(verdict)}, but the trading rules give ${String(expected)}`);
  }
  if (verdict !== null) applyVerdict(state, trader, verdict, now, marks, `${where} verdict`);
}

function orderPlaced(state: State, p: JsonObject, recorded: Fill | null, where: string): Fill {
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
  const placed = placeOrder(
    state,
    markTrader(state, t, now),
    p.trade_pair as string,
    p.delta as number,
    {
      order_uuid: p.order_uuid as string,
      trader,
      order_type: p.order_type as OrderType,
      leverage: 0,
      price,
      now,
      src: "organic",
      new_position_uuid: p.position_uuid as string,
    },
    recorded,
    where,
  );
  trading.traders.set(trader, markTrader(state, placed.trader, now));
  trading.orderUuids.set(orderUuidKey(signerOf(state, trader), p.order_uuid as string), { trader, n, fingerprint: p.fingerprint as string });
  return placed.fill;
}

export function applyPricesPosted(state: State, p: JsonObject): void {
  pricesPosted(state, "PricesPosted", p, true);
}

/** A sweep is a price batch without prices: the same transition, recorded under its own name. */
export function applyChallengesSwept(state: State, p: JsonObject): void {
  pricesPosted(state, "ChallengesSwept", p, true);
}

export function applyHeldPriceResolved(state: State, p: JsonObject): void {
  rulesOf("HeldPriceResolved", p);
  state.trading.held.delete(`${p.trade_pair as string}|${p.ts_ms as number}`);
  if (p.action === "apply") {
    const accepted: Json = [[p.trade_pair as string, p.price as number, p.ts_ms as number]];
    pricesPosted(state, "HeldPriceResolved", { ts: p.ts as number, accepted, verdicts: p.verdicts ?? [], ...(p.rules === undefined ? {} : { rules: p.rules }) }, false);
  }
}

/**
 * Accepts the recorded prices in order, each followed by the verdicts it caused, then the held
 * ticks and (for a price batch) the challenges that ended by time. In strict mode the verdicts are
 * judged again: each price's must be exactly the traders the rules pass or eliminate on it, the
 * time sweep's exactly the challenges that ended.
 */
function pricesPosted(state: State, type: string, p: JsonObject, sweeps: boolean): void {
  const rules = rulesOf(type, p);
  const strict = state.ledger.strict;
  const now = p.ts as number;
  const accepted = p.accepted as Array<[string, number, number]>;
  const verdicts = recordedVerdicts(type, p.verdicts, rules !== null);
  let v = 0;
  const apply = (r: RecordedVerdict, i: number) => applyVerdict(state, r.trader, r.verdict, now, r.marks, `${type} verdicts[${i}] (${r.trader})`);
  for (let i = 0; i < accepted.length; i++) {
    const [pair, price, tsMs] = accepted[i] as [string, number, number];
    acceptPrice(state, pair, price, tsMs, now);
    const expected = strict ? judgeMarked(state, pair, now) : null;
    let k = 0;
    // The last price's verdicts are followed by the time sweep's, recorded with the same count.
    while (v < verdicts.length && (verdicts[v] as RecordedVerdict).at === i + 1 && (expected === null || k < expected.length)) {
      const r = verdicts[v] as RecordedVerdict;
      if (expected !== null) sameVerdict(`${type} verdicts[${v}]`, r, expected[k] as [string, string]);
      apply(r, v);
      v++;
      k++;
    }
    if (expected !== null && k < expected.length) {
      throw new AssertionFailure(`${type}: no verdict recorded for ${(expected[k] as [string, string])[0]} on price ${i + 1}, the trading rules give ${(expected[k] as [string, string])[1]}`);
    }
    if (expected !== null && i + 1 < accepted.length && v < verdicts.length && (verdicts[v] as RecordedVerdict).at === i + 1) {
      throw new AssertionFailure(`${type} verdicts[${v}]: recorded ${(verdicts[v] as RecordedVerdict).verdict} for ${(verdicts[v] as RecordedVerdict).trader} on price ${i + 1}, the trading rules give none`);
    }
  }
  for (const [pair, price, tsMs, last] of (p.held ?? []) as Array<[string, number, number, number]>) {
    state.trading.held.set(`${pair}|${tsMs}`, { trade_pair: pair, price, ts_ms: tsMs, last_price: last });
  }
  const head = p.queue_head as number | undefined;
  if (strict && sweeps) {
    const ended = endedChallenges(state, now);
    if (ended?.head !== head) throw new AssertionFailure(`${type}: recorded queue_head ${String(head)}, but the challenges ended by now give ${String(ended?.head)}`);
    const rest = verdicts.slice(v);
    const got = rest.map((r) => `${r.trader}:${verdictReason(r.verdict)}@${r.at}`).join(",");
    const want = (ended?.expired ?? []).map((t) => `${t}:FAILED_CHALLENGE_PERIOD_TIME@${accepted.length}`).join(",");
    if (got !== want) throw new AssertionFailure(`${type}: recorded time verdicts [${got}], but the challenges ended by now give [${want}]`);
  }
  sweepTo(state, head);
  for (; v < verdicts.length; v++) apply(verdicts[v] as RecordedVerdict, v);
}

function recordedVerdicts(type: string, raw: Json | undefined, complete: boolean): RecordedVerdict[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new AssertionFailure(`${type}: verdicts is not a list`);
  return raw.map((r, i) => {
    const where = `${type} verdicts[${i}]`;
    if (!Array.isArray(r) || typeof r[0] !== "string" || typeof r[1] !== "string" || typeof r[2] !== "number") throw new AssertionFailure(`${where} is malformed`);
    return { trader: r[0], verdict: r[1], at: r[2], marks: complete ? verdictMarks(`${where} (${r[0]})`, r[3], r[1]) : null };
  });
}

function sameVerdict(where: string, r: RecordedVerdict, [trader, verdict]: [string, string]): void {
  if (r.trader !== trader || verdictReason(r.verdict) !== verdict) throw new AssertionFailure(`${where}: recorded ${r.verdict} for ${r.trader}, but the trading rules give ${verdict} for ${trader}`);
}

/** Sets a pair's price and marks every trader with an open position in it. */
function acceptPrice(state: State, pair: string, price: number, tsMs: number, now: number): void {
  const { trading } = state;
  trading.prices.set(pair, { price, ts_ms: tsMs });
  for (const trader of trading.openByPair.get(pair)?.sortedKeys() ?? []) {
    trading.traders.set(trader, markTrader(state, trading.traders.get(trader) as TraderRecord, now));
  }
}

/**
 * The verdicts the rules give every trader a price just marked, in trader order. Judging them all
 * before applying any is the same as judging each in turn: a verdict changes only its own trader.
 */
function judgeMarked(state: State, pair: string, now: number): Array<[string, string]> {
  const { trading } = state;
  const out: Array<[string, string]> = [];
  for (const trader of trading.openByPair.get(pair)?.sortedKeys() ?? []) {
    // Frozen until the mothership's elimination arrives: judged once.
    if (state.sync.pending.has(trader)) continue;
    const verdict = judge(trading.traders.get(trader) as TraderRecord, now);
    if (verdict) out.push([trader, verdict.kind === "pass" ? "pass" : verdict.reason]);
  }
  return out;
}

/**
 * The challenges that ended by `now`, in the order they end (creation order): the queue's new head
 * and the traders still in their challenge, to fail. Undefined when the head does not move.
 */
function endedChallenges(state: State, now: number): { head: number; expired: string[] } | undefined {
  const { trading } = state;
  const q = trading.queue.get("q");
  if (!q) return undefined;
  let head = q.head;
  const expired: string[] = [];
  while (head < q.tail) {
    const trader = trading.challengeQueue.get(head) as string;
    const t = traderOf(state, trader, now);
    if (t.endsAtMs > now) break;
    const status = state.entities.subaccounts.get(trader)?.status;
    if (t.challenge === "in_challenge" && !t.elimination && (status === undefined || status === "active") && !state.sync.pending.has(trader)) expired.push(trader);
    head++;
  }
  return head === q.head ? undefined : { head, expired };
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
  const seen = trading.orderUuids.get(orderUuidKey(c.signer, c.order_uuid));
  if (seen) {
    const same = seen.fingerprint === c.fingerprint;
    throw new DomainError("DUPLICATE_ORDER", same ? "this order_uuid was already processed" : "this order_uuid was already used for another order", {
      same_body: same,
      trader: seen.trader,
      order_index: seen.n,
    });
  }
  const pair = tradePair(c.trade_pair);
  if (!pair) {
    // The list lets a client say what would have been accepted.
    throw new DomainError("UNKNOWN_TRADE_PAIR", `${c.trade_pair} is not a trade pair`, {
      trade_pair: c.trade_pair,
      trade_pairs: TRADE_PAIRS.filter((p) => p.tradable).map((p) => p.id),
    });
  }
  // Before any leverage check: no order on a valuation-only pair is valid, whatever its leverage.
  if (!pair.tradable) throw new DomainError("PAIR_NOT_TRADABLE", `${pair.id} is a valuation-only pair: it is priced, not traded`, { trade_pair: pair.id });
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
    rules: TRADING_RULES_VERSION,
  };
  const where = `OrderPlaced (${trader}, order ${c.order_uuid})`;
  payload.fill = orderPlaced(state, payload, null, where) as unknown as JsonObject;
  const t = trading.traders.get(trader) as TraderRecord;
  const verdict = judge(t, c.ts);
  if (verdict) {
    const v = onThisNode(state, trader, verdict.kind === "pass" ? "pass" : verdict.reason);
    payload.verdict = v;
    payload.marks = applyVerdict(state, trader, v, c.ts, null, `${where} verdict`) as unknown as JsonObject;
  }
  const eliminated = typeof payload.verdict === "string" && payload.verdict !== "pass" && !isPendingVerdict(payload.verdict) ? [trader] : [];
  return withEntityChecks(state, entitiesOf(state, eliminated), { type: "OrderPlaced", version: 1, payload: { ...payload, ref: { trader, n: t.orderCount - 1 } } });
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
    decide(state, "PricesPosted", judgeMarked(state, tick.trade_pair, c.ts), c.ts, accepted.length, verdicts);
  }
  // Fails, at 90 days, the challenges that are still running: they end in creation order.
  const ended = endedChallenges(state, c.ts);
  sweepTo(state, ended?.head);
  decide(state, "PricesPosted", (ended?.expired ?? []).map((t) => [t, "FAILED_CHALLENGE_PERIOD_TIME"]), c.ts, accepted.length, verdicts);
  const payload: JsonObject = { ts: c.ts, accepted, held, skipped, verdicts: verdicts as unknown as Json, rules: TRADING_RULES_VERSION };
  if (ended !== undefined) payload.queue_head = ended.head;
  return withEntityChecks(state, entitiesOf(state, eliminatedIn(verdicts)), {
    type: "PricesPosted",
    version: 1,
    payload: { ...payload, ref: { accepted: accepted.length, held: held.length, skipped } },
  });
}

/** Fails the challenges that ran out of time by `ts`; refused (nothing logged) when none did. */
export function sweepChallengesCommand(state: State, c: SweepChallenges): EventDraft {
  if (endedChallenges(state, c.ts) === undefined) throw new DomainError("NOT_FOUND", "no challenge has ended", { unchanged: true });
  return { ...postPricesCommand(state, { kind: "post_prices", ts: c.ts, prices: [] }), type: "ChallengesSwept" };
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
    decide(state, "HeldPriceResolved", judgeMarked(state, c.trade_pair, c.ts), c.ts, 1, verdicts);
  }
  return withEntityChecks(state, entitiesOf(state, eliminatedIn(verdicts)), {
    type: "HeldPriceResolved",
    version: 1,
    payload: {
      ts: c.ts,
      trade_pair: c.trade_pair,
      ts_ms: c.ts_ms,
      price: held.price,
      action: apply ? "apply" : "discard",
      verdicts: verdicts as unknown as Json,
      rules: TRADING_RULES_VERSION,
      ref: { resolved: 1 },
    },
  });
}

/** The traders a list of verdicts eliminated. */
function eliminatedIn(verdicts: readonly VerdictRecord[]): string[] {
  return verdicts.filter(([, verdict]) => verdict !== "pass" && !isPendingVerdict(verdict)).map(([trader]) => trader);
}

/** The entities whose subaccounts these traders are: their invariants are checked after an elimination. */
function entitiesOf(state: State, traders: readonly string[]): string[] {
  return traders.flatMap((t) => {
    const entity = state.entities.subaccounts.get(t)?.entity;
    return entity === undefined ? [] : [entity];
  });
}

/** Applies each verdict the rules gave and records it with its marks and effects. */
function decide(state: State, type: string, judged: Array<[string, string]>, now: number, acceptedSoFar: number, verdicts: VerdictRecord[]): void {
  for (const [trader, judgedVerdict] of judged) {
    const verdict = onThisNode(state, trader, judgedVerdict);
    const marks = applyVerdict(state, trader, verdict, now, null, `${type} verdicts[${verdicts.length}] (${trader})`);
    verdicts.push([trader, verdict, acceptedSoFar, marks]);
  }
}

/**
 * An elimination of a subaccount is a mothership fact (DESIGN.md §4.1): on a follower the rules'
 * verdict freezes the subaccount instead ("PENDING:" + reason) until the mothership's fact arrives.
 */
function onThisNode(state: State, trader: string, verdict: string): string {
  if (verdict === "pass" || issuesFacts(state.sync, state.identity) || !state.entities.subaccounts.has(trader)) return verdict;
  return `${PENDING_PREFIX}${verdict}`;
}
