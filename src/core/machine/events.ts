import { AssertionFailure } from "../errors/errors.ts";
import { type AssetId, parseAsset, TAO } from "../ledger/asset.ts";
import { replayBlockRange } from "../chain/block.ts";
import { applyEffect, type Effect } from "../chain/effects.ts";
import { applyAttribution, applyEmissionAttributed } from "../debt/attribute-epoch.ts";
import { applyPayoutPeriodChange } from "../debt/payout-period-command.ts";
import { applyEntityDebtAssessed, applyWeightsScored } from "../debt/score-weights.ts";
import { applyChainEpochObserved, applyChainFollowed, applyChainGap } from "../observed-chain/observed-chain-commands.ts";
import { applySyncBatchApplied } from "../sync/sync-commands.ts";
import { recordViolations } from "../invariants/violation-records.ts";
import {
  applyEntityRegistered,
  applySubaccountCreated,
  applySubaccountEliminated,
  applySubaccountReinstated,
  applyEntityUnfrozen,
} from "../entities/entity-commands.ts";
import { applyChallengesSwept, applyHeldPriceResolved, applyOrderPlaced, applyPricesPosted } from "../trading/trading-commands.ts";
import { applyChainGenesis } from "./commands.ts";
import type { JsonObject } from "./event.ts";
import type { State } from "./state.ts";

/**
 * How each event type changes the state. Apply writes recorded effects only: it never re-checks a
 * business rule, so replay is exact. Old versions are upcast to the current one when read.
 */
export interface EventDefinition {
  version: number;
  apply(state: State, payload: JsonObject): void;
  /** upcast[v] turns a version-v payload into a version-(v+1) payload. */
  upcast?: Record<number, (payload: JsonObject) => JsonObject>;
}

function str(payload: JsonObject, key: string): string {
  const v = payload[key];
  if (typeof v !== "string") throw new AssertionFailure(`event field ${key} is not a string`);
  return v;
}

function rao(payload: JsonObject, key: string): bigint {
  return BigInt(str(payload, key));
}

function asset(payload: JsonObject): AssetId {
  const a = parseAsset(str(payload, "asset"));
  if (a === null) throw new AssertionFailure(`event names an unknown asset: ${String(payload.asset)}`);
  return a;
}

function legs(payload: JsonObject, key: string): Array<[string, bigint]> {
  const v = payload[key];
  if (!Array.isArray(v)) throw new AssertionFailure(`event field ${key} is not a list`);
  return v.map((leg) => {
    if (!Array.isArray(leg) || typeof leg[0] !== "string" || typeof leg[1] !== "string") {
      throw new AssertionFailure(`event field ${key} holds a malformed leg`);
    }
    return [leg[0], BigInt(leg[1])];
  });
}

