/**
 * What the chain said at one epoch of one subnet: the facts the node records in its log (the core
 * builds its `observe_chain_epoch` command from these), so replay never asks the chain.
 */
export interface ObservedEpoch {
  netuid: number;
  /** The block whose LastMechansimStepBlock changed: the epoch block. */
  block: number;
  blockHash: string;
  /** Timestamp.Now at that block, ms. */
  timestampMs: number;
  /** index = uid */
  hotkeys: string[];
  /** alpha paid to each uid at this epoch, rao as decimal strings, index = uid */
  alphaPaid: string[];
  source: "IncentiveAlphaEmittedToMiners" | "Emission";
  subnetTaoRao: string;
  subnetAlphaInRao: string;
}

/**
 * An epoch as the reader returns it: with the subnet owner's hotkey at that block (the incentive
 * of a uid the owner holds is burned or recycled, not paid, so the core needs to know it).
 */
export interface ObservedEpochWithOwner extends ObservedEpoch {
  ownerHotkey: string | null;
}

/**
 * Epochs that could not be observed: any epoch at a block b with afterBlock < b < beforeBlock is
 * missing from the record (there may be none, one or several; `reason` says what is known).
 */
export interface EpochGap { netuid: number; afterBlock: number; beforeBlock: number; reason: string }

export type EpochObservation = { kind: "epoch"; epoch: ObservedEpoch } | { kind: "gap"; gap: EpochGap };

/** What the observer delivers: an `EpochObservation` whose epochs also name the subnet owner. */
export type EpochObservationWithOwner = { kind: "epoch"; epoch: ObservedEpochWithOwner } | { kind: "gap"; gap: EpochGap };
