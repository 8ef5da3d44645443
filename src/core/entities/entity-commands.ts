import { DomainError, ValidationError } from "../errors/errors.ts";
import { account, key } from "../chain/chain-state.ts";
import { entityViolations, recountEntity } from "../invariants/entity-invariants.ts";
import { isUnresolved, recordViolations, resolveViolations } from "../invariants/violation-records.ts";
import { TAO } from "../ledger/asset.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { eliminationRecord } from "../trading/records.ts";
import { rulesOf, TRADING_RULES_VERSION } from "../trading/rules.ts";
import { eliminateTrader, enqueueChallenge, traderOf } from "../trading/trader.ts";
import { isMothership, issuesFacts, mothershipOf } from "../sync/sync-state.ts";
import { followsChain } from "../observed-chain/observed-chain-state.ts";
import { type EntityRecord, reservedAccount, type SubaccountRecord } from "./entity-state.ts";
import { parseSyntheticHotkey, syntheticHotkey } from "./synthetic-hotkey.ts";

/** The prop-trading subnet: entities and regular miners are its neurons. */
export const PROP_NETUID = 1;
export const MAX_ACTIVE_SUBACCOUNTS = 500;
export const DEFAULT_ACCOUNT_SIZE_USD = 10_000;
export const MIN_ACCOUNT_SIZE_USD = 1_000;
export const MAX_ACCOUNT_SIZE_USD = 100_000;

export type RegisterEntity = { kind: "register_entity"; ts: number; hotkey: string; max_subaccounts?: number };
export type CreateSubaccount = { kind: "create_subaccount"; ts: number; entity: string; account_size_usd?: number; uuid: string };
export type EliminateSubaccount = { kind: "eliminate_subaccount"; ts: number; synthetic: string; reason?: string; by: string };
export type ReinstateSubaccount = { kind: "reinstate_subaccount"; ts: number; synthetic: string; reason: string; by: string };
export type UnfreezeEntity = { kind: "unfreeze_entity"; ts: number; hotkey: string; reason: string; by: string };

/** On a log that follows a real subnet, the latest observed metagraph decides; on the devnet, its own chain. */
export function isNeuron(state: State, hotkey: string): boolean {
  if (followsChain(state.observed)) return state.observed.uids.has(hotkey);
  return state.chain.uids.has(key.hotkey(PROP_NETUID, hotkey));
}

/**
 * Collateral is the devnet's: on a real chain it lives in Vanta's own contract, which this node does
 * not read, so subaccounts there reserve nothing here and the API shows collateral as null. It is
 * tracked only on the mothership's chain: a follower's synced subaccounts reserve nothing either.
 */
export function tracksCollateral(state: State): boolean {
  return !followsChain(state.observed) && isMothership(state.sync, state.identity);
}

/**
 * Entity registrations, subaccount ids, eliminations and reinstatements are mothership facts
 * (DESIGN.md §4.1): a follower's writer refuses them, whatever route they came by.
 */
export function mustIssueFacts(state: State): void {
  if (issuesFacts(state.sync, state.identity)) return;
  if (isMothership(state.sync, state.identity)) {
    throw new DomainError("UNAVAILABLE", "this mothership is catching up with its peers and issues nothing until it holds all they hold; retry in a moment");
  }
  const mothership = mothershipOf(state.sync, state.identity);
  throw new DomainError("NOT_MOTHERSHIP", `this node follows the mothership ${String(mothership)}: entity changes are made there and synced here`, { mothership, url: null });
}

/** Frozen while its hotkey holds no uid on the subnet, or after an entity-scoped violation. */
export function isFrozen(state: State, e: EntityRecord): boolean {
  return e.frozenByViolation || !isNeuron(state, e.hotkey);
}

/** ceil(account_size_usd * 1e9 / cost_per_theta_usd), cost 2,500 USD up to 10,000 USD and 5,000 above. */
export function reserveFor(accountSizeUsd: number): bigint {
  const cost = accountSizeUsd <= 10_000 ? 2_500n : 5_000n;
  const size = BigInt(accountSizeUsd);
  return (size * 1_000_000_000n + cost - 1n) / cost;
}

function entityOf(state: State, hotkey: string): EntityRecord {
  const e = state.entities.entities.get(hotkey);
  if (!e) throw new DomainError("ENTITY_NOT_FOUND", `${hotkey} is not a registered entity`, { entity_hotkey: hotkey });
  return e;
}

