import { AssertionFailure } from "../errors/errors.ts";
import { type AlphaPrice, alphaForMicroUsd } from "./micro-usd.ts";

/**
 * Attribution (DESIGN.md §3.5): at each epoch the alpha paid to an entity's uid is attributed to
 * its eligible subaccounts (active, funded) in proportion to what each is still owed, exactly, by
 * largest remainder (ties by id); nobody receives more than it needs to be fully paid, and what
 * exceeds every need, or arrives when nothing is owed, is the entity's unattributed alpha. So
 * `Σ shares + unattributed == alphaPaid`, to the rao. Nothing moves in the ledger: this records
 * whose the alpha is.
 */
export interface AlphaNeed {
  /** The subaccount id. */
  id: number;
  /** The alpha that would pay its remaining debt in full. */
  needAlpha: bigint;
}

export interface Attribution {
  /** Nonzero shares, by id. */
  shares: Array<{ id: number; alpha: bigint }>;
  unattributed: bigint;
}

export function attribute(alphaPaid: bigint, debts: readonly AlphaNeed[]): Attribution {
  if (alphaPaid < 0n) throw new AssertionFailure(`attribute: negative alpha paid ${alphaPaid}`);
  const sorted = [...debts].sort((a, b) => a.id - b.id);
  let total = 0n;
  for (let i = 0; i < sorted.length; i++) {
    const d = sorted[i] as AlphaNeed;
    if (d.needAlpha < 0n) throw new AssertionFailure(`attribute: subaccount ${d.id} needs a negative ${d.needAlpha}`);
    if (i > 0 && (sorted[i - 1] as AlphaNeed).id === d.id) throw new AssertionFailure(`attribute: subaccount ${d.id} listed twice`);
    total += d.needAlpha;
  }
  const shares: Array<{ id: number; alpha: bigint }> = [];
  if (total <= alphaPaid) {
    for (const d of sorted) if (d.needAlpha > 0n) shares.push({ id: d.id, alpha: d.needAlpha });
    return { shares, unattributed: alphaPaid - total };
  }
  // Every need is short: floor(paid x need / total) each, then one rao more to the largest
  // remainders. A remainder is nonzero only when the exact share is not whole, so the extra rao
  // never lifts a share above its need (exact share < need because paid < total).
  const floors: bigint[] = new Array(sorted.length);
  const remainders: bigint[] = new Array(sorted.length);
  let given = 0n;
  for (let i = 0; i < sorted.length; i++) {
    const scaled = alphaPaid * (sorted[i] as AlphaNeed).needAlpha;
    const floor = scaled / total;
    floors[i] = floor;
    remainders[i] = scaled - floor * total;
    given += floor;
  }
  let left = Number(alphaPaid - given); // < the number of debts
  if (left > 0) {
    const order = sorted.map((_, i) => i);
    order.sort((a, b) => {
      const ra = remainders[a] as bigint;
      const rb = remainders[b] as bigint;
      return ra === rb ? a - b : ra > rb ? -1 : 1; // indexes follow ids
    });
    for (const i of order) {
      if (left === 0) break;
      floors[i] = (floors[i] as bigint) + 1n;
      left--;
    }
  }
  for (let i = 0; i < sorted.length; i++) {
    const alpha = floors[i] as bigint;
    if (alpha > 0n) shares.push({ id: (sorted[i] as AlphaNeed).id, alpha });
  }
  return { shares, unattributed: 0n };
}

/**
 * Attribution of `alphaPaid` to remaining debts in micro-USD at the epoch's alpha price: each need
 * is the least alpha worth its debt (`alphaForMicroUsd`, ceilings). When alpha has no USD value
 * (no TAO/USD price, or a stale one) no debt can be paid off by it: all of it stays unattributed,
 * rather than shared at a value of nothing that would never reduce a debt.
 */
export function attributeDebts(alphaPaid: bigint, debts: ReadonlyArray<{ id: number; remainingMicro: bigint }>, price: AlphaPrice): Attribution {
  const needs: AlphaNeed[] = [];
  for (const d of debts) {
    const need = alphaForMicroUsd(d.remainingMicro, price);
    if (need === null) return { shares: [], unattributed: alphaPaid };
    needs.push({ id: d.id, needAlpha: need });
  }
  return attribute(alphaPaid, needs);
}
