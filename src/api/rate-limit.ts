import { DomainError } from "../core/errors/errors.ts";

/**
 * Rate limits (API.md "Conventions", DESIGN.md §6): token buckets per key, per process, reset on
 * restart. A refusal is 429 RATE_LIMITED with `details.retry_after_ms` and a `Retry-After` header.
 */

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/** How often, at most, idle buckets are swept (ms). */
const SWEEP_EVERY_MS = 1_000;

/**
 * One token bucket per key: `burst` tokens at most, refilled at `ratePerSecond`. A bucket that has
 * refilled to `burst` is the same as no bucket, so such buckets are dropped by a sweep that runs at
 * most once a second. A bucket is full again at most burst / rate seconds after its last take, so
 * each take pays for a bounded number of sweep visits: amortized O(1), and memory holds only the
 * keys seen in the last burst / rate + 1 seconds.
 */
export class TokenBuckets {
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now: () => number = Date.now,
  ) {
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) throw new RangeError("ratePerSecond must be positive and finite");
    if (!(burst >= 1 && Number.isFinite(burst))) throw new RangeError("burst must be at least 1 and finite");
    this.#perMs = ratePerSecond / 1_000;
    this.#now = now;
    this.#sweptAt = now();
  }

  /** How many keys hold a bucket right now (full ones may linger until the next sweep). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `cost` tokens from `key`'s bucket, or says how long until they would be there. */
  take(key: string, cost = 1): TakeResult {
    if (!(cost > 0 && cost <= this.burst)) throw new RangeError(`cost must be in (0, ${this.burst}]`);
    const now = this.#now();
    this.#maybeSweep(now);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      this.#refill(bucket, now);
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((cost - bucket.tokens) / this.#perMs) };
  }

  #refill(bucket: Bucket, now: number): void {
    // A clock that steps back refills nothing and does not move `at` back (no double refill later).
    if (now <= bucket.at) return;
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
  }

  #maybeSweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_EVERY_MS && now >= this.#sweptAt) return;
    this.#sweptAt = now;
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (bucket.tokens >= this.burst) this.#buckets.delete(key);
    }
  }
}

/** API.md's numbers. */
export const RATE_LIMITS = {
  ip: { perSecond: 2_000, burst: 10_000 },
  signer: { perSecond: 1_000, burst: 5_000 },
  order: { perSecond: 10, burst: 20 },
} as const;

export interface RateLimitOptions {
  /** False for `--rate-limit off` (benchmarks): every check passes. */
  enabled?: boolean;
  now?: () => number;
}

/** The node's three limits; each check returns nothing or throws 429 RATE_LIMITED. */
export class RateLimits {
  readonly enabled: boolean;
  readonly #ip: TokenBuckets;
  readonly #signer: TokenBuckets;
  readonly #order: TokenBuckets;

  constructor(options: RateLimitOptions = {}) {
    this.enabled = options.enabled ?? true;
    const now = options.now ?? Date.now;
    this.#ip = new TokenBuckets(RATE_LIMITS.ip.perSecond, RATE_LIMITS.ip.burst, now);
    this.#signer = new TokenBuckets(RATE_LIMITS.signer.perSecond, RATE_LIMITS.signer.burst, now);
    this.#order = new TokenBuckets(RATE_LIMITS.order.perSecond, RATE_LIMITS.order.burst, now);
  }

  /** Every request, before anything else is read. */
  checkIp(ip: string): void {
    this.#check(this.#ip, ip, "ip", "too many requests from this address");
  }

  /** Every request whose signature verified. */
  checkSigner(ss58: string): void {
    this.#check(this.#signer, ss58, "signer", "too many requests from this signer");
  }

  /** Every order, keyed by the trading hotkey (the entity or the regular miner). */
  checkOrder(traderHotkey: string): void {
    this.#check(this.#order, traderHotkey, "order", "too many orders from this trader");
  }

  #check(buckets: TokenBuckets, key: string, scope: string, message: string): void {
    if (!this.enabled) return;
    const result = buckets.take(key);
    if (result.ok) return;
    throw new DomainError("RATE_LIMITED", `${message}; retry in ${retryAfterSeconds(result.retryAfterMs)} s`, {
      retry_after_ms: result.retryAfterMs,
      scope,
    });
  }
}

/** The `Retry-After` header value: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1_000));
}
