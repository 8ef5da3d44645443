/** How long to wait before each reconnection attempt. */
export interface BackoffPolicy {
  /** The wait before the first retry, ms. */
  initialMs: number;
  /** The longest wait, ms. */
  maxMs: number;
  /** Each failed attempt multiplies the wait by this. */
  factor: number;
  /** The wait varies by up to this fraction either way, so that many validators do not retry in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0.2 };

/**
 * The wait before retry number `attempt` (0 = the first retry after a failure): exponential,
 * capped, then spread by ±jitter with `random` in [0, 1).
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt));
  const spread = 1 - policy.jitter + 2 * policy.jitter * random;
  return Math.max(0, Math.round(base * spread));
}
