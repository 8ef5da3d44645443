import { DomainError } from "../errors/errors.ts";
import {
  applyEntityRegistered,
  applySubaccountCreated,
  applySubaccountEliminated,
  applySubaccountReinstated,
  MAX_ACCOUNT_SIZE_USD,
  MAX_ACTIVE_SUBACCOUNTS,
  MIN_ACCOUNT_SIZE_USD,
  mustIssueFacts,
  reserveFor,
  tracksCollateral,
} from "../entities/entity-commands.ts";
import { account } from "../chain/chain-state.ts";
import { TAO } from "../ledger/asset.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { TRADING_RULES_VERSION } from "../trading/rules.ts";
import { eliminateTrader, traderOf } from "../trading/trader.ts";
import { factHash, factSubject, type SignedHead, SYNC_FACT_TYPES, type SyncFact } from "./sync-fact.ts";
import { issuerOf, mothershipOf, recordConflict, recordFacts, streamHead, type SyncConflict } from "./sync-state.ts";

/**
 * A batch of facts received from a peer (pushed by the mothership or pulled from anyone). The node
 * verified `head.signature` as `signer`'s before submitting it; this checks everything else.
 */
export type ApplySyncBatch = { kind: "apply_sync_batch"; ts: number; facts: SyncFact[]; head: SignedHead; signer: string };

/**
 * Root rotates the mothership key (DESIGN.md §4.1): issued as a fact by the mothership in office,
 * carrying root's signed request so that every follower can check it was root's.
 */
export type ChangeMothership = { kind: "change_mothership"; ts: number; to: string; at_stream_seq: number; authorization: JsonObject };

/** What a batch came to on this node; also the answer of POST /v1/sync/events. */
export interface SyncBatchOutcome {
  applied: number;
  duplicates: number;
  conflicts: number;
}

/** Why a whole batch was refused (counted in `refused`): it changes nothing. */
export class SyncBatchRefused extends DomainError {
  override readonly name = "SyncBatchRefused";
  constructor(message: string) {
    super("VALIDATION_FAILED", message, { refused: true });
  }
}

/** A fact applied on this node, with the local figures its transition recorded (an elimination's closing fills). */
interface AppliedFact {
  fact: SyncFact;
  local: JsonObject | null;
}

export function applySyncBatchCommand(state: State, c: ApplySyncBatch): EventDraft {
  checkBatch(c.facts, c.head);
  const { sync } = state;
  const before = streamHead(sync);
  const first = c.facts[0] as SyncFact;
  if (first.stream_seq > before.stream_seq + 1) {
    throw new SyncBatchRefused(`the batch starts at stream_seq ${first.stream_seq}; this node is at ${before.stream_seq} and needs the facts between first`);
  }
  // Who must have signed: whoever issued the batch's last fact (a rotation always ends its batch), even
  // for facts this node holds: an unsigned batch must not record conflicts either.
  const issuer = issuerOf(sync, state.identity, c.head.stream_seq);
  if (issuer === null || c.signer !== issuer) {
    throw new SyncBatchRefused(`the batch head is signed by ${c.signer}; the mothership for these facts is ${String(issuer)}`);
  }
  if (c.facts.slice(0, -1).some((f) => f.type === "MothershipChanged" && f.stream_seq > before.stream_seq)) {
    throw new SyncBatchRefused("a MothershipChanged fact must end its batch");
  }
  let duplicates = 0;
  const applied: AppliedFact[] = [];
  let conflict: SyncConflict | null = null;
  for (const fact of c.facts) {
    const head = streamHead(sync);
    if (fact.stream_seq <= head.stream_seq) {
      const ours = sync.stream.get(fact.stream_seq) as SyncFact;
      if (ours.hash === fact.hash) {
        duplicates++;
        continue;
      }
      conflict = conflictOf(fact, ours.hash, `stream_seq ${fact.stream_seq} here is ${factSubject(ours)}, the batch has ${factSubject(fact)}`, c.ts);
      break;
    }
    if (fact.prev_hash !== head.hash) {
      conflict = conflictOf(fact, head.hash, `${factSubject(fact)} chains to another history than this node's at stream_seq ${head.stream_seq}`, c.ts);
      break;
    }
    const outcome = applyFact(state, fact, c);
    if (outcome === "duplicate") {
      duplicates++;
      recordFacts(sync, [fact]);
      applied.push({ fact, local: null });
      continue;
    }
    if (typeof outcome === "string") {
      conflict = conflictOf(fact, head.hash, outcome, c.ts);
      break;
    }
    recordFacts(sync, [fact]);
    applied.push({ fact, local: outcome });
  }
  // A conflict already on record is not recorded twice: a peer that keeps sending it changes nothing.
  const found = conflict;
  if (found && sync.conflicts.sortedEntries().some(([, k]) => k.stream_seq === found.stream_seq && k.theirs === found.theirs)) conflict = null;
  const reachedHead = streamHead(sync).hash === c.head.hash && applied.length > 0;
  if (applied.length === 0 && conflict === null) {
    throw new DomainError("NOT_FOUND", "every fact in the batch is already here", { unchanged: true, duplicates });
  }
  if (conflict) recordConflict(sync, conflict);
  if (reachedHead) sync.signatures.set(c.head.stream_seq, { signer: c.signer, signature: c.head.signature });
  const payload: JsonObject = {
    ts: c.ts,
    signer: c.signer,
    head: { ...c.head },
    applied: applied.map((a) => ({ fact: a.fact as unknown as JsonObject, local: a.local })),
    duplicates,
    signed: reachedHead,
    ref: { applied: applied.filter((a) => a.local !== null).length, duplicates, conflicts: conflict ? 1 : 0 },
  };
  if (conflict) payload.conflict = conflict as unknown as JsonObject;
  return { type: "SyncBatchApplied", version: 1, payload };
}

