import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AssertionFailure } from "../errors/errors.ts";
import {
  createSharePool,
  distribute,
  SHARE_SCALE,
  type SharePool,
  stake,
  unstake,
  valueOf,
} from "./share-pool.ts";

const COLDKEYS = ["alice", "bob", "carol", "dave"] as const;

/** The pool's structural invariants and reference A3. */
function checkPool(pool: SharePool): void {
  let shares = 0n;
  let values = 0n;
  for (const [c, s] of pool.holders) {
    expect(s > 0n, `holder ${c} kept with ${s} shares`).toBe(true);
    shares += s;
    values += valueOf(pool, c);
  }
  expect(shares).toBe(pool.shares);
  expect(values <= pool.value).toBe(true);
  if (pool.holders.size === 0) {
    expect(pool.shares).toBe(0n);
    expect(pool.value).toBe(0n);
  } else {
    // Σ floor(V s_i / D) with Σ s_i = D misses less than 1 rao per holder, and the miss is whole.
    expect(pool.value - values <= BigInt(pool.holders.size - 1)).toBe(true);
  }
}

function values(pool: SharePool): Map<string, bigint> {
  return new Map(COLDKEYS.map((c) => [c, valueOf(pool, c)]));
}

describe("share pool by hand", () => {
  it("stakes, pays dividends pro rata and unstakes", () => {
    const pool = createSharePool();
    stake(pool, "alice", 1000n);
    // empty pool: 1000 * 2^64 shares
    expect(pool).toEqual({ value: 1000n, shares: 1000n * SHARE_SCALE, holders: new Map([["alice", 1000n * SHARE_SCALE]]) });
    stake(pool, "bob", 500n);
    // 500 * (1000 * 2^64) / 1000 = 500 * 2^64
    expect(pool.holders.get("bob")).toBe(500n * SHARE_SCALE);
    expect([valueOf(pool, "alice"), valueOf(pool, "bob")]).toEqual([1000n, 500n]);

    distribute(pool, 300n);
    // V = 1800, D = 1500 * 2^64: alice 1800 * 1000 / 1500 = 1200, bob 1800 * 500 / 1500 = 600
    expect([valueOf(pool, "alice"), valueOf(pool, "bob")]).toEqual([1200n, 600n]);

    expect(unstake(pool, "alice", 200n)).toBe(200n);
    // burned = ceil(200 * 1500 * 2^64 / 1800) = ceil(166.67 * 2^64), one share unit more than
    // the exact 500/3 * 2^64, so alice's remaining 833.33 * 2^64 - 1 shares are worth
    // 1600 * 833.33 / 1333.33 minus a hair = 999.999999..., floored to 999; bob's 500 * 2^64
    // are worth a hair over 600, floored to 600. Slack 1600 - 1599 = 1 rao, the leaver's fraction.
    expect(pool.value).toBe(1600n);
    expect([valueOf(pool, "alice"), valueOf(pool, "bob")]).toEqual([999n, 600n]);
    checkPool(pool);
  });

  it("returns 0 and changes nothing for more than the stake, for nothing, or for a stranger", () => {
    const pool = createSharePool();
    stake(pool, "alice", 100n);
    const before = structuredClone(pool);
    expect(unstake(pool, "alice", 101n)).toBe(0n);
    expect(unstake(pool, "alice", 0n)).toBe(0n);
    expect(unstake(pool, "bob", 1n)).toBe(0n);
    expect(pool).toEqual(before);
  });

  it("removes the whole position below 1/100_000 of the shares held", () => {
    // sole holder, V = 1e6, D = 1e6 * 2^64. Unstaking 999_995 burns 999_995 * 2^64 and would
    // leave 5 * 2^64: 5 * 2^64 * 100_000 < 1e6 * 2^64, dust, so the whole 1e6 comes out.
    const a = createSharePool();
    stake(a, "alice", 1_000_000n);
    expect(unstake(a, "alice", 999_995n)).toBe(1_000_000n);
    expect(a).toEqual(createSharePool());

    // 999_990 would leave 10 * 2^64: 10 * 2^64 * 100_000 == 1e6 * 2^64, not below; kept.
    const b = createSharePool();
    stake(b, "alice", 1_000_000n);
    expect(unstake(b, "alice", 999_990n)).toBe(999_990n);
    expect(valueOf(b, "alice")).toBe(10n);
    checkPool(b);
  });

  it("removes the whole position when what remains is worth 0 rao, leaving the fraction to the others", () => {
    const pool = createSharePool();
    stake(pool, "alice", 10n);
    stake(pool, "bob", 10n);
    distribute(pool, 1n);
    // V = 21 over 20 * 2^64 shares: each is worth 10.5, shown as 10.
    expect([valueOf(pool, "alice"), valueOf(pool, "bob")]).toEqual([10n, 10n]);
    // burning ceil(10 * 20 / 21 * 2^64) leaves alice 0.476 * 2^64 shares (above 1/100_000 of her
    // 10 * 2^64), worth floor(11 * 0.476 / 10.476) = floor(0.5) = 0 rao: the position goes.
    expect(unstake(pool, "alice", 10n)).toBe(10n);
    expect(pool.holders.has("alice")).toBe(false);
    // bob now owns the whole 11: his 10.5 plus alice's half rao.
    expect(pool.value).toBe(11n);
    expect(valueOf(pool, "bob")).toBe(11n);
    checkPool(pool);
  });

  it("empties cleanly when the last holder leaves", () => {
    const pool = createSharePool();
    stake(pool, "alice", 7n);
    distribute(pool, 3n);
    expect(unstake(pool, "alice", 10n)).toBe(10n);
    expect(pool).toEqual(createSharePool());
  });

  it("refuses a payment to a pool without holders and negative amounts", () => {
    const pool = createSharePool();
    distribute(pool, 0n);
    expect(() => distribute(pool, 1n)).toThrow(AssertionFailure);
    expect(() => stake(pool, "alice", -1n)).toThrow(AssertionFailure);
    expect(() => unstake(pool, "alice", -1n)).toThrow(AssertionFailure);
    expect(() => distribute(pool, -1n)).toThrow(AssertionFailure);
    expect(pool).toEqual(createSharePool());
  });

  it("a stake after a share came to cost over 1 rao still loses under 1 rao (found by the property test)", () => {
    const pool = createSharePool();
    stake(pool, "dave", 1n);
    distribute(pool, 116_272n);
    stake(pool, "alice", 1n); // bought at ~116,273 rao per 2^64 shares: few shares
    unstake(pool, "dave", valueOf(pool, "dave"));
    distribute(pool, 186_689_471_260_881n); // now alice's few shares cost over 1 rao each
    const before = valueOf(pool, "alice");
    stake(pool, "bob", 274_789n);
    expect(valueOf(pool, "bob")).toBeGreaterThanOrEqual(274_788n);
    expect(valueOf(pool, "alice")).toBeGreaterThanOrEqual(before);
    expect(pool.shares).toBe([...pool.holders.values()].reduce((a, b) => a + b, 0n));
  });

  it("does not depend on the order holders were inserted", () => {
    const a = createSharePool();
    stake(a, "alice", 300n);
    stake(a, "bob", 200n);
    distribute(a, 77n);
    const b: SharePool = { value: a.value, shares: a.shares, holders: new Map([...a.holders].reverse()) };
    for (const p of [a, b]) {
      stake(p, "carol", 50n);
      unstake(p, "alice", 123n);
      distribute(p, 5n);
    }
    expect(values(a)).toEqual(values(b));
    expect(new Map([...a.holders].sort())).toEqual(new Map([...b.holders].sort()));
  });
});

