/**
 * The tradable pairs (DESIGN.md §3.4, Vanta's TradePair table): crypto majors against USD and the
 * forex majors. Leverage outside a pair's range is refused, never clamped.
 */
export type TradePairCategory = "crypto" | "forex";

export interface TradePair {
  id: string;
  category: TradePairCategory;
  min_leverage: number;
  max_leverage: number;
  /** Spread fee per unit of leverage traded, charged on the account size. */
  fee: number;
  /** Carry fee per year per unit of open leverage (Vanta: 10.95% crypto, 3% forex). */
  carry_per_year: number;
}

const crypto = (id: string): TradePair => ({ id, category: "crypto", min_leverage: 0.01, max_leverage: 0.5, fee: 0.001, carry_per_year: 0.1095 });
const forex = (id: string): TradePair => ({ id, category: "forex", min_leverage: 0.1, max_leverage: 5, fee: 0.00007, carry_per_year: 0.03 });

export const TRADE_PAIRS: readonly TradePair[] = [
  ...["BTCUSD", "ETHUSD", "SOLUSD", "XRPUSD", "DOGEUSD", "ADAUSD"].map(crypto),
  ...["EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF"].map(forex),
];

const BY_ID = new Map(TRADE_PAIRS.map((p) => [p.id, p]));

export function tradePair(id: string): TradePair | undefined {
  return BY_ID.get(id);
}
