import type { PerfCheckpoint } from "../perf/perf-checkpoint.ts";
import type { DebtCheckpoint } from "./debt-checkpoint.ts";

/**
 * A trader's closed 12-hour checkpoint as the store keeps it: one row per (trader, ts) holding the
 * perf checkpoint and, once the trader is funded, its debt checkpoint (bigints as decimal strings).
 */
export function encodeCheckpointRow(perf: PerfCheckpoint, debt: DebtCheckpoint | undefined): string {
  return JSON.stringify(debt ? { ...perf, debt } : perf, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

const BIGINT_FIELDS = ["emission_alpha_rao", "emission_tao_rao", "emission_usd_micro", "owed_usd_micro", "paid_usd_micro"] as const;

export function decodeCheckpointRow(data: string): { perf: PerfCheckpoint; debt: DebtCheckpoint | null } {
  const { debt, ...perf } = JSON.parse(data) as PerfCheckpoint & { debt?: Record<string, unknown> };
  if (!debt) return { perf, debt: null };
  const decoded = { ...debt } as Record<string, unknown>;
  for (const f of BIGINT_FIELDS) decoded[f] = BigInt(debt[f] as string);
  return { perf, debt: decoded as unknown as DebtCheckpoint };
}
