import { alpha } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { account, head, key, params } from "./chain-state.ts";
import { type Effect, VALIDATOR_TAKE } from "./effects.ts";
import { U16_MAX } from "./emission.ts";
import { MAX_NEURONS, splitByLargestRemainder, yumaEpoch } from "./yuma.ts";

/**
 * A subnet's epoch (Subtensor's `epoch` + `distribute_emission`): Yuma consensus over stake,
 * weights and bonds decides each uid's share of the pending emission; the shares become rao by
 * floor plus largest remainder and are recorded in the effect, so replay never re-runs Yuma.
 * Pending emission that nobody can be paid (no incentive, no dividends, no stake) is drained and
 * recycled: upstream drains it too and pays it to no one.
 */
export function decideEpoch(state: State, netuid: number): Effect | null {
  const { ledger, chain } = state;
  const s = chain.subnets.get(netuid);
  if (!s) return null;
  const a = alpha(netuid);
  const n = s.neuronCount;
  if (n > MAX_NEURONS) {
    // Yuma takes at most MAX_NEURONS (the parameter bound keeps subnets there): refuse, never
    // throw inside the block. The pending emission keeps accumulating, as upstream's EpochSkipped.
    const skipped = `subnet ${netuid} has ${n} neurons, more than the ${MAX_NEURONS} Yuma takes`;
    return { k: "epoch", netuid, drained_server: 0n, drained_validator: 0n, owner_cut: 0n, recycled: 0n, skipped, pays: [], bonds: [], incentive: [], dividends: [] };
  }
  const pendingServer = ledger.balanceOf(a, account.pendingServer(netuid));
  const pendingValidator = ledger.balanceOf(a, account.pendingValidator(netuid));
  const ownerCut = ledger.balanceOf(a, account.pendingOwnerCut(netuid));
  const stake = new Float64Array(n);
  const weights = new Float64Array(n * n);
  const bondsIn = new Float64Array(n * n);
  // Subtensor masks weights set at or before the block their target registered
  // (`last_update <= block_at_registration`): they were meant for the uid's previous neuron.
  const neurons = Array.from({ length: n }, (_, uid) => chain.neurons.get(key.neuron(netuid, uid)));
  // Upstream's activity: a neuron whose last weights (or registration) are more than the cutoff
  // old does not vote; its stake is masked out of consensus.
  const block = head(chain).block + 1;
  const cutoff = params(chain).activityCutoff;
  for (let uid = 0; uid < n; uid++) {
    const neuron = neurons[uid];
    if (!neuron) continue;
    const w = chain.weights.get(key.neuron(netuid, uid));
    const lastUpdate = w?.block ?? neuron.registeredAt;
    if (lastUpdate + cutoff >= block) stake[uid] = Number(chain.pools.get(key.hotkey(netuid, neuron.hotkey))?.value ?? 0n);
    if (!w) continue;
    w.uids.forEach((j, i) => {
      const target = j < n ? neurons[j] : undefined;
      if (target && w.block > target.registeredAt) weights[uid * n + j] = w.values[i] as number;
    });
  }
  const stored = chain.bonds.get(netuid);
  if (stored && stored.length === n * n) for (let i = 0; i < n * n; i++) bondsIn[i] = stored[i] as number;
  const out = n > 0 ? yumaEpoch({ n, stake, weights, bonds: bondsIn }) : null;

  const sum = (v: Float64Array | null) => (v ? v.reduce((x, y) => x + y, 0) : 0);
  const incentiveSum = sum(out?.incentive ?? null);
  // Dividends pay validators; with none, fall back to stake; with no stake, nobody is paid.
  let dividendShares: Float64Array | null = out && sum(out.dividends) > 0 ? out.dividends : null;
  if (!dividendShares && sum(stake) > 0) dividendShares = stake;
  const serverTotal = incentiveSum > 0 ? pendingServer : 0n;
  const validatorTotal = dividendShares ? pendingValidator + (incentiveSum > 0 ? 0n : pendingServer) : 0n;
  const incentivePay = out && incentiveSum > 0 ? splitByLargestRemainder(serverTotal, out.incentive) : new Array<bigint>(n).fill(0n);
  const dividendPay = dividendShares ? splitByLargestRemainder(validatorTotal, dividendShares) : new Array<bigint>(n).fill(0n);
  const pays: Array<[number, bigint, bigint, bigint]> = [];
  let paid = 0n;
  for (let uid = 0; uid < n; uid++) {
    const inc = incentivePay[uid] as bigint;
    const div = dividendPay[uid] as bigint;
    if (inc === 0n && div === 0n) continue;
    const take = (div * VALIDATOR_TAKE) / U16_MAX;
    pays.push([uid, inc, take, (div - take)]);
    paid += inc + div;
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
    drained_server: pendingServer,
    drained_validator: pendingValidator,
    owner_cut: ownerCut,
    recycled: pendingServer + pendingValidator - paid,
    pays,
    bonds,
    incentive: out ? Array.from(out.incentive) : [],
    dividends: out ? Array.from(out.dividends) : [],
  };
}