export function subaccountOf(state: State, synthetic: string): SubaccountRecord {
  const parsed = parseSyntheticHotkey(synthetic);
  if (!parsed) throw new DomainError("INVALID_SYNTHETIC_HOTKEY", `${synthetic} is not <entity>_<id>`);
  const sub = state.entities.subaccounts.get(synthetic);
  if (!sub) throw new DomainError("SUBACCOUNT_NOT_FOUND", `subaccount ${synthetic} was never created`, { synthetic_hotkey: synthetic });
  return sub;
}

/**
 * Checks the invariants of the entities a command touched; any new violation goes into the event
 * (`violations`), whose apply records it and freezes the entity. Recorded once per (scope,
 * invariant) while the entity stays frozen.
 */
export function withEntityChecks(state: State, hotkeys: Iterable<string>, draft: EventDraft): EventDraft {
  const violations = [...new Set(hotkeys)].sort().flatMap((hotkey) =>
    entityViolations(state, hotkey)
      .filter((x) => !isUnresolved(state, `entity:${hotkey}`, x.invariant))
      .map((x) => ({ scope: `entity:${hotkey}`, ...x })),
  );
  if (violations.length === 0) return draft;
  recordViolations(state, violations);
  return { ...draft, payload: { ...draft.payload, violations } };
}

// ---- transitions shared by handlers and replay ---------------------------------------------------

export function applyEntityRegistered(state: State, p: JsonObject): void {
  state.issuing?.push({ type: "EntityRegistered", payload: { entity: p.hotkey as string, max_subaccounts: p.max_subaccounts as number }, ts_ms: p.ts as number });
  state.entities.entities.set(p.hotkey as string, {
    hotkey: p.hotkey as string,
    registeredAtMs: p.ts as number,
    maxSubaccounts: p.max_subaccounts as number,
    nextId: 0,
    active: 0,
    eliminated: 0,
    reservedRao: 0n,
    slashedRao: 0n,
    frozenByViolation: false,
  });
}

export function applySubaccountCreated(state: State, p: JsonObject): void {
  const entity = p.entity as string;
  const id = p.id as number;
  const reserved = BigInt(p.reserved_rao as string);
  const e = state.entities.entities.get(entity) as EntityRecord;
  const synthetic = syntheticHotkey(entity, id);
  state.issuing?.push({ type: "SubaccountCreated", payload: { entity, id, uuid: p.uuid as string, account_size_usd: p.account_size_usd as number }, ts_ms: p.ts as number });
  if (reserved > 0n) {
    const { ledger } = state;
    ledger.transfer(ledger.account(TAO, account.collateral(entity)), ledger.account(TAO, reservedAccount(entity)), reserved);
  }
  state.entities.subaccounts.set(synthetic, {
    entity,
    id,
    uuid: p.uuid as string,
    createdAtMs: p.ts as number,
    eliminatedAtMs: null,
    accountSizeUsd: p.account_size_usd as number,
    reservedRao: reserved,
    status: "active",
  });
  state.entities.entities.set(entity, { ...e, nextId: id + 1, active: e.active + 1, reservedRao: e.reservedRao + reserved });
  enqueueChallenge(state, synthetic);
}

/**
 * Writes the recorded elimination: the slash and the amount freed move exactly as recorded (strict
 * mode recomputes them by the rules and refuses a difference). Events without a trading rules
 * version recorded only the slash; the rest of their figures are computed, as they were then.
 */
export function applySubaccountEliminated(state: State, p: JsonObject): void {
  const rules = rulesOf("SubaccountEliminated", p);
  const synthetic = p.synthetic_hotkey as string;
  const where = `SubaccountEliminated (${synthetic})`;
  const now = p.ts as number;
  // A follower records the mothership's time (`at_ms`); its own positions closed at its own time.
  eliminateTrader(state, traderOf(state, synthetic, now), p.reason as string, now, eliminationRecord(where, p, rules !== null), where, (p.at_ms as number | undefined) ?? now);
}

export function applySubaccountReinstated(state: State, p: JsonObject): void {
  const synthetic = p.synthetic_hotkey as string;
  const { entities, trading, ledger } = state;
  state.issuing?.push({ type: "SubaccountReinstated", payload: { synthetic_hotkey: synthetic, reason: p.reason as string }, ts_ms: p.ts as number });
  const sub = entities.subaccounts.get(synthetic) as SubaccountRecord;
  const e = entities.entities.get(sub.entity) as EntityRecord;
  const restored = BigInt(p.restored_rao as string);
  const reserve = BigInt(p.reserved_rao as string);
  // The slash was recycled: reversing it mints it back into the reserve, counted like any mint.
  if (restored > 0n) ledger.deposit(ledger.account(TAO, reservedAccount(sub.entity)), ledger.mint(TAO, restored));
  const fromFree = reserve - restored;
  if (fromFree > 0n) ledger.transfer(ledger.account(TAO, account.collateral(sub.entity)), ledger.account(TAO, reservedAccount(sub.entity)), fromFree);
  entities.subaccounts.set(synthetic, { ...sub, status: "active", eliminatedAtMs: null, reservedRao: reserve });
  entities.entities.set(sub.entity, {
    ...e,
    active: e.active + 1,
    eliminated: e.eliminated - 1,
    reservedRao: e.reservedRao + reserve,
    slashedRao: e.slashedRao - restored,
  });
  const t = trading.traders.get(synthetic);
  if (t?.elimination) {
    // Reinstated with a clean drawdown: the peak restarts at today's value.
    trading.traders.set(synthetic, { ...t, challenge: t.elimination.challenge_before, elimination: null, peak: t.value, maxDrawdown: 0 });
  }
}

