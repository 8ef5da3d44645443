/**
 * Every invariant propnet enforces (DESIGN.md §3.6), in one table: its name, the scope a
 * violation belongs to (`tao` pauses every subnet, `subnet` pauses one, `entity` freezes one,
 * `command` refuses one command), and when it can be evaluated: `state` from the state at any
 * time, `recount` by summing cells again (a bucket per block, everything on unpause and in
 * verify), `block` only inside a block from what it minted, `command` only while a command runs.
 */
export const INVARIANTS = {
  tao_issuance_equals_balances: { scope: "tao", when: "state", says: "TotalIssuance == Σ TAO balances + live credits" },
  tao_minted_equals_issuance_recycled_burned: { scope: "tao", when: "state", says: "minted == issuance + recycled + burned" },
  tao_issuance_cap: { scope: "tao", when: "state", says: "0 <= TotalIssuance <= 21e15 rao" },
  tao_no_live_credit: { scope: "tao", when: "state", says: "no TAO in flight outside a scope" },
  tao_account_recount: { scope: "tao", when: "recount", says: "every TAO balance summed again equals the running totals" },
  tao_minted_equals_emission: { scope: "tao", when: "block", says: "TAO minted by the block == its block emission" },
  tao_injected_equals_minted: { scope: "tao", when: "block", says: "TAO injected + bought excess + recycled for paused subnets == TAO minted" },
  alpha_issuance_equals_balances: { scope: "subnet", when: "state", says: "alpha issuance == Σ alpha balances + live credits" },
  alpha_minted_equals_issuance_recycled_burned: { scope: "subnet", when: "state", says: "alpha minted == issuance + recycled + burned" },
  alpha_issuance_cap: { scope: "subnet", when: "state", says: "0 <= alpha issuance <= 21e15 rao" },
  alpha_no_live_credit: { scope: "subnet", when: "state", says: "no alpha in flight outside a scope" },
  alpha_issuance_equals_in_plus_out: { scope: "subnet", when: "state", says: "alpha issuance == SubnetAlphaIn + SubnetAlphaOut" },
  alpha_out_equals_staked_plus_pending: { scope: "subnet", when: "state", says: "SubnetAlphaOut == Σ TotalHotkeyAlpha + pending emission" },
  alpha_account_recount: { scope: "subnet", when: "recount", says: "every alpha balance summed again equals the running totals" },
  stake_pool_equals_ledger: { scope: "subnet", when: "recount", says: "each hotkey's stake pool value == its stake account in the ledger" },
  staked_alpha_recount: { scope: "subnet", when: "recount", says: "Σ stake pool values == the subnet's Σ TotalHotkeyAlpha" },
  alpha_minted_equals_in_plus_out: { scope: "subnet", when: "block", says: "alpha minted by the block == alpha_in + alpha_out injected" },
  active_within_limit: { scope: "entity", when: "state", says: "active subaccounts <= the entity's limit" },
  ids_below_next_id: { scope: "entity", when: "state", says: "active + eliminated == next id (ids are never reused)" },
  reserve_equals_sum_of_reserves: { scope: "entity", when: "state", says: "the reserve account holds exactly the active subaccounts' reserves" },
  deposited_less_withdrawn_and_slashed_equals_free_plus_reserved: {
    scope: "entity",
    when: "state",
    says: "collateral deposited - withdrawn - slashed == free + reserved",
  },
  attributed_plus_unattributed_equals_paid: {
    scope: "entity",
    when: "state",
    says: "alpha attributed to the entity's subaccounts + unattributed + pending == alpha paid to its uid",
  },
  events_reproduce_effects: { scope: "command", when: "command", says: "applying a command's event changes exactly what executing it changed" },
  no_live_credit: { scope: "command", when: "command", says: "a command ends with no value in flight" },
} as const;

export type InvariantName = keyof typeof INVARIANTS;

/** One failed invariant: which, where, and the two sides compared. */
export interface Violation {
  /** `tao`, `subnet:N`, `entity:HOTKEY`, or a command kind. */
  scope: string;
  /** The subnet a violation pauses; null for `tao` (every subnet) and non-chain scopes. */
  netuid: number | null;
  invariant: InvariantName;
  expected: bigint | string;
  actual: bigint | string;
}
