import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type DebtCheckpoint, type DebtStatus, debtCheckpoint, emissionChunk } from "../src/core/debt/debt-checkpoint.ts";
import { aggregateEntity, type SubaccountLedger } from "../src/core/debt/entity-aggregation.ts";
import type { AlphaPrice } from "../src/core/debt/micro-usd.ts";
import { closeWhileFunded, type Debt, debtOf, fundedOwed, type OwedRecord, payOwed, rollOwed } from "../src/core/debt/owed.ts";
import { periodIndex } from "../src/core/debt/payout-period.ts";
import { type EligibleUid, entityDebt, scoreWeights } from "../src/core/debt/scoring.ts";
import { CHECKPOINT_MS, type PerfCheckpoint } from "../src/core/perf/perf-checkpoint.ts";
import { newTrader } from "../src/core/trading/trader.ts";

/**
 * The economics loop's pure core at full size:
 *  a. one epoch's scoring: 250 entities x 500 subaccounts (each debt rolled and valued, summed per
 *     entity) plus 6 regular miners = 256 uids, scored and normalised to u16 (budget 100 ms);
 *     baseline: a plain sum of one bigint field over the same records;
 *  b. entity aggregation of 500 subaccounts x 240 debt checkpoints (budget 50 ms); baseline: a
 *     plain sum of one field over the same checkpoints;
 *  c. RSS per subaccount holding 240 perf + 240 debt checkpoints in memory, against a fresh
 *     subaccount (trader and owed records only), in a child run with --expose-gc.
 * Times are the median of `reps` runs after warm-up.
 */
const NOW = Date.UTC(2026, 2, 31, 12);
const monthly = (ms: number) => periodIndex("month", ms);
const PRICE: AlphaPrice = { subnetTaoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 400_000_000n };

export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const entities = Number(args.entities ?? 250);
  const perEntity = Number(args["per-entity"] ?? 500);
  const checkpoints = Number(args.checkpoints ?? 240);
  const reps = Number(args.reps ?? 20);
  const a = scoring(entities, perEntity, reps);
  const b = aggregation(perEntity, checkpoints, reps);
  const c = await rssPerSubaccount(Number(args["rss-subaccounts"] ?? 2_000), checkpoints);
  return { ...a, ...b, ...c };
}

// ---- a. one epoch's scoring ---------------------------------------------------------------------

function scoring(entities: number, perEntity: number, reps: number): Record<string, unknown> {
  // Owed records as trading would leave them: closes in February and March, some payments.
  const records: OwedRecord[][] = [];
  for (let e = 0; e < entities; e++) {
    const subs: OwedRecord[] = [];
    for (let s = 0; s < perEntity; s++) {
      const k = e * perEntity + s;
      let r = fundedOwed(Date.UTC(2026, 1, 1), monthly);
      r = closeWhileFunded(r, BigInt((k % 997) * 1_000_003 - 300_000_000), Date.UTC(2026, 1, 10), monthly, 0);
      r = closeWhileFunded(r, BigInt((k % 389) * 77_777), Date.UTC(2026, 2, 5), monthly, -((k % 13) * 1.25));
      if (k % 3 === 0) r = payOwed(r, BigInt((k % 101) * 1_000_000));
      subs.push(r);
    }
    records.push(subs);
  }
  const penalty = (k: number): number => 1_000_000 - (k % 7) * 50_000;
  const miners = Array.from({ length: 256 - entities }, (_, i) => rollOwed(closeWhileFunded(fundedOwed(Date.UTC(2026, 0, 5), monthly), BigInt(i * 9_000_000), Date.UTC(2026, 1, 3), monthly, 0), NOW, monthly, 0));

  const epoch = (): number => {
    const eligible: EligibleUid[] = [];
    for (let e = 0; e < entities; e++) {
      const subs = records[e] as OwedRecord[];
      const debts: Debt[] = new Array(subs.length);
      for (let s = 0; s < subs.length; s++) debts[s] = debtOf(rollOwed(subs[s] as OwedRecord, NOW, monthly, 0), penalty(s));
      eligible.push({ uid: e + 1, bucket: "entity", ...entityDebt(debts) });
    }
    for (const [i, m] of miners.entries()) eligible.push({ uid: entities + 1 + i, bucket: i % 2 ? "funded" : "challenge", ...debtOf(m, 1_000_000) });
    return scoreWeights({ eligible, projectedMicro: 40_000_000_000_000n, ownerUid: 0 }).uids.length;
  };
  const plain = (): number => {
    let sum = 0n;
    for (const subs of records) for (const r of subs) sum += r.settledRealizedMicro;
    return Number(sum & 1n);
  };
  const ms = timed(epoch, reps);
  const base = timed(plain, reps);
  return {
    scoring_uids: 256,
    scoring_subaccounts: entities * perEntity,
    scoring_epoch_ms_p50: round(ms),
    scoring_baseline_plain_sum_ms_p50: round(base),
    scoring_ratio_to_baseline: round(ms / base),
    scoring_budget_ms: 100,
  };
}

// ---- b. entity aggregation ----------------------------------------------------------------------

