import { describe, expect, it } from "vitest";
import { DomainError } from "../core/errors/errors.ts";
import { RATE_LIMITS, RateLimits, TokenBuckets, retryAfterSeconds } from "./rate-limit.ts";

const T0 = 1_700_000_000_000;

function clock(): { now: number; fn: () => number } {
  const c = { now: T0, fn: () => c.now };
  return c;
}

function refusal(fn: () => void): DomainError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("TokenBuckets", () => {
  it("allows a burst, then refuses", () => {
    const c = clock();
    const b = new TokenBuckets(10, 20, c.fn);
    for (let i = 0; i < 20; i++) expect(b.take("k")).toEqual({ ok: true });
    expect(b.take("k")).toEqual({ ok: false, retryAfterMs: 100 });
  });

  it("refills at the rate, never above burst", () => {
    const c = clock();
    const b = new TokenBuckets(10, 20, c.fn);
    for (let i = 0; i < 20; i++) b.take("k");
    c.now += 99;
    expect(b.take("k").ok).toBe(false);
    c.now += 1;
    expect(b.take("k").ok).toBe(true);
    expect(b.take("k").ok).toBe(false);
    c.now += 500; // 5 tokens
    for (let i = 0; i < 5; i++) expect(b.take("k").ok).toBe(true);
    expect(b.take("k").ok).toBe(false);
    c.now += 3_600_000; // an hour refills to burst, not beyond
    for (let i = 0; i < 20; i++) expect(b.take("k").ok).toBe(true);
    expect(b.take("k").ok).toBe(false);
  });

  it("says how long until the tokens are there", () => {
    const c = clock();
    const b = new TokenBuckets(10, 20, c.fn);
    for (let i = 0; i < 20; i++) b.take("k");
    c.now += 30;
    expect(b.take("k")).toEqual({ ok: false, retryAfterMs: 70 });
    expect(b.take("k", 5)).toEqual({ ok: false, retryAfterMs: 470 });
    c.now += 70;
    expect(b.take("k").ok).toBe(true);
  });

  it("keeps keys independent", () => {
    const c = clock();
    const b = new TokenBuckets(1, 2, c.fn);
    b.take("a");
    b.take("a");
    expect(b.take("a").ok).toBe(false);
    expect(b.take("b").ok).toBe(true);
    expect(b.take("b").ok).toBe(true);
    expect(b.take("b").ok).toBe(false);
  });

  it("refills nothing when the clock steps back", () => {
    const c = clock();
    const b = new TokenBuckets(10, 2, c.fn);
    b.take("k");
    b.take("k");
    c.now -= 10_000;
    expect(b.take("k").ok).toBe(false);
    c.now = T0 + 100;
    expect(b.take("k").ok).toBe(true);
    expect(b.take("k").ok).toBe(false);
  });

  it("drops buckets that have refilled, so memory holds only recent keys", () => {
    const c = clock();
    const b = new TokenBuckets(10, 20, c.fn); // full again 2 s after the last take
    for (let i = 0; i < 10_000; i++) b.take(`k${i}`);
    expect(b.size).toBe(10_000);
    c.now += 1_000; // 19 + 10 tokens: every bucket is full again, so the sweep drops them all
    b.take("x");
    expect(b.size).toBe(1);
    for (let i = 0; i < 20; i++) b.take("busy");
    c.now += 1_000;
    b.take("y"); // the sweep drops "x" (full) and keeps "busy" (10 of 20 tokens)
    expect(b.size).toBe(2);
    c.now += 1_000;
    b.take("z"); // "busy" and "y" are full again
    expect(b.size).toBe(1);
  });

  it("does not sweep more than once a second", () => {
    const c = clock();
    const b = new TokenBuckets(1_000, 1, c.fn); // full again 1 ms after a take
    b.take("a");
    c.now += 999;
    b.take("b");
    expect(b.size).toBe(2);
    c.now += 1;
    b.take("c");
    expect(b.size).toBe(1);
  });

  it("refuses nonsense parameters", () => {
    expect(() => new TokenBuckets(0, 1)).toThrow(RangeError);
    expect(() => new TokenBuckets(1, 0)).toThrow(RangeError);
    expect(() => new TokenBuckets(1, 5).take("k", 6)).toThrow(RangeError);
    expect(() => new TokenBuckets(1, 5).take("k", 0)).toThrow(RangeError);
  });
});

describe("RateLimits", () => {
  it("uses API.md's numbers", () => {
    expect(RATE_LIMITS).toEqual({
      ip: { perSecond: 2_000, burst: 10_000 },
      signer: { perSecond: 1_000, burst: 5_000 },
      order: { perSecond: 10, burst: 20 },
    });
  });

  it("throws 429 RATE_LIMITED with retry_after_ms once an order burst is spent", () => {
    const c = clock();
    const limits = new RateLimits({ now: c.fn });
    for (let i = 0; i < 20; i++) limits.checkOrder("trader");
    const e = refusal(() => limits.checkOrder("trader"));
    expect(e.code).toBe("RATE_LIMITED");
    expect(e.status).toBe(429);
    expect(e.details).toEqual({ retry_after_ms: 100, scope: "order" });
    limits.checkOrder("other trader");
    c.now += 100;
    limits.checkOrder("trader");
  });

  it("limits IPs and signers separately", () => {
    const c = clock();
    const limits = new RateLimits({ now: c.fn });
    for (let i = 0; i < 5_000; i++) limits.checkSigner("alice");
    expect(refusal(() => limits.checkSigner("alice")).details).toEqual({ retry_after_ms: 1, scope: "signer" });
    for (let i = 0; i < 10_000; i++) limits.checkIp("127.0.0.1");
    expect(refusal(() => limits.checkIp("127.0.0.1")).details).toEqual({ retry_after_ms: 1, scope: "ip" });
    limits.checkIp("::1");
    limits.checkSigner("bob");
    limits.checkOrder("alice");
  });

  it("lets everything through when disabled", () => {
    const limits = new RateLimits({ enabled: false, now: () => T0 });
    expect(limits.enabled).toBe(false);
    for (let i = 0; i < 100; i++) limits.checkOrder("trader");
    for (let i = 0; i < 20_000; i++) {
      limits.checkIp("127.0.0.1");
      limits.checkSigner("alice");
    }
  });
});

describe("retryAfterSeconds", () => {
  it("rounds up to whole seconds, at least 1", () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1_000)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
    expect(retryAfterSeconds(4_500)).toBe(5);
  });
});
