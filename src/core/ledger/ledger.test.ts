import { describe, expect, it } from "vitest";
import { AssertionFailure, InsufficientBalanceError } from "../errors/errors.ts";
import { type AssetId, alpha, TAO } from "./asset.ts";
import { type AccountHandle, Credit, Ledger, MAX_ISSUANCE, RECOUNT_BUCKETS } from "./ledger.ts";

const A1 = alpha(1);
const A2 = alpha(2);

/** Mints `amount` into `account` in its own scope. */
function fund(ledger: Ledger, account: AccountHandle, amount: bigint): void {
  ledger.beginScope("fund");
  ledger.deposit(account, ledger.mint(ledger.assetOf(account), amount));
  expect(ledger.endScope()).toEqual([]);
}

/** Everything observable about the ledger's value: non-zero balances and every running total. */
function capture(ledger: Ledger): string {
  const snapshot = ledger.exportSnapshot();
  const totals = ledger.assets.map((a) => {
    const t = ledger.totals(a);
    return [t.asset, t.issuance, t.minted, t.recycled, t.burned, t.balances, t.live].join(":");
  });
  return JSON.stringify({ accounts: snapshot.accounts, totals, live: ledger.liveCreditCount });
}

function clean(ledger: Ledger): void {
  expect(ledger.checkTotals()).toEqual([]);
  expect(ledger.recount()).toEqual([]);
}

describe("transfer", () => {
  it("moves value between two accounts of one asset, totals untouched", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 1_000n);
    const before = l.totals(TAO);

    l.transfer(alice, bob, 300n);
    expect(l.balance(alice)).toBe(700n);
    expect(l.balance(bob)).toBe(300n);
    l.transfer(alice, bob, 700n); // exactly the whole balance
    expect(l.balance(alice)).toBe(0n);
    expect(l.balance(bob)).toBe(1_000n);
    l.transfer(alice, bob, 0n); // zero from an empty account is fine
    l.transfer(bob, bob, 1_000n); // to itself: a no-op
    expect(l.balance(bob)).toBe(1_000n);

    expect(l.totals(TAO)).toEqual(before);
    clean(l);
  });

  it("works outside a scope and inside one", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 10n);
    expect(l.inScope).toBe(false);
    l.transfer(alice, bob, 4n);
    l.beginScope("t");
    l.transfer(alice, bob, 4n);
    expect(l.endScope()).toEqual([]);
    expect(l.balanceOf(TAO, "alice")).toBe(2n);
    expect(l.balanceOf(TAO, "bob")).toBe(8n);
    clean(l);
  });

  it("overdraft throws InsufficientBalanceError and changes nothing", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 100n);
    fund(l, bob, 5n);
    const before = capture(l);

    let caught: unknown;
    try {
      l.transfer(alice, bob, 101n);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InsufficientBalanceError);
    const err = caught as InsufficientBalanceError;
    expect(err.code).toBe("INSUFFICIENT_BALANCE");
    expect(err.status).toBe(422);
    expect(err.details).toEqual({ owner: "alice", asset: "TAO", needed_rao: "101", available_rao: "100" });

    expect(l.balance(alice)).toBe(100n);
    expect(l.balance(bob)).toBe(5n);
    expect(capture(l)).toBe(before);

    // An account that was never funded, and a journaled scope: still nothing recorded or changed.
    const carol = l.account(TAO, "carol");
    l.beginScope("overdraft", { journal: true });
    expect(() => l.transfer(carol, alice, 1n)).toThrow(InsufficientBalanceError);
    expect(l.endScope()).toEqual([]);
    expect(l.journalDiff().size).toBe(0);
    l.keep();
    expect(capture(l)).toBe(before);
    clean(l);
  });

  it("refuses a negative amount", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 100n);
    const before = capture(l);
    expect(() => l.transfer(alice, bob, -1n)).toThrow(AssertionFailure);
    expect(capture(l)).toBe(before);
  });

  it("refuses a transfer between different assets and changes nothing", () => {
    const l = new Ledger();
    const taoAlice = l.account(TAO, "alice");
    const alphaAlice = l.account(A1, "alice");
    const alphaBob = l.account(A2, "bob");
    fund(l, taoAlice, 100n);
    fund(l, alphaAlice, 100n);
    const before = capture(l);

    expect(() => l.transfer(taoAlice, alphaAlice, 1n)).toThrow(AssertionFailure);
    expect(() => l.transfer(alphaAlice, taoAlice, 1n)).toThrow(AssertionFailure);
    expect(() => l.transfer(alphaAlice, alphaBob, 1n)).toThrow(AssertionFailure); // ALPHA(0) vs ALPHA(1)
    expect(() => l.transfer(alphaAlice, alphaBob, 0n)).toThrow(AssertionFailure);

    expect(capture(l)).toBe(before);
    clean(l);
  });
});

