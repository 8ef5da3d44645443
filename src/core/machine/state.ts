import { createHash } from "node:crypto";
import { type ChainState, createChainState, exportChain, importChain } from "../chain/chain-state.ts";
import { Ledger, type LedgerSnapshot } from "../ledger/ledger.ts";
import { Journal } from "./journal.ts";

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
  /** CriticalInvariantViolations recorded and not yet resolved by root. */
  violations: ViolationRecord[];
}

export interface StateSnapshot {
  ledger: LedgerSnapshot;
  violations: ViolationRecord[];
  /** Present once the chain has a genesis. */
  chain?: unknown;
}

export function createState(options: { strict?: boolean } = {}): State {
  const journal = new Journal();
  return { ledger: new Ledger(options), journal, chain: createChainState(journal), violations: [] };
}

/** Canonical by construction: every list is sorted or in log order, every key in fixed order. */
export function exportState(state: State): StateSnapshot {
  const snapshot: StateSnapshot = { ledger: state.ledger.exportSnapshot(), violations: state.violations.map((v) => ({ ...v })) };
  if (state.chain.params.size > 0) snapshot.chain = exportChain(state.chain);
  return snapshot;
}

export function importState(snapshot: StateSnapshot, options: { strict?: boolean } = {}): State {
  const journal = new Journal();
  return {
    ledger: Ledger.fromSnapshot(snapshot.ledger, options),
    journal,
    chain: snapshot.chain === undefined ? createChainState(journal) : importChain(snapshot.chain as never, journal),
    violations: snapshot.violations.map((v) => ({ ...v })),
  };
}

export function hashSnapshot(snapshot: StateSnapshot): string {
  return createHash("sha256").update(JSON.stringify(snapshot)).digest("hex");
}

/** sha256 over the canonical encoding of the state: equal states, equal hashes, on any machine. */
export function stateHash(state: State): string {
  return hashSnapshot(exportState(state));
}
