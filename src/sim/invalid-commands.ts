import { payoutPeriod } from "../core/debt/debt-state.ts";
import { syntheticHotkey } from "../core/entities/synthetic-hotkey.ts";
import { TAO } from "../core/ledger/asset.ts";
import { type Command, type CommandKind, HANDLERS } from "../core/machine/commands.ts";
import type { State } from "../core/machine/state.ts";
import type { SeededRandom } from "./seeded-random.ts";
import type { SimWorld } from "./sim-world.ts";
import type { WorldView } from "./world-view.ts";

/** A command the rules must refuse with a DomainError, changing nothing. */
export interface InvalidCommand {
  kind: CommandKind;
  why: string;
  command: Command;
}

export interface InvalidContext {
  state: State;
  view: WorldView;
  world: SimWorld;
  /** The node clock now (command time). */
  now: number;
  random: SeededRandom;
}

type Make = (c: InvalidContext) => Command | null;

const uuid = (c: InvalidContext) => c.random.uuid();
/** A request's identity, as a route attaches it. */
const request = (c: InvalidContext, signer: string) => ({ signer, uuid: uuid(c) });

/** A held Idempotency-Key (`signer|key`), reused with another body: refused before anything runs. */
function reusedKey(c: InvalidContext): { signer: string; uuid: string; idempotency: { key: string; fingerprint: string } } | null {
  if (c.view.heldKeys.length === 0) return null;
  const held = c.random.pick(c.view.heldKeys);
  const at = held.indexOf("|");
  return { signer: held.slice(0, at), uuid: uuid(c), idempotency: { key: held.slice(at + 1), fingerprint: "another body" } };
}

function activeSubaccount(c: InvalidContext) {
  const subs = c.view.subaccounts.filter((s) => s.active && !c.view.entities.get(s.entity)?.frozen);
  return subs.length > 0 ? c.random.pick(subs) : null;
}

function order(c: InvalidContext, signer: string, fields: { subaccount_id?: number; trade_pair: string; order_type: "LONG" | "SHORT" | "FLAT"; leverage?: number }): Command {
  return {
    kind: "place_order",
    ts: c.now,
    signer,
    ...fields,
    order_uuid: uuid(c),
    fingerprint: `fp-${uuid(c)}`,
    position_uuid: uuid(c),
    request: request(c, signer),
  };
}

/**
 * For each command kind, commands its rules must refuse (a rule broken, a precondition unmet, a
 * repeat): the simulator sends them at quiet moments and checks that each is refused with a
 * DomainError and that the state hash and the log head do not move. A maker answers null when the
 * state gives it nothing to break (no held key to reuse, say).
 */