describe("mint cap", () => {
  it("mints only the room left under MAX_ISSUANCE, then nothing", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    l.beginScope("cap");
    const first = l.mint(TAO, MAX_ISSUANCE - 10n);
    expect(first.amount).toBe(MAX_ISSUANCE - 10n);
    const second = l.mint(TAO, 100n); // asks past the cap
    expect(second.amount).toBe(10n);
    const third = l.mint(TAO, 5n); // at the cap
    expect(third.amount).toBe(0n);
    const fourth = l.mint(TAO, 0n);
    expect(fourth.amount).toBe(0n);
    l.deposit(alice, first.merge(second));
    third.dropZero();
    fourth.dropZero();
    expect(l.endScope()).toEqual([]);

    expect(l.balance(alice)).toBe(MAX_ISSUANCE);
    expect(l.totals(TAO)).toMatchObject({ issuance: MAX_ISSUANCE, minted: MAX_ISSUANCE, balances: MAX_ISSUANCE, live: 0n });
    clean(l);
  });

  it("caps a single oversized mint, per asset", () => {
    const l = new Ledger();
    l.beginScope("cap");
    const tao = l.mint(TAO, MAX_ISSUANCE + 1n);
    const huge = l.mint(A1, 10n ** 30n);
    expect(tao.amount).toBe(MAX_ISSUANCE);
    expect(huge.amount).toBe(MAX_ISSUANCE); // ALPHA(0) has its own cap
    l.deposit(l.account(TAO, "a"), tao);
    l.deposit(l.account(A1, "a"), huge);
    l.endScope();
    clean(l);
  });

  it("gives room back when value is recycled or burned", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    fund(l, alice, MAX_ISSUANCE);
    l.beginScope("retire");
    expect(l.recycle(l.withdraw(alice, 7n))).toBe(7n);
    expect(l.burn(l.withdraw(alice, 3n))).toBe(3n);
    const again = l.mint(TAO, 100n);
    expect(again.amount).toBe(10n);
    l.deposit(alice, again);
    l.endScope();
    expect(l.totals(TAO)).toMatchObject({
      issuance: MAX_ISSUANCE,
      minted: MAX_ISSUANCE + 10n,
      recycled: 7n,
      burned: 3n,
    });
    clean(l);
  });
});

