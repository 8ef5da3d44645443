import { account } from "../chain/chain-state.ts";
import { reservedAccount } from "../entities/entity-state.ts";
import { TAO } from "../ledger/asset.ts";
import { type Journal, JournaledMap } from "../machine/journal.ts";
import type { State } from "../machine/state.ts";
import type { PerfCheckpoint } from "../perf/perf-checkpoint.ts";
import { accrueEmission, type DebtCheckpoint, debtCheckpoint, type DebtStatus, type EmissionChunk, type PendingEmission, takeEmission } from "./debt-checkpoint.ts";
import { closeWhileFunded, type Debt, debtOf, fundedOwed, type OwedRecord, payOwed, rollOwed, settleOwed } from "./owed.ts";
import type { AlphaPrice } from "./micro-usd.ts";
import { type PayoutPeriod, periodIndex } from "./payout-period.ts";
import { collateralPenaltyPpm, drawdownPenaltyPpm, PPM, totalPenaltyPpm } from "./penalty.ts";
import type { Bucket, WeightRow } from "./scoring.ts";

/**
 * Debt ledgers in the state (DESIGN.md §3.5): per trader its owed record from the moment it was
 * funded, the alpha attributed to it, and emission waiting for its next debt checkpoint; per
 * entity the alpha its uid was paid and how it was attributed; the payout period; and the last
 * weights the node's validator scored. Journaled maps of immutable records, like the rest.
 */
export interface TraderDebt {
  fundedAtMs: number;
  owed: OwedRecord;
  attributedAlphaRao: bigint;
  pending: PendingEmission;
}

/**
 * Alpha paid to an entity's uid, and whose it is: attributed + unattributed + pending == paid (an
 * entity invariant). Pending is paid at an epoch and not yet shared among the subaccounts.
 */
export interface EntityEmission {
  paidAlphaRao: bigint;
  attributedAlphaRao: bigint;
  unattributedAlphaRao: bigint;
  pendingAlphaRao: bigint;
}

export const NO_ENTITY_EMISSION: EntityEmission = { paidAlphaRao: 0n, attributedAlphaRao: 0n, unattributedAlphaRao: 0n, pendingAlphaRao: 0n };

/** One epoch's alpha to an entity's uid, waiting to be shared: when, how much, and the epoch's price. */
export interface PendingAttribution {
  atMs: number;
  alphaRao: bigint;
  price: AlphaPrice;
}

/** The weights the node's validator last scored and set (GET /v1/weights). */
export interface ScoredWeights {
  netuid: number;
  validator: string;
  scoredAtMs: number;
  payoutPeriod: PayoutPeriod;
  uids: number[];
  weights: number[];
  rows: Array<Omit<WeightRow, "bucket"> & { bucket: Bucket | "owner"; hotkey: string }>;
}

export interface DebtState {
  traders: JournaledMap<string, TraderDebt>;
  /** entity -> ids of its subaccounts ever funded, ascending: attribution and scoring visit only these. */
  fundedIds: JournaledMap<string, readonly number[]>;
  entities: JournaledMap<string, EntityEmission>;
  /** entity -> the sum of its debtors' debts as last assessed (the validator scores by it, O(1) per entity). */
  entityDebts: JournaledMap<string, Debt & { atMs: number }>;
  /** entity -> epochs' alpha its subaccounts have not been attributed yet, oldest first. */
  pendingAttribution: JournaledMap<string, readonly PendingAttribution[]>;
  config: JournaledMap<"payout_period", PayoutPeriod>;
  scored: JournaledMap<"last", ScoredWeights>;
}

export function createDebtState(journal: Journal): DebtState {
  return {
    traders: new JournaledMap(journal),
    fundedIds: new JournaledMap(journal),
    entities: new JournaledMap(journal),
    pendingAttribution: new JournaledMap(journal),
    entityDebts: new JournaledMap(journal),
    config: new JournaledMap(journal),
    scored: new JournaledMap(journal),
  };
}

export const DEFAULT_PAYOUT_PERIOD: PayoutPeriod = "month";

export function payoutPeriod(debt: DebtState): PayoutPeriod {
  return debt.config.get("payout_period") ?? DEFAULT_PAYOUT_PERIOD;
}

