import { ApplyFailed, AssertionFailure, DomainError } from "../errors/errors.ts";
import { assetName } from "../ledger/asset.ts";
import type { RecycledRemainder } from "../ledger/ledger.ts";
import { type Command, HANDLERS, type Handlers } from "./commands.ts";
import { isUnresolved, noteRepeat } from "../invariants/violation-records.ts";
import { applyRequest } from "./idempotency.ts";
import { chainFact, type SyncFact } from "../sync/sync-fact.ts";
import { issuesFacts, recordFacts, streamHead } from "../sync/sync-state.ts";
import type { EventDraft, JsonObject } from "./event.ts";
import { EVENTS, upcast } from "./events.ts";
import type { State } from "./state.ts";

export interface ExecuteResult {
  /** The events that record what happened, already applied to the state, in log order. */
  events: EventDraft[];
  /** Set when the command was refused; then only violation events (if any) were applied. */
  error?: DomainError;
}

/**
 * Executes one command as one scope: the handler runs against the live state under the ledger's
 * undo journal; its writes are then undone and its event applied exactly as replay will apply it.
 * The two must change the same cells to the same values, or the command is refused and a
 * CriticalInvariantViolation recorded: an event that does not describe its effects is caught the
 * moment it is made, not at the next replay. An event that cannot be applied at all throws
 * ApplyFailed (fatal) after undoing everything, leaving the state as it was before the command.
 */
export function execute(state: State, command: Command, handlers: Handlers = HANDLERS): ExecuteResult {
  const { ledger, journal } = state;
  ledger.beginScope(command.kind, { journal: true });
  journal.begin();
  let draft: EventDraft;
  // Received facts are applied as recorded; everything else a mothership does may issue facts.
  state.issuing = command.kind !== "apply_sync_batch" && issuesFacts(state.sync, state.identity) ? [] : null;
  try {
    draft = (handlers[command.kind] as (s: State, c: Command) => EventDraft)(state, command);
    draft = withIssuedFacts(state, draft);
  } catch (error) {
    state.issuing = null;
    ledger.abort();
    journal.undo();
    if (error instanceof DomainError) return { events: [], error };
    throw error;
  }
  // Strict mode throws here (after undoing); production recycles the remainder and says so.
  let remainders: ReturnType<typeof ledger.endScope>;
  try {
    remainders = ledger.endScope();
  } catch (error) {
    journal.undo();
    throw error;
  }
  // A block cannot be refused (the chain must go on), so it is always kept as its events describe
  // it: that is what replay builds. Its own onFinalize has already recorded any leak it saw; what
  // its event leaves when applied is recorded with it below.
  const mustAccept = command.kind === "block" || command.kind === "block_range";
  if (remainders.length > 0 && !mustAccept) {
    draft = {
      ...draft,
      payload: { ...draft.payload, remainders: remainders.map((r) => [assetName(r.asset), r.amount.toString()]) },
    };
  }
  // Off-chain handlers apply their event through the same transition replay uses, so outside strict
  // mode re-applying it to compare would compare a function with itself: keep the handler's writes.
  if (!ledger.strict && SELF_APPLYING.has(command.kind) && remainders.length === 0) {
    ledger.keep();
    journal.keep();
    return { events: [draft] };
  }
  const executed = ledger.journalDiff();
  ledger.undo();
  journal.undo();
  // The chain's maps are written only by effect appliers, the same code on both paths; the ledger
  // cells are compared because handlers move value themselves.
  journal.begin();

  let left: RecycledRemainder[];
  try {
    // A block's event may itself leave value in flight (a leak in code both paths share): that
    // remainder is recycled and recorded in the event, so replay leaves exactly the same.
    left = applyEvent(state, draft, { journal: true, observeRemainders: mustAccept });
  } catch (error) {
    // Apply never refuses, so this is a bug and fatal (DESIGN.md §2 rule 2). Undo all it wrote,
    // ledger cells (its scope may be open or already ended) and chain maps alike, so the state is
    // exactly as before the command and the node can stay up for reads until it restarts.
    if (ledger.inScope) ledger.abort();
    else ledger.undo();
    journal.undo();
    throw new ApplyFailed(command.kind, draft.type, error);
  }
  if (left.length > 0) {
    draft = { ...draft, payload: { ...draft.payload, remainders: left.map((r) => [assetName(r.asset), r.amount.toString()]) } };
    remainders = left;
  }
  const mismatch = firstDifference(state, executed, ledger.journalDiff());
  if (mismatch !== null) {
    const violation = violationEvent(command.kind, "events_reproduce_effects", "equal effects", mismatch);
    if (ledger.strict) {
      ledger.undo();
      journal.undo();
      throw new AssertionFailure(`${command.kind}: event ${draft.type} does not reproduce its effects: ${mismatch}`);
    }
    if (mustAccept) {
      ledger.keep();
      journal.keep();
      const recorded = recordOnce(state, violation);
      return { events: recorded ? [draft, recorded] : [draft] };
    }
    ledger.undo();
    journal.undo();
    const recorded = recordOnce(state, violation);
    return { events: recorded ? [recorded] : [], error: new DomainError("INTERNAL", "the command was refused by an internal check") };
  }
  ledger.keep();
  journal.keep();

  const events = [draft];
  for (const r of remainders) {
    const recorded = recordOnce(state, violationEvent(command.kind, "no_live_credit", "0", `${r.amount} ${assetName(r.asset)}`));
    if (recorded) events.push(recorded);
  }
  return { events };
}