describe("credits", () => {
  /** A ledger with alice funded, in an open scope, and a spent credit (deposited into bob). */
  function withSpentCredit(): { l: Ledger; spent: Credit; alice: AccountHandle; bob: AccountHandle } {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 1_000n);
    l.beginScope("double-spend");
    const spent = l.withdraw(alice, 400n);
    l.deposit(bob, spent);
    expect(spent.live).toBe(false);
    return { l, spent, alice, bob };
  }

  it.each([
    ["deposit", (l: Ledger, c: Credit, _z: Credit, a: AccountHandle) => l.deposit(a, c)],
    ["split", (_l: Ledger, c: Credit) => c.split(0n)],
    ["merge (spent into live)", (_l: Ledger, c: Credit, z: Credit) => c.merge(z)],
    ["merge (live with spent)", (_l: Ledger, c: Credit, z: Credit) => z.merge(c)],
    ["recycle", (l: Ledger, c: Credit) => l.recycle(c)],
    ["burn", (l: Ledger, c: Credit) => l.burn(c)],
    ["dropZero", (_l: Ledger, c: Credit) => c.dropZero()],
    ["amount", (_l: Ledger, c: Credit) => c.amount],
  ] as const)("double spend by %s throws AssertionFailure and changes nothing", (_name, spendAgain) => {
    const { l, spent, alice } = withSpentCredit();
    const zero = l.mint(TAO, 0n); // a live partner for the merge cases
    const before = capture(l);
    expect(() => spendAgain(l, spent, zero, alice)).toThrow(AssertionFailure);
    expect(() => spendAgain(l, spent, zero, alice)).toThrow("credit already spent");
    expect(capture(l)).toBe(before);
    expect(zero.live).toBe(true);
    zero.dropZero();
    expect(l.endScope()).toEqual([]);
    expect(l.balanceOf(TAO, "alice")).toBe(600n);
    expect(l.balanceOf(TAO, "bob")).toBe(400n);
    clean(l);
  });

  it("split gives [part, rest] and spends the original", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 100n);
    l.beginScope("split");
    const c = l.withdraw(alice, 100n);
    const [part, rest] = c.split(30n);
    expect(c.live).toBe(false);
    expect(part.amount).toBe(30n);
    expect(rest.amount).toBe(70n);
    const [all, none] = rest.split(70n);
    expect(none.amount).toBe(0n);
    none.dropZero();
    l.deposit(bob, part);
    l.deposit(alice, all);
    expect(l.endScope()).toEqual([]);
    expect(l.balance(alice)).toBe(70n);
    expect(l.balance(bob)).toBe(30n);
    clean(l);
  });

  it("refuses to split more than the credit or a negative amount; the credit stays live", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    fund(l, alice, 100n);
    l.beginScope("split");
    const c = l.withdraw(alice, 50n);
    const before = capture(l);
    expect(() => c.split(51n)).toThrow(AssertionFailure);
    expect(() => c.split(-1n)).toThrow(AssertionFailure);
    expect(c.live).toBe(true);
    expect(capture(l)).toBe(before);
    l.deposit(alice, c);
    l.endScope();
    expect(l.balance(alice)).toBe(100n);
    clean(l);
  });

  it("merge adds two credits of one asset and spends both", () => {
    const l = new Ledger();
    const alice = l.account(A1, "alice");
    const bob = l.account(A1, "bob");
    fund(l, alice, 100n);
    l.beginScope("merge");
    const x = l.withdraw(alice, 60n);
    const y = l.mint(A1, 5n);
    const m = x.merge(y);
    expect(x.live).toBe(false);
    expect(y.live).toBe(false);
    expect(m.amount).toBe(65n);
    l.deposit(bob, m);
    l.endScope();
    expect(l.balance(bob)).toBe(65n);
    clean(l);
  });

  it("refuses to merge credits of different assets, or a credit with itself; both stay live", () => {
    const l = new Ledger();
    const tao = l.account(TAO, "alice");
    const alp = l.account(A1, "alice");
    fund(l, tao, 100n);
    fund(l, alp, 100n);
    l.beginScope("merge");
    const x = l.withdraw(tao, 10n);
    const y = l.withdraw(alp, 20n);
    const before = capture(l);
    expect(() => x.merge(y)).toThrow(AssertionFailure);
    expect(() => y.merge(x)).toThrow(AssertionFailure);
    expect(() => x.merge(x)).toThrow(AssertionFailure);
    expect(x.live && y.live).toBe(true);
    expect(capture(l)).toBe(before);
    l.deposit(tao, x);
    l.deposit(alp, y);
    expect(l.endScope()).toEqual([]);
    expect(l.balance(tao)).toBe(100n);
    expect(l.balance(alp)).toBe(100n);
    clean(l);
  });

  it("refuses to deposit into an account of another asset, or a credit of another ledger", () => {
    const l = new Ledger();
    const other = new Ledger();
    const tao = l.account(TAO, "alice");
    const alp = l.account(A1, "alice");
    l.beginScope("s");
    other.beginScope("s");
    const c = l.mint(TAO, 10n);
    const foreign = other.mint(TAO, 10n);
    const before = capture(l);
    expect(() => l.deposit(alp, c)).toThrow(AssertionFailure);
    expect(() => l.deposit(tao, foreign)).toThrow(AssertionFailure);
    expect(() => l.recycle(foreign)).toThrow(AssertionFailure);
    expect(c.live && foreign.live).toBe(true);
    expect(capture(l)).toBe(before);
    l.deposit(tao, c);
    other.burn(foreign);
    l.endScope();
    other.endScope();
    clean(l);
    clean(other);
  });

  it("dropZero only drops a zero credit", () => {
    const l = new Ledger();
    fund(l, l.account(TAO, "alice"), 5n);
    l.beginScope("drop");
    const c = l.withdraw(l.account(TAO, "alice"), 5n);
    expect(() => c.dropZero()).toThrow(AssertionFailure);
    expect(c.live).toBe(true);
    l.deposit(l.account(TAO, "bob"), c);
    l.endScope();
    clean(l);
  });

  it("cannot be constructed outside the ledger", () => {
    const l = new Ledger();
    expect(() => new Credit(Symbol("credit"), l, TAO, 1n)).toThrow(AssertionFailure);
  });

  it("recycle and burn lower issuance and count the value", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    fund(l, alice, 100n);
    l.beginScope("retire");
    expect(l.recycle(l.withdraw(alice, 30n))).toBe(30n);
    expect(l.burn(l.withdraw(alice, 20n))).toBe(20n);
    l.endScope();
    expect(l.totals(TAO)).toMatchObject({ issuance: 50n, minted: 100n, recycled: 30n, burned: 20n, balances: 50n, live: 0n });
    clean(l);
  });
});

