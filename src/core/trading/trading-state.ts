import type { DebtCheckpoint } from "../debt/debt-checkpoint.ts";
import { type Journal, JournaledMap } from "../machine/journal.ts";
import type { PerfCheckpoint, PerfMarks } from "../perf/perf-checkpoint.ts";
import type { OrderRecord, Position } from "./position.ts";
import { TRADE_PAIRS } from "./trade-pairs.ts";

/**
 * Traders (subaccounts and regular miners), their positions, orders and performance, and the
 * prices they are marked to (DESIGN.md §3.4). Journaled maps of immutable records; positions and
 * orders are keyed by trader and a per-trader counter, so each write is O(1).
 */
export type ChallengeState = "in_challenge" | "passed" | "failed";

export interface Elimination {
  reason: string;
  max_drawdown: number;
  return: number;
  price: number | null;
  at_ms: number;
  slashed_rao: string;
  /** The challenge state before, restored by a reinstatement. */
  challenge_before: ChallengeState;
}

/** A trader: its challenge, its totals and open checkpoint (PerfMarks), positions and elimination. */
export interface TraderRecord extends PerfMarks {
  hotkey: string;
  /** The owning entity, or null for a regular miner. */
  entity: string | null;
  accountSizeUsd: number;
  startedAtMs: number;
  endsAtMs: number;
  challenge: ChallengeState;
  passedAtMs: number | null;
  /** The worst drawdown from the peak so far. */
  maxDrawdown: number;
  openPairs: string[];
  closedCount: number;
  orderCount: number;
  elimination: Elimination | null;
}


export interface PriceRecord {
  price: number;
  ts_ms: number;
}

export interface HeldPrice {
  trade_pair: string;
  price: number;
  ts_ms: number;
  last_price: number;
}

export interface TradingState {
  traders: JournaledMap<string, TraderRecord>;
  /** `${trader}|${pair}` -> the open position */
  open: JournaledMap<string, Position>;
  /** `${trader}#${n}` -> the trader's n-th closed position */
  closed: JournaledMap<string, Position>;
  /** `${trader}#${n}` -> the trader's n-th order */
  orders: JournaledMap<string, OrderRecord>;
  /**
   * `${signer}|${order_uuid}` -> the trader and number of the order and the fingerprint of its
   * request. Keyed by signer (the entity for its subaccounts): an order_uuid is unique per signer.
   */
  orderUuids: JournaledMap<string, { trader: string; n: number; fingerprint: string }>;
  prices: JournaledMap<string, PriceRecord>;
  /** `${pair}|${ts_ms}` -> a tick held by the price guard */
  held: JournaledMap<string, HeldPrice>;
  /** pair -> traders with an open position in it (marked on each price) */
  openByPair: Map<string, JournaledMap<string, true>>;
  /** Challenges in the order they end (creation order): n -> trader; `head`/`tail` in `queue`. */
  challengeQueue: JournaledMap<number, string>;
  queue: JournaledMap<"q", { head: number; tail: number }>;
  /**
   * Checkpoints closed by the command executing now, for the writer to store with its events (not
   * state: replay makes them again, and the store already holds them). Null while replaying.
   */
  closedCheckpoints: Array<{ trader: string; checkpoint: PerfCheckpoint; debt?: DebtCheckpoint }> | null;
}

export function createTradingState(journal: Journal): TradingState {
  return {
    traders: new JournaledMap(journal),
    open: new JournaledMap(journal),
    closed: new JournaledMap(journal),
    orders: new JournaledMap(journal),
    orderUuids: new JournaledMap(journal),
    prices: new JournaledMap(journal),
    held: new JournaledMap(journal),
    openByPair: new Map(TRADE_PAIRS.map((p) => [p.id, new JournaledMap<string, true>(journal)])),
    challengeQueue: new JournaledMap(journal),
    queue: new JournaledMap(journal),
    closedCheckpoints: null,
  };
}

export const positionKey = (trader: string, pair: string): string => `${trader}|${pair}`;
export const orderUuidKey = (signer: string, orderUuid: string): string => `${signer}|${orderUuid}`;
export const nthKey = (trader: string, n: number): string => `${trader}#${n}`;

// ---- canonical encoding --------------------------------------------------------------------------

const SIMPLE = ["traders", "open", "closed", "orders", "orderUuids", "prices", "held", "challengeQueue", "queue"] as const;

export type EncodedTrading = Record<(typeof SIMPLE)[number], Array<[string | number, unknown]>>;

export function exportTrading(t: TradingState): EncodedTrading {
  const out = {} as EncodedTrading;
  for (const name of SIMPLE) out[name] = (t[name] as JournaledMap<string | number, unknown>).sortedEntries().map(([k, v]) => [k, v]);
  return out;
}

export function importTrading(encoded: EncodedTrading, journal: Journal): TradingState {
  const t = createTradingState(journal);
  for (const name of SIMPLE) {
    const map = t[name] as JournaledMap<string | number, unknown>;
    for (const [k, v] of encoded[name] ?? []) map.set(k, v);
  }
  for (const [k, p] of t.open.sortedEntries()) t.openByPair.get(p.trade_pair)?.set(k.slice(0, k.lastIndexOf("|")), true);
  return t;
}
