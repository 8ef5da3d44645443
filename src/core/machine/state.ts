import { createHash } from "node:crypto";
import { Ledger, type LedgerSnapshot } from "../ledger/ledger.ts";

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
  /** CriticalInvariantViolations recorded and not yet resolved by root. */
  violations: ViolationRecord[];
}

export interface StateSnapshot {
  ledger: LedgerSnapshot;
  violations: ViolationRecord[];
}

export function createState(options: { strict?: boolean } = {}): State {
  return { ledger: new Ledger(options), violations: [] };
}

/** Canonical by construction: every list is sorted or in log order, every key in fixed order. */
export function exportState(state: State): StateSnapshot {
  return { ledger: state.ledger.exportSnapshot(), violations: state.violations.map((v) => ({ ...v })) };
}

export function importState(snapshot: StateSnapshot, options: { strict?: boolean } = {}): State {
  return { ledger: Ledger.fromSnapshot(snapshot.ledger, options), violations: snapshot.violations.map((v) => ({ ...v })) };
}

export function hashSnapshot(snapshot: StateSnapshot): string {
  return createHash("sha256").update(JSON.stringify(snapshot)).digest("hex");
}

/** sha256 over the canonical encoding of the state: equal states, equal hashes, on any machine. */
export function stateHash(state: State): string {
  return hashSnapshot(exportState(state));
}