/** The payout period holding a time, under the period the log set. */
export function periodOf(debt: DebtState): (ms: number) => number {
  const period = payoutPeriod(debt);
  return (ms) => periodIndex(period, ms);
}

/**
 * The penalty on what a trader is owed, in ppm (penalty.ts): its drawdown penalty times, for a
 * subaccount, its entity's collateral penalty (free + reserved collateral against the reserves
 * its active subaccounts need).
 */
export function penaltyPpmOf(state: State, trader: string, maxDrawdown: number): number {
  const entity = state.entities.subaccounts.get(trader)?.entity;
  const e = entity === undefined ? undefined : state.entities.entities.get(entity);
  const collateral = e === undefined ? PPM : collateralPenaltyPpm(state.ledger.balanceOf(TAO, account.collateral(e.hotkey)) + state.ledger.balanceOf(TAO, reservedAccount(e.hotkey)), e.reservedRao);
  return totalPenaltyPpm(drawdownPenaltyPpm(maxDrawdown), collateral);
}

const NO_DEBT: Debt = { owedMicro: 0n, paidMicro: 0n, remainingMicro: 0n };

/** A trader's debt at `nowMs`: its record rolled to then (nothing written), under its penalty now. */
export function debtNow(state: State, trader: string, nowMs: number): Debt {
  const d = state.debt.traders.get(trader);
  const t = state.trading.traders.get(trader);
  if (!d || !t) return NO_DEBT;
  return debtOf(rollOwed(d.owed, nowMs, periodOf(state.debt), t.unrealizedUsd), penaltyPpmOf(state, trader, t.maxDrawdown));
}

// ---- transitions (shared by handlers and replay) --------------------------------------------------

/** A trader passed its challenge: from now on what it closes is owed to it. `subaccount` names its entity and id. */
export function fundTrader(debt: DebtState, hotkey: string, nowMs: number, subaccount: { entity: string; id: number } | null): void {
  if (debt.traders.has(hotkey)) return; // reinstated after an elimination: its record goes on
  debt.traders.set(hotkey, { fundedAtMs: nowMs, owed: fundedOwed(nowMs, periodOf(debt)), attributedAlphaRao: 0n, pending: [] });
  if (subaccount) {
    const ids = debt.fundedIds.get(subaccount.entity) ?? [];
    debt.fundedIds.set(subaccount.entity, [...ids, subaccount.id].sort((a, b) => a - b));
  }
}

/** Before a funded trader is marked at `nowMs`: settles the payout periods that ended since its last mark. */
export function rollTraderDebt(debt: DebtState, hotkey: string, nowMs: number, lastMarkUnrealizedUsd: number): void {
  const d = debt.traders.get(hotkey);
  if (!d) return;
  const owed = rollOwed(d.owed, nowMs, periodOf(debt), lastMarkUnrealizedUsd);
  if (owed !== d.owed) debt.traders.set(hotkey, { ...d, owed });
}

/** A funded trader closed a position: its realized PnL after fees is owed once its period ends. */
export function closeFundedPosition(debt: DebtState, hotkey: string, realizedAfterFeesMicro: bigint, nowMs: number, lastMarkUnrealizedUsd: number): void {
  const d = debt.traders.get(hotkey);
  if (!d) return;
  debt.traders.set(hotkey, { ...d, owed: closeWhileFunded(d.owed, realizedAfterFeesMicro, nowMs, periodOf(debt), lastMarkUnrealizedUsd) });
}

/** Alpha attributed to a trader at an epoch: paid toward its debt at its USD value, pending for its next debt checkpoint. */
export function payTrader(debt: DebtState, hotkey: string, chunk: EmissionChunk, atMs: number): void {
  const d = debt.traders.get(hotkey);
  if (!d) return;
  debt.traders.set(hotkey, {
    ...d,
    owed: payOwed(d.owed, chunk.usdMicro),
    attributedAlphaRao: d.attributedAlphaRao + chunk.alphaRao,
    pending: accrueEmission(d.pending, atMs, chunk),
  });
}

/**
 * The debt checkpoint closing with a trader's perf checkpoint: the emission pending up to its end,
 * the penalty and status now, and the debt as of its end (the record as of the trader's last mark,
 * less what was paid for emission that arrived after it). Changes the state (the pending emission
 * is taken), so it runs on replay too, where nothing is stored.
 */
