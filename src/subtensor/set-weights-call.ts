import type { ApiPromise } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import { u8aToHex } from "@polkadot/util";
import type { EmittedWeights } from "./weights-for-emit.ts";

/** The commit-reveal version whose payload this adapter writes (WeightsTlockPayload, drand quicknet). */
export const COMMIT_REVEAL_VERSION = 4;
/** The chain's bound on a timelocked commit (`BoundedVec<u8, ConstU32<MAX_CRV3_COMMIT_SIZE_BYTES>>`). */
export const MAX_COMMIT_BYTES = 5_000;

/** The runtime lacks a call this adapter needs (a runtime it was not built for). */
export class WeightsCallMissing extends Error {
  override readonly name = "WeightsCallMissing";
  readonly code = "WeightsCallMissing";
}

type Tx = SubmittableExtrinsic<"promise">;

function call(api: ApiPromise, method: "setWeights" | "commitTimelockedWeights"): (...args: unknown[]) => Tx {
  const fn = api.tx.subtensorModule?.[method];
  if (!fn) throw new WeightsCallMissing(`the chain's runtime has no SubtensorModule.${method}: it is not a Subtensor runtime this adapter knows`);
  return fn as (...args: unknown[]) => Tx;
}

/**
 * The weights extrinsics, built from the chain's metadata (polkadot-js `api.tx`), never from
 * hand-written SCALE. Both are signed by the validator's hotkey and are free (`Pays::No`).
 */
export const weightsCalls = {
  /** `SubtensorModule.set_weights(netuid, dests, weights, version_key)`: when commit-reveal is off. */
  setWeights(api: ApiPromise, netuid: number, weights: EmittedWeights, versionKey: bigint): Tx {
    return call(api, "setWeights")(netuid, weights.uids, weights.values, versionKey);
  },

  /**
   * `SubtensorModule.commit_timelocked_weights(netuid, commit, reveal_round, commit_reveal_version)`:
   * when commit-reveal is on. The chain decrypts `commit` with drand's pulse of `revealRound` in the
   * reveal epoch and sets the weights itself.
   */
  commitTimelockedWeights(api: ApiPromise, netuid: number, commit: Uint8Array, revealRound: number, commitRevealVersion = COMMIT_REVEAL_VERSION): Tx {
    // a hex string: polkadot-js reads a Uint8Array given for Vec<u8> as already length-prefixed
    return call(api, "commitTimelockedWeights")(netuid, u8aToHex(commit), revealRound, commitRevealVersion);
  },
};
