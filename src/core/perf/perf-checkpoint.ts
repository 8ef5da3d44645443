/**
 * Perf ledgers (DESIGN.md §3.4, reference §6.1): 12-hour checkpoints aligned to 00:00 and 12:00
 * UTC, kept for 120 days. Only the running totals and the open checkpoint live in the state; a
 * checkpoint is closed lazily, by the first mark after its end, with the values of the last mark
 * before it (periods without marks close flat, as Vanta fills void periods). Trading marks its
 * traders; this module only reads the totals a mark leaves and folds them into checkpoints.
 */
export const CHECKPOINT_MS = 12 * 3_600_000;
/** Checkpoints older than this are not kept (DESIGN.md §3.4). */
export const CHECKPOINT_WINDOW_MS = 120 * 86_400_000;

/**
 * The running part of a 12-hour checkpoint: the totals at its start, its worst drawdown and best
 * value so far, and time with positions open.
 */
export interface OpenCheckpoint {
  startMs: number;
  lastMs: number;
  realized0: number;
  unrealized0: number;
  spread0: number;
  carry0: number;
  maxDrawdown: number;
  maxValue: number;
  openMs: number;
}

/** A closed checkpoint (API.md PerfCheckpoint), kept in the store, not in the state. */
export interface PerfCheckpoint {
  ts_ms: number;
  return: number;
  max_drawdown: number;
  max_portfolio_value: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  spread_fee_loss: number;
  carry_fee_loss: number;
  open_ms: number;
  accum_ms: number;
}

/** What a checkpoint reads from its trader: the totals as of the last mark, and the open checkpoint. */
export interface PerfMarks {
  realizedUsd: number;
  spreadFeeUsd: number;
  carryFeeUsd: number;
  unrealizedUsd: number;
  /** Portfolio value as a multiple of the account size (1 at start), and its peak. */
  value: number;
  peak: number;
  openPairs: readonly string[];
  cp: OpenCheckpoint;
}

/** The end of the 12-hour checkpoint holding `ms`. */
export function checkpointEnd(ms: number): number {
  return ms - (ms % CHECKPOINT_MS) + CHECKPOINT_MS;
}

/** The first checkpoint of a trader created at `startMs`: nothing realised, value 1. */
export function firstCheckpoint(startMs: number): OpenCheckpoint {
  return { startMs, lastMs: startMs, realized0: 0, unrealized0: 0, spread0: 0, carry0: 0, maxDrawdown: 0, maxValue: 1, openMs: 0 };
}

/**
 * The trader's open checkpoint as it stands at `until` (its end, when it closes): the values of
 * the last mark, with time open counted on to `until` while positions are open.
 */
export function checkpointAt(t: PerfMarks, until: number): PerfCheckpoint {
  const cp = t.cp;
  return {
    ts_ms: checkpointEnd(cp.startMs),
    return: t.value - 1,
    max_drawdown: cp.maxDrawdown,
    max_portfolio_value: cp.maxValue,
    realized_pnl_usd: t.realizedUsd - cp.realized0,
    unrealized_pnl_usd: t.unrealizedUsd - cp.unrealized0,
    spread_fee_loss: t.spreadFeeUsd - cp.spread0,
    carry_fee_loss: t.carryFeeUsd - cp.carry0,
    open_ms: cp.openMs + (t.openPairs.length > 0 ? Math.max(0, until - cp.lastMs) : 0),
    accum_ms: Math.max(0, until - cp.startMs),
  };
}

/** The open checkpoint as of `now` (a period since the last mark closes at the next mark). */
export function currentCheckpoint(t: PerfMarks, now: number): PerfCheckpoint {
  return checkpointAt(t, Math.min(now, checkpointEnd(t.cp.startMs)));
}

/**
 * Closes every checkpoint that ended by `now` with the values of the trader's last mark, handing
 * each to `close` (null: nobody keeps them, as in replay), and opens the one holding `now`.
 * Returns the trader unchanged when its open checkpoint has not ended.
 */
export function rollCheckpoints<T extends PerfMarks>(t: T, now: number, close: ((checkpoint: PerfCheckpoint) => void) | null): T {
  let cp = t.cp;
  let end = checkpointEnd(cp.startMs);
  if (now < end) return t;
  const fresh = (startMs: number): OpenCheckpoint => ({
    startMs,
    lastMs: startMs,
    realized0: t.realizedUsd,
    unrealized0: t.unrealizedUsd,
    spread0: t.spreadFeeUsd,
    carry0: t.carryFeeUsd,
    maxDrawdown: 0,
    maxValue: t.value,
    openMs: 0,
  });
  // Checkpoints older than the window are never written: a long silence starts at its edge.
  const oldest = checkpointEnd(now) - CHECKPOINT_WINDOW_MS;
  if (end < oldest) {
    cp = fresh(oldest - CHECKPOINT_MS);
    end = oldest;
  }
  for (; end <= now; end += CHECKPOINT_MS) {
    if (close) close(checkpointAt({ ...t, cp }, end));
    cp = fresh(end);
  }
  return { ...t, cp };
}

/**
 * Folds a new mark (already in the trader's value and peak) into the open checkpoint: time open
 * since the last mark, best value, worst drawdown.
 */
export function trackCheckpoint<T extends PerfMarks>(t: T, wasOpen: boolean, now: number): T {
  const cp = t.cp;
  const drawdown = 1 - t.value / t.peak;
  return {
    ...t,
    cp: {
      ...cp,
      lastMs: now,
      openMs: cp.openMs + (wasOpen ? now - cp.lastMs : 0),
      maxValue: t.value > cp.maxValue ? t.value : cp.maxValue,
      maxDrawdown: drawdown > cp.maxDrawdown ? drawdown : cp.maxDrawdown,
    },
  };
}
