import { InvalidArgumentError } from "commander";
import { isPayoutPeriod, PAYOUT_PERIODS, type PayoutPeriod } from "../core/debt/payout-period.ts";

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65_535) throw new InvalidArgumentError("must be an integer from 1 to 65535");
  return n;
}

export function parseBlockTime(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 3_600_000) throw new InvalidArgumentError("must be a whole number of ms from 0 to 3600000");
  return n;
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${choices.join(", ")}`);
    return value as T;
  };
}

/** `--payout-period`: a calendar month (UTC) or a fixed span, `1m` being one minute (DESIGN.md §3.5). */
export function parsePayoutPeriod(value: string): PayoutPeriod {
  if (!isPayoutPeriod(value)) {
    throw new InvalidArgumentError(`must be one of ${PAYOUT_PERIODS.join(", ")} (month = calendar month UTC, 1m = one minute)`);
  }
  return value;
}

export function parsePeers(value: string): string[] {
  const peers = value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of peers) {
    let url: URL;
    try {
      url = new URL(p);
    } catch {
      throw new InvalidArgumentError(`${p} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError(`${p} is not an http(s) URL`);
  }
  return peers;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1|\[::1\])$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}