// ---- handlers -------------------------------------------------------------------------------------

export function registerEntity(state: State, c: RegisterEntity): EventDraft {
  mustIssueFacts(state);
  if (!isNeuron(state, c.hotkey)) throw new DomainError("NOT_A_NEURON", `${c.hotkey} is not a neuron on subnet ${PROP_NETUID}`, { hotkey: c.hotkey });
  if (state.entities.entities.has(c.hotkey)) throw new DomainError("ENTITY_EXISTS", `${c.hotkey} is already a registered entity`, { entity_hotkey: c.hotkey });
  // An entity never trades: a regular miner closes its positions first (its past ledger stays its own).
  const open = state.trading.traders.get(c.hotkey)?.openPairs ?? [];
  if (open.length > 0) {
    throw new DomainError("OPEN_POSITIONS", `${c.hotkey} still has open positions as a regular miner (${open.join(", ")}): close them with FLAT orders first`, {
      hotkey: c.hotkey,
      open_trade_pairs: open,
    });
  }
  const max = c.max_subaccounts ?? MAX_ACTIVE_SUBACCOUNTS;
  if (!Number.isInteger(max) || max < 1 || max > MAX_ACTIVE_SUBACCOUNTS) {
    throw new ValidationError(`max_subaccounts must be an integer in [1, ${MAX_ACTIVE_SUBACCOUNTS}]`);
  }
  const payload = { hotkey: c.hotkey, max_subaccounts: max, ts: c.ts };
  applyEntityRegistered(state, payload);
  return { type: "EntityRegistered", version: 1, payload: { ...payload, ref: { entity: c.hotkey } } };
}

export function createSubaccount(state: State, c: CreateSubaccount): EventDraft {
  mustIssueFacts(state);
  const e = entityOf(state, c.entity);
  if (isFrozen(state, e)) {
    const why = e.frozenByViolation ? "an invariant violation froze it until root unfreezes it" : "its hotkey holds no uid on the subnet";
    throw new DomainError("ENTITY_FROZEN", `entity ${c.entity} is frozen: ${why}`, { entity_hotkey: c.entity });
  }
  if (e.active >= e.maxSubaccounts) {
    throw new DomainError("SUBACCOUNT_LIMIT_REACHED", `${c.entity} has ${e.active} active subaccounts, its limit is ${e.maxSubaccounts}`, {
      active_subaccounts: e.active,
      max_subaccounts: e.maxSubaccounts,
    });
  }
  const size = c.account_size_usd ?? DEFAULT_ACCOUNT_SIZE_USD;
  if (!Number.isInteger(size) || size < MIN_ACCOUNT_SIZE_USD || size > MAX_ACCOUNT_SIZE_USD) {
    throw new ValidationError(`account_size_usd must be an integer in [${MIN_ACCOUNT_SIZE_USD}, ${MAX_ACCOUNT_SIZE_USD}]`);
  }
  const reserve = tracksCollateral(state) ? reserveFor(size) : 0n;
  const free = state.ledger.balanceOf(TAO, account.collateral(c.entity));
  if (free < reserve) {
    throw new DomainError("INSUFFICIENT_COLLATERAL", `${c.entity} has ${taoText(free)} of free collateral; a ${usdText(size)} USD subaccount reserves ${taoText(reserve)}`, {
      free_rao: free.toString(),
      required_rao: reserve.toString(),
    });
  }
  const payload = { entity: c.entity, id: e.nextId, uuid: c.uuid, account_size_usd: size, reserved_rao: reserve.toString(), ts: c.ts };
  applySubaccountCreated(state, payload);
  return withEntityChecks(state, [c.entity], { type: "SubaccountCreated", version: 1, payload: { ...payload, ref: { synthetic_hotkey: syntheticHotkey(c.entity, e.nextId) } } });
}