/** Replays a SyncBatchApplied exactly as recorded: the facts' transitions with their local figures. */
export function applySyncBatchApplied(state: State, p: JsonObject): void {
  const { sync } = state;
  for (const entry of p.applied as Array<{ fact: JsonObject; local: JsonObject | null }>) {
    const fact = entry.fact as unknown as SyncFact;
    if (entry.local !== null) applyLocal(state, fact, entry.local);
    recordFacts(sync, [fact]);
  }
  if (p.conflict) recordConflict(sync, p.conflict as unknown as SyncConflict);
  if (p.signed === true) {
    const head = p.head as unknown as SignedHead;
    sync.signatures.set(head.stream_seq, { signer: p.signer as string, signature: head.signature });
  }
}

export function changeMothershipCommand(state: State, c: ChangeMothership): EventDraft {
  mustIssueFacts(state);
  const from = mothershipOf(state.sync, state.identity) as string;
  const head = streamHead(state.sync);
  if (c.at_stream_seq !== head.stream_seq) {
    throw new DomainError("VALIDATION_FAILED", `at_stream_seq is ${c.at_stream_seq}, the stream is at ${head.stream_seq}: read the head again and sign anew`, { stream_seq: head.stream_seq });
  }
  if (c.to === from) throw new DomainError("NOT_FOUND", `${from} is already the mothership`, { unchanged: true });
  const payload = { from, to: c.to, at_stream_seq: c.at_stream_seq, authorization: c.authorization };
  state.issuing?.push({ type: "MothershipChanged", payload, ts_ms: c.ts });
  return { type: "MothershipRotated", version: 1, payload: { ts: c.ts, from, to: c.to, ref: { to: c.to } } };
}

// ---- checks and transitions ------------------------------------------------------------------------

/** Structure, contiguity, hashes and chaining, and the head: a batch failing any is refused whole. */
function checkBatch(facts: readonly SyncFact[], head: SignedHead): void {
  if (facts.length === 0) throw new SyncBatchRefused("the batch holds no facts");
  let prev: SyncFact | null = null;
  for (const f of facts) {
    if (!(SYNC_FACT_TYPES as readonly string[]).includes(f.type)) throw new SyncBatchRefused(`stream_seq ${f.stream_seq}: unknown fact type ${String(f.type)}`);
    let hash: string;
    try {
      hash = factHash(f);
    } catch {
      // A payload canonical JSON cannot hold (an Infinity, a structure nested too deep) is bad input, never a fault.
      throw new SyncBatchRefused(`stream_seq ${f.stream_seq}: the payload is not canonical JSON`);
    }
    if (hash !== f.hash) throw new SyncBatchRefused(`stream_seq ${f.stream_seq}: the hash does not match the fact`);
    if (prev && (f.stream_seq !== prev.stream_seq + 1 || f.prev_hash !== prev.hash)) {
      throw new SyncBatchRefused(`stream_seq ${f.stream_seq} does not follow ${prev.stream_seq} in the batch`);
    }
    prev = f;
  }
  const last = facts[facts.length - 1] as SyncFact;
  if (head.stream_seq !== last.stream_seq || head.hash !== last.hash) throw new SyncBatchRefused("the signed head is not the batch's last fact");
}

