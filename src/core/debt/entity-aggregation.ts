import { AssertionFailure } from "../errors/errors.ts";
import { CHECKPOINT_MS } from "../perf/perf-checkpoint.ts";
import type { DebtCheckpoint } from "./debt-checkpoint.ts";

/**
 * The entity ledger (DESIGN.md §3.5, reference §6.3 with the later semantics): per checkpoint
 * timestamp, the aggregate of the checkpoints its subaccounts closed while active and funded.
 * The filter is each checkpoint's own status, so a subaccount counts from its pass to its
 * elimination and its frozen ledger keeps counting for those times after it is eliminated (the
 * entity's history does not change when a subaccount leaves). At each timestamp:
 * - sums: emissions, realized and unrealized PnL, fees, max portfolio value, time open, owed, paid;
 * - portfolio_return = Σ(return x max portfolio value) / Σ max portfolio value (the plain mean if
 *   that is 0);
 * - max_drawdown = the worst (largest) one; total_penalty = the smallest; accum_ms = the longest;
 * - status = "entity".
 * Timestamps where no subaccount was funded have no entity checkpoint. Floats are summed in
 * subaccount id order.
 */
export interface SubaccountLedger {
  id: number;
  checkpoints: readonly DebtCheckpoint[];
}

export function aggregateEntity(subaccounts: readonly SubaccountLedger[]): DebtCheckpoint[] {
  const ledgers = [...subaccounts].sort((a, b) => a.id - b.id);
  let first = Infinity;
  let last = -Infinity;
  for (const l of ledgers) {
    for (const c of l.checkpoints) {
      if (c.status !== "funded") continue;
      if (c.ts_ms < first) first = c.ts_ms;
      if (c.ts_ms > last) last = c.ts_ms;
    }
  }
  if (first > last) return [];
  // Checkpoints are 12-hour aligned: a timestamp is an index into dense columns.
  const n = (last - first) / CHECKPOINT_MS + 1;
  const count = new Uint32Array(n);
  const realized = new Float64Array(n);
  const unrealized = new Float64Array(n);
  const fees = new Float64Array(n);
  const mpv = new Float64Array(n);
  const weightedReturn = new Float64Array(n);
  const plainReturn = new Float64Array(n);
  const drawdown = new Float64Array(n);
  const openMs = new Float64Array(n);
  const accumMs = new Float64Array(n);
  const penalty = new Float64Array(n);
  const alpha: bigint[] = new Array<bigint>(n).fill(0n);
  const tao: bigint[] = new Array<bigint>(n).fill(0n);
  const usd: bigint[] = new Array<bigint>(n).fill(0n);
  const owed: bigint[] = new Array<bigint>(n).fill(0n);
  const paid: bigint[] = new Array<bigint>(n).fill(0n);
  for (const l of ledgers) {
    for (const c of l.checkpoints) {
      if (c.status !== "funded") continue;
      const i = (c.ts_ms - first) / CHECKPOINT_MS;
      if (!Number.isInteger(i)) throw new AssertionFailure(`aggregateEntity: subaccount ${l.id} has a checkpoint at ${c.ts_ms}, off the 12-hour grid`);
      const seen = count[i] as number;
      count[i] = seen + 1;
      // Most checkpoints hold no emission, owed or paid: skip their bigint adds.
      if (c.emission_alpha_rao !== 0n) alpha[i] = (alpha[i] as bigint) + c.emission_alpha_rao;
      if (c.emission_tao_rao !== 0n) tao[i] = (tao[i] as bigint) + c.emission_tao_rao;
      if (c.emission_usd_micro !== 0n) usd[i] = (usd[i] as bigint) + c.emission_usd_micro;
      if (c.owed_usd_micro !== 0n) owed[i] = (owed[i] as bigint) + c.owed_usd_micro;
      if (c.paid_usd_micro !== 0n) paid[i] = (paid[i] as bigint) + c.paid_usd_micro;
      realized[i] = (realized[i] as number) + c.realized_pnl_usd;
      unrealized[i] = (unrealized[i] as number) + c.unrealized_pnl_usd;
      fees[i] = (fees[i] as number) + c.fees_usd;
      mpv[i] = (mpv[i] as number) + c.max_portfolio_value;
      weightedReturn[i] = (weightedReturn[i] as number) + c.portfolio_return * c.max_portfolio_value;
      plainReturn[i] = (plainReturn[i] as number) + c.portfolio_return;
      openMs[i] = (openMs[i] as number) + c.open_ms;
      if (seen === 0 || c.max_drawdown > (drawdown[i] as number)) drawdown[i] = c.max_drawdown;
      if (seen === 0 || c.accum_ms > (accumMs[i] as number)) accumMs[i] = c.accum_ms;
      if (seen === 0 || c.total_penalty_ppm < (penalty[i] as number)) penalty[i] = c.total_penalty_ppm;
    }
  }
  const out: DebtCheckpoint[] = [];
  for (let i = 0; i < n; i++) {
    const k = count[i] as number;
    if (k === 0) continue;
    const value = mpv[i] as number;
    out.push({
      ts_ms: first + i * CHECKPOINT_MS,
      emission_alpha_rao: alpha[i] as bigint,
      emission_tao_rao: tao[i] as bigint,
      emission_usd_micro: usd[i] as bigint,
      realized_pnl_usd: realized[i] as number,
      unrealized_pnl_usd: unrealized[i] as number,
      fees_usd: fees[i] as number,
      portfolio_return: value !== 0 ? (weightedReturn[i] as number) / value : (plainReturn[i] as number) / k,
      max_drawdown: drawdown[i] as number,
      max_portfolio_value: value,
      open_ms: openMs[i] as number,
      accum_ms: accumMs[i] as number,
      total_penalty_ppm: penalty[i] as number,
      status: "entity",
      owed_usd_micro: owed[i] as bigint,
      paid_usd_micro: paid[i] as bigint,
    });
  }
  return out;
}