/**
 * The facts the handler's transitions issued, chained onto the stream and recorded in its event
 * (`facts`), whose apply appends them: replay rebuilds the stream from the events alone.
 */
function withIssuedFacts(state: State, draft: EventDraft): EventDraft {
  const issued = state.issuing;
  state.issuing = null;
  if (issued === null || issued.length === 0) return draft;
  let head = streamHead(state.sync);
  const facts = issued.map((f) => (head = chainFact(head, f.type, f.payload, f.ts_ms)));
  recordFacts(state.sync, facts);
  return { ...draft, payload: { ...draft.payload, facts: facts as unknown as JsonObject[] } };
}

/** Commands whose handlers write their effects only by applying their own event (entities, trading). */
const SELF_APPLYING = new Set<Command["kind"]>([
  "register_entity",
  "create_subaccount",
  "eliminate_subaccount",
  "reinstate_subaccount",
  "unfreeze_entity",
  "place_order",
  "post_prices",
  "resolve_held_price",
  "sweep_challenges",
  "score_weights",
  "attribute_entity",
  "assess_entity",
  "set_payout_period",
  "follow_chain",
  "record_chain_gap",
  "apply_sync_batch",
  "change_mothership",
]);

/**
 * Applies a violation event unless the same (scope, invariant) is already recorded and unresolved:
 * then it is only counted (node-local), so a command that keeps failing does not grow the state.
 */
function recordOnce(state: State, violation: EventDraft): EventDraft | null {
  const { scope, invariant, expected, actual } = violation.payload as Record<string, string>;
  if (isUnresolved(state, scope as string, invariant as string)) {
    noteRepeat(state, scope as string, invariant as string, expected as string, actual as string);
    return null;
  }
  applyEvent(state, violation);
  return violation;
}

export function violationEvent(scope: string, invariant: string, expected: string, actual: string): EventDraft {
  return { type: "CriticalInvariantViolation", version: 1, payload: { scope, invariant, expected, actual } };
}

/**
 * Applies one event, of any stored version, as one ledger scope. A remainder recorded in the
 * event (a leak recycled in production) must be exactly the remainder apply leaves.
 */
export function applyEvent(state: State, event: EventDraft, options: { journal?: boolean; observeRemainders?: boolean } = {}): RecycledRemainder[] {
  const def = EVENTS[event.type];
  if (!def) throw new AssertionFailure(`unknown event type ${event.type}`);
  const payload = event.version === def.version ? event.payload : upcast(event.type, event.version, event.payload);
  const { ledger } = state;
  ledger.beginScope(event.type, { journal: options.journal ?? false });
  def.apply(state, payload);
  if (payload.request !== undefined) applyRequest(state, payload);
  if (payload.facts !== undefined) recordFacts(state.sync, payload.facts as unknown as SyncFact[]);
  const left = ledger.endScope({ allowRemainders: true });
  if (options.observeRemainders || (left.length === 0 && payload.remainders === undefined)) return left;
  const recorded = remaindersOf(payload);
  const got = left.map((r) => `${assetName(r.asset)}:${r.amount}`).join(",");
  if (got !== recorded) throw new AssertionFailure(`${event.type} left remainder [${got}], recorded [${recorded}]`);
  return left;
}

function remaindersOf(payload: JsonObject): string {
  const r = payload.remainders;
  if (r === undefined) return "";
  if (!Array.isArray(r)) throw new AssertionFailure("remainders is not a list");
  return r.map((x) => (Array.isArray(x) ? `${String(x[0])}:${String(x[1])}` : "?")).join(",");
}

function firstDifference(state: State, executed: Map<number, bigint>, applied: Map<number, bigint>): string | null {
  for (const [cell, value] of executed) {
    const got = applied.get(cell);
    if (got !== value) return `${state.ledger.describeCell(cell)}: executed ${value}, applied ${got ?? "unchanged"}`;
  }
  for (const [cell, value] of applied) {
    if (!executed.has(cell)) return `${state.ledger.describeCell(cell)}: executed unchanged, applied ${value}`;
  }
  return null;
}
