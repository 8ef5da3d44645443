import { createHash } from "node:crypto";
import { type ChainState, createChainState, exportChain, importChain } from "../chain/chain-state.ts";
import { createEntitiesState, type EncodedEntities, type EntitiesState, exportEntities, importEntities } from "../entities/entity-state.ts";
import { Ledger, type LedgerSnapshot } from "../ledger/ledger.ts";
import { createDebtState, debtUsed, type DebtState, type EncodedDebt, exportDebt, importDebt } from "../debt/debt-state.ts";
import { createObservedChainState, type EncodedObservedChain, exportObservedChain, importObservedChain, type ObservedChainState } from "../observed-chain/observed-chain-state.ts";
import { createSyncState, type EncodedSync, exportSync, importSync, type NodeIdentity, type SyncState } from "../sync/sync-state.ts";
import type { SyncFactType } from "../sync/sync-fact.ts";
import type { JsonObject } from "./event.ts";
import { createTradingState, type EncodedTrading, exportTrading, importTrading, type TradingState } from "../trading/trading-state.ts";
import { canonicalJson } from "./canonical-json.ts";
import { Journal, JournaledMap } from "./journal.ts";

export interface ViolationRecord {
  /** What was being checked: a command kind, `block`, `subnet:N`, `entity:HOTKEY`. */
  scope: string;
  invariant: string;
  expected: string;
  actual: string;
}

/** Everything the log's events build. Change it only through `applyEvent`. */
export interface State {
  ledger: Ledger;
  /** Undo journal for everything outside the ledger (the chain's maps). */
  journal: Journal;
  chain: ChainState;
  entities: EntitiesState;
  trading: TradingState;
  /** Debt ledgers, attribution and the validator's last scored weights (DESIGN.md §3.5). */
  debt: DebtState;
  /** Facts recorded from a real Subtensor subnet this log follows (empty on the devnet). */
  observed: ObservedChainState;
  /** The mothership's fact stream, conflicts and pending eliminations (DESIGN.md §4.1). */
  sync: SyncState;
  /** Who this node is (node configuration, never hashed): whether it issues facts. */
  identity: NodeIdentity;
  /**
   * While a handler runs on a node that issues facts: the facts its transitions made, turned into
   * the stream by execute. Null otherwise (replay never issues: it applies what events recorded).
   */
  issuing: Array<{ type: SyncFactType; payload: JsonObject; ts_ms: number }> | null;
  /** `${signer}|${Idempotency-Key}` -> what the first request did (API.md "Conventions"). */
  idempotency: JournaledMap<string, IdempotencyRecord>;
  /** Keys in the order they were recorded (n -> key, from `head` to `tail`), so expired ones are dropped oldest first. */
  idempotencyOrder: JournaledMap<number, string>;
  idempotencyBounds: JournaledMap<"q", { head: number; tail: number }>;
  /** CriticalInvariantViolations recorded and not yet resolved by root. */
  violations: ViolationRecord[];
  /** `${scope}|${invariant}` -> sightings of an unresolved violation since it was recorded. Node-local, never hashed. */
  violationRepeats: Map<string, { repeats: number; expected: string; actual: string }>;
}

/** The resource a request made, so a retry with the same key answers with it (not the whole body). */
export interface IdempotencyRecord {
  fingerprint: string;
  ts_ms: number;
  ref: Record<string, string | number>;
  /** Its place in `idempotencyOrder`. */
  n: number;
}

export interface StateSnapshot {
  ledger: LedgerSnapshot;
  violations: ViolationRecord[];
  /** Present once the chain has a genesis. */
  chain?: unknown;
  /** Present once anything off-chain happened. */
  entities?: EncodedEntities;
  trading?: EncodedTrading;
  debt?: EncodedDebt;
  /** Present once the log follows a real chain. */
  observed?: EncodedObservedChain;
  /** Present once a fact was issued or received. */
  sync?: EncodedSync;
  idempotency?: Array<[string, IdempotencyRecord]>;
  idempotency_order?: { head: number; tail: number; keys: Array<[number, string]> };
}

