import { head } from "../chain/chain-state.ts";
import type { State } from "../machine/state.ts";
import { observeFullRecount } from "./chain-invariants.ts";
import { observeEntity } from "./entity-invariants.ts";
import { INVARIANTS, type InvariantName } from "./invariant-table.ts";

export interface InvariantRow {
  name: InvariantName;
  scope: string;
  ok: boolean;
  expected: string;
  actual: string;
}

export interface InvariantReport {
  checked_at_block: number;
  invariants: InvariantRow[];
  unresolved_violations: Array<{ scope: string; invariant: string; expected: string; actual: string; repeats: number }>;
}

/**
 * Every invariant of every scope, evaluated now with a full recount (O(N): for the API, verify
 * and tests, never per block). Recounted rows sum their parts (Σ pool values against Σ stake
 * accounts). Invariants that only a block can evaluate (what it minted) are reported from the
 * record: failing while a violation of theirs is unresolved.
 */
export function report(state: State): InvariantReport {
  const rows = new Map<string, InvariantRow>();
  const add = (scope: string, name: InvariantName, expected: bigint | string, actual: bigint | string, ok: boolean) => {
    const id = `${scope}|${name}`;
    const row = rows.get(id);
    if (!row) {
      rows.set(id, { name, scope, ok, expected: expected.toString(), actual: actual.toString() });
      return;
    }
    if (typeof expected === "bigint" && typeof actual === "bigint") {
      row.expected = (BigInt(row.expected) + expected).toString();
      row.actual = (BigInt(row.actual) + actual).toString();
    }
    row.ok &&= ok;
  };
  const chainReady = state.chain.params.size > 0;
  const subnets = state.chain.subnets.sortedKeys();
  for (const o of observeFullRecount(state, null, true)) add(o.scope, o.invariant, o.expected, o.actual, o.ok);
  for (const [name, def] of Object.entries(INVARIANTS) as Array<[InvariantName, (typeof INVARIANTS)[InvariantName]]>) {
    if (def.when !== "block") continue;
    const scopes = def.scope === "tao" ? (chainReady ? ["tao"] : []) : subnets.map((u) => `subnet:${u}`);
    for (const scope of scopes) {
      const v = state.violations.find((x) => x.scope === scope && x.invariant === name);
      add(scope, name, v?.expected ?? "0", v?.actual ?? "0", v === undefined);
    }
  }
  for (const hotkey of state.entities.entities.sortedKeys()) {
    for (const o of observeEntity(state, hotkey)) add(`entity:${hotkey}`, o.invariant, o.expected, o.actual, o.ok);
  }
  const order = Object.keys(INVARIANTS);
  const scopeRank = (scope: string) => (scope === "tao" ? 0 : scope.startsWith("subnet:") ? 1 : 2);
  const invariants = [...rows.values()].sort(
    (a, b) => scopeRank(a.scope) - scopeRank(b.scope) || compareScopes(a.scope, b.scope) || order.indexOf(a.name) - order.indexOf(b.name),
  );
  return {
    checked_at_block: head(state.chain).block,
    invariants,
    unresolved_violations: state.violations.map((v) => ({
      scope: v.scope,
      invariant: v.invariant,
      expected: v.expected,
      actual: v.actual,
      repeats: state.violationRepeats.get(`${v.scope}|${v.invariant}`)?.repeats ?? 0,
    })),
  };
}

function compareScopes(a: string, b: string): number {
  const na = Number(a.slice(a.indexOf(":") + 1));
  const nb = Number(b.slice(b.indexOf(":") + 1));
  if (a.startsWith("subnet:") && b.startsWith("subnet:")) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}