describe("scopes", () => {
  it("mint and withdraw outside a scope throw AssertionFailure", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    fund(l, alice, 10n);
    const before = capture(l);
    expect(() => l.mint(TAO, 1n)).toThrow(AssertionFailure);
    expect(() => l.mint(TAO, 1n)).toThrow("mint outside a scope");
    expect(() => l.withdraw(alice, 1n)).toThrow("withdraw outside a scope");
    expect(capture(l)).toBe(before);
    expect(l.liveCreditCount).toBe(0);
  });

  it("refuses nested scopes, ending no scope, and undo inside a scope", () => {
    const l = new Ledger();
    expect(() => l.endScope()).toThrow(AssertionFailure);
    l.beginScope("outer");
    expect(() => l.beginScope("inner")).toThrow(AssertionFailure);
    expect(() => l.undo()).toThrow(AssertionFailure);
    expect(l.inScope).toBe(true);
    expect(l.endScope()).toEqual([]);
    expect(l.inScope).toBe(false);
  });

  it("strict: a live non-zero credit at endScope throws", () => {
    const l = new Ledger();
    expect(l.strict).toBe(true);
    const alice = l.account(TAO, "alice");
    fund(l, alice, 100n);
    l.beginScope("leaky");
    const c = l.withdraw(alice, 40n);
    expect(() => l.endScope()).toThrow(AssertionFailure);
    expect(c.live).toBe(false);
    expect(l.inScope).toBe(false);
    expect(l.liveCreditCount).toBe(0);
  });

  it("strict: a journaled scope left with a live credit throws and leaves everything as before", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 100n);
    const before = capture(l);

    l.beginScope("leaky", { journal: true });
    l.transfer(alice, bob, 10n);
    l.deposit(bob, l.mint(TAO, 1_000n));
    l.burn(l.withdraw(bob, 5n));
    const leaked = l.withdraw(alice, 40n);
    expect(() => l.endScope()).toThrow(/scope leaky ended with live credit\(s\): 40 TAO/);

    expect(leaked.live).toBe(false);
    expect(l.inScope).toBe(false);
    expect(l.balance(alice)).toBe(100n);
    expect(l.balance(bob)).toBe(0n);
    expect(capture(l)).toBe(before);
    clean(l);
  });

  it("strict: live zero credits are dropped silently", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    fund(l, alice, 100n);
    l.beginScope("zero");
    l.withdraw(alice, 0n);
    l.mint(A1, 0n);
    expect(l.endScope()).toEqual([]);
    expect(l.liveCreditCount).toBe(0);
    expect(l.totals(TAO)).toMatchObject({ recycled: 0n, live: 0n });
    clean(l);
  });

  it("production mode recycles the remainder and reports it per asset", () => {
    const l = new Ledger({ strict: false });
    const tao = l.account(TAO, "alice");
    const alp = l.account(A1, "alice");
    fund(l, tao, 100n);
    fund(l, alp, 100n);

    l.beginScope("leaky");
    const a = l.withdraw(alp, 7n);
    l.withdraw(tao, 30n);
    l.mint(TAO, 12n);
    l.withdraw(alp, 0n);
    expect(a.live).toBe(true);
    expect(l.endScope()).toEqual([
      { asset: TAO, amount: 42n },
      { asset: A1, amount: 7n },
    ]);
    expect(a.live).toBe(false);
    expect(l.liveCreditCount).toBe(0);
    expect(l.totals(TAO)).toMatchObject({ issuance: 70n, minted: 112n, recycled: 42n, burned: 0n, balances: 70n, live: 0n });
    expect(l.totals(A1)).toMatchObject({ issuance: 93n, minted: 100n, recycled: 7n, balances: 93n, live: 0n });
    clean(l);
  });

  it("strict with allowRemainders recycles the remainder like production", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    fund(l, alice, 100n);
    l.beginScope("replay");
    l.withdraw(alice, 9n);
    expect(l.endScope({ allowRemainders: true })).toEqual([{ asset: TAO, amount: 9n }]);
    expect(l.totals(TAO)).toMatchObject({ issuance: 91n, recycled: 9n });
    clean(l);
  });

  it("journaled abort restores every balance and total; live credits die", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    const carol = l.account(A1, "carol");
    fund(l, alice, 500n);
    fund(l, carol, 50n);
    const before = capture(l);
    const totalsBefore = [l.totals(TAO), l.totals(A1)];

    l.beginScope("abandon", { journal: true });
    l.transfer(alice, bob, 100n);
    l.deposit(bob, l.mint(TAO, MAX_ISSUANCE));
    l.recycle(l.withdraw(alice, 50n));
    l.burn(l.withdraw(carol, 50n));
    const [x, y] = l.withdraw(bob, 60n).split(20n);
    l.deposit(alice, x);
    l.abort();

    expect(y.live).toBe(false);
    expect(() => l.deposit(alice, y)).toThrow(AssertionFailure);
    expect(l.inScope).toBe(false);
    expect(l.liveCreditCount).toBe(0);
    expect(l.balance(alice)).toBe(500n);
    expect(l.balance(bob)).toBe(0n);
    expect(l.balance(carol)).toBe(50n);
    expect([l.totals(TAO), l.totals(A1)]).toEqual(totalsBefore);
    expect(capture(l)).toBe(before);
    clean(l);
  });

  it("journaled endScope then undo restores everything; keep keeps it", () => {
    const l = new Ledger({ strict: false });
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 500n);
    const before = capture(l);

    l.beginScope("cmd", { journal: true });
    l.transfer(alice, bob, 100n);
    l.deposit(bob, l.mint(TAO, 10n));
    l.withdraw(alice, 1n); // recycled as a remainder by the production ledger
    expect(l.endScope()).toEqual([{ asset: TAO, amount: 1n }]);
    expect(l.journalDiff().size).toBeGreaterThan(0);
    l.undo();
    expect(capture(l)).toBe(before);
    expect(l.journalDiff().size).toBe(0);

    l.beginScope("cmd", { journal: true });
    l.transfer(alice, bob, 100n);
    l.endScope();
    l.keep();
    l.undo(); // nothing journaled any more
    expect(l.balance(bob)).toBe(100n);
    clean(l);
  });
});