export function createState(options: { strict?: boolean } = {}): State {
  const journal = new Journal();
  return {
    ledger: new Ledger(options),
    journal,
    chain: createChainState(journal),
    entities: createEntitiesState(journal),
    trading: createTradingState(journal),
    debt: createDebtState(journal),
    observed: createObservedChainState(journal),
    sync: createSyncState(journal),
    identity: { hotkey: null, mothership: null },
    issuing: null,
    idempotency: new JournaledMap(journal),
    idempotencyOrder: new JournaledMap(journal),
    idempotencyBounds: new JournaledMap(journal),
    violations: [],
    violationRepeats: new Map(),
  };
}

/** Canonical by construction: every list is sorted or in log order, every key in fixed order. */
export function exportState(state: State): StateSnapshot {
  const snapshot: StateSnapshot = { ledger: state.ledger.exportSnapshot(), violations: state.violations.map((v) => ({ ...v })) };
  if (state.chain.params.size > 0) snapshot.chain = exportChain(state.chain);
  // Only present once used, so logs without off-chain events keep their recorded state hashes.
  if (state.entities.entities.size > 0 || state.trading.traders.size > 0 || state.trading.prices.size > 0 || state.trading.held.size > 0) {
    snapshot.entities = exportEntities(state.entities);
    snapshot.trading = exportTrading(state.trading);
  }
  if (debtUsed(state.debt)) {
    snapshot.debt = exportDebt(state.debt);
  }
  const observed = exportObservedChain(state.observed);
  if (observed) snapshot.observed = observed;
  const sync = exportSync(state.sync);
  if (sync) snapshot.sync = sync;
  if (state.idempotency.size > 0) snapshot.idempotency = state.idempotency.sortedEntries();
  const bounds = state.idempotencyBounds.get("q");
  if (bounds) snapshot.idempotency_order = { ...bounds, keys: state.idempotencyOrder.sortedEntries() };
  return snapshot;
}

export function importState(snapshot: StateSnapshot, options: { strict?: boolean } = {}): State {
  const journal = new Journal();
  return {
    ledger: Ledger.fromSnapshot(snapshot.ledger, options),
    journal,
    chain: snapshot.chain === undefined ? createChainState(journal) : importChain(snapshot.chain as never, journal),
    entities: snapshot.entities === undefined ? createEntitiesState(journal) : importEntities(snapshot.entities, journal),
    trading: snapshot.trading === undefined ? createTradingState(journal) : importTrading(snapshot.trading, journal),
    debt: importDebt(snapshot.debt, journal),
    observed: importObservedChain(snapshot.observed, journal),
    sync: importSync(snapshot.sync, journal),
    identity: { hotkey: null, mothership: null },
    issuing: null,
    idempotency: importEntries<string, IdempotencyRecord>(snapshot.idempotency ?? [], journal),
    idempotencyOrder: importEntries<number, string>(snapshot.idempotency_order?.keys ?? [], journal),
    idempotencyBounds: importEntries<"q", { head: number; tail: number }>(
      snapshot.idempotency_order ? [["q", { head: snapshot.idempotency_order.head, tail: snapshot.idempotency_order.tail }]] : [],
      journal,
    ),
    violations: snapshot.violations.map((v) => ({ ...v })),
    violationRepeats: new Map(),
  };
}

/**
 * sha256 over the snapshot's canonical JSON (keys sorted at every level, -0 as 0, NaN refused), so
 * the hash depends on what the state holds, never on the order code built its records in.
 */
export function hashSnapshot(snapshot: StateSnapshot): string {
  return createHash("sha256").update(canonicalJson(snapshot)).digest("hex");
}

/** sha256 over the canonical encoding of the state: equal states, equal hashes, on any machine. */
export function stateHash(state: State): string {
  return hashSnapshot(exportState(state));
}

function importEntries<K extends string | number, V>(entries: Array<[K, V]>, journal: Journal): JournaledMap<K, V> {
  const map = new JournaledMap<K, V>(journal);
  for (const [k, v] of entries) map.set(k, v);
  return map;
}
