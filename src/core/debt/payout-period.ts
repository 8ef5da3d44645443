/**
 * Payout periods (DESIGN.md §3.5): debts count the PnL closed up to the end of the last completed
 * period, and weights aim to pay them by the end of the current one. The default is a calendar
 * month (UTC); `--payout-period 1d|1h|10m|1m` gives fixed spans, short enough to watch the loop
 * on a devnet. DESIGN writes `1m` for one minute, so the month is named `month`.
 * Periods are numbered from the Unix epoch; everything is a pure function of ms, in integers.
 */
export type PayoutPeriod = "month" | "1d" | "1h" | "10m" | "1m";

export const PAYOUT_PERIODS: readonly PayoutPeriod[] = ["month", "1d", "1h", "10m", "1m"];

const SPAN_MS: Record<Exclude<PayoutPeriod, "month">, number> = {
  "1d": 86_400_000,
  "1h": 3_600_000,
  "10m": 600_000,
  "1m": 60_000,
};

const DAY_MS = 86_400_000;

export function isPayoutPeriod(name: string): name is PayoutPeriod {
  return (PAYOUT_PERIODS as readonly string[]).includes(name);
}

/** The number of the period holding `ms` (months since January 1970 for `month`). */
export function periodIndex(period: PayoutPeriod, ms: number): number {
  if (period !== "month") return Math.floor(ms / SPAN_MS[period]);
  const { year, month } = civilOfDays(Math.floor(ms / DAY_MS));
  return (year - 1970) * 12 + (month - 1);
}

/** The first ms of period `index`. */
export function periodStart(period: PayoutPeriod, index: number): number {
  if (period !== "month") return index * SPAN_MS[period];
  const year = 1970 + Math.floor(index / 12);
  const month = index - Math.floor(index / 12) * 12 + 1;
  return daysOfCivil(year, month, 1) * DAY_MS;
}

/** The deadline of the period holding `ms`: the first ms of the next one. */
export function periodDeadline(period: PayoutPeriod, ms: number): number {
  return periodStart(period, periodIndex(period, ms) + 1);
}

// Proleptic Gregorian calendar in integers (H. Hinnant's civil_from_days / days_from_civil), so
// core needs no Date: eras of 400 years (146,097 days) starting on March 1st.

function civilOfDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysOfCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