export function closeDebtCheckpoint(state: State, hotkey: string, perf: PerfCheckpoint, maxDrawdown: number, status: DebtStatus): DebtCheckpoint | null {
  const { debt } = state;
  const d = debt.traders.get(hotkey);
  if (!d) return null;
  const { emission, pending } = takeEmission(d.pending, perf.ts_ms);
  if (pending !== d.pending) debt.traders.set(hotkey, { ...d, pending });
  let later = 0n;
  for (const p of pending) later += p.emission.usdMicro;
  const ppm = penaltyPpmOf(state, hotkey, maxDrawdown);
  const asOfEnd = debtOf({ ...d.owed, paidMicro: d.owed.paidMicro - later }, ppm);
  return debtCheckpoint(perf, emission, ppm, status, asOfEnd);
}

/**
 * The debt checkpoint still open for a funded trader, as it stands now: the perf checkpoint's
 * open view, every emission still pending, and the debt rolled to `nowMs` (nothing written).
 */
export function openDebtCheckpoint(state: State, hotkey: string, perf: PerfCheckpoint, status: DebtStatus, nowMs: number): DebtCheckpoint | null {
  const d = state.debt.traders.get(hotkey);
  const t = state.trading.traders.get(hotkey);
  if (!d || !t) return null;
  const { emission } = takeEmission(d.pending, Number.MAX_SAFE_INTEGER);
  return debtCheckpoint(perf, emission, penaltyPpmOf(state, hotkey, t.maxDrawdown), status, debtNow(state, hotkey, nowMs));
}

// ---- canonical encoding ---------------------------------------------------------------------------

type Encoded = Record<string, unknown>;

const big = (v: bigint) => v.toString();

export interface EncodedDebt {
  traders: Array<[string, Encoded]>;
  funded_ids: Array<[string, number[]]>;
  entities: Array<[string, Encoded]>;
  pending_attribution: Array<[string, Array<{ atMs: number; alphaRao: string; price: string[] }>]>;
  entity_debts: Array<[string, { atMs: number; owedMicro: string; paidMicro: string; remainingMicro: string }]>;
  payout_period: PayoutPeriod | null;
  scored: Encoded | null;
}

export function exportDebt(debt: DebtState): EncodedDebt {
  return {
    traders: debt.traders.sortedEntries().map(([k, d]) => [
      k,
      {
        fundedAtMs: d.fundedAtMs,
        owed: { ...d.owed, settledRealizedMicro: big(d.owed.settledRealizedMicro), pendingRealizedMicro: big(d.owed.pendingRealizedMicro), settledUnrealizedMicro: big(d.owed.settledUnrealizedMicro), paidMicro: big(d.owed.paidMicro) },
        attributedAlphaRao: big(d.attributedAlphaRao),
        pending: d.pending.map((p) => ({ ts_ms: p.ts_ms, alphaRao: big(p.emission.alphaRao), taoRao: big(p.emission.taoRao), usdMicro: big(p.emission.usdMicro) })),
      },
    ]),
    funded_ids: debt.fundedIds.sortedEntries().map(([k, ids]) => [k, [...ids]]),
    entities: debt.entities.sortedEntries().map(([k, e]) => [
      k,
      { paidAlphaRao: big(e.paidAlphaRao), attributedAlphaRao: big(e.attributedAlphaRao), unattributedAlphaRao: big(e.unattributedAlphaRao), pendingAlphaRao: big(e.pendingAlphaRao) },
    ]),
    entity_debts: debt.entityDebts.sortedEntries().map(([k, d]) => [k, { atMs: d.atMs, owedMicro: big(d.owedMicro), paidMicro: big(d.paidMicro), remainingMicro: big(d.remainingMicro) }]),
    pending_attribution: debt.pendingAttribution.sortedEntries().map(([k, list]) => [k, list.map((p) => ({ atMs: p.atMs, alphaRao: big(p.alphaRao), price: [p.price.subnetTaoRao, p.price.alphaInRao, p.price.microUsdPerTao].map(big) }))]),
    payout_period: debt.config.get("payout_period") ?? null,
    scored: encodeScored(debt.scored.get("last")),
  };
}

function encodeScored(s: ScoredWeights | undefined): Encoded | null {
  if (!s) return null;
  return { ...s, rows: s.rows.map((r) => ({ ...r, owedMicro: big(r.owedMicro), paidMicro: big(r.paidMicro), remainingMicro: big(r.remainingMicro) })) };
}

