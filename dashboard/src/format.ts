// Pure formatting helpers (no DOM): the browser test imports them to compute what a view must show.

const RAO = 9;

/**
 * A string of integer rao as a decimal amount with `decimals` places (rounded toward zero) and
 * grouped thousands: "6001002345678901" -> "6,001,002.3456". String math, so any size stays exact.
 */
export function formatRao(rao: string | null | undefined, decimals = 4): string {
  if (rao === undefined || rao === null) return "—";
  if (!/^-?[0-9]+$/.test(rao)) return rao;
  const negative = rao.startsWith("-");
  const digits = (negative ? rao.slice(1) : rao).replace(/^0+/, "").padStart(RAO + 1, "0");
  const whole = digits.slice(0, -RAO).replace(/\B(?=([0-9]{3})+(?![0-9]))/g, ",");
  const fraction = digits.slice(-RAO).slice(0, decimals);
  const zero = /^[0,]+$/.test(whole) && /^0*$/.test(fraction);
  return `${negative && !zero ? "-" : ""}${whole}${decimals > 0 ? `.${fraction}` : ""}`;
}

export const tao = (rao: string | null | undefined, decimals = 4): string => `${formatRao(rao, decimals)} TAO`;
export const alpha = (rao: string | null | undefined, decimals = 4): string => `${formatRao(rao, decimals)} α`;

/** rao as a float of TAO, for charts only (never for amounts shown as text). */
export const raoToNumber = (rao: string): number => Number(BigInt(rao)) / 1e9;

/** 0.0312 -> "+3.12%". */
export function percent(x: number | null | undefined, signed = true): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  const text = `${(x * 100).toFixed(2)}%`;
  return signed && x > 0 ? `+${text}` : text;
}

export function usd(x: number | null | undefined): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  const sign = x < 0 ? "-" : "";
  return `${sign}$${Math.abs(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function time(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) return "—";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** The Substrate development accounts, so that devnet events name them. */
export const DEV_NAMES: Record<string, string> = {
  "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY": "Alice",
  "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty": "Bob",
  "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y": "Charlie",
  "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy": "Dave",
  "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw": "Eve",
  "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL": "Ferdie",
};

/** "Alice" for a development key, "5FHneW…M694ty" otherwise; a synthetic hotkey keeps its `_id`. */
export function shortKey(key: string): string {
  const sep = key.lastIndexOf("_");
  if (sep > 0 && /^[0-9]+$/.test(key.slice(sep + 1))) return `${shortKey(key.slice(0, sep))}_${key.slice(sep + 1)}`;
  const name = DEV_NAMES[key];
  if (name) return name;
  return key.length <= 16 ? key : `${key.slice(0, 6)}…${key.slice(-6)}`;
}

export interface ChainEvent {
  block: number;
  type: string;
  data: Record<string, unknown>;
}

/** Amount fields of chain events (src/core/chain/effects.ts), by unit: strings of rao. */
const TAO_FIELDS = new Set(["tao", "amount", "burn", "tao_in", "excess", "pool_tao"]);
const ALPHA_FIELDS = new Set(["alpha", "alpha_in", "alpha_out", "bought", "owner_cut", "server", "validator", "drained_server", "drained_validator", "recycled", "pool_alpha"]);
/** Internal bookkeeping nobody reads as an amount. */
const HIDDEN_FIELDS = new Set(["flow_ema", "pays", "bonds"]);

/** A field's value as a reader wants it: amounts in TAO or alpha, keys by name, the rest as is. */
function field(key: string, value: unknown): string {
  if (typeof value === "string" && /^-?[0-9]+$/.test(value)) {
    if (ALPHA_FIELDS.has(key) || /alpha.*_rao$/.test(key)) return alpha(value);
    if (TAO_FIELDS.has(key) || /_rao$/.test(key)) return tao(value);
  }
  if (typeof value === "string" && /^5[1-9A-HJ-NP-Za-km-z]{46,47}(_[0-9]+)?$/.test(value)) return shortKey(value);
  if (Array.isArray(value)) return `${value.length} item${value.length === 1 ? "" : "s"}`;
  if (value !== null && typeof value === "object") return "{…}";
  return String(value);
}

/** One line for a chain event: "StakeAdded — hotkey Bob · netuid 1 · amount 10.0000 TAO". */
export function describeEvent(e: ChainEvent): string {
  const parts = Object.entries(e.data)
    .filter(([k, v]) => !HIDDEN_FIELDS.has(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k.replace(/_rao$/, "").replace(/_/g, " ")} ${field(k, v)}`);
  if (Array.isArray(e.data.pays)) parts.push(`${e.data.pays.length} payouts`);
  return parts.join(" · ");
}

/** The challenge toward +3% return before 6% drawdown, as two fractions in [0, 1]. */
export function challengeProgress(ret: number, maxDrawdown: number): { toPass: number; toFail: number } {
  const clamp = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
  return { toPass: clamp(ret / 0.03), toFail: clamp(maxDrawdown / 0.06) };
}

/** Equity (1 + return) and drawdown from the peak (which starts at 1) of a perf series. */
export function equityAndDrawdown(returns: readonly number[]): { equity: number[]; drawdown: number[] } {
  let peak = 1;
  const equity: number[] = [];
  const drawdown: number[] = [];
  for (const r of returns) {
    const value = 1 + r;
    peak = Math.max(peak, value);
    equity.push(value);
    drawdown.push(peak > 0 ? 1 - value / peak : 0);
  }
  return { equity, drawdown };
}
