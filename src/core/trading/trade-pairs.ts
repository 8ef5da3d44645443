/**
 * The trade pairs (DESIGN.md §3.4, Vanta's TradePair table): crypto majors against USD and the
 * forex majors, tradable; leverage outside a pair's range is refused, never clamped. TAOUSD is
 * valuation only (API.md): the oracle posts it like any price, it values emissions in USD, and an
 * order on it is refused (PAIR_NOT_TRADABLE).
 */
export type TradePairCategory = "crypto" | "forex" | "valuation";

export interface TradePair {
  id: string;
  category: TradePairCategory;
  min_leverage: number;
  max_leverage: number;
  /** Spread fee per unit of leverage traded, charged on the account size. */
  fee: number;
  /** Carry fee per year per unit of open leverage (Vanta: 10.95% crypto, 3% forex). */
  carry_per_year: number;
  /** False for a pair that only prices something (TAOUSD): orders on it are refused. */
  tradable: boolean;
}

const crypto = (id: string): TradePair => ({ id, category: "crypto", min_leverage: 0.01, max_leverage: 0.5, fee: 0.001, carry_per_year: 0.1095, tradable: true });
const forex = (id: string): TradePair => ({ id, category: "forex", min_leverage: 0.1, max_leverage: 5, fee: 0.00007, carry_per_year: 0.03, tradable: true });
// No leverage range and no fees: nothing can be opened on it.
const valuation = (id: string): TradePair => ({ id, category: "valuation", min_leverage: 0, max_leverage: 0, fee: 0, carry_per_year: 0, tradable: false });

/** Last, so the tradable pairs keep their indices. */
export const TRADE_PAIRS: readonly TradePair[] = [
  ...["BTCUSD", "ETHUSD", "SOLUSD", "XRPUSD", "DOGEUSD", "ADAUSD"].map(crypto),
  ...["EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF"].map(forex),
  valuation("TAOUSD"),
];

const BY_ID = new Map(TRADE_PAIRS.map((p) => [p.id, p]));

export function tradePair(id: string): TradePair | undefined {
  return BY_ID.get(id);
}
