import { AssertionFailure } from "../errors/errors.ts";
import type { PerfCheckpoint } from "../perf/perf-checkpoint.ts";
import { type DebtCheckpoint, debtCheckpoint, type DebtStatus } from "./debt-checkpoint.ts";

/**
 * A trader's closed 12-hour checkpoint as the store keeps it: one row per (trader, ts) holding the
 * perf checkpoint and, once the trader is funded, its debt checkpoint. Compact and exact: a JSON
 * array of the perf checkpoint's fields in PERF order, then (funded) only the debt checkpoint's
 * own fields in DEBT order; the fields a debt checkpoint copies from its perf checkpoint are
 * rebuilt by `debtCheckpoint()` on reading.
 *
 *   [ts_ms, return, max_drawdown, max_portfolio_value, realized_pnl_usd, unrealized_pnl_usd,
 *    spread_fee_loss, carry_fee_loss, open_ms, accum_ms,
 *    emission_alpha_rao, emission_tao_rao, emission_usd_micro, total_penalty_ppm, status,
 *    owed_usd_micro, paid_usd_micro]
 *
 * Bigints are JSON numbers while they are safe integers, decimal strings beyond; floats are
 * JSON's shortest round-trip form, and the few values JSON has no number for (-0, NaN, ±Infinity)
 * are strings. Status is its index in STATUS. Rows of the earlier object format (`{...perf,
 * debt?}`, bigints as strings) still decode; a debt checkpoint that does not follow from its perf
 * checkpoint (never made by the node) is written in that format, so no row ever loses a field.
 */
const STATUS: readonly DebtStatus[] = ["challenge", "funded", "eliminated", "entity"];
const PERF_LENGTH = 10;
const ROW_LENGTH = PERF_LENGTH + 7;

type Cell = number | string;

/** A float, exactly: a JSON number, or a string for what JSON cannot hold. */
const float = (v: number): Cell => (Object.is(v, -0) ? "-0" : Number.isFinite(v) ? v : String(v));
const floatOf = (c: unknown): number => {
  if (typeof c === "number") return c;
  if (typeof c === "string" && (c === "-0" || c === "NaN" || c === "Infinity" || c === "-Infinity")) return Number(c);
  throw new AssertionFailure(`checkpoint row: ${JSON.stringify(c)} is not a number`);
};
/** A bigint, exactly: a JSON number while safe, else its decimal string. */
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const integer = (v: bigint): Cell => (v >= SAFE_MIN && v <= SAFE_MAX ? Number(v) : v.toString());
const integerOf = (c: unknown): bigint => {
  if ((typeof c === "number" && Number.isSafeInteger(c)) || (typeof c === "string" && /^-?[0-9]+$/.test(c))) return BigInt(c);
  throw new AssertionFailure(`checkpoint row: ${JSON.stringify(c)} is not an integer`);
};

export function encodeCheckpointRow(perf: PerfCheckpoint, debt: DebtCheckpoint | undefined): string {
  const row: Cell[] = [
    float(perf.ts_ms),
    float(perf.return),
    float(perf.max_drawdown),
    float(perf.max_portfolio_value),
    float(perf.realized_pnl_usd),
    float(perf.unrealized_pnl_usd),
    float(perf.spread_fee_loss),
    float(perf.carry_fee_loss),
    float(perf.open_ms),
    float(perf.accum_ms),
  ];
  if (debt) {
    if (!followsFrom(perf, debt)) return encodeObjectRow(perf, debt);
    row.push(
      integer(debt.emission_alpha_rao),
      integer(debt.emission_tao_rao),
      integer(debt.emission_usd_micro),
      float(debt.total_penalty_ppm),
      STATUS.indexOf(debt.status),
      integer(debt.owed_usd_micro),
      integer(debt.paid_usd_micro),
    );
  }
  return JSON.stringify(row);
}

export function decodeCheckpointRow(data: string): { perf: PerfCheckpoint; debt: DebtCheckpoint | null } {
  const parsed = JSON.parse(data) as unknown;
  if (!Array.isArray(parsed)) return decodeObjectRow(parsed as PerfCheckpoint & { debt?: Record<string, unknown> });
  const c = parsed as unknown[];
  if (c.length !== PERF_LENGTH && c.length !== ROW_LENGTH) throw new AssertionFailure(`checkpoint row: ${c.length} fields, expected ${PERF_LENGTH} or ${ROW_LENGTH}`);
  const perf: PerfCheckpoint = {
    ts_ms: floatOf(c[0]),
    return: floatOf(c[1]),
    max_drawdown: floatOf(c[2]),
    max_portfolio_value: floatOf(c[3]),
    realized_pnl_usd: floatOf(c[4]),
    unrealized_pnl_usd: floatOf(c[5]),
    spread_fee_loss: floatOf(c[6]),
    carry_fee_loss: floatOf(c[7]),
    open_ms: floatOf(c[8]),
    accum_ms: floatOf(c[9]),
  };
  if (c.length === PERF_LENGTH) return { perf, debt: null };
  const status = STATUS[c[14] as number];
  if (typeof c[14] !== "number" || status === undefined) throw new AssertionFailure(`checkpoint row: unknown status ${JSON.stringify(c[14])}`);
  const emission = { alphaRao: integerOf(c[10]), taoRao: integerOf(c[11]), usdMicro: integerOf(c[12]) };
  return { perf, debt: debtCheckpoint(perf, emission, floatOf(c[13]), status, { owedMicro: integerOf(c[15]), paidMicro: integerOf(c[16]) }) };
}

/** Whether `debt` is exactly what `debtCheckpoint()` makes of `perf` and the debt's own fields (what decoding rebuilds). */
function followsFrom(perf: PerfCheckpoint, debt: DebtCheckpoint): boolean {
  if (!STATUS.includes(debt.status)) return false;
  const rebuilt = debtCheckpoint(
    perf,
    { alphaRao: debt.emission_alpha_rao, taoRao: debt.emission_tao_rao, usdMicro: debt.emission_usd_micro },
    debt.total_penalty_ppm,
    debt.status,
    { owedMicro: debt.owed_usd_micro, paidMicro: debt.paid_usd_micro },
  ) as unknown as Record<string, unknown>;
  const given = debt as unknown as Record<string, unknown>;
  const keys = Object.keys(rebuilt);
  return Object.keys(given).length === keys.length && keys.every((k) => Object.is(rebuilt[k], given[k]));
}

// ---- the earlier object format ----------------------------------------------------------------------

const BIGINT_FIELDS = ["emission_alpha_rao", "emission_tao_rao", "emission_usd_micro", "owed_usd_micro", "paid_usd_micro"] as const;

/** `{...perf, debt?}` with bigints as decimal strings: what rows held before the compact format. */
export function encodeObjectRow(perf: PerfCheckpoint, debt: DebtCheckpoint | undefined): string {
  return JSON.stringify(debt ? { ...perf, debt } : perf, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

function decodeObjectRow(row: PerfCheckpoint & { debt?: Record<string, unknown> }): { perf: PerfCheckpoint; debt: DebtCheckpoint | null } {
  const { debt, ...perf } = row;
  if (!debt) return { perf, debt: null };
  const decoded = { ...debt } as Record<string, unknown>;
  for (const f of BIGINT_FIELDS) decoded[f] = BigInt(debt[f] as string);
  return { perf, debt: decoded as unknown as DebtCheckpoint };
}
