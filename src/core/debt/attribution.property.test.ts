/**
 * Attribution, over random epochs, debts and subaccount sets: the alpha paid to an entity's uid is
 * always attributed whole (shares + unattributed == paid, to the rao), nobody gets more than its
 * need unless every need is met, nothing is attributed when nothing is owed, and the result does
 * not depend on the order the subaccounts are listed in. A multi-epoch run pays debts down at
 * moving prices: a debt fully covered is fully paid, and a debt is never paid past zero while
 * another is still owed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlphaNeed, attribute, attributeDebts } from "./attribution.ts";
import { type AlphaPrice, microUsdOfAlpha } from "./micro-usd.ts";

const NUM_RUNS = 2_000;

const needs = fc
  .uniqueArray(fc.integer({ min: 0, max: 499 }), { maxLength: 40 })
  .chain((ids) => fc.tuple(...ids.map((id) => fc.record({ id: fc.constant(id), needAlpha: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 0n, max: 10n ** 18n })) }))))
  .map((t): AlphaNeed[] => t);
const paid = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 10n ** 19n }));

function check(alphaPaid: bigint, debts: readonly AlphaNeed[]): void {
  const { shares, unattributed } = attribute(alphaPaid, debts);
  const need = new Map(debts.map((d) => [d.id, d.needAlpha]));
  const total = debts.reduce((s, d) => s + d.needAlpha, 0n);
  expect(shares.reduce((s, x) => s + x.alpha, 0n) + unattributed).toBe(alphaPaid);
  expect(unattributed).toBeGreaterThanOrEqual(0n);
  expect(shares.map((s) => s.id)).toEqual([...shares.map((s) => s.id)].sort((a, b) => a - b));
  for (const s of shares) {
    expect(s.alpha).toBeGreaterThan(0n);
    expect(s.alpha).toBeLessThanOrEqual(need.get(s.id) as bigint);
  }
  if (total <= alphaPaid) {
    // every need met exactly; the rest is the entity's
    expect(shares).toEqual(debts.filter((d) => d.needAlpha > 0n).sort((a, b) => a.id - b.id).map((d) => ({ id: d.id, alpha: d.needAlpha })));
    expect(unattributed).toBe(alphaPaid - total);
  } else {
    // in proportion to need, within one rao of the exact share
    expect(unattributed).toBe(0n);
    const got = new Map(shares.map((s) => [s.id, s.alpha]));
    for (const d of debts) {
      const exact = alphaPaid * d.needAlpha;
      const a = (got.get(d.id) ?? 0n) * total;
      expect(a <= exact + total && a + total > exact).toBe(true);
    }
  }
}

describe("attribution (property)", () => {
  it("sums to the alpha paid, to the rao, and never pays above a need unless all are met", () => {
    fc.assert(fc.property(paid, needs, (p, d) => check(p, d)), { numRuns: NUM_RUNS });
  });

  it("with nothing owed, everything is unattributed", () => {
    fc.assert(
      fc.property(paid, fc.uniqueArray(fc.integer({ min: 0, max: 499 }), { maxLength: 20 }), (p, ids) => {
        expect(attribute(p, ids.map((id) => ({ id, needAlpha: 0n })))).toEqual({ shares: [], unattributed: p });
        expect(attribute(p, [])).toEqual({ shares: [], unattributed: p });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("does not depend on the order of the subaccounts", () => {
    fc.assert(
      fc.property(paid, needs, fc.integer(), (p, d, seed) => {
        const shuffled = [...d];
        let s = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j] as AlphaNeed, shuffled[i] as AlphaNeed];
        }
        expect(attribute(p, shuffled)).toEqual(attribute(p, d));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("over random epochs, prices and eligible sets, debts are paid down exactly", () => {
    const price = fc.record({
      subnetTaoRao: fc.bigInt({ min: 10n ** 9n, max: 10n ** 16n }),
      alphaInRao: fc.bigInt({ min: 10n ** 9n, max: 10n ** 16n }),
      microUsdPerTao: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 10n })),
    });
    const epoch = fc.record({
      alphaPaid: paid,
      price,
      eligible: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 12 }),
      newDebt: fc.array(fc.tuple(fc.integer({ min: 0, max: 11 }), fc.bigInt({ min: 0n, max: 10n ** 12n })), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(epoch, { minLength: 1, maxLength: 12 }), (epochs) => {
        const debt = new Map<number, bigint>();
        let paidTotal = 0n;
        let attributedTotal = 0n;
        let unattributedTotal = 0n;
        for (const e of epochs) {
          for (const [id, more] of e.newDebt) debt.set(id, (debt.get(id) ?? 0n) + more);
          const debts = e.eligible.map((id) => ({ id, remainingMicro: debt.get(id) ?? 0n }));
          const result = attributeDebts(e.alphaPaid, debts, e.price as AlphaPrice);
          const sum = result.shares.reduce((s, x) => s + x.alpha, 0n);
          expect(sum + result.unattributed).toBe(e.alphaPaid);
          const owedBefore = debts.filter((d) => d.remainingMicro > 0n);
          if (owedBefore.length === 0) expect(result.unattributed).toBe(e.alphaPaid);
          if (e.price.microUsdPerTao === 0n) {
            // Alpha worth nothing pays no debt: none of it is attributed, every debt stays whole.
            expect(result).toEqual({ shares: [], unattributed: e.alphaPaid });
            paidTotal += e.alphaPaid;
            unattributedTotal += e.alphaPaid;
            continue;
          }
          const usd = new Map(result.shares.map((s) => [s.id, microUsdOfAlpha(s.alpha, e.price)]));
          if (result.unattributed > 0n) {
            // Alpha left over means every eligible debt was fully paid by its share.
            for (const d of owedBefore) expect(usd.get(d.id) ?? 0n).toBeGreaterThanOrEqual(d.remainingMicro);
          }
          for (const d of debts) {
            const got = usd.get(d.id) ?? 0n;
            const left = d.remainingMicro - got;
            // Paid past zero only by the ceiling's last rao: its value less a rao's is short of the debt.
            if (left < 0n) {
              const share = result.shares.find((s) => s.id === d.id)?.alpha as bigint;
              expect(microUsdOfAlpha(share - 1n, e.price)).toBeLessThan(d.remainingMicro);
            }
            debt.set(d.id, left > 0n ? left : 0n);
          }
          paidTotal += e.alphaPaid;
          attributedTotal += sum;
          unattributedTotal += result.unattributed;
        }
        expect(attributedTotal + unattributedTotal).toBe(paidTotal);
      }),
      { numRuns: 500 },
    );
  });
});