type Op =
  | { kind: "stake"; who: number; amount: bigint }
  | { kind: "unstake"; who: number; how: "exact" | "all" | "over" | "fraction"; amount: bigint; permille: number }
  | { kind: "distribute"; amount: bigint };

const amount = fc.oneof(
  fc.bigInt({ min: 0n, max: 10n }),
  fc.bigInt({ min: 0n, max: 1_000_000n }),
  fc.bigInt({ min: 0n, max: 1_000_000_000_000_000n }),
);
const who = fc.integer({ min: 0, max: COLDKEYS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("stake" as const), who, amount }),
  fc.record({
    kind: fc.constant("unstake" as const),
    who,
    how: fc.constantFrom("exact" as const, "all" as const, "over" as const, "fraction" as const),
    amount,
    permille: fc.integer({ min: 0, max: 1000 }),
  }),
  fc.record({ kind: fc.constant("distribute" as const), amount }),
);

describe("share pool properties", () => {
  it("keeps A3, conserves value and never shortchanges a bystander over random sequences", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const pool = createSharePool();
        let inflow = 0n; // staked + distributed - paid out
        for (const o of ops) {
          const before = values(pool);
          const shares = new Map(pool.holders);
          const totalShares = pool.shares;
          if (o.kind === "stake") {
            const c = COLDKEYS[o.who] as string;
            stake(pool, c, o.amount);
            inflow += o.amount;
            const gained = valueOf(pool, c) - (before.get(c) as bigint);
            // the staker gets its amount, less under 1 rao of share flooring
            expect(gained <= o.amount && gained >= o.amount - 1n).toBe(true);
            for (const other of COLDKEYS) {
              if (other !== c) expect(valueOf(pool, other) >= (before.get(other) as bigint)).toBe(true);
            }
          } else if (o.kind === "unstake") {
            const c = COLDKEYS[o.who] as string;
            const current = before.get(c) as bigint;
            const asked =
              o.how === "exact" ? o.amount
              : o.how === "all" ? current
              : o.how === "over" ? current + 1n + o.amount
              : (current * BigInt(o.permille)) / 1000n;
            const snapshot = structuredClone(pool);
            const got = unstake(pool, c, asked);
            inflow -= got;
            expect(got <= current).toBe(true);
            if (asked === 0n || asked > current) {
              expect(got).toBe(0n);
              expect(pool).toEqual(snapshot);
            } else if (pool.holders.has(c)) {
              expect(got).toBe(asked);
            } else {
              // removed: the whole position, at least what was asked
              expect(got).toBe(current);
              expect(got >= asked).toBe(true);
            }
            for (const other of COLDKEYS) {
              if (other !== c) expect(valueOf(pool, other) >= (before.get(other) as bigint)).toBe(true);
            }
          } else if (pool.shares === 0n && o.amount > 0n) {
            expect(() => distribute(pool, o.amount)).toThrow(AssertionFailure);
          } else {
            distribute(pool, o.amount);
            inflow += o.amount;
            for (const [c, s] of shares) {
              // gain within 1 rao of amount * s / D: |gain * D - amount * s| < D
              const diff = (valueOf(pool, c) - (before.get(c) as bigint)) * totalShares - o.amount * s;
              expect(diff > -totalShares && diff < totalShares).toBe(true);
            }
          }
          checkPool(pool);
          expect(pool.value).toBe(inflow);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