function debtCheckpoints(id: number, count: number): DebtCheckpoint[] {
  const out: DebtCheckpoint[] = [];
  const first = Date.UTC(2025, 11, 1);
  for (let i = 0; i < count; i++) {
    const perf: PerfCheckpoint = {
      ts_ms: first + i * CHECKPOINT_MS,
      return: ((id * 31 + i) % 200) / 1_000 - 0.05,
      max_drawdown: ((id + i * 7) % 90) / 1_000,
      max_portfolio_value: 1 + ((id + i) % 50) / 1_000,
      realized_pnl_usd: ((id * 17 + i * 3) % 400) - 150.25,
      unrealized_pnl_usd: ((id + i * 11) % 100) - 50.5,
      spread_fee_loss: (i % 5) * 0.5,
      carry_fee_loss: (i % 3) * 0.125,
      open_ms: (i * 60_000) % CHECKPOINT_MS,
      accum_ms: CHECKPOINT_MS,
    };
    // Emission every sixth checkpoint or so, as attribution spreads it; status funded from the 20th.
    const emission = emissionChunk((id + i) % 6 === 0 ? BigInt(1_000_000_000 + id * 1_000 + i) : 0n, PRICE);
    const status: DebtStatus = i < 20 ? "challenge" : "funded";
    out.push(debtCheckpoint(perf, emission, 1_000_000 - ((id + i) % 11) * 10_000, status, { owedMicro: BigInt(i * 1_000_000 + id), paidMicro: BigInt(i * 400_000) }));
  }
  return out;
}

function aggregation(subaccounts: number, checkpoints: number, reps: number): Record<string, unknown> {
  const ledgers: SubaccountLedger[] = Array.from({ length: subaccounts }, (_, id) => ({ id, checkpoints: debtCheckpoints(id, checkpoints) }));
  const aggregate = (): number => aggregateEntity(ledgers).length;
  const plain = (): number => {
    let sum = 0;
    for (const l of ledgers) for (const c of l.checkpoints) sum += c.realized_pnl_usd;
    return sum;
  };
  const ms = timed(aggregate, reps);
  const base = timed(plain, reps);
  return {
    aggregation_subaccounts: subaccounts,
    aggregation_checkpoints_each: checkpoints,
    aggregation_ms_p50: round(ms),
    aggregation_baseline_plain_sum_ms_p50: round(base),
    aggregation_ratio_to_baseline: round(ms / base),
    aggregation_budget_ms: 50,
  };
}

// ---- c. memory per subaccount (child process) ---------------------------------------------------

async function rssPerSubaccount(subaccounts: number, checkpoints: number): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "rss-child", String(subaccounts), String(checkpoints)], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split("\n").pop() as string) as Record<string, unknown>;
}

function rssChild(subaccounts: number, checkpoints: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  const settle = (): NodeJS.MemoryUsage => {
    for (let i = 0; i < 4; i++) gc();
    return process.memoryUsage();
  };
  debtCheckpoints(0, checkpoints); // warm the code path, so code is not counted as data
  const held: unknown[] = [];
  const start = settle();
  for (let s = 0; s < subaccounts; s++) {
    held.push({ trader: newTrader(`5entity_${s}`, "5entity", 10_000, NOW), owed: fundedOwed(NOW, monthly) });
  }
  const fresh = settle();
  const ledgers: unknown[] = [];
  for (let s = 0; s < subaccounts; s++) {
    const debt = debtCheckpoints(s, checkpoints);
    const perf = debt.map(
      (d): PerfCheckpoint => ({
        ts_ms: d.ts_ms,
        return: d.portfolio_return,
        max_drawdown: d.max_drawdown,
        max_portfolio_value: d.max_portfolio_value,
        realized_pnl_usd: d.realized_pnl_usd,
        unrealized_pnl_usd: d.unrealized_pnl_usd,
        spread_fee_loss: d.fees_usd + s,
        carry_fee_loss: d.fees_usd / 3,
        open_ms: d.open_ms,
        accum_ms: d.accum_ms,
      }),
    );
    ledgers.push({ perf, debt });
  }
  const full = settle();
  const perSub = (a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage, key: "rss" | "heapUsed") => Math.round((b[key] - a[key]) / subaccounts);
  process.stdout.write(
    `${JSON.stringify({
      rss_subaccounts: subaccounts,
      rss_bytes_per_fresh_subaccount: perSub(start, fresh, "rss"),
      heap_bytes_per_fresh_subaccount: perSub(start, fresh, "heapUsed"),
      rss_bytes_per_subaccount_with_checkpoints: perSub(start, full, "rss"),
      heap_bytes_per_subaccount_with_checkpoints: perSub(start, full, "heapUsed"),
      checkpoints_held_each: `${checkpoints} perf + ${checkpoints} debt`,
      records_held: held.length + ledgers.length, // read after the last settle, so nothing is collected early
    })}\n`,
  );
}

// ---- helpers --------------------------------------------------------------------------------------

function timed(f: () => unknown, reps: number): number {
  for (let i = 0; i < 3; i++) f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)] as number;
}

function round(x: number): number {
  return Math.round(x * 1_000) / 1_000;
}

if (process.argv[2] === "rss-child") rssChild(Number(process.argv[3]), Number(process.argv[4]));
