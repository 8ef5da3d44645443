/**
 * The obvious stake-weighted κ-quantile: sort each column's staked rows, highest value first
 * (ties by lower uid), and walk until the stake reaches κ. Yuma's selection must agree with it;
 * the Yuma bench uses it as the baseline.
 */
export function sortedConsensus(n: number, w: Float64Array, active: Float64Array, kappa: number): Float64Array {
  const out = new Float64Array(n);
  const rows = Array.from({ length: n }, (_, i) => i).filter((i) => (active[i] as number) > 0);
  if (rows.length === 0) return out;
  for (let j = 0; j < n; j++) {
    const order = rows.slice().sort((a, b) => {
      const va = w[a * n + j] as number;
      const vb = w[b * n + j] as number;
      return va > vb ? -1 : va < vb ? 1 : a - b;
    });
    let acc = 0;
    let value = 0;
    for (const i of order) {
      acc += active[i] as number;
      value = w[i * n + j] as number;
      if (acc >= kappa) break;
    }
    out[j] = value;
  }
  return out;
}
