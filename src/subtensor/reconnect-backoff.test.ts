import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_BACKOFF } from "./reconnect-backoff.ts";

describe("reconnect backoff", () => {
  const policy = { initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0.2 };

  it("doubles from the initial wait up to the cap, with no jitter at the midpoint", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => backoffDelay(policy, attempt, 0.5))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it("spreads each wait by at most the jitter either way", () => {
    expect(backoffDelay(policy, 0, 0)).toBe(800);
    expect(backoffDelay(policy, 0, 0.999_999)).toBe(1_200);
    expect(backoffDelay(policy, 10, 0)).toBe(48_000);
    expect(backoffDelay(policy, 10, 0.999_999)).toBe(72_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(policy, 3, i / 100);
      expect(d).toBeGreaterThanOrEqual(6_400);
      expect(d).toBeLessThanOrEqual(9_600);
    }
  });

  it("the default waits about a second first and about a minute at most", () => {
    expect(backoffDelay(DEFAULT_BACKOFF, 0, 0.5)).toBe(1_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 50, 0.5)).toBe(60_000);
  });
});
