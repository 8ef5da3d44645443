import { alpha } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { account, key } from "./chain-state.ts";
import { type Effect, VALIDATOR_TAKE } from "./effects.ts";
import { U16_MAX } from "./emission.ts";
import { splitByLargestRemainder, yumaEpoch } from "./yuma.ts";

/**
 * A subnet's epoch (Subtensor's `epoch` + `distribute_emission`): Yuma consensus over stake,
 * weights and bonds decides each uid's share of the pending emission; the shares become rao by
 * floor plus largest remainder and are recorded in the effect, so replay never re-runs Yuma.
 */
export function decideEpoch(state: State, netuid: number): Effect | null {
  const { ledger, chain } = state;
  const s = chain.subnets.get(netuid);
  if (!s) return null;
  const a = alpha(netuid);
  const n = s.neuronCount;
  const pendingServer = ledger.balanceOf(a, account.pendingServer(netuid));
  const pendingValidator = ledger.balanceOf(a, account.pendingValidator(netuid));
  const ownerCut = ledger.balanceOf(a, account.pendingOwnerCut(netuid));
  const stake = new Float64Array(n);
  const weights = new Float64Array(n * n);
  const bondsIn = new Float64Array(n * n);
  for (let uid = 0; uid < n; uid++) {
    const neuron = chain.neurons.get(key.neuron(netuid, uid));
    if (!neuron) continue;
    stake[uid] = Number(chain.pools.get(key.hotkey(netuid, neuron.hotkey))?.value ?? 0n);
    const w = chain.weights.get(key.neuron(netuid, uid));
    if (w) w.uids.forEach((j, i) => j < n && (weights[uid * n + j] = w.values[i] as number));
  }
  const stored = chain.bonds.get(netuid);
  if (stored && stored.length === n * n) for (let i = 0; i < n * n; i++) bondsIn[i] = stored[i] as number;
  const out = n > 0 ? yumaEpoch({ n, stake, weights, bonds: bondsIn }) : null;

  const sum = (v: Float64Array | null) => (v ? v.reduce((x, y) => x + y, 0) : 0);
  const incentiveSum = sum(out?.incentive ?? null);
  // Dividends pay validators; with none, fall back to stake; with no stake, keep the pending.
  let dividendShares: Float64Array | null = out && sum(out.dividends) > 0 ? out.dividends : null;
  if (!dividendShares && sum(stake) > 0) dividendShares = stake;
  const serverTotal = incentiveSum > 0 ? pendingServer : 0n;
  const validatorTotal = dividendShares ? pendingValidator + (incentiveSum > 0 ? 0n : pendingServer) : 0n;
  const incentivePay = out && incentiveSum > 0 ? splitByLargestRemainder(serverTotal, out.incentive) : new Array<bigint>(n).fill(0n);
  const dividendPay = dividendShares ? splitByLargestRemainder(validatorTotal, dividendShares) : new Array<bigint>(n).fill(0n);
  const pays: Array<[number, bigint, bigint, bigint]> = [];
  for (let uid = 0; uid < n; uid++) {
    const inc = incentivePay[uid] as bigint;
    const div = dividendPay[uid] as bigint;
    if (inc === 0n && div === 0n) continue;
    const take = (div * VALIDATOR_TAKE) / U16_MAX;
    pays.push([uid, inc, take, (div - take)]);
  }
  const bonds: number[] = [];
  if (out) {
    // Stored as Subtensor stores them: each column max-upscaled to u16. Only validators' rows can
    // hold bonds (Yuma clears the others), so only those rows are visited, in row order.
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (out.validatorPermit[i] === 1) rows.push(i);
    const max = new Float64Array(n);
    for (const i of rows) {
      for (let j = 0; j < n; j++) {
        const b = out.bonds[i * n + j] as number;
        if (b > (max[j] as number)) max[j] = b;
      }
    }
    for (const i of rows) {
      for (let j = 0; j < n; j++) {
        const m = max[j] as number;
        if (m === 0) continue;
        const q = Math.floor(((out.bonds[i * n + j] as number) / m) * 65_535 + 0.5);
        if (q > 0) bonds.push(i, j, q);
      }
    }
  }
  return {
    k: "epoch",
    netuid,
    drained_server: incentiveSum > 0 || dividendShares ? pendingServer : 0n,
    drained_validator: dividendShares ? pendingValidator : 0n,
    owner_cut: ownerCut,
    pays,
    bonds,
    incentive: out ? Array.from(out.incentive) : [],
    dividends: out ? Array.from(out.dividends) : [],
  };
}