describe("invariant checks", () => {
  it("recount sees a corrupted balance that checkTotals cannot", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 100n);
    fund(l, bob, 100n);
    clean(l);

    l.corruptForTest(alice, 150n);
    // checkTotals compares running totals with each other (issuance = balances + live, minted =
    // issuance + recycled + burned). The totals are updated by the very same code paths that
    // update the balances, and corruptForTest writes only the balance cell, so the totals still
    // agree with each other: the O(1) check is blind to it. Only summing every balance again
    // (recount) compares the totals with the cells themselves.
    expect(l.checkTotals()).toEqual([]);
    expect(l.recount()).toEqual([{ asset: TAO, invariant: "recount", expected: 200n, actual: 250n }]);
  });

  it("checkTotals sees a broken identity in the running totals", () => {
    const snapshot = { assets: [{ asset: "TAO", minted: "10", recycled: "0", burned: "0" }], accounts: [] };
    const l = Ledger.fromSnapshot(snapshot);
    expect(l.checkTotals()).toEqual([{ asset: TAO, invariant: "issuance_equals_balances", expected: 10n, actual: 0n }]);
  });

  it("recountBucket finds a balance written behind the ledger's back in exactly one bucket, without changing state", () => {
    const l = new Ledger();
    const accounts: AccountHandle[] = [];
    // More accounts than buckets, of two assets, so buckets hold several accounts of each.
    for (let i = 0; i < RECOUNT_BUCKETS * 2 + 7; i++) {
      const h = l.account(i % 2 === 0 ? TAO : A1, `owner${i}`);
      fund(l, h, 10n);
      accounts.push(h);
    }
    const allBuckets = () => Array.from({ length: RECOUNT_BUCKETS }, (_, b) => l.recountBucket(b));
    expect(allBuckets().flat()).toEqual([]);
    for (const bad of [accounts[0], accounts[RECOUNT_BUCKETS + 3], accounts[accounts.length - 1]] as AccountHandle[]) {
      const asset: AssetId = l.assetOf(bad);
      l.corruptForTest(bad, 11n);
      const hits = allBuckets()
        .map((v, b) => [b, v] as const)
        .filter(([, v]) => v.length > 0);
      expect(hits).toHaveLength(1);
      const [bucket, found] = hits[0] as readonly [number, unknown];
      expect(found).toEqual([{ asset, invariant: "recount", expected: expect.any(BigInt), actual: expect.any(BigInt) }]);
      const [v] = found as Array<{ expected: bigint; actual: bigint }>;
      expect((v as { actual: bigint }).actual - (v as { expected: bigint }).expected).toBe(1n);
      // The same bucket twice gives the same answer: checking moves nothing.
      expect(l.recountBucket(bucket)).toEqual(l.recountBucket(bucket));
      // Restricted to the other asset, the bucket is clean.
      expect(l.recountBucket(bucket, asset === TAO ? A1 : TAO)).toEqual([]);
      expect(l.recount(asset)).toEqual([{ asset, invariant: "recount", expected: l.totals(asset).balances, actual: l.totals(asset).balances + 1n }]);
      l.corruptForTest(bad, 10n);
    }
    expect(allBuckets().flat()).toEqual([]);
    expect(() => l.recountBucket(RECOUNT_BUCKETS)).toThrow(AssertionFailure);
  });

  it("bucket totals follow every ledger move, undo and rollback included", () => {
    const l = new Ledger();
    const alice = l.account(TAO, "alice");
    const bob = l.account(TAO, "bob");
    fund(l, alice, 100n);
    l.beginScope("moves", { journal: true });
    l.transfer(alice, bob, 30n);
    const point = l.savepoint();
    l.deposit(bob, l.withdraw(alice, 20n));
    l.rollbackTo(point);
    l.burn(l.withdraw(bob, 5n));
    l.endScope();
    l.undo();
    expect(l.recount()).toEqual([]);
    l.beginScope("kept");
    l.transfer(alice, bob, 40n);
    l.recycle(l.withdraw(bob, 1n));
    l.endScope();
    expect(l.recount()).toEqual([]);
    expect(Ledger.fromSnapshot(l.exportSnapshot()).recount()).toEqual([]);
  });
});

