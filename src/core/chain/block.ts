import { AssertionFailure, DomainError, ValidationError } from "../errors/errors.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { type BlockTotals, checkBlockInvariants } from "../invariants/chain-invariants.ts";
import { entityViolations } from "../invariants/entity-invariants.ts";
import type { Violation } from "../invariants/invariant-table.ts";
import { isUnresolved, noteRepeat } from "../invariants/violation-records.ts";
import { head, isEpochBlock } from "./chain-state.ts";
import { type CoinbaseTotals, runCoinbase } from "./coinbase.ts";
import { applyEffect, type Effect } from "./effects.ts";
import { decideEpoch } from "./epoch.ts";
import { type Extrinsic, runExtrinsics } from "./extrinsics.ts";

export type { Extrinsic } from "./extrinsics.ts";

/**
 * The version of the block rules (emission, injection, epochs, invariants) this code implements.
 * A range of empty blocks is re-derived on replay by running these rules again, so a range records
 * the version that produced it and replay refuses one it does not implement.
 */
// v2: TAO split by the EMA of net TAO flow (v1 split by pool price), undistributable pending recycled.
export const CHAIN_RULES_VERSION = 2;
/** Versions whose ranges this build re-derives: only its own (each bump changes what a range means). */
export const IMPLEMENTED_CHAIN_RULES: readonly number[] = [CHAIN_RULES_VERSION];

export interface BlockCommand {
  kind: "block";
  ts: number;
  extrinsics: Extrinsic[];
}

/** Test-only seams for fault injection: called inside the block, before onFinalize. */
export interface BlockHooks {
  beforeFinalize?: (state: State) => void;
  /** Replaying a recorded range: a violation was already recorded when it happened, never throw. */
  replaying?: boolean;
}

/**
 * Steps other concepts run inside a block, handed in by the command layer so that chain/ imports
 * none of them: after an epoch's payouts, debt attribution records whose alpha each uid was paid.
 * A step decides and applies; what it returns goes into the block's event for replay to apply.
 */
export interface BlockSteps {
  afterEpoch?: (state: State, netuid: number, epoch: Effect, ts: number) => JsonObject[];
}

/** Empty blocks (no extrinsics, no epoch) logged as one event: their times, in order. */
export interface BlockRangeCommand {
  kind: "block_range";
  ts: number[];
}

/**
 * A block is one command: onInitialize (emission, injection, pending emission, epochs), the
 * block's extrinsics in order (a failing extrinsic is undone alone and recorded), and onFinalize
 * (every invariant, every subnet, paused ones included). Each step decides its effects with the
 * rules and applies them at once, so later steps see earlier ones; the event records the effects.
 */
export function produceBlock(state: State, command: BlockCommand, hooks: BlockHooks = {}, steps: BlockSteps = {}): EventDraft {
  const h = head(state.chain);
  const n = h.block + 1;
  if (command.ts < h.timestampMs) throw new ValidationError(`block ${n} time ${command.ts} is before block ${h.block}`);
  const effects: Effect[] = [];
  const emit = (e: Effect) => {
    applyEffect(state, e);
    effects.push(e);
  };
  const mintedBefore = mintedTotals(state);
  const coinbase = runCoinbase(state, emit);
  const attributions = runEpochs(state, n, command.ts, emit, steps);
  runExtrinsics(state, command.extrinsics, emit, effects);
  hooks.beforeFinalize?.(state);
  finalize(state, n, blockTotals(state, mintedBefore, coinbase), emit, hooks);
  emit({ k: "head", block: n, ts: command.ts, emission: coinbase.blockEmission });
  const payload: JsonObject = { n, ts: command.ts, effects: effects as unknown as EventDraft["payload"][string] };
  if (attributions.length > 0) payload.attributions = attributions;
  return { type: "BlockProduced", version: 1, payload, bigints: true };
}

/**
 * Produces a run of empty blocks as one command and one event. The event records only the
 * blocks' times and the rules version: applying it derives each block again with this same code
 * (integer emission math only, no extrinsics, no epoch), which execute proves equal to what happened.
 */
export function produceBlockRange(state: State, command: BlockRangeCommand, hooks: BlockHooks = {}): EventDraft {
  if (command.ts.length === 0) throw new ValidationError("a block range needs at least one block");
  const from = head(state.chain).block + 1;
  // An epoch's payouts come from Yuma (floats): they must be recorded, so epochs are never in a range.
  for (let n = from; n < from + command.ts.length; n++) {
    for (const netuid of state.chain.subnets.sortedKeys()) {
      const s = state.chain.subnets.get(netuid);
      if (s && isEpochBlock(n, netuid, s.tempo)) throw new ValidationError(`block ${n} runs an epoch on subnet ${netuid}: it cannot be in a range`);
    }
  }
  for (const ts of command.ts) {
    const event = produceBlock(state, { kind: "block", ts, extrinsics: [] }, hooks);
    // Only routine blocks may be re-derived on replay. A block that found a violation saw state
    // the log may not reproduce (corruption behind the ledger's back), so it must be logged with
    // its effects: refuse, and the producer logs these blocks one by one.
    const unusual = unusualEffect(event);
    if (unusual) throw new DomainError("VALIDATION_FAILED", `block ${head(state.chain).block} has a ${unusual} effect: it cannot be in a range`);
  }
  return { type: "BlocksProduced", version: 2, payload: { from, ts: command.ts, rules: CHAIN_RULES_VERSION } };
}