export function importDebt(encoded: EncodedDebt | undefined, journal: Journal): DebtState {
  const debt = createDebtState(journal);
  if (!encoded) return debt;
  for (const [k, d] of encoded.traders) {
    const o = d.owed as Record<string, string | number>;
    debt.traders.set(k, {
      fundedAtMs: d.fundedAtMs as number,
      owed: {
        period: o.period as number,
        settledRealizedMicro: BigInt(o.settledRealizedMicro as string),
        pendingRealizedMicro: BigInt(o.pendingRealizedMicro as string),
        settledUnrealizedMicro: BigInt(o.settledUnrealizedMicro as string),
        paidMicro: BigInt(o.paidMicro as string),
      },
      attributedAlphaRao: BigInt(d.attributedAlphaRao as string),
      pending: (d.pending as Array<Record<string, string | number>>).map((p) => ({
        ts_ms: p.ts_ms as number,
        emission: { alphaRao: BigInt(p.alphaRao as string), taoRao: BigInt(p.taoRao as string), usdMicro: BigInt(p.usdMicro as string) },
      })),
    });
  }
  for (const [k, ids] of encoded.funded_ids) debt.fundedIds.set(k, ids);
  for (const [k, e] of encoded.entities) {
    debt.entities.set(k, {
      paidAlphaRao: BigInt(e.paidAlphaRao as string),
      attributedAlphaRao: BigInt(e.attributedAlphaRao as string),
      unattributedAlphaRao: BigInt(e.unattributedAlphaRao as string),
      pendingAlphaRao: BigInt(e.pendingAlphaRao as string),
    });
  }
  for (const [k, d] of encoded.entity_debts) {
    debt.entityDebts.set(k, { atMs: d.atMs, owedMicro: BigInt(d.owedMicro), paidMicro: BigInt(d.paidMicro), remainingMicro: BigInt(d.remainingMicro) });
  }
  for (const [k, list] of encoded.pending_attribution) {
    debt.pendingAttribution.set(
      k,
      list.map((p) => {
        const [subnetTaoRao, alphaInRao, microUsdPerTao] = p.price.map((x) => BigInt(x)) as [bigint, bigint, bigint];
        return { atMs: p.atMs, alphaRao: BigInt(p.alphaRao), price: { subnetTaoRao, alphaInRao, microUsdPerTao } };
      }),
    );
  }
  if (encoded.payout_period) debt.config.set("payout_period", encoded.payout_period);
  if (encoded.scored) {
    const s = encoded.scored as unknown as Omit<ScoredWeights, "rows"> & { rows: Array<Record<string, unknown>> };
    debt.scored.set("last", {
      ...s,
      rows: s.rows.map((r) => ({
        ...(r as unknown as ScoredWeights["rows"][number]),
        owedMicro: BigInt(r.owedMicro as string),
        paidMicro: BigInt(r.paidMicro as string),
        remainingMicro: BigInt(r.remainingMicro as string),
      })),
    });
  }
  return debt;
}

/** Whether anything debt-related ever happened (older logs' state hashes leave the section out). */
export function debtUsed(debt: DebtState): boolean {
  return debt.traders.size > 0 || debt.fundedIds.size > 0 || debt.entityDebts.size > 0 || debt.pendingAttribution.size > 0 || debt.entities.size > 0 || debt.config.size > 0 || debt.scored.size > 0;
}

// ---- the payout period ----------------------------------------------------------------------------

/** The node's configured payout period, recorded once it differs from the log's (replay follows the log). */
export type SetPayoutPeriod = { kind: "set_payout_period"; ts: number; period: PayoutPeriod };

/**
 * A new payout period ends the current one at `ts`: what funded traders closed so far is settled
 * (owed from now on), and their records continue under the new period's numbering.
 */
export function applyPayoutPeriodSet(debt: DebtState, period: PayoutPeriod, ts: number, unrealizedUsdOf: (trader: string) => number): void {
  debt.config.set("payout_period", period);
  const index = periodIndex(period, ts);
  for (const trader of debt.traders.sortedKeys()) {
    const d = debt.traders.get(trader) as TraderDebt;
    debt.traders.set(trader, { ...d, owed: settleOwed(d.owed, index, unrealizedUsdOf(trader)) });
  }
}
