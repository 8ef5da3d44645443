import type { Effect } from "../core/chain/effects.ts";

/**
 * The API's ChainEvents (`{ block, type, data }`, API.md "Chain") from a block's recorded effects.
 * `data` holds the effect's fields as recorded (amounts stay strings of rao), without the effect
 * kind and the extrinsic index; an epoch's payouts become objects and its bonds matrix (storage,
 * up to n*n entries) is left out. Bookkeeping effects (`head`, genesis `subnet`) are not events.
 */
export const EVENT_TYPE_OF_EFFECT = {
  coinbase: "Coinbase",
  paused_recycle: "PausedEmissionRecycled",
  epoch: "EpochRan",
  transfer: "Transfer",
  register: "NeuronRegistered",
  stake_added: "StakeAdded",
  stake_removed: "StakeRemoved",
  weights: "WeightsSet",
  collateral_deposit: "CollateralDeposited",
  collateral_withdraw: "CollateralWithdrawn",
  violation: "CriticalInvariantViolation",
  paused: "SubnetEmissionPaused",
  resumed: "SubnetEmissionResumed",
  parameter: "ParameterSet",
  failed: "ExtrinsicFailed",
} as const satisfies Partial<Record<Effect["k"], string>>;

type EventfulKind = keyof typeof EVENT_TYPE_OF_EFFECT;

export type ChainEventType = (typeof EVENT_TYPE_OF_EFFECT)[EventfulKind];

export const CHAIN_EVENT_TYPES = Object.values(EVENT_TYPE_OF_EFFECT) as [ChainEventType, ...ChainEventType[]];

export type ChainEventData = Record<string, unknown>;

export interface ChainEvent {
  block: number;
  type: ChainEventType;
  data: ChainEventData;
}

function isEventful(kind: Effect["k"]): kind is EventfulKind {
  return Object.hasOwn(EVENT_TYPE_OF_EFFECT, kind);
}

function dataOf(effect: Effect): ChainEventData {
  const { k: _k, x: _x, ...rest } = effect as Effect & Record<string, unknown>;
  if (effect.k === "epoch") {
    const { bonds: _bonds, pays, ...epoch } = rest as Record<string, unknown> & { pays: Array<[number, string, string, string]> };
    return {
      ...epoch,
      pays: pays.map(([uid, incentive, take, shared]) => ({
        uid,
        incentive_rao: incentive,
        validator_take_rao: take,
        nominators_rao: shared,
      })),
    };
  }
  return rest;
}

/** One block's effects as ChainEvents, in order. */
export function toChainEvents(block: number, effects: readonly Effect[]): ChainEvent[] {
  const out: ChainEvent[] = [];
  for (const effect of effects) {
    if (!isEventful(effect.k)) continue;
    out.push({ block, type: EVENT_TYPE_OF_EFFECT[effect.k], data: dataOf(effect) });
  }
  return out;
}

/** The stored type of a block's event in the log. */
export const BLOCK_EVENT_TYPE = "BlockProduced@1";

/** The ChainEvents of one stored BlockProduced@1 row's payload (`{ n, ts, effects }`). */
export function chainEventsOfPayload(payload: string): ChainEvent[] {
  const block = JSON.parse(payload) as { n: number; effects?: Effect[] };
  return toChainEvents(block.n, block.effects ?? []);
}

/** What finding a block in the log reads: a row by seq, and rows after a seq. */
export interface LogRows {
  eventAt(seq: number): Promise<{ ts: number } | null>;
  read(after: number, limit: number): Promise<Array<{ seq: number; ts: number; type: string; payload: string }>>;
}

/** Rows read past the block's time before giving up: only rows sealed while its block was made lie between. */
const MAX_ROWS_AFTER_TIME = 10_000;

/**
 * One extrinsic's effects as its block recorded them, read back from the log (an Idempotency-Key
 * repeat answers with them, after a restart too). Rows are in time order (the node clock is
 * monotonic and a row is sealed after its block's time), so the first row at or after the block's
 * time is found by bisection, and the block's own row is a few rows on. Null if the log lacks it.
 */
export async function extrinsicEffectsInLog(log: LogRows, headSeq: number, at: { block: number; index: number; ts: number }): Promise<Effect[] | null> {
  let lo = 1;
  let hi = headSeq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (((await log.eventAt(mid))?.ts ?? Number.POSITIVE_INFINITY) < at.ts) lo = mid + 1;
    else hi = mid;
  }
  let cursor = lo - 1;
  for (let scanned = 0; scanned < MAX_ROWS_AFTER_TIME && cursor < headSeq; ) {
    const rows = await log.read(cursor, 256);
    if (rows.length === 0) return null;
    for (const row of rows) {
      cursor = row.seq;
      scanned++;
      if (row.type !== BLOCK_EVENT_TYPE) continue;
      const block = JSON.parse(row.payload) as { n: number; effects?: Effect[] };
      if (block.n > at.block) return null;
      if (block.n === at.block) return (block.effects ?? []).filter((e) => e.x === at.index);
    }
  }
  return null;
}
