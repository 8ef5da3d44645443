import { DEFAULT_YUMA_PARAMS, stakeWeightedConsensus, type YumaInput, yumaEpoch } from "../src/core/chain/yuma.ts";
import { sortedConsensus } from "../test/support/yuma-reference.ts";

/**
 * One Yuma epoch on a full subnet (256 uids, 64 validators with dense weights), chaining bonds
 * from epoch to epoch, against the obvious alternative for the consensus step: sorting each
 * column instead of selecting. Budget: 8 subnets × 5,000 blocks/s / (tempo 360 + 1) ≈ 111
 * epochs/s, so one epoch should stay well under 2 ms.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const n = Number(args.neurons ?? 256);
  const validators = Number(args.validators ?? 64);
  const epochs = Number(args.epochs ?? 200);
  const seed = Number(args.seed ?? 42);

  // xorshift32: the weights only need to look random and be the same every run.
  let x = seed | 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };

  const p50 = (xs: number[]): number => {
    const s = xs.slice().sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] as number;
  };

  // Validators score miners around a shared truth plus their own noise, so clipping happens.
  const truth = Float64Array.from({ length: n }, () => rnd());
  const subnet = (v: number): { stake: Float64Array; weights: Float64Array[] } => {
    const stake = new Float64Array(n);
    for (let i = 0; i < v; i++) stake[i] = 1_000 + Math.floor(rnd() * 1_000_000);
    const weights = Array.from({ length: 8 }, () => {
      const w = new Float64Array(n * n);
      for (let i = 0; i < v; i++) {
        for (let j = 0; j < n; j++) w[i * n + j] = Math.floor(65_535 * (0.7 * (truth[j] as number) + 0.3 * rnd()));
      }
      return w;
    });
    return { stake, weights };
  };

  // Epochs: new weights each time (as validators re-score), bonds carried over.
  const timeEpochs = (v: number, count: number): number[] => {
    const { stake, weights } = subnet(v);
    let input: YumaInput = { n, stake, weights: weights[0] as Float64Array, bonds: new Float64Array(n * n) };
    const times: number[] = [];
    for (let e = 0; e < 30 + count; e++) {
      input = { ...input, weights: weights[e % weights.length] as Float64Array };
      const t = performance.now();
      const out = yumaEpoch(input);
      if (e >= 30) times.push(performance.now() - t);
      input = { ...input, bonds: out.bonds };
    }
    return times;
  };
  const epochTimes = timeEpochs(validators, epochs);
  // The chain's default allows 128 validators: the same subnet with all of them in use.
  const fullValidators = Math.min(n, DEFAULT_YUMA_PARAMS.maxValidators);
  const fullTimes = timeEpochs(fullValidators, epochs);
  const { stake, weights } = subnet(validators);

  // Consensus step alone, on the same row-normalised weights the epoch builds.
  const active = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < validators; i++) total += stake[i] as number;
  for (let i = 0; i < validators; i++) active[i] = (stake[i] as number) / total;
  const w = weights[0] as Float64Array;
  const normalised = new Float64Array(n * n);
  for (let i = 0; i < validators; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) if (j !== i) sum += w[i * n + j] as number;
    for (let j = 0; j < n; j++) if (j !== i) normalised[i * n + j] = (w[i * n + j] as number) / sum;
  }
  const kappa = DEFAULT_YUMA_PARAMS.kappa;
  const timeIt = (f: () => Float64Array): { ms: number; out: Float64Array } => {
    let out = f();
    for (let r = 0; r < 20; r++) out = f();
    const times: number[] = [];
    for (let r = 0; r < epochs; r++) {
      const t = performance.now();
      out = f();
      times.push(performance.now() - t);
    }
    return { ms: p50(times), out };
  };
  const select = timeIt(() => stakeWeightedConsensus(n, normalised, active, kappa));
  const sorted = timeIt(() => sortedConsensus(n, normalised, active, kappa));
  for (let j = 0; j < n; j++) {
    if (select.out[j] !== sorted.out[j]) throw new Error(`consensus mismatch at column ${j}`);
  }

  // Machine yardstick: one column-normalising pass over an n*n matrix (two reads, one write per
  // cell), so the epoch can be read as "so many matrix passes" on any machine.
  const scratch = new Float64Array(n * n);
  const colSum = new Float64Array(n);
  const pass = timeIt(() => {
    colSum.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) colSum[j] = (colSum[j] as number) + (normalised[i * n + j] as number);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const c = colSum[j] as number;
        scratch[i * n + j] = c > 0 ? (normalised[i * n + j] as number) / c : 0;
      }
    }
    return scratch;
  });

  const epochMs = p50(epochTimes);
  const epochsPerSecondNeeded = (8 * 5_000) / 361;
  return {
    neurons: n,
    validators,
    epochs,
    epoch_ms_p50: Number(epochMs.toFixed(3)),
    epoch_ms_p90: Number(epochTimes.slice().sort((a, b) => a - b)[Math.floor(epochTimes.length * 0.9)]?.toFixed(3)),
    max_validators: fullValidators,
    epoch_ms_p50_max_validators: Number(p50(fullTimes).toFixed(3)),
    baseline_matrix_pass_ms_p50: Number(pass.ms.toFixed(4)),
    epoch_in_matrix_passes: Number((epochMs / pass.ms).toFixed(1)),
    core_share_at_111_epochs_per_s: Number(((epochMs * epochsPerSecondNeeded) / 1000).toFixed(4)),
    consensus_select_ms_p50: Number(select.ms.toFixed(4)),
    baseline_consensus_sort_ms_p50: Number(sorted.ms.toFixed(4)),
    // > 1 means selecting is faster than sorting.
    ratio_select_vs_sort: Number((sorted.ms / select.ms).toFixed(2)),
  };
}

