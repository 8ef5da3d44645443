import { account } from "../chain/chain-state.ts";
import { reservedAccount } from "../entities/entity-state.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import { TAO } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { NO_ENTITY_EMISSION } from "../debt/debt-state.ts";
import type { InvariantName } from "./invariant-table.ts";

export interface EntityViolation {
  invariant: InvariantName;
  expected: string;
  actual: string;
}

/**
 * The entity invariants (DESIGN.md §3.6), O(1) per entity: active <= limit, every id below next
 * id, the reserve account holding exactly the sum of the active subaccounts' reserves, and
 * deposited - withdrawn - slashed == free + reserved, and attributed + unattributed + pending == alpha paid.
 */
export function entityViolations(state: State, hotkey: string): EntityViolation[] {
  return observeEntity(state, hotkey)
    .filter((o) => !o.ok)
    .map(({ invariant, expected, actual }) => ({ invariant, expected, actual }));
}

/** Every entity comparison, held or not, with the values compared. */
export function observeEntity(state: State, hotkey: string): Array<EntityViolation & { ok: boolean }> {
  const e = state.entities.entities.get(hotkey);
  if (!e) return [];
  const held = state.ledger.balanceOf(TAO, reservedAccount(hotkey));
  const flows = state.chain.collateral.get(hotkey) ?? { deposited: 0n, withdrawn: 0n };
  const expected = flows.deposited - flows.withdrawn - e.slashedRao;
  const free = state.ledger.balanceOf(TAO, account.collateral(hotkey));
  const emission = state.debt.entities.get(hotkey) ?? NO_ENTITY_EMISSION;
  const accounted = emission.attributedAlphaRao + emission.unattributedAlphaRao + emission.pendingAlphaRao;
  return [
    { invariant: "active_within_limit", expected: String(e.maxSubaccounts), actual: String(e.active), ok: e.active <= e.maxSubaccounts },
    { invariant: "ids_below_next_id", expected: String(e.nextId), actual: String(e.active + e.eliminated), ok: e.active + e.eliminated === e.nextId },
    { invariant: "reserve_equals_sum_of_reserves", expected: e.reservedRao.toString(), actual: held.toString(), ok: held === e.reservedRao },
    {
      invariant: "deposited_less_withdrawn_and_slashed_equals_free_plus_reserved",
      expected: expected.toString(),
      actual: (free + held).toString(),
      ok: free + held === expected,
    },
    {
      invariant: "attributed_plus_unattributed_equals_paid",
      expected: emission.paidAlphaRao.toString(),
      actual: accounted.toString(),
      ok: accounted === emission.paidAlphaRao,
    },
  ];
}

/**
 * The O(N) recount of one entity (unfreeze, verify): its subaccounts counted again, by status, and
 * their reserves summed, against its running counts and its reserve account.
 */
export function recountEntity(state: State, hotkey: string): EntityViolation[] {
  const e = state.entities.entities.get(hotkey);
  if (!e) return [];
  let active = 0;
  let eliminated = 0;
  let reserved = 0n;
  for (let id = 0; id < e.nextId; id++) {
    const sub = state.entities.subaccounts.get(syntheticHotkey(hotkey, id));
    if (sub?.status === "active") {
      active++;
      reserved += sub.reservedRao;
    } else if (sub?.status === "eliminated") eliminated++;
  }
  const out: EntityViolation[] = [];
  if (active > e.maxSubaccounts) out.push({ invariant: "active_within_limit", expected: String(e.maxSubaccounts), actual: String(active) });
  if (active !== e.active || active + eliminated !== e.nextId) out.push({ invariant: "ids_below_next_id", expected: String(e.nextId), actual: String(active + eliminated) });
  const held = state.ledger.balanceOf(TAO, reservedAccount(hotkey));
  if (reserved !== held || reserved !== e.reservedRao) out.push({ invariant: "reserve_equals_sum_of_reserves", expected: reserved.toString(), actual: held.toString() });
  return out;
}
