import { roundHalfEven, U16_MAX } from "../core/debt/scoring.ts";

/** Weights the Bittensor SDK would put on chain: u16 values, by uid, zeros dropped. */
export interface EmittedWeights {
  uids: number[];
  values: number[];
}

/** The vector cannot go on chain at all (a negative uid or weight, lengths that differ). */
export class WeightsNotEmittable extends Error {
  override readonly name = "WeightsNotEmittable";
  readonly code = "WeightsNotEmittable";
}

/**
 * The Python SDK's `convert_weights_and_uids_for_emit` (bittensor `utils/weight_utils.py`), step
 * for step, so that a vector set here is the one the SDK would set: each weight divided by the
 * largest (max-upscale to 1), times 65535, rounded as Python's `round` (half to even), zeros
 * dropped with their uids; nothing at all when the weights sum to 0. The chain max-upscales
 * again on its side, so only the ratios matter; doing it here keeps the u16 resolution.
 */
export function weightsForEmit(uids: readonly number[], weights: readonly number[]): EmittedWeights {
  if (uids.length !== weights.length) {
    throw new WeightsNotEmittable(`weights and uids must have the same length, got ${uids.length} and ${weights.length}`);
  }
  let sum = 0;
  let max = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    const uid = uids[i] as number;
    if (!Number.isFinite(w) || w < 0) throw new WeightsNotEmittable(`weight ${w} (uid ${uid}) is negative or not a number: it cannot exist on chain`);
    if (!Number.isInteger(uid) || uid < 0 || uid > U16_MAX) throw new WeightsNotEmittable(`uid ${uid} is not a u16: it cannot exist on chain`);
    sum += w;
    if (w > max) max = w;
  }
  const out: EmittedWeights = { uids: [], values: [] };
  if (sum === 0) return out;
  for (let i = 0; i < weights.length; i++) {
    // Divided first, then scaled, as the SDK does: the order changes the last bit of some values.
    const value = roundHalfEven(((weights[i] as number) / max) * U16_MAX);
    if (value !== 0) {
      out.uids.push(uids[i] as number);
      out.values.push(value);
    }
  }
  return out;
}
