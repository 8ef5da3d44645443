import type { ChainView } from "../chain/chain-view.ts";
import { chainViewOf } from "../observed-chain/observed-chain-view.ts";
import { PROP_NETUID } from "../entities/entity-commands.ts";
import { DomainError } from "../errors/errors.ts";
import type { EventDraft, JsonObject } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { alphaPriceNow, entityDebtors } from "./attribute-epoch.ts";
import { debtNow, payoutPeriod, type ScoredWeights } from "./debt-state.ts";
import type { Debt } from "./owed.ts";
import { periodDeadline } from "./payout-period.ts";
import { type EligibleUid, entityDebt, projectedEmissionMicro, scoreWeights } from "./scoring.ts";

/**
 * The node's validator scores the prop-trading subnet each tempo (DESIGN.md §3.5): every uid but
 * its own and the owner's, by bucket (entity, funded regular miner, regular miner in challenge),
 * with what it is still owed; weights that pay the debts from the emission projected to the payout
 * period's deadline, dust floors, the rest to the owner's uid. Recorded (WeightsScored) so that
 * GET /v1/weights shows the figures behind the vector the node then sets with set_weights.
 */
export type ScoreWeights = { kind: "score_weights"; ts: number; validator: string; block_time_ms: number };

const NO_DEBT: Debt = { owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n };

export function scoreWeightsCommand(state: State, c: ScoreWeights): EventDraft {
  return scoreWeightsOn(state, chainViewOf(state), c);
}

/** Scores the prop-trading subnet as `chain` shows it. */
export function scoreWeightsOn(state: State, chain: ChainView, c: ScoreWeights): EventDraft {
  const netuid = PROP_NETUID;
  const ownerHotkey = chain.ownerHotkey(netuid);
  if (ownerHotkey === undefined) throw new DomainError("NOT_FOUND", `subnet ${netuid} does not exist`, { netuid });
  const validatorUid = chain.uidOf(netuid, c.validator);
  if (validatorUid === undefined) throw new DomainError("NOT_A_NEURON", `the validator ${c.validator} holds no uid on subnet ${netuid}`, { hotkey: c.validator });
  const ownerUid = chain.uidOf(netuid, ownerHotkey);
  if (ownerUid === undefined) {
    throw new DomainError("NOT_FOUND", `the subnet owner's hotkey ${ownerHotkey} holds no uid: nowhere to send what debts do not need`, { hotkey: ownerHotkey });
  }
  const eligible: Array<EligibleUid & { hotkey: string }> = [];
  for (let uid = 0; uid < chain.neuronCount(netuid); uid++) {
    const hotkey = chain.hotkeyOf(netuid, uid);
    if (hotkey === undefined || uid === validatorUid || uid === ownerUid) continue;
    if (state.entities.entities.has(hotkey)) {
      // As last assessed (the node assesses every entity, one command each, just before scoring),
      // so that scoring stays O(uids); summed here when never assessed.
      const assessed = state.debt.entityDebts.get(hotkey);
      const debt = assessed ?? entityDebtNow(state, hotkey, c.ts);
      eligible.push({ uid, hotkey, bucket: "entity", ...debt });
      continue;
    }
    const t = state.trading.traders.get(hotkey);
    if (!t || t.elimination) continue;
    if (t.challenge === "passed") eligible.push({ uid, hotkey, bucket: "funded", ...debtNow(state, hotkey, c.ts) });
    else eligible.push({ uid, hotkey, bucket: "challenge", ...NO_DEBT });
  }
  const period = payoutPeriod(state.debt);
  const projectedMicro = projectedEmissionMicro(chain.minerAlphaPerBlock(netuid), c.ts, periodDeadline(period, c.ts), c.block_time_ms, alphaPriceNow(state, chain, netuid, c.ts));
  const scores = scoreWeights({ eligible, projectedMicro, ownerUid });
  const hotkeyOf = new Map(eligible.map((e) => [e.uid, e.hotkey]));
  hotkeyOf.set(ownerUid, ownerHotkey);
  const payload: JsonObject = {
    netuid,
    validator: c.validator,
    ts: c.ts,
    payout_period: period,
    projected_usd_micro: projectedMicro.toString(),
    priced: alphaPriceNow(state, chain, netuid, c.ts).microUsdPerTao > 0n,
    uids: scores.uids,
    weights: scores.weights,
    rows: scores.rows.map((r) => ({
      uid: r.uid,
      hotkey: hotkeyOf.get(r.uid) ?? "",
      bucket: r.bucket,
      owed: r.owedMicro.toString(),
      paid: r.paidMicro.toString(),
      remaining: r.remainingMicro.toString(),
      share: r.share,
      weight: r.weight,
    })),
  };
  applyWeightsScored(state, payload);
  return { type: "WeightsScored", version: 1, payload };
}

export function applyWeightsScored(state: State, p: JsonObject): void {
  const rows = p.rows as Array<Record<string, string | number>>;
  const scored: ScoredWeights = {
    netuid: p.netuid as number,
    validator: p.validator as string,
    scoredAtMs: p.ts as number,
    payoutPeriod: p.payout_period as ScoredWeights["payoutPeriod"],
    uids: p.uids as number[],
    weights: p.weights as number[],
    rows: rows.map((r) => ({
      uid: r.uid as number,
      hotkey: r.hotkey as string,
      bucket: r.bucket as ScoredWeights["rows"][number]["bucket"],
      owedMicro: BigInt(r.owed as string),
      paidMicro: BigInt(r.paid as string),
      remainingMicro: BigInt(r.remaining as string),
      share: r.share as number,
      weight: r.weight as number,
    })),
  };
  state.debt.scored.set("last", scored);
}

/** An entity's debt now: the sum over its debtors (funded subaccounts, its own past ledger). O(its funded subaccounts). */
export function entityDebtNow(state: State, entity: string, nowMs: number): Debt {
  return entityDebt(entityDebtors(state, entity).map((d) => debtNow(state, d.trader, nowMs)));
}

/** Records an entity's debt now, for scoring: the node runs one per entity before each scoring. */
export type AssessEntity = { kind: "assess_entity"; ts: number; entity: string };

export function assessEntityCommand(state: State, c: AssessEntity): EventDraft {
  if (!state.entities.entities.has(c.entity)) throw new DomainError("ENTITY_NOT_FOUND", `${c.entity} is not a registered entity`, { entity_hotkey: c.entity });
  const d = entityDebtNow(state, c.entity, c.ts);
  const payload = { entity: c.entity, ts: c.ts, owed: d.owedMicro.toString(), paid: d.paidMicro.toString(), remaining: d.remainingMicro.toString() };
  applyEntityDebtAssessed(state, payload);
  return { type: "EntityDebtAssessed", version: 1, payload };
}

export function applyEntityDebtAssessed(state: State, p: JsonObject): void {
  state.debt.entityDebts.set(p.entity as string, {
    atMs: p.ts as number,
    owedMicro: BigInt(p.owed as string),
    paidMicro: BigInt(p.paid as string),
    remainingMicro: BigInt(p.remaining as string),
  });
}