export const INVALID: { readonly [K in CommandKind]?: ReadonlyArray<{ why: string; make: Make }> } = {
  genesis: [{ why: "genesis applied again", make: (c) => ({ kind: "genesis", endowments: [{ owner: c.world.nobody, amount_rao: 1n }] }) }],
  block: [{ why: "a block before the head's time", make: (c) => ({ kind: "block", ts: c.view.blockTs - 1, extrinsics: [] }) }],
  block_range: [
    { why: "a range of no blocks", make: () => ({ kind: "block_range", ts: [] }) },
    {
      why: "a range over an epoch block",
      make: (c) => (c.view.epochIn > 400 ? null : { kind: "block_range", ts: Array.from({ length: c.view.epochIn }, () => Math.max(c.now, c.view.blockTs)) }),
    },
  ],
  transfer: [
    { why: "a transfer of nothing", make: (c) => ({ kind: "transfer", asset: TAO, from: c.world.coldkeys[0], to: c.world.coldkeys[1], amount_rao: 0n }) },
    {
      why: "a transfer beyond the balance",
      make: (c) => ({ kind: "transfer", asset: TAO, from: c.world.coldkeys[1], to: c.world.coldkeys[0], amount_rao: (c.view.balances.get(c.world.coldkeys[1]) ?? 0n) + 1n }),
    },
    {
      why: "a transfer beyond the balance to an account never seen",
      make: (c) => ({ kind: "transfer", asset: TAO, from: c.world.coldkeys[1], to: `${c.world.nobody}Dest`, amount_rao: (c.view.balances.get(c.world.coldkeys[1]) ?? 0n) + 1n }),
    },
    { why: "a transfer from an account that holds nothing", make: (c) => ({ kind: "transfer", asset: TAO, from: c.world.nobody, to: c.world.coldkeys[0], amount_rao: 5n }) },
  ],
  batch_transfer: [
    { why: "a batch without recipients", make: (c) => ({ kind: "batch_transfer", asset: TAO, from: c.world.coldkeys[0], to: [] }) },
    { why: "a batch with a zero leg", make: (c) => ({ kind: "batch_transfer", asset: TAO, from: c.world.coldkeys[0], to: [{ owner: c.world.coldkeys[1], amount_rao: 0n }] }) },
  ],
  register_entity: [
    { why: "an entity that is no neuron", make: (c) => ({ kind: "register_entity", ts: c.now, hotkey: c.world.nobody, request: request(c, c.world.nobody) }) },
    {
      why: "an entity registered twice",
      make: (c) => {
        const e = [...c.view.entities.keys()];
        return e.length === 0 ? null : { kind: "register_entity", ts: c.now, hotkey: c.random.pick(e), request: request(c, c.world.root) };
      },
    },
    { why: "max_subaccounts 0", make: (c) => ({ kind: "register_entity", ts: c.now, hotkey: c.world.miners[0] as string, max_subaccounts: 0, request: request(c, c.world.miners[0] as string) }) },
  ],
  create_subaccount: [
    { why: "a subaccount of no entity", make: (c) => ({ kind: "create_subaccount", ts: c.now, entity: c.world.nobody, uuid: uuid(c), request: request(c, c.world.nobody) }) },
    {
      why: "an account size below 1,000 USD",
      make: (c) => {
        const e = [...c.view.entities.keys()];
        return e.length === 0 ? null : { kind: "create_subaccount", ts: c.now, entity: c.random.pick(e), account_size_usd: 999, uuid: uuid(c), request: request(c, c.world.root) };
      },
    },
    {
      why: "a reserve beyond the free collateral",
      make: (c) => {
        const poor = [...c.view.entities.values()].filter((e) => e.freeCollateralRao < 20n * 1_000_000_000n);
        return poor.length === 0 ? null : { kind: "create_subaccount", ts: c.now, entity: c.random.pick(poor).hotkey, account_size_usd: 100_000, uuid: uuid(c), request: request(c, c.world.root) };
      },
    },
    {
      why: "an Idempotency-Key reused with another body",
      make: (c) => {
        const req = reusedKey(c);
        const e = [...c.view.entities.keys()];
        return req === null || e.length === 0 ? null : { kind: "create_subaccount", ts: c.now, entity: c.random.pick(e), uuid: uuid(c), request: req };
      },
    },
  ],
  eliminate_subaccount: [
    {
      why: "a subaccount never created",
      make: (c) => {
        const e = [...c.view.entities.values()];
        return e.length === 0 ? null : { kind: "eliminate_subaccount", ts: c.now, synthetic: syntheticHotkey(c.random.pick(e).hotkey, 999_999), by: c.world.root, request: request(c, c.world.root) };
      },
    },
    { why: "a malformed synthetic hotkey", make: (c) => ({ kind: "eliminate_subaccount", ts: c.now, synthetic: `${c.world.nobody}_x`, by: c.world.root, request: request(c, c.world.root) }) },
    {
      why: "a subaccount already eliminated",
      make: (c) => {
        const gone = c.view.subaccounts.filter((s) => !s.active);
        return gone.length === 0 ? null : { kind: "eliminate_subaccount", ts: c.now, synthetic: c.random.pick(gone).synthetic, by: c.world.root, request: request(c, c.world.root) };
      },
    },
  ],
  reinstate_subaccount: [
    {
      why: "a subaccount that is active",
      make: (c) => {
        const s = activeSubaccount(c);
        return s === null ? null : { kind: "reinstate_subaccount", ts: c.now, synthetic: s.synthetic, reason: "sim", by: c.world.root, request: request(c, c.world.root) };
      },
    },
    { why: "a subaccount never created", make: (c) => ({ kind: "reinstate_subaccount", ts: c.now, synthetic: syntheticHotkey(c.world.nobody, 3), reason: "sim", by: c.world.root, request: request(c, c.world.root) }) },
  ],
  unfreeze_entity: [
    {
      why: "an entity that is not frozen",
      make: (c) => {
        const e = [...c.view.entities.values()].filter((x) => !x.frozen);
        return e.length === 0 ? null : { kind: "unfreeze_entity", ts: c.now, hotkey: c.random.pick(e).hotkey, reason: "sim", by: c.world.root, request: request(c, c.world.root) };
      },
    },
    { why: "no such entity", make: (c) => ({ kind: "unfreeze_entity", ts: c.now, hotkey: c.world.nobody, reason: "sim", by: c.world.root, request: request(c, c.world.root) }) },
  ],
  place_order: [
    { why: "an unknown pair", make: (c) => order(c, c.world.miners[0] as string, { trade_pair: "FOOUSD", order_type: "LONG", leverage: 0.1 }) },
    { why: "a valuation-only pair", make: (c) => order(c, c.world.miners[0] as string, { trade_pair: "TAOUSD", order_type: "LONG", leverage: 0.1 }) },
    { why: "a leverage out of range", make: (c) => order(c, c.world.miners[0] as string, { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.9 }) },
    { why: "a pair never priced", make: (c) => order(c, c.world.miners[0] as string, { trade_pair: "NZDUSD", order_type: "SHORT", leverage: 1 }) },
    { why: "an order from no neuron", make: (c) => order(c, c.world.nobody, { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }) },
    {
      why: "an entity trading itself",
      make: (c) => {
        const e = [...c.view.entities.keys()];
        return e.length === 0 ? null : order(c, c.random.pick(e), { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 });
      },
    },
    {
      why: "FLAT without a position",
      make: (c) => {
        const s = activeSubaccount(c);
        if (s === null || c.view.open.get(s.synthetic)?.has("ETHUSD")) return null;
        return order(c, s.entity, { subaccount_id: s.id, trade_pair: "ETHUSD", order_type: "FLAT" });
      },
    },
    {
      why: "an eliminated subaccount",
      make: (c) => {
        const gone = c.view.subaccounts.filter((s) => !s.active);
        if (gone.length === 0) return null;
        const s = c.random.pick(gone);
        return order(c, s.entity, { subaccount_id: s.id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 });
      },
    },
    {
      why: "an order_uuid used before, with another body",
      make: (c) => {
        const used = c.state.trading.orderUuids.sortedKeys();
        if (used.length === 0) return null;
        const k = c.random.pick(used);
        const at = k.indexOf("|");
        const signer = k.slice(0, at);
        const prior = c.state.trading.orderUuids.get(k);
        const sub = prior && prior.trader !== signer ? Number(prior.trader.slice(prior.trader.lastIndexOf("_") + 1)) : undefined;
        const cmd = order(c, signer, { subaccount_id: sub, trade_pair: "EURUSD", order_type: "SHORT", leverage: 0.2 });
        return { ...cmd, order_uuid: k.slice(at + 1) } as Command;
      },
    },
  ],
  post_prices: [
    {
      why: "an Idempotency-Key reused with another body",
      make: (c) => {
        const req = reusedKey(c);
        return req === null ? null : { kind: "post_prices", ts: c.now, prices: [{ trade_pair: "BTCUSD", price: 1, ts_ms: 1 }], request: req };
      },
    },
  ],
  resolve_held_price: [
    { why: "no held price there", make: (c) => ({ kind: "resolve_held_price", ts: c.now, trade_pair: "BTCUSD", ts_ms: 1, action: "apply", request: request(c, c.world.root) }) },
  ],
  sweep_challenges: [{ why: "no challenge ended by time 0", make: () => ({ kind: "sweep_challenges", ts: 0 }) }],
  score_weights: [{ why: "a validator without a uid", make: (c) => ({ kind: "score_weights", ts: c.now, validator: c.world.nobody, block_time_ms: 12_000 }) }],
  attribute_entity: [{ why: "nothing pending", make: (c) => ({ kind: "attribute_entity", ts: c.now, entity: c.world.nobody }) }],
  assess_entity: [{ why: "no such entity", make: (c) => ({ kind: "assess_entity", ts: c.now, entity: c.world.nobody }) }],
  set_payout_period: [{ why: "the period it already has", make: (c) => ({ kind: "set_payout_period", ts: c.now, period: payoutPeriod(c.state.debt) }) }],
  follow_chain: [
    { why: "a devnet log following a real chain", make: (c) => ({ kind: "follow_chain", ts: c.now, netuid: 1, genesis_hash: `0x${"ab".repeat(32)}` }) },
    { why: "a malformed genesis hash", make: (c) => ({ kind: "follow_chain", ts: c.now, netuid: 1, genesis_hash: "0xnot-a-hash" }) },
  ],
  observe_chain_epoch: [
    {
      why: "an observed epoch in a devnet log",
      make: (c) => ({
        kind: "observe_chain_epoch",
        ts: c.now,
        netuid: 1,
        block: c.view.block + 1,
        block_hash: `0x${"cd".repeat(32)}`,
        timestamp_ms: c.now,
        owner_hotkey: c.world.owner,
        hotkeys: [c.world.owner],
        alpha_paid: ["1"],
        source: "Emission",
        subnet_tao_rao: "1",
        subnet_alpha_in_rao: "1",
      }),
    },
  ],
  record_chain_gap: [
    { why: "a chain gap in a devnet log", make: (c) => ({ kind: "record_chain_gap", ts: c.now, netuid: 1, after_block: 1, before_block: 5, reason: "sim" }) },
  ],
  apply_sync_batch: [
    {
      why: "an empty batch of facts",
      make: (c) => ({ kind: "apply_sync_batch", ts: c.now, facts: [], head: { stream_seq: 0, hash: "0".repeat(64), signature: "0x" }, signer: c.world.owner }),
    },
    {
      why: "a fact whose hash does not match it",
      make: (c) => {
        const fact = { stream_seq: 1, type: "EntityRegistered" as const, payload: { entity: c.world.owner, max_subaccounts: 5 }, ts_ms: c.now, prev_hash: "0".repeat(64), hash: "f".repeat(64) };
        return { kind: "apply_sync_batch", ts: c.now, facts: [fact], head: { stream_seq: 1, hash: fact.hash, signature: "0x" }, signer: c.world.owner };
      },
    },
  ],
  change_mothership: [
    {
      why: "a rotation signed for a stream head that is not this node's",
      make: (c) => ({ kind: "change_mothership", ts: c.now, to: c.world.owner, at_stream_seq: 1_000_000_000, authorization: {}, request: request(c, c.world.root) }),
    },
  ],
};

/** Command kinds the simulator has no invalid command for (each kind needs one). */
export function kindsWithoutInvalid(): CommandKind[] {
  return (Object.keys(HANDLERS) as CommandKind[]).filter((k) => !INVALID[k]?.length);
}

/** Up to `count` invalid commands of kinds drawn at random (each kind at most once). */
export function invalidCommands(c: InvalidContext, count: number): InvalidCommand[] {
  const kinds = Object.keys(INVALID) as CommandKind[];
  const out: InvalidCommand[] = [];
  for (let tries = 0; out.length < count && tries < count * 4; tries++) {
    const kind = c.random.pick(kinds);
    if (out.some((x) => x.kind === kind)) continue;
    const maker = c.random.pick(INVALID[kind] as ReadonlyArray<{ why: string; make: Make }>);
    const command = maker.make(c);
    if (command) out.push({ kind, why: maker.why, command });
  }
  return out;
}