export const EVENTS: Record<string, EventDefinition> = {
  GenesisEndowed: {
    version: 1,
    apply(state, p) {
      const { ledger } = state;
      const endowments = legs(p, "endowments");
      let rest = ledger.mint(
        TAO,
        endowments.reduce((sum, [, a]) => sum + a, 0n),
      );
      for (const [owner, amount] of endowments) {
        const [part, remaining] = rest.split(amount);
        ledger.deposit(ledger.account(TAO, owner), part);
        rest = remaining;
      }
      rest.dropZero();
      if (p.chain !== undefined) applyChainGenesis(state, p.chain as never);
    },
  },

  BlockProduced: {
    version: 1,
    apply(state, p) {
      const effects = p.effects;
      if (!Array.isArray(effects)) throw new AssertionFailure("BlockProduced without effects");
      for (const e of effects) applyEffect(state, e as unknown as Effect);
      // Debt attribution after the block's epochs (DESIGN.md §3.5), as recorded.
      for (const a of (p.attributions ?? []) as JsonObject[]) applyAttribution(state, a, p.ts as number);
    },
  },

  BlocksProduced: {
    version: 2,
    apply: replayBlockRange,
    // v1 ranges were all produced under chain rules v1, before ranges recorded it.
    upcast: { 1: (p) => ({ ...p, rules: 1 }) },
  },

  Transferred: {
    version: 1,
    apply({ ledger }, p) {
      const a = asset(p);
      ledger.transfer(ledger.account(a, str(p, "from")), ledger.account(a, str(p, "to")), rao(p, "amount_rao"));
    },
  },

  BatchTransferred: {
    version: 1,
    apply({ ledger }, p) {
      const a = asset(p);
      let rest = ledger.withdraw(ledger.account(a, str(p, "from")), rao(p, "total_rao"));
      for (const [owner, amount] of legs(p, "to")) {
        const [part, remaining] = rest.split(amount);
        ledger.deposit(ledger.account(a, owner), part);
        rest = remaining;
      }
      // Anything left is a remainder the command leaked; the envelope's `remainders` recycles it.
      if (rest.amount === 0n) rest.dropZero();
    },
  },

  EntityRegistered: { version: 1, apply: applyEntityRegistered },
  SubaccountCreated: { version: 1, apply: recordsViolations(applySubaccountCreated) },
  // Trading events (and SubaccountEliminated) carry `rules`, the trading rules version they were
  // produced under, with the figures they moved; a payload without `rules` predates both and is
  // still v1: apply computes the figures it lacks (trading/rules.ts), so no upcast is needed.
  SubaccountEliminated: { version: 1, apply: recordsViolations(applySubaccountEliminated) },
  SubaccountReinstated: { version: 1, apply: recordsViolations(applySubaccountReinstated) },
  EntityUnfrozen: { version: 1, apply: applyEntityUnfrozen },
  OrderPlaced: { version: 1, apply: recordsViolations(applyOrderPlaced) },
  PricesPosted: { version: 1, apply: recordsViolations(applyPricesPosted) },
  HeldPriceResolved: { version: 1, apply: recordsViolations(applyHeldPriceResolved) },
  ChallengesSwept: { version: 1, apply: recordsViolations(applyChallengesSwept) },
  WeightsScored: { version: 1, apply: applyWeightsScored },
  EmissionAttributed: { version: 1, apply: applyEmissionAttributed },
  EntityDebtAssessed: { version: 1, apply: applyEntityDebtAssessed },
  ChainFollowed: { version: 1, apply: applyChainFollowed },
  ChainEpochObserved: { version: 1, apply: applyChainEpochObserved },
  ChainEpochGap: { version: 1, apply: applyChainGap },
  PayoutPeriodSet: { version: 1, apply: applyPayoutPeriodChange },
  SyncBatchApplied: { version: 1, apply: applySyncBatchApplied },
  // The rotation's fact (in `facts`, recorded by applyEvent) is all it changes.
  MothershipRotated: { version: 1, apply: () => undefined },

  CriticalInvariantViolation: {
    version: 1,
    apply(state, p) {
      recordViolations(state, [{ scope: str(p, "scope"), invariant: str(p, "invariant"), expected: str(p, "expected"), actual: str(p, "actual") }]);
    },
  },
};

/** An event that found entity invariants broken records the violations; replay freezes the entities again. */
function recordsViolations(apply: (state: State, p: JsonObject) => void): (state: State, p: JsonObject) => void {
  return (state, p) => {
    apply(state, p);
    const v = p.violations as Array<{ scope: string; invariant: string; expected: string; actual: string }> | undefined;
    if (v && v.length > 0) recordViolations(state, v);
  };
}

/** Brings a stored payload of any known version up to the current version of its type. */
export function upcast(type: string, version: number, payload: JsonObject): JsonObject {
  const def = EVENTS[type];
  if (!def) throw new AssertionFailure(`unknown event type ${type}`);
  if (version > def.version) throw new AssertionFailure(`event ${type}@${version} is newer than this code (@${def.version})`);
  let p = payload;
  for (let v = version; v < def.version; v++) {
    const step = def.upcast?.[v];
    if (!step) throw new AssertionFailure(`no upcast for ${type}@${v}`);
    p = step(p);
  }
  return p;
}