describe("snapshots", () => {
  function busyLedger(): Ledger {
    const l = new Ledger();
    // Accounts created out of order, plus accounts left at zero.
    const zed = l.account(A2, "zed");
    const bob = l.account(TAO, "bob");
    const alice = l.account(TAO, "alice");
    const aliceAlpha = l.account(A1, "alice");
    l.account(TAO, "empty");
    fund(l, bob, 1_000n);
    fund(l, zed, MAX_ISSUANCE);
    fund(l, aliceAlpha, 77n);
    l.transfer(bob, alice, 400n);
    l.beginScope("retire");
    l.recycle(l.withdraw(bob, 100n));
    l.burn(l.withdraw(zed, 5n));
    l.deposit(aliceAlpha, l.mint(A1, 3n));
    l.recycle(l.withdraw(aliceAlpha, 80n)); // empties it
    l.endScope();
    return l;
  }

  it("exportSnapshot is canonical: sorted by asset then owner, zero balances left out", () => {
    const snap = busyLedger().exportSnapshot();
    expect(snap).toEqual({
      assets: [
        { asset: "TAO", minted: "1000", recycled: "100", burned: "0" },
        { asset: "ALPHA(1)", minted: "80", recycled: "80", burned: "0" },
        { asset: "ALPHA(2)", minted: MAX_ISSUANCE.toString(), recycled: "0", burned: "5" },
      ],
      accounts: [
        ["TAO", "alice", "400"],
        ["TAO", "bob", "500"],
        ["ALPHA(2)", "zed", (MAX_ISSUANCE - 5n).toString()],
      ],
    });
  });

  it("round-trips through fromSnapshot (and JSON) to an identical snapshot and totals", () => {
    const l = busyLedger();
    const snap = l.exportSnapshot();
    const restored = Ledger.fromSnapshot(JSON.parse(JSON.stringify(snap)));
    expect(restored.exportSnapshot()).toEqual(snap);
    expect(restored.assets).toEqual(l.assets);
    for (const asset of l.assets) expect(restored.totals(asset)).toEqual(l.totals(asset));
    clean(restored);
    expect(restored.strict).toBe(true);
    expect(Ledger.fromSnapshot(snap, { strict: false }).strict).toBe(false);

    // The restored ledger keeps working, and its cap is where the original's was.
    const zed = restored.account(A2, "zed");
    restored.beginScope("after");
    const c = restored.mint(A2, 100n);
    expect(c.amount).toBe(5n);
    restored.deposit(zed, c);
    restored.endScope();
    expect(restored.balance(zed)).toBe(MAX_ISSUANCE);
    clean(restored);
  });

  it("round-trips an empty ledger", () => {
    const snap = new Ledger().exportSnapshot();
    expect(snap).toEqual({ assets: [], accounts: [] });
    expect(Ledger.fromSnapshot(snap).exportSnapshot()).toEqual(snap);
  });

  it("refuses a snapshot naming an unknown asset", () => {
    const bad = { assets: [{ asset: "DOGE", minted: "1", recycled: "0", burned: "0" }], accounts: [] };
    expect(() => Ledger.fromSnapshot(bad)).toThrow(AssertionFailure);
  });
});