/** Replays a recorded range by deriving its blocks again, under the rules version it names. */
export function replayBlockRange(state: State, p: JsonObject): void {
  const ts = p.ts;
  if (!Array.isArray(ts) || typeof p.from !== "number") throw new AssertionFailure("BlocksProduced without from and ts");
  if (typeof p.rules !== "number" || !IMPLEMENTED_CHAIN_RULES.includes(p.rules)) {
    throw new AssertionFailure(
      `BlocksProduced from block ${p.from} was produced under chain rules v${String(p.rules)}; this build implements v${IMPLEMENTED_CHAIN_RULES.join(", v")}: replay it with a build that does`,
    );
  }
  if (head(state.chain).block + 1 !== p.from) throw new AssertionFailure(`BlocksProduced from ${p.from} after block ${head(state.chain).block}`);
  for (const t of ts) {
    const event = produceBlock(state, { kind: "block", ts: t as number, extrinsics: [] }, { replaying: true });
    const unusual = unusualEffect(event);
    // Live, such a block is never in a range: re-deriving one means this state is not the one the log built.
    if (unusual) throw new AssertionFailure(`BlocksProduced from block ${p.from}: block ${head(state.chain).block} re-derives a ${unusual} effect, which no range holds`);
  }
}

/** The first effect a routine empty block does not have (coinbase, paused_recycle, head), if any. */
function unusualEffect(event: EventDraft): string | null {
  const effects = event.payload.effects as unknown as Effect[];
  return effects.find((e) => e.k !== "coinbase" && e.k !== "paused_recycle" && e.k !== "head")?.k ?? null;
}

function runEpochs(state: State, n: number, ts: number, emit: (e: Effect) => void, steps: BlockSteps): JsonObject[] {
  const records: JsonObject[] = [];
  for (const netuid of state.chain.subnets.sortedKeys()) {
    const s = state.chain.subnets.get(netuid);
    if (!s || !isEpochBlock(n, netuid, s.tempo)) continue;
    const epoch = decideEpoch(state, netuid);
    if (!epoch) continue;
    emit(epoch);
    if (steps.afterEpoch) records.push(...steps.afterEpoch(state, netuid, epoch, ts));
  }
  return records;
}

interface Minted {
  tao: bigint;
  alpha: Map<number, bigint>;
}

function mintedTotals(state: State): Minted {
  const { ledger } = state;
  const netuids = state.chain.subnets.sortedKeys();
  return { tao: ledger.totals(TAO).minted, alpha: new Map(netuids.map((u) => [u, ledger.totals(alpha(u)).minted])) };
}

function blockTotals(state: State, before: Minted, coinbase: CoinbaseTotals): BlockTotals {
  const after = mintedTotals(state);
  return {
    emission: coinbase.emission,
    mintedTao: after.tao - before.tao,
    injected: coinbase.injected,
    mintedAlpha: new Map([...after.alpha].map(([u, m]) => [u, m - (before.alpha.get(u) ?? 0n)])),
    expectedAlpha: coinbase.expectedAlpha,
  };
}

/**
 * onFinalize: every invariant over every subnet, paused ones included, and every entity's. A new
 * violation is recorded and pauses its scope (every subnet for `tao`) or freezes its entity; one
 * already recorded and unresolved is counted only. Strict mode throws instead.
 */
function finalize(state: State, n: number, totals: BlockTotals, emit: (e: Effect) => void, hooks: BlockHooks): void {
  const { chain } = state;
  // Re-deriving a logged range, the recount already ran when the blocks were made (on this state).
  const violations: Violation[] = [...checkBlockInvariants(state, totals, { recount: !hooks.replaying }), ...allEntityViolations(state)];
  if (violations.length === 0) return;
  if (state.ledger.strict && !hooks.replaying) {
    const v = violations[0] as Violation;
    throw new AssertionFailure(`block ${n}: invariant ${v.invariant} in ${v.scope}: expected ${v.expected}, actual ${v.actual}`);
  }
  const netuids = chain.subnets.sortedKeys();
  const toPause = new Set<number>();
  for (const v of violations) {
    const expected = v.expected.toString();
    const actual = v.actual.toString();
    if (isUnresolved(state, v.scope, v.invariant)) {
      if (!hooks.replaying) noteRepeat(state, v.scope, v.invariant, expected, actual);
      continue;
    }
    // Recording an entity's violation freezes the entity; a chain violation pauses its subnet(s).
    emit({ k: "violation", scope: v.scope, invariant: v.invariant, expected, actual });
    if (v.scope.startsWith("entity:")) continue;
    for (const u of v.netuid === null ? netuids : [v.netuid]) toPause.add(u);
  }
  for (const netuid of [...toPause].sort((a, b) => a - b)) {
    if (!chain.subnets.get(netuid)?.paused) emit({ k: "paused", netuid });
  }
}

/** Every entity's O(1) invariants, as onFinalize re-checks them each block. */
function allEntityViolations(state: State): Violation[] {
  return state.entities.entities
    .sortedKeys()
    .flatMap((hotkey) => entityViolations(state, hotkey).map((v) => ({ scope: `entity:${hotkey}`, netuid: null, ...v })));
}