/** Idempotent: eliminating an eliminated subaccount changes nothing (and records nothing). */
export function eliminateSubaccount(state: State, c: EliminateSubaccount): EventDraft {
  mustIssueFacts(state);
  const sub = subaccountOf(state, c.synthetic);
  const reason = c.reason ?? "MANUAL";
  if (sub.status === "eliminated") throw new DomainError("NOT_FOUND", "already eliminated", { unchanged: true });
  // The rules decide the figures here; the event records them (slash and amount freed included) for replay to write.
  const figures = eliminateTrader(state, traderOf(state, c.synthetic, c.ts), reason, c.ts, null, `SubaccountEliminated (${c.synthetic})`);
  const payload = { synthetic_hotkey: c.synthetic, reason, by: c.by, ts: c.ts, rules: TRADING_RULES_VERSION, ...figures } as unknown as JsonObject;
  return withEntityChecks(state, [sub.entity], { type: "SubaccountEliminated", version: 1, payload: { ...payload, ref: { synthetic_hotkey: c.synthetic } } });
}

/** Rao as TAO for a message a person reads ("4 TAO", "0.5 TAO"); details keep the exact rao. */
function taoText(rao: bigint): string {
  const abs = rao < 0n ? -rao : rao;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${rao < 0n ? "-" : ""}${abs / 1_000_000_000n}${frac ? `.${frac}` : ""} TAO`;
}

/** 10000 -> "10,000". */
function usdText(usd: number): string {
  return String(usd).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function reinstateSubaccount(state: State, c: ReinstateSubaccount): EventDraft {
  mustIssueFacts(state);
  const sub = subaccountOf(state, c.synthetic);
  if (sub.status === "active") throw new DomainError("NOT_FOUND", "not eliminated", { unchanged: true });
  const e = entityOf(state, sub.entity);
  if (e.active >= e.maxSubaccounts) {
    throw new DomainError("SUBACCOUNT_LIMIT_REACHED", `${sub.entity} is at its limit of ${e.maxSubaccounts} active subaccounts`);
  }
  const reserve = tracksCollateral(state) ? reserveFor(sub.accountSizeUsd) : 0n;
  const t = state.trading.traders.get(c.synthetic);
  const restored = BigInt(t?.elimination?.slashed_rao ?? "0");
  const free = state.ledger.balanceOf(TAO, account.collateral(sub.entity));
  if (free < reserve - restored) {
    throw new DomainError("INSUFFICIENT_COLLATERAL", `${sub.entity} has ${taoText(free)} of free collateral; reinstating needs ${taoText(reserve - restored)}`, {
      free_rao: free.toString(),
      required_rao: (reserve - restored).toString(),
    });
  }
  const payload = { synthetic_hotkey: c.synthetic, reason: c.reason, by: c.by, ts: c.ts, restored_rao: restored.toString(), reserved_rao: reserve.toString() };
  applySubaccountReinstated(state, payload);
  return withEntityChecks(state, [sub.entity], { type: "SubaccountReinstated", version: 1, payload: { ...payload, ref: { synthetic_hotkey: c.synthetic } } });
}


/**
 * Root lifts a freeze that an entity-scoped violation put on the entity, once its invariants and
 * its full recount pass (409 INVARIANT_STILL_FAILING otherwise). Idempotent on a thawed entity.
 */
export function unfreezeEntity(state: State, c: UnfreezeEntity): EventDraft {
  const e = entityOf(state, c.hotkey);
  if (!e.frozenByViolation) throw new DomainError("NOT_FOUND", "not frozen by a violation", { unchanged: true });
  const failing = [...entityViolations(state, c.hotkey), ...recountEntity(state, c.hotkey)];
  const v = failing[0];
  if (v) {
    throw new DomainError("INVARIANT_STILL_FAILING", `entity ${c.hotkey} still fails ${v.invariant}: expected ${v.expected}, actual ${v.actual}`, {
      invariant: v.invariant,
      expected: v.expected,
      actual: v.actual,
    });
  }
  const payload = { hotkey: c.hotkey, reason: c.reason, by: c.by, ts: c.ts };
  applyEntityUnfrozen(state, payload);
  return { type: "EntityUnfrozen", version: 1, payload: { ...payload, ref: { entity: c.hotkey } } };
}

export function applyEntityUnfrozen(state: State, p: JsonObject): void {
  const hotkey = p.hotkey as string;
  const e = state.entities.entities.get(hotkey) as EntityRecord;
  state.entities.entities.set(hotkey, { ...e, frozenByViolation: false });
  resolveViolations(state, (scope) => scope === `entity:${hotkey}`);
}