describe("regressions found by review", () => {
  it("an abandoned unjournaled scope recycles its live credits instead of stranding them", () => {
    const l = new Ledger();
    const a = l.account(TAO, "a");
    l.beginScope("s");
    l.deposit(a, l.mint(TAO, 100n));
    l.endScope();
    l.beginScope("leak");
    l.withdraw(a, 40n);
    expect(() => l.endScope()).toThrow(AssertionFailure);
    expect(l.totals(TAO)).toMatchObject({ live: 0n, recycled: 40n, issuance: 60n });
    expect(l.checkTotals()).toEqual([]);
    expect(l.recount()).toEqual([]);
  });

  it("the O(1) check flags value left live outside a scope", () => {
    const l = new Ledger({ strict: false });
    l.beginScope("s");
    const c = l.mint(TAO, 5n);
    expect(l.checkTotals()).toEqual([]); // in flight inside a scope is fine
    l.deposit(l.account(TAO, "a"), c);
    l.endScope();
    expect(l.checkTotals()).toEqual([]);
  });

  it("refuses to merge credits of two ledgers", () => {
    const l1 = new Ledger();
    const l2 = new Ledger();
    l1.beginScope("s");
    l2.beginScope("s");
    const c1 = l1.mint(TAO, 0n);
    const c2 = l2.mint(TAO, 1_000n);
    expect(() => c1.merge(c2)).toThrow(AssertionFailure);
    expect(c2.amount).toBe(1_000n);
  });

  it("refuses a cumulative counter past 2^63 - 1 instead of wrapping", () => {
    const l = new Ledger();
    let refused = false;
    for (let i = 0; i < 500 && !refused; i++) {
      l.beginScope("cycle");
      try {
        l.recycle(l.mint(TAO, MAX_ISSUANCE));
        l.endScope();
      } catch (error) {
        expect(error).toBeInstanceOf(AssertionFailure);
        refused = true;
        l.abort();
      }
    }
    expect(refused).toBe(true);
    expect(l.totals(TAO).minted > 0n).toBe(true);
    expect(l.checkTotals()).toEqual([]);
  });

  it("an asset interned by an undone scope is not part of the snapshot", () => {
    const l = new Ledger();
    const before = JSON.stringify(l.exportSnapshot());
    l.beginScope("refused", { journal: true });
    l.account(alpha(9), "someone");
    l.abort();
    expect(JSON.stringify(l.exportSnapshot())).toBe(before);
  });
});
