/**
 * The drand quicknet round a timelocked weights commit is encrypted to, computed as the Bittensor
 * SDK computes it (bittensor-drand `generate_commit` / `generate_commit_v2`): find the first block
 * of the epoch in which the chain will reveal the commit, aim 3 blocks past it (so that the pulse
 * is already on chain when the reveal runs), turn the blocks until then into seconds at the
 * nominal block time, and take the quicknet round of that moment, rounded down. Pure: the wall
 * clock and the chain state are inputs.
 */

/** drand quicknet, the beacon Subtensor's Drand pallet stores and reveals commits with. */
export const QUICKNET = {
  genesisSeconds: 1_692_803_367,
  periodSeconds: 3,
  chainHash: "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
  /** The beacon's public key: a compressed G2 point, 96 bytes. */
  publicKeyHex:
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
} as const;

/** Blocks past the first reveal block the SDK aims the round at (bittensor-drand SECURITY_BLOCK_OFFSET). */
export const SECURITY_BLOCK_OFFSET = 3;
/** The largest tempo a subnet owner may set (bittensor-drand MAX_TEMPO): bounds the schedule simulation. */
export const MAX_TEMPO = 50_400;

/** Up to runtime v3.3.x an epoch fired when (block + netuid + 1) % (tempo + 1) == 0. */
export interface FixedTempo {
  /** The storage index (netuid + mechanism × 4096) the commit is for; the SDK passes it as netuid. */
  netuid: number;
  tempo: number;
  /** The chain head the commit is built at. */
  currentBlock: number;
}

/**
 * The first block of the reveal epoch under the fixed-tempo rule (bittensor-drand
 * `generate_commit`, Subtensor `get_reveal_blocks`): the epoch of the current block plus the
 * reveal period, and that epoch's first block.
 */
export function firstRevealBlockFixedTempo(at: FixedTempo, revealPeriodEpochs: number): number {
  const tempoPlusOne = at.tempo + 1;
  const netuidPlusOne = at.netuid + 1;
  const currentEpoch = Math.floor((at.currentBlock + netuidPlusOne) / tempoPlusOne);
  const revealEpoch = currentEpoch + revealPeriodEpochs;
  return Math.max(0, revealEpoch * tempoPlusOne - netuidPlusOne);
}

/**
 * The stateful ("dynamic tempo") schedule of runtimes from v3.4.8: an epoch fires when a pending
 * epoch is due, when too many blocks passed since the last step, or when `tempo` blocks passed
 * since `LastEpochBlock`. The fields are the storage items of the same names at `currentBlock`.
 */
export interface EpochSchedule {
  lastEpochBlock: number;
  pendingEpochAt: number;
  subnetEpochIndex: number;
  tempo: number;
  blocksSinceLastStep: number;
  currentBlock: number;
}

export class RevealBlockNotFound extends Error {
  override readonly name = "RevealBlockNotFound";
  readonly code = "RevealBlockNotFound";
}

function epochFires(s: EpochSchedule, block: number): boolean {
  if (s.tempo === 0) return false;
  if (s.pendingEpochAt > 0 && block >= s.pendingEpochAt) return true;
  if (s.blocksSinceLastStep > MAX_TEMPO) return true;
  return Math.max(0, block - s.lastEpochBlock) >= s.tempo;
}

/** The epoch index reveals see in `block`: they run before that block's coinbase. */
function epochBeforeCoinbase(s: EpochSchedule, block: number): number {
  return epochFires(s, block) ? s.subnetEpochIndex + 1 : s.subnetEpochIndex;
}

function afterCoinbase(s: EpochSchedule, block: number): EpochSchedule {
  const next = { ...s, blocksSinceLastStep: s.blocksSinceLastStep + 1, currentBlock: block };
  if (!epochFires(next, block)) return next;
  return { ...next, lastEpochBlock: block, pendingEpochAt: 0, subnetEpochIndex: next.subnetEpochIndex + 1, blocksSinceLastStep: 0 };
}

/**
 * The first block of the reveal epoch under the stateful schedule (bittensor-drand
 * `predict_first_reveal_block`): the commit lands in the block after the head, in the epoch that
 * block's coinbase leaves; the chain reveals it in the first block whose pre-coinbase epoch is
 * that epoch plus the reveal period. Simulated block by block, at most (period + 1) × MAX_TEMPO.
 */
export function firstRevealBlockScheduled(head: EpochSchedule, revealPeriodEpochs: number): number {
  if (head.tempo === 0) throw new RevealBlockNotFound("tempo is 0: the subnet runs no epochs, so a commit would never be revealed");
  const extrinsicBlock = head.currentBlock + 1;
  const target = epochBeforeCoinbase(head, extrinsicBlock) + revealPeriodEpochs;
  const last = extrinsicBlock + revealPeriodEpochs * MAX_TEMPO + MAX_TEMPO;
  let state = head;
  for (let block = extrinsicBlock; block <= last; block++) {
    if (epochBeforeCoinbase(state, block) === target) return block;
    state = afterCoinbase(state, block);
  }
  throw new RevealBlockNotFound(`no reveal block within ${last - extrinsicBlock} blocks of ${extrinsicBlock}`);
}

/**
 * The quicknet round to encrypt to: the round current when block `firstRevealBlock + 3` is
 * expected (now plus the blocks until then at `blockTimeSeconds` each), rounded down, at least 1.
 */
export function revealRound(firstRevealBlock: number, currentBlock: number, blockTimeSeconds: number, nowMs: number): number {
  const blocksUntil = Math.max(0, firstRevealBlock + SECURITY_BLOCK_OFFSET - currentBlock);
  const targetSeconds = nowMs / 1000 + blocksUntil * blockTimeSeconds;
  const round = Math.floor((targetSeconds - QUICKNET.genesisSeconds) / QUICKNET.periodSeconds);
  return Math.max(1, round);
}