function conflictOf(fact: SyncFact, ours: string, message: string, ts: number): SyncConflict {
  return { stream_seq: fact.stream_seq, ours, theirs: fact.hash, subject: factSubject(fact), message, ts_ms: ts };
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Applies one new fact without this node's chain preconditions (neuron, collateral): the local
 * figures it recorded, "duplicate" when this node already holds what it says (same id and uuid),
 * or why it conflicts with what this node holds.
 */
function applyFact(state: State, fact: SyncFact, c: ApplySyncBatch): JsonObject | "duplicate" | string {
  const p = fact.payload;
  const { entities } = state;
  switch (fact.type) {
    case "EntityRegistered": {
      if (typeof p.entity !== "string" || !isInt(p.max_subaccounts, 1, MAX_ACTIVE_SUBACCOUNTS)) return `${factSubject(fact)} is malformed`;
      const had = entities.entities.get(p.entity);
      if (had) return had.maxSubaccounts === p.max_subaccounts ? "duplicate" : `${factSubject(fact)} is registered here with another limit`;
      return withLocal(state, fact, { hotkey: p.entity, max_subaccounts: p.max_subaccounts, ts: fact.ts_ms });
    }
    case "SubaccountCreated": {
      if (typeof p.entity !== "string" || !isInt(p.id, 0, 999_999_999) || typeof p.uuid !== "string" || !isInt(p.account_size_usd, MIN_ACCOUNT_SIZE_USD, MAX_ACCOUNT_SIZE_USD)) {
        return `${factSubject(fact)} is malformed`;
      }
      const e = entities.entities.get(p.entity);
      if (!e) return `${factSubject(fact)} belongs to an entity this node does not know`;
      const here = entities.subaccounts.get(syntheticHotkey(p.entity, p.id));
      if (here) return here.uuid === p.uuid ? "duplicate" : `${factSubject(fact)}: id ${p.id} here has uuid ${here.uuid}`;
      if (p.id !== e.nextId) return `${factSubject(fact)}: the next id here is ${e.nextId}`;
      return withLocal(state, fact, { entity: p.entity, id: p.id, uuid: p.uuid, account_size_usd: p.account_size_usd, reserved_rao: reserveAgain(state, p.entity, p.account_size_usd).toString(), ts: fact.ts_ms });
    }
    case "SubaccountEliminated": {
      const sub = typeof p.synthetic_hotkey === "string" ? entities.subaccounts.get(p.synthetic_hotkey) : undefined;
      if (!sub || typeof p.reason !== "string") return `${factSubject(fact)} is unknown here or malformed`;
      if (sub.status === "eliminated") return "duplicate";
      const where = `SyncBatchApplied (${p.synthetic_hotkey as string})`;
      // This node's own positions close at its own prices, now: the fact is the elimination, the figures are local.
      // The elimination's time of record is the mothership's (never this node's receive time).
      const figures = eliminateTrader(state, traderOf(state, p.synthetic_hotkey as string, c.ts), p.reason, c.ts, null, where, fact.ts_ms);
      return { synthetic_hotkey: p.synthetic_hotkey as string, reason: p.reason, by: c.signer, ts: c.ts, at_ms: fact.ts_ms, rules: TRADING_RULES_VERSION, ...(figures as unknown as JsonObject) };
    }
    case "SubaccountReinstated": {
      const sub = typeof p.synthetic_hotkey === "string" ? entities.subaccounts.get(p.synthetic_hotkey) : undefined;
      if (!sub || typeof p.reason !== "string") return `${factSubject(fact)} is unknown here or malformed`;
      if (sub.status === "active") return "duplicate";
      return withLocal(state, fact, { synthetic_hotkey: p.synthetic_hotkey as string, reason: p.reason, by: c.signer, ts: c.ts, restored_rao: "0", reserved_rao: reserveAgain(state, sub.entity, sub.accountSizeUsd).toString() });
    }
    case "MothershipChanged": {
      const from = mothershipOf(state.sync, state.identity);
      if (p.from !== from || typeof p.to !== "string" || p.at_stream_seq !== fact.stream_seq - 1) return `${factSubject(fact)} does not follow the mothership in office (${String(from)})`;
      return {};
    }
  }
}

/**
 * What a synced subaccount reserves here: nothing on a follower (collateral is the mothership's);
 * on a mothership catching up on facts it issued before a restore, the rule's reserve again, as far
 * as the entity's free collateral goes.
 */
function reserveAgain(state: State, entity: string, accountSizeUsd: number): bigint {
  if (!tracksCollateral(state)) return 0n;
  const free = state.ledger.balanceOf(TAO, account.collateral(entity));
  const rule = reserveFor(accountSizeUsd);
  return rule < free ? rule : free;
}

function withLocal(state: State, fact: SyncFact, local: JsonObject): JsonObject {
  applyLocal(state, fact, local);
  return local;
}

function applyLocal(state: State, fact: SyncFact, local: JsonObject): void {
  switch (fact.type) {
    case "EntityRegistered":
      return applyEntityRegistered(state, local);
    case "SubaccountCreated":
      return applySubaccountCreated(state, local);
    case "SubaccountEliminated":
      return applySubaccountEliminated(state, local);
    case "SubaccountReinstated":
      return applySubaccountReinstated(state, local);
    case "MothershipChanged":
      return;
  }
}
